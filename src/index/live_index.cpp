#include "pcap_recorder/index/live_index.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "pcap_recorder/index/packet_keys.hpp"
#include "pcap_recorder/util/system_error.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::index {

namespace {

constexpr std::uint64_t kNanosecondsPerSecond = 1'000'000'000;
// Set in the last word of every flow-field value: a zero last word marks a free slot.
constexpr std::uint64_t kPresent = std::uint64_t{1} << 63;
constexpr std::size_t kEthernetBytes = 14;
constexpr std::size_t kIpv4HeaderBytes = 20;
constexpr std::size_t kIpv6HeaderBytes = 40;
constexpr std::uint8_t kIpv6Fragment = 44;

bool carriesPorts(std::uint8_t protocol) {
  return protocol == 6 || protocol == 17 || protocol == 132;  // TCP, UDP, SCTP
}

std::uint64_t u16(const std::uint8_t* at) {
  return std::uint64_t{at[0]} << 8 | at[1];
}

std::uint64_t u32(const std::uint8_t* at) {
  return u16(at) << 16 | u16(at + 2);
}

class BlockKeys final : public KeySink {
 public:
  explicit BlockKeys(BlockBuilder& block) : block_(block) {}
  void add(std::uint64_t keyHash) override { block_.addKey(keyHash); }

 private:
  BlockBuilder& block_;
};

}  // namespace

template <std::size_t Words>
bool FieldSet<Words>::insert(const Value& value) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  std::uint64_t hash = 0;
  for (const auto word : value) {
    hash = (hash ^ word) * 0x9e3779b97f4a7c15ull;
    hash ^= hash >> 29;
  }
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t slot = hash & mask;; slot = (slot + 1) & mask) {
    if (slots_[slot][Words - 1] == 0) {
      slots_[slot] = value;
      ++size_;
      return true;
    }
    if (slots_[slot] == value) return false;
  }
}

template <std::size_t Words>
void FieldSet<Words>::grow() {
  std::vector<Value> old(std::max<std::size_t>(64, slots_.size() * 2));
  old.swap(slots_);
  size_ = 0;
  for (const auto& value : old) {
    if (value[Words - 1] != 0) insert(value);
  }
}

template <std::size_t Words>
void FieldSet<Words>::clear() {
  if (size_ == 0) return;
  std::fill(slots_.begin(), slots_.end(), Value{});
  size_ = 0;
}

template class FieldSet<2>;
template class FieldSet<5>;

LiveIndex::LiveIndex(pcap::TimestampUnit unit, std::uint32_t snaplen)
    : nanoseconds_(unit == pcap::TimestampUnit::nanoseconds), snaplen_(snaplen) {
  index_.header.minTimeNs = UINT64_MAX;
}

void LiveIndex::add(const pcap::Frame& frame, std::uint64_t offset) {
  const std::size_t stored = pcap::encodedSize(frame, snaplen_);
  // A record a reader takes for the end of the file (see RecordReader) ends what the read-back
  // index covers; never from the kernel, but then the file is read back to agree.
  const bool implausible =
      frame.nanoseconds >= kNanosecondsPerSecond || (frame.wireLength == 0 && !frame.hasVlanTag);
  if (offset != end_ || implausible) consistent_ = false;
  end_ = offset + stored;
  // As the file stores it: a microsecond file keeps whole microseconds.
  const std::uint64_t timeNs = std::uint64_t{frame.seconds} * kNanosecondsPerSecond +
                               (nanoseconds_ ? frame.nanoseconds : frame.nanoseconds / 1000 * 1000);
  std::uint32_t flags;
  if (!pcap::reinsertsTag(frame)) {
    flags = addKeys(frame.data.first(stored - sizeof(pcap::RecordHeader)));
  } else {
    // The stored frame starts with the tag the kernel took out: rebuild as much of it as keys
    // are read from, the way the writer rebuilds it.
    std::byte head[pcap::kMaxRecordHeadBytes];
    const auto split = pcap::encodeRecordHead(
        frame, snaplen_,
        nanoseconds_ ? pcap::TimestampUnit::nanoseconds : pcap::TimestampUnit::microseconds, head);
    std::array<std::byte, kMaxKeyBytes> bytes;
    const std::size_t wire = split.headBytes - sizeof(pcap::RecordHeader);
    std::memcpy(bytes.data(), head + sizeof(pcap::RecordHeader), wire);
    const std::size_t rest = std::min(split.rest.size(), bytes.size() - wire);
    std::memcpy(bytes.data() + wire, split.rest.data(), rest);
    flags = addKeys(std::span(bytes).first(wire + rest));
  }
  block_.addRecord(offset, stored, timeNs, flags);
  auto& header = index_.header;
  header.minTimeNs = std::min(header.minTimeNs, timeNs);
  header.maxTimeNs = std::max(header.maxTimeNs, timeNs);
  ++header.records;
  if (block_.records() >= kBlockRecords || block_.bytes() >= kBlockBytes) closeBlock();
}

// Why the fields below determine the keys: they are all extractKeys() reads of an untagged IPv4
// frame of at least 34 bytes (an IPv6 one of at least 54), with which of the port fields were
// captured; the unit test LiveIndexTest.IsTheIndexBuiltByReadingTheFileBack holds this to it.
std::uint32_t LiveIndex::addKeys(std::span<const std::byte> stored) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(stored.data());
  const std::size_t size = stored.size();
  BlockKeys sink(block_);
  if (size >= kEthernetBytes + kIpv4HeaderBytes && bytes[12] == 0x08 && bytes[13] == 0x00) {
    const std::uint8_t* ip = bytes + kEthernetBytes;
    const std::uint8_t protocol = ip[9];
    std::uint64_t fields = kPresent | protocol;
    if (carriesPorts(protocol) && (u16(ip + 6) & 0x1fff) == 0) {
      const std::size_t transport = kEthernetBytes + 4 * (ip[0] & 0x0f);
      if (transport + 2 <= size) fields |= 1u << 8 | u16(bytes + transport) << 16;
      if (transport + 4 <= size) fields |= 1u << 9 | u16(bytes + transport + 2) << 32;
    }
    const FieldSet<2>::Value flow{u32(ip + 12) << 32 | u32(ip + 16), fields};
    if (flow != lastIpv4_) {
      lastIpv4_ = flow;
      if (ipv4_.insert(flow)) extractKeys(stored, sink);
    }
    return kUntaggedIpv4;
  }
  if (size >= kEthernetBytes + kIpv6HeaderBytes && bytes[12] == 0x86 && bytes[13] == 0xdd) {
    const std::uint8_t* ip = bytes + kEthernetBytes;
    const std::size_t transport = kEthernetBytes + kIpv6HeaderBytes;
    const std::uint8_t next = ip[6];
    std::uint64_t fields = kPresent | next;
    if (next == kIpv6Fragment && transport + 1 <= size) {
      fields |= 1u << 16 | std::uint64_t{bytes[transport]} << 8;
    }
    if (carriesPorts(next)) {
      if (transport + 2 <= size) fields |= 1u << 17 | u16(bytes + transport) << 20;
      if (transport + 4 <= size) fields |= 1u << 18 | u16(bytes + transport + 2) << 36;
    }
    FieldSet<5>::Value flow;
    std::memcpy(flow.data(), ip + 8, 32);  // source and destination, compared as they are
    flow[4] = fields;
    if (flow != lastIpv6_) {
      lastIpv6_ = flow;
      if (ipv6_.insert(flow)) extractKeys(stored, sink);
    }
    return kUntaggedIpv6;
  }
  return extractKeys(stored, sink);
}

void LiveIndex::closeBlock() {
  if (block_.records() == 0) return;
  index_.blocks.push_back(block_.finish());
  index_.header.flags |= index_.blocks.back().flags;
  // Flows are remembered per block: the next block needs their keys again.
  ipv4_.clear();
  ipv6_.clear();
  lastIpv4_ = {};
  lastIpv6_ = {};
}

std::optional<FileIndex> LiveIndex::finish(const PcapFileInfo& info, std::uint64_t fileBytes) && {
  closeBlock();
  if (!consistent_ || end_ != fileBytes || info.byteSwapped || info.nanoseconds != nanoseconds_) {
    return std::nullopt;
  }
  auto& header = index_.header;
  header.pcapHeader = info.rawHeader;
  header.pcapBytes = end_;
  if (header.records == 0) header.minTimeNs = 0;
  header.blockCount = static_cast<std::uint32_t>(index_.blocks.size());
  return std::move(index_);
}

bool writeIndexOf(const std::filesystem::path& pcapPath, std::optional<LiveIndex> live) {
  util::UniqueFd fd(::open(pcapPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) util::throwErrno("open " + pcapPath.string());
  std::string problem;
  const auto info = readPcapHeader(fd.get(), problem);
  if (!info) throw std::runtime_error(pcapPath.string() + ": " + problem);
  struct stat status;
  if (::fstat(fd.get(), &status) != 0) util::throwErrno("stat " + pcapPath.string());
  const auto fileBytes = static_cast<std::uint64_t>(status.st_size);
  const auto mode = status.st_mode & 0666;
  if (live) {
    if (auto built = std::move(*live).finish(*info, fileBytes)) {
      writeIndex(indexPathFor(pcapPath), *built, mode);
      return true;
    }
  }
  writeIndex(indexPathFor(pcapPath), buildIndex(fd.get(), *info, fileBytes), mode);
  return false;
}

}  // namespace pcap_recorder::index
