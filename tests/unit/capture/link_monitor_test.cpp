#include "pcap_recorder/capture/link_monitor.hpp"

#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <cstring>

namespace pcap_recorder::capture {
namespace {

// One rtnetlink link message as the kernel lays it out.
std::vector<std::byte> linkMessage(std::uint16_t type, int index, unsigned flags,
                                   const std::string& name) {
  const std::size_t nameAttribute = RTA_LENGTH(name.size() + 1);
  const std::size_t length =
      NLMSG_LENGTH(NLMSG_ALIGN(sizeof(ifinfomsg)) + RTA_ALIGN(nameAttribute));
  std::vector<std::byte> out(NLMSG_ALIGN(length));
  nlmsghdr header{};
  header.nlmsg_len = static_cast<std::uint32_t>(length);
  header.nlmsg_type = type;
  std::memcpy(out.data(), &header, sizeof header);
  ifinfomsg info{};
  info.ifi_index = index;
  info.ifi_flags = flags;
  std::memcpy(out.data() + NLMSG_HDRLEN, &info, sizeof info);
  rtattr attribute{};
  attribute.rta_len = static_cast<unsigned short>(nameAttribute);
  attribute.rta_type = IFLA_IFNAME;
  const std::size_t at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg));
  std::memcpy(out.data() + at, &attribute, sizeof attribute);
  std::memcpy(out.data() + at + RTA_LENGTH(0), name.c_str(), name.size() + 1);
  return out;
}

TEST(LinkMessages, ANewLinkIsPresentWithItsNameIndexAndUpFlag) {
  const auto message = linkMessage(RTM_NEWLINK, 7, IFF_UP | IFF_BROADCAST, "eth0");
  const auto events = parseLinkMessages(message);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, LinkEvent::Kind::present);
  EXPECT_EQ(events[0].name, "eth0");
  EXPECT_EQ(events[0].index, 7);
  EXPECT_TRUE(events[0].up);
}

TEST(LinkMessages, ADownLinkAndADeletedLinkAreTold) {
  auto messages = linkMessage(RTM_NEWLINK, 3, IFF_BROADCAST, "veth1");
  const auto deleted = linkMessage(RTM_DELLINK, 3, 0, "veth1");
  messages.insert(messages.end(), deleted.begin(), deleted.end());
  const auto events = parseLinkMessages(messages);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_FALSE(events[0].up);
  EXPECT_EQ(events[1].kind, LinkEvent::Kind::removed);
  EXPECT_EQ(events[1].name, "veth1");
}

TEST(LinkMessages, OtherMessagesAndTruncatedOnesAreSkipped) {
  auto messages = linkMessage(RTM_NEWADDR, 3, IFF_UP, "eth0");
  const auto link = linkMessage(RTM_NEWLINK, 4, IFF_UP, "eth1");
  messages.insert(messages.end(), link.begin(), link.end());
  EXPECT_EQ(parseLinkMessages(messages).size(), 1u);
  // The link message cut short: its length runs past the buffer, so it is not read.
  const std::vector<std::byte> cut(messages.begin(), messages.end() - 3);
  EXPECT_TRUE(parseLinkMessages(cut).empty());
  EXPECT_TRUE(parseLinkMessages(std::vector<std::byte>(5)).empty());
}

}  // namespace
}  // namespace pcap_recorder::capture
