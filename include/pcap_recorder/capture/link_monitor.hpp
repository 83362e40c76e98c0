// Interfaces appearing, going down or up, and disappearing, as the kernel announces them over
// rtnetlink (RTMGRP_LINK): no polling. The parsing is a pure function over message bytes, tested
// on messages built in memory.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::capture {

struct LinkEvent {
  enum class Kind { present, removed };
  Kind kind = Kind::present;  // present: new, or changed (up/down)
  std::string name;
  int index = 0;
  bool up = false;  // administratively up (IFF_UP)
};

// An interface as it is now.
struct LinkState {
  int index = 0;
  bool up = true;  // administratively up (IFF_UP); taken as up when it cannot be read
};
// nullopt when there is no interface of this name. Why asked at all: the kernel announces
// changes only, so a recorder opened on an interface that is down would otherwise pass for one
// capturing.
std::optional<LinkState> linkStateOf(const std::string& name);

// The link events in a buffer of rtnetlink messages, in order; anything else is skipped.
std::vector<LinkEvent> parseLinkMessages(std::span<const std::byte> messages);

class LinkMonitor {
 public:
  // Opens a NETLINK_ROUTE socket subscribed to link events. Throws std::system_error.
  LinkMonitor();
  int fd() const noexcept { return socket_.get(); }

  // Every event waiting on the socket. When the kernel had to drop some (the socket's buffer
  // overflowed), `missedEvents` is set: the caller must look at every interface again.
  std::vector<LinkEvent> readEvents(bool& missedEvents);

 private:
  util::UniqueFd socket_;
};

}  // namespace pcap_recorder::capture
