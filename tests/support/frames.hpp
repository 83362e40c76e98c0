// Ethernet frames the tests send and look for: IPv4/UDP with a recognisable payload carrying a
// sequence number, optionally with an 802.1Q tag.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace pcap_recorder::testing {

using MacAddress = std::array<std::uint8_t, 6>;
using Ipv4Address = std::array<std::uint8_t, 4>;

struct FrameSpec {
  MacAddress destination{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  MacAddress source{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  // TEST-NET-1 (RFC 5737): addresses that route nowhere; frames never leave the test namespaces.
  Ipv4Address sourceIp{192, 0, 2, 1};
  Ipv4Address destinationIp{192, 0, 2, 2};
  std::uint16_t sourcePort = 40000;
  std::uint16_t destinationPort = 5001;
  std::uint32_t sequence = 0;
  std::size_t frameBytes = 128;  // whole frame, without a VLAN tag; at least 64
  std::optional<std::uint16_t> vlanId = std::nullopt;
};

std::vector<std::byte> buildUdpFrame(const FrameSpec& spec);

// Writes `value` at `at` in network byte order (big-endian), as frame headers want it.
void putNetwork16(std::vector<std::byte>& out, std::size_t at, std::uint16_t value);

// The sequence number of a frame built by buildUdpFrame (with or without a tag), if it is one.
std::optional<std::uint32_t> sequenceOf(std::span<const std::byte> frame);

}  // namespace pcap_recorder::testing
