#include "support/frames.hpp"

#include <algorithm>
#include <cstring>

namespace pcap_recorder::testing {

namespace {

constexpr std::uint8_t kMarker[4] = {'P', 'R', 'T', 'F'};
constexpr std::size_t kEthernetHeader = 14;
constexpr std::size_t kIpHeader = 20;
constexpr std::size_t kUdpHeader = 8;

std::uint16_t ipChecksum(const std::byte* header) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < kIpHeader; i += 2) {
    sum += (std::to_integer<std::uint32_t>(header[i]) << 8) |
           std::to_integer<std::uint32_t>(header[i + 1]);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

}  // namespace

void putNetwork16(std::vector<std::byte>& out, std::size_t at, std::uint16_t value) {
  out[at] = std::byte(value >> 8);
  out[at + 1] = std::byte(value & 0xff);
}

std::vector<std::byte> buildUdpFrame(const FrameSpec& spec) {
  const std::size_t tagBytes = spec.vlanId ? 4 : 0;
  const std::size_t size = std::max<std::size_t>(spec.frameBytes, 64) + tagBytes;
  std::vector<std::byte> frame(size);
  std::memcpy(frame.data(), spec.destination.data(), 6);
  std::memcpy(frame.data() + 6, spec.source.data(), 6);
  std::size_t at = 12;
  if (spec.vlanId) {
    putNetwork16(frame, at, 0x8100);
    putNetwork16(frame, at + 2, *spec.vlanId);
    at += 4;
  }
  putNetwork16(frame, at, 0x0800);
  at += 2;
  const std::size_t ipStart = at;
  const std::size_t ipLength = size - ipStart;
  frame[at] = std::byte{0x45};
  putNetwork16(frame, at + 2, static_cast<std::uint16_t>(ipLength));
  frame[at + 8] = std::byte{64};  // TTL
  frame[at + 9] = std::byte{17};  // UDP
  std::memcpy(frame.data() + at + 12, spec.sourceIp.data(), 4);
  std::memcpy(frame.data() + at + 16, spec.destinationIp.data(), 4);
  putNetwork16(frame, at + 10, ipChecksum(frame.data() + at));
  at += kIpHeader;
  putNetwork16(frame, at, spec.sourcePort);
  putNetwork16(frame, at + 2, spec.destinationPort);
  putNetwork16(frame, at + 4, static_cast<std::uint16_t>(ipLength - kIpHeader));
  at += kUdpHeader;
  std::memcpy(frame.data() + at, kMarker, 4);
  const std::uint32_t sequence = spec.sequence;
  for (int i = 0; i < 4; ++i) frame[at + 4 + i] = std::byte((sequence >> (24 - 8 * i)) & 0xff);
  for (std::size_t i = at + 8; i < size; ++i) frame[i] = std::byte((i * 7 + sequence) & 0xff);
  return frame;
}

std::optional<std::uint32_t> sequenceOf(std::span<const std::byte> frame) {
  if (frame.size() < kEthernetHeader + kIpHeader + kUdpHeader + 8) return std::nullopt;
  std::size_t at = 12;
  if (frame[12] == std::byte{0x81} && frame[13] == std::byte{0x00}) at += 4;
  at += 2 + kIpHeader + kUdpHeader;
  if (frame.size() < at + 8 || std::memcmp(frame.data() + at, kMarker, 4) != 0) return std::nullopt;
  std::uint32_t sequence = 0;
  for (int i = 0; i < 4; ++i)
    sequence = (sequence << 8) | std::to_integer<std::uint32_t>(frame[at + 4 + i]);
  return sequence;
}

}  // namespace pcap_recorder::testing
