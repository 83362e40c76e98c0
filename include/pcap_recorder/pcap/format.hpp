// The classic pcap file format (libpcap 2.4): the 24-byte file header, the 16-byte record header,
// and encoding one captured frame into a record. Pure functions over memory; no I/O.
//
// Fields are in host byte order, as libpcap writes them; readers detect the order by the magic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace pcap_recorder::pcap {

inline constexpr std::uint32_t kMagicMicroseconds = 0xA1B2C3D4;
inline constexpr std::uint32_t kMagicNanoseconds = 0xA1B23C4D;
inline constexpr std::uint32_t kLinkTypeEthernet = 1;
inline constexpr std::size_t kVlanTagBytes = 4;
inline constexpr std::size_t kMacAddressesBytes = 12;  // where an 802.1Q tag goes

enum class TimestampUnit { microseconds, nanoseconds };

struct FileHeader {
  std::uint32_t magic;
  std::uint16_t versionMajor;
  std::uint16_t versionMinor;
  std::int32_t thisZone;
  std::uint32_t sigFigs;
  std::uint32_t snaplen;
  std::uint32_t linkType;
};
static_assert(sizeof(FileHeader) == 24);

struct RecordHeader {
  std::uint32_t seconds;
  std::uint32_t fraction;  // micro- or nanoseconds, per the file's magic
  std::uint32_t includedLength;
  std::uint32_t originalLength;
};
static_assert(sizeof(RecordHeader) == 16);

FileHeader makeFileHeader(TimestampUnit unit, std::uint32_t snaplen);

// An 802.1Q tag the kernel took out of the frame and reported beside it.
struct VlanTag {
  std::uint16_t tpid;  // 0x8100, or 0x88a8 for an outer tag
  std::uint16_t tci;
};

// One frame as captured: the bytes the kernel kept and what it said about them.
struct Frame {
  std::uint32_t seconds = 0;
  std::uint32_t nanoseconds = 0;
  std::uint32_t wireLength = 0;     // bytes on the wire, without a stripped VLAN tag
  std::span<const std::byte> data;  // the bytes captured, possibly already cut by snaplen
  bool hasVlanTag = false;
  VlanTag vlanTag{};
};

// A tag goes back only into a frame long enough to hold the MAC addresses it follows.
inline bool reinsertsTag(const Frame& frame) noexcept {
  return frame.hasVlanTag && frame.data.size() >= kMacAddressesBytes;
}

// Bytes encodeRecord() writes for `frame`: header plus the frame (with its VLAN tag put back)
// cut to `snaplen`. Inline: it is asked for every packet.
inline std::size_t encodedSize(const Frame& frame, std::uint32_t snaplen) noexcept {
  const std::size_t captured = frame.data.size() + (reinsertsTag(frame) ? kVlanTagBytes : 0);
  return sizeof(RecordHeader) + (captured < snaplen ? captured : snaplen);
}

// Writes the record header and frame at `out`, which has room for encodedSize() bytes; returns
// the byte after the record. A stripped VLAN tag goes back after the MAC addresses, as on the wire
// (and as libpcap does), so readers see the frame as it was sent.
std::byte* encodeRecord(const Frame& frame, std::uint32_t snaplen, TimestampUnit unit,
                        std::byte* out) noexcept;

// A record split for writing without a copy: `head` holds the record header (and, for a frame
// whose VLAN tag goes back, the frame's start rebuilt with the tag); `rest` is the remainder of
// the record, still where the frame is. head + rest is what encodeRecord() writes.
inline constexpr std::size_t kMaxRecordHeadBytes =
    sizeof(RecordHeader) + kMacAddressesBytes + kVlanTagBytes;

struct SplitRecord {
  std::size_t headBytes = 0;  // used of the head buffer
  std::span<const std::byte> rest;
};

// Writes the head at `head`, which has room for kMaxRecordHeadBytes or for encodedSize() bytes,
// whichever is less.
SplitRecord encodeRecordHead(const Frame& frame, std::uint32_t snaplen, TimestampUnit unit,
                             std::byte* head) noexcept;

}  // namespace pcap_recorder::pcap
