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

SplitRecord encodeRecordHead(const Frame& frame, std::uint32_t snaplen, TimestampUnit unit,
                             std::byte* head) noexcept {
  const bool withTag = reinsertsTag(frame);
  const auto included =
      static_cast<std::uint32_t>(encodedSize(frame, snaplen) - sizeof(RecordHeader));
  const RecordHeader header{
      .seconds = frame.seconds,
      .fraction = unit == TimestampUnit::nanoseconds ? frame.nanoseconds : frame.nanoseconds / 1000,
      .includedLength = included,
      .originalLength =
          frame.wireLength + (withTag ? static_cast<std::uint32_t>(kVlanTagBytes) : 0),
  };
  std::memcpy(head, &header, sizeof header);
  if (!withTag) return {sizeof header, frame.data.first(included)};

  // Why: the kernel strips the 802.1Q header into metadata; the file must show the wire format.
  std::byte wire[kMacAddressesBytes + kVlanTagBytes];
  std::memcpy(wire, frame.data.data(), kMacAddressesBytes);
  const std::uint16_t tpid = htons(frame.vlanTag.tpid);
  const std::uint16_t tci = htons(frame.vlanTag.tci);
  std::memcpy(wire + kMacAddressesBytes, &tpid, 2);
  std::memcpy(wire + kMacAddressesBytes + 2, &tci, 2);
  // A snaplen shorter than the rebuilt start cuts it (and `head` may have room for no more); then
  // nothing of the frame is left over.
  const std::size_t wireBytes = std::min<std::size_t>(sizeof wire, included);
  std::memcpy(head + sizeof header, wire, wireBytes);
  return {sizeof header + wireBytes, frame.data.subspan(kMacAddressesBytes, included - wireBytes)};
}

std::byte* encodeRecord(const Frame& frame, std::uint32_t snaplen, TimestampUnit unit,
                        std::byte* out) noexcept {
  const SplitRecord split = encodeRecordHead(frame, snaplen, unit, out);
  out += split.headBytes;
  if (!split.rest.empty()) std::memcpy(out, split.rest.data(), split.rest.size());
  return out + split.rest.size();
}

}  // namespace pcap_recorder::pcap
