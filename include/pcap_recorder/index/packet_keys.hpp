// What the index remembers of one frame: the values a tcpdump filter can ask for (IPv4/IPv6
// addresses and their prefixes, TCP/UDP/SCTP ports, IP protocols, VLAN ids) as 64-bit key hashes,
// and the frame's kind (untagged IPv4, untagged IPv6, other, VLAN-tagged) as flags.
//
// The keys of a frame are a superset of what libpcap's generated code can find in it: fields are
// read at the offsets libpcap reads them, without libpcap's checks being stricter than ours (an
// IPv4 header length below 5 is read as libpcap reads it, truncated frames give the keys whose
// bytes were captured, and a field captured in part the keys libpcap matches on its part: an IPv6
// prefix, a VLAN id). Inside VLAN tags (0x8100, 0x88a8, 0x9100, any depth) the inner frame's
// keys are added too, so `vlan 100 and host X` can be answered. The hashes are part of the index
// format (docs/index-format.md): changing them needs a new format version.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace pcap_recorder::index {

enum class KeyKind : std::uint8_t {
  ipv4 = 1,
  ipv4Prefix8 = 2,
  ipv4Prefix16 = 3,
  ipv4Prefix24 = 4,
  ipv6 = 5,
  ipv6Prefix32 = 6,
  ipv6Prefix48 = 7,
  ipv6Prefix64 = 8,
  port = 9,       // TCP, UDP or SCTP, source or destination
  protocol = 10,  // IPv4 protocol, IPv6 next header (and the one after a fragment header)
  vlan = 11,      // VLAN id of any tag in the frame
};

// Frame kinds, as libpcap sees them at offset 12 without a `vlan` keyword.
enum FrameFlag : std::uint32_t {
  kUntaggedIpv4 = 1u << 0,  // ethertype 0x0800
  kUntaggedIpv6 = 1u << 1,  // ethertype 0x86dd
  kOtherFrame = 1u << 2,    // anything else, frames shorter than 14 bytes included
  kTaggedFrame = 1u << 3,   // ethertype 0x8100, 0x88a8 or 0x9100
};

// The hash of one key: FNV-1a over the kind byte and the value's bytes (network order), then the
// splitmix64 finaliser.
std::uint64_t keyHash(KeyKind kind, std::span<const std::uint8_t> value) noexcept;
std::uint64_t ipv4KeyHash(KeyKind kind, std::uint32_t addressHostOrder) noexcept;
std::uint64_t numberKeyHash(KeyKind kind, std::uint32_t value) noexcept;  // port, protocol, vlan

// Receives each key of a frame (possibly the same key more than once).
class KeySink {
 public:
  virtual void add(std::uint64_t keyHash) = 0;

 protected:
  ~KeySink() = default;
};

// extractKeys() reads no byte at or past this offset (the deepest: eight VLAN tags, an IPv4 header
// of 60 bytes, then the ports, ending at byte 110): a frame cut here has the same keys.
inline constexpr std::size_t kMaxKeyBytes = 128;

// Adds the keys of the `captured` bytes of an Ethernet frame to `sink`; returns its FrameFlag.
std::uint32_t extractKeys(std::span<const std::byte> captured, KeySink& sink);

}  // namespace pcap_recorder::index
