#include "pcap_recorder/pcap/format.hpp"

#include <arpa/inet.h>
#include <algorithm>
#include <cstring>

namespace pcap_recorder::pcap {

FileHeader makeFileHeader(TimestampUnit unit, std::uint32_t snaplen) {
  return FileHeader{
      .magic = unit == TimestampUnit::nanoseconds ? kMagicNanoseconds : kMagicMicroseconds,
      .versionMajor = 2,
      .versionMinor = 4,
      .thisZone = 0,
      .sigFigs = 0,
      .snaplen = snaplen,
      .linkType = kLinkTypeEthernet,
  };
}

namespace {

// A tag goes back only into a frame long enough to hold the MAC addresses it follows.
bool reinsertsTag(const Frame& frame) noexcept {
  return frame.hasVlanTag && frame.data.size() >= kMacAddressesBytes;
}

std::size_t capturedLength(const Frame& frame) noexcept {
  return frame.data.size() + (reinsertsTag(frame) ? kVlanTagBytes : 0);
}

}  // namespace

std::size_t encodedSize(const Frame& frame, std::uint32_t snaplen) noexcept {
  return sizeof(RecordHeader) + std::min<std::size_t>(capturedLength(frame), snaplen);
}

std::byte* encodeRecord(const Frame& frame, std::uint32_t snaplen, TimestampUnit unit,
                        std::byte* out) noexcept {
  const bool withTag = reinsertsTag(frame);
  const auto included =
      static_cast<std::uint32_t>(std::min<std::size_t>(capturedLength(frame), snaplen));
  const RecordHeader header{
      .seconds = frame.seconds,
      .fraction = unit == TimestampUnit::nanoseconds ? frame.nanoseconds : frame.nanoseconds / 1000,
      .includedLength = included,
      .originalLength =
          frame.wireLength + (withTag ? static_cast<std::uint32_t>(kVlanTagBytes) : 0),
  };
  std::memcpy(out, &header, sizeof header);
  out += sizeof header;

  if (!withTag) {
    std::memcpy(out, frame.data.data(), included);
    return out + included;
  }
  // Why: the kernel strips the 802.1Q header into metadata; the file must show the wire format.
  std::byte wire[kMacAddressesBytes + kVlanTagBytes];
  std::memcpy(wire, frame.data.data(), kMacAddressesBytes);
  const std::uint16_t tpid = htons(frame.vlanTag.tpid);
  const std::uint16_t tci = htons(frame.vlanTag.tci);
  std::memcpy(wire + kMacAddressesBytes, &tpid, 2);
  std::memcpy(wire + kMacAddressesBytes + 2, &tci, 2);
  const std::size_t head = std::min<std::size_t>(sizeof wire, included);
  std::memcpy(out, wire, head);
  std::memcpy(out + head, frame.data.data() + kMacAddressesBytes, included - head);
  return out + included;
}

}  // namespace pcap_recorder::pcap
