#include "pcap_recorder/capture/link_monitor.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <cerrno>
#include <cstring>

#include "pcap_recorder/util/system_error.hpp"

namespace pcap_recorder::capture {

std::optional<LinkState> linkStateOf(const std::string& name) {
  const unsigned index = ::if_nametoindex(name.c_str());
  if (index == 0) return std::nullopt;
  LinkState state{.index = static_cast<int>(index)};
  // Why a datagram socket of the local family: any socket answers SIOCGIFFLAGS, without privilege.
  const util::UniqueFd probe(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq request{};
  if (probe.valid() && name.size() < sizeof request.ifr_name) {
    std::memcpy(request.ifr_name, name.data(), name.size());
    if (::ioctl(probe.get(), SIOCGIFFLAGS, &request) == 0) {
      state.up = (request.ifr_flags & IFF_UP) != 0;
    }
  }
  return state;
}

std::vector<LinkEvent> parseLinkMessages(std::span<const std::byte> messages) {
  std::vector<LinkEvent> events;
  std::size_t offset = 0;
  while (offset + sizeof(nlmsghdr) <= messages.size()) {
    nlmsghdr header;
    std::memcpy(&header, messages.data() + offset, sizeof header);
    if (header.nlmsg_len < sizeof header || offset + header.nlmsg_len > messages.size()) break;
    const std::size_t payload = offset + NLMSG_HDRLEN;
    const std::size_t end = offset + header.nlmsg_len;
    if ((header.nlmsg_type == RTM_NEWLINK || header.nlmsg_type == RTM_DELLINK) &&
        payload + sizeof(ifinfomsg) <= end) {
      ifinfomsg info;
      std::memcpy(&info, messages.data() + payload, sizeof info);
      LinkEvent event;
      event.kind =
          header.nlmsg_type == RTM_DELLINK ? LinkEvent::Kind::removed : LinkEvent::Kind::present;
      event.index = info.ifi_index;
      event.up = (info.ifi_flags & IFF_UP) != 0;
      // Attributes follow the ifinfomsg, each aligned to 4 bytes.
      std::size_t attribute = payload + NLMSG_ALIGN(sizeof(ifinfomsg));
      while (attribute + sizeof(rtattr) <= end) {
        rtattr header2;
        std::memcpy(&header2, messages.data() + attribute, sizeof header2);
        if (header2.rta_len < sizeof header2 || attribute + header2.rta_len > end) break;
        if (header2.rta_type == IFLA_IFNAME) {
          const auto* text =
              reinterpret_cast<const char*>(messages.data() + attribute + RTA_LENGTH(0));
          const std::size_t length = header2.rta_len - RTA_LENGTH(0);
          event.name.assign(text, strnlen(text, length));
        }
        attribute += RTA_ALIGN(header2.rta_len);
      }
      if (!event.name.empty()) events.push_back(std::move(event));
    }
    offset += NLMSG_ALIGN(header.nlmsg_len);
  }
  return events;
}

LinkMonitor::LinkMonitor()
    : socket_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE)) {
  if (!socket_.valid()) util::throwErrno("cannot open an rtnetlink socket");
  sockaddr_nl address{};
  address.nl_family = AF_NETLINK;
  address.nl_groups = RTMGRP_LINK;
  if (::bind(socket_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    util::throwErrno("cannot subscribe to link events");
  }
}

std::vector<LinkEvent> LinkMonitor::readEvents(bool& missedEvents) {
  std::vector<LinkEvent> events;
  alignas(nlmsghdr) std::byte buffer[16384];
  for (;;) {
    const ssize_t received = ::recv(socket_.get(), buffer, sizeof buffer, 0);
    if (received < 0) {
      if (errno == ENOBUFS) {
        missedEvents = true;
        continue;
      }
      break;  // EAGAIN: nothing more
    }
    auto parsed = parseLinkMessages({buffer, static_cast<std::size_t>(received)});
    events.insert(events.end(), parsed.begin(), parsed.end());
  }
  return events;
}

}  // namespace pcap_recorder::capture
