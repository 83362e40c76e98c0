#include "pcap_recorder/index/packet_keys.hpp"

#include <algorithm>
#include <array>

namespace pcap_recorder::index {

namespace {

constexpr std::size_t kEthernetHeaderBytes = 14;
constexpr std::size_t kTagBytes = 4;
constexpr int kMaxTags = 8;
constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86dd;
constexpr std::uint16_t kEtherArp = 0x0806;
constexpr std::uint16_t kEtherRarp = 0x8035;
constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoUdp = 17;
constexpr std::uint8_t kProtoSctp = 132;
constexpr std::uint8_t kIpv6Fragment = 44;

bool isTagType(std::uint16_t type) {
  return type == 0x8100 || type == 0x88a8 || type == 0x9100;
}

std::uint64_t mix(std::uint64_t value) {
  value ^= value >> 30;
  value *= 0xbf58476d1ce4e5b9ull;
  value ^= value >> 27;
  value *= 0x94d049bb133111ebull;
  value ^= value >> 31;
  return value;
}

class Frame {
 public:
  explicit Frame(std::span<const std::byte> bytes) : bytes_(bytes) {}
  bool has(std::size_t offset, std::size_t count) const {
    return offset <= bytes_.size() && count <= bytes_.size() - offset;
  }
  std::uint8_t u8(std::size_t offset) const {
    return std::to_integer<std::uint8_t>(bytes_[offset]);
  }
  std::uint16_t u16(std::size_t offset) const {
    return static_cast<std::uint16_t>(u8(offset) << 8 | u8(offset + 1));
  }
  std::uint32_t u32(std::size_t offset) const {
    return std::uint32_t{u16(offset)} << 16 | u16(offset + 2);
  }
  std::span<const std::uint8_t> bytes(std::size_t offset, std::size_t count) const {
    return {reinterpret_cast<const std::uint8_t*>(bytes_.data()) + offset, count};
  }

 private:
  std::span<const std::byte> bytes_;
};

void addIpv4(std::uint32_t address, KeySink& sink) {
  sink.add(ipv4KeyHash(KeyKind::ipv4, address));
  sink.add(ipv4KeyHash(KeyKind::ipv4Prefix8, address & 0xff000000u));
  sink.add(ipv4KeyHash(KeyKind::ipv4Prefix16, address & 0xffff0000u));
  sink.add(ipv4KeyHash(KeyKind::ipv4Prefix24, address & 0xffffff00u));
}

// The keys of the IPv6 address at `at`, as far as it was captured: libpcap matches `net X/32`
// on the first 4 bytes alone (and /33 to /64 on the first 8), so a frame cut inside the address
// still has the prefix keys whose bytes it holds.
void addIpv6(const Frame& frame, std::size_t at, KeySink& sink) {
  if (frame.has(at, 16)) sink.add(keyHash(KeyKind::ipv6, frame.bytes(at, 16)));
  std::array<std::uint8_t, 16> prefix{};
  for (const auto& [kind, bytes] :
       {std::pair{KeyKind::ipv6Prefix32, 4}, std::pair{KeyKind::ipv6Prefix48, 6},
        std::pair{KeyKind::ipv6Prefix64, 8}}) {
    if (!frame.has(at, bytes)) return;
    prefix.fill(0);
    const auto address = frame.bytes(at, bytes);
    std::copy(address.begin(), address.end(), prefix.begin());
    sink.add(keyHash(kind, prefix));
  }
}

void addPorts(const Frame& frame, std::size_t transport, KeySink& sink) {
  if (frame.has(transport, 2)) sink.add(numberKeyHash(KeyKind::port, frame.u16(transport)));
  if (frame.has(transport + 2, 2)) {
    sink.add(numberKeyHash(KeyKind::port, frame.u16(transport + 2)));
  }
}

bool carriesPorts(std::uint8_t protocol) {
  return protocol == kProtoTcp || protocol == kProtoUdp || protocol == kProtoSctp;
}

// The network layer starting at `at` with `type`; reads what libpcap reads, where it reads it.
void extractNetwork(const Frame& frame, std::uint16_t type, std::size_t at, KeySink& sink) {
  if (type == kEtherIpv4) {
    if (frame.has(at + 9, 1)) sink.add(numberKeyHash(KeyKind::protocol, frame.u8(at + 9)));
    if (frame.has(at + 12, 4)) addIpv4(frame.u32(at + 12), sink);
    if (frame.has(at + 16, 4)) addIpv4(frame.u32(at + 16), sink);
    // libpcap: ports only in the first fragment, at the header length the header states.
    if (frame.has(at + 9, 1) && carriesPorts(frame.u8(at + 9)) && frame.has(at + 6, 2) &&
        (frame.u16(at + 6) & 0x1fff) == 0) {
      addPorts(frame, at + 4 * (frame.u8(at) & 0x0f), sink);
    }
  } else if (type == kEtherIpv6) {
    if (frame.has(at + 6, 1)) {
      const std::uint8_t next = frame.u8(at + 6);
      sink.add(numberKeyHash(KeyKind::protocol, next));
      if (next == kIpv6Fragment && frame.has(at + 40, 1)) {
        sink.add(numberKeyHash(KeyKind::protocol, frame.u8(at + 40)));
      }
      if (carriesPorts(next)) addPorts(frame, at + 40, sink);
    }
    addIpv6(frame, at + 8, sink);
    addIpv6(frame, at + 24, sink);
  } else if (type == kEtherArp || type == kEtherRarp) {
    // `host X` matches ARP and RARP sender and target protocol addresses.
    if (frame.has(at + 14, 4)) addIpv4(frame.u32(at + 14), sink);
    if (frame.has(at + 24, 4)) addIpv4(frame.u32(at + 24), sink);
  }
}

}  // namespace

std::uint64_t keyHash(KeyKind kind, std::span<const std::uint8_t> value) noexcept {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  const auto step = [&hash](std::uint8_t byte) {
    hash ^= byte;
    hash *= 0x100000001b3ull;
  };
  step(static_cast<std::uint8_t>(kind));
  for (const auto byte : value) step(byte);
  return mix(hash);
}

std::uint64_t ipv4KeyHash(KeyKind kind, std::uint32_t address) noexcept {
  const std::array<std::uint8_t, 4> bytes{
      static_cast<std::uint8_t>(address >> 24), static_cast<std::uint8_t>(address >> 16),
      static_cast<std::uint8_t>(address >> 8), static_cast<std::uint8_t>(address)};
  return keyHash(kind, bytes);
}

std::uint64_t numberKeyHash(KeyKind kind, std::uint32_t value) noexcept {
  return ipv4KeyHash(kind, value);
}

std::uint32_t extractKeys(std::span<const std::byte> captured, KeySink& sink) {
  const Frame frame(captured);
  if (!frame.has(12, 2)) return kOtherFrame;
  std::uint16_t type = frame.u16(12);
  std::uint32_t flags;
  if (type == kEtherIpv4) {
    flags = kUntaggedIpv4;
  } else if (type == kEtherIpv6) {
    flags = kUntaggedIpv6;
  } else if (isTagType(type)) {
    flags = kTaggedFrame;
  } else {
    flags = kOtherFrame;
  }
  std::size_t at = kEthernetHeaderBytes;
  for (int tags = 0; isTagType(type) && tags < kMaxTags && frame.has(at, 2); ++tags) {
    // `vlan N` reads the tag's first two bytes only: a frame cut after them has the key too.
    sink.add(numberKeyHash(KeyKind::vlan, frame.u16(at) & 0x0fff));
    if (!frame.has(at + 2, 2)) return flags;
    type = frame.u16(at + 2);
    at += kTagBytes;
  }
  extractNetwork(frame, type, at, sink);
  return flags;
}

}  // namespace pcap_recorder::index
