// The index of a pcap file built while the file is written, so finishing it needs no read back:
// the capture thread hands each record to add() right after the writer took it, when its header
// bytes are still in the CPU's cache, and the finisher writes the result as `NAME.idx`.
//
// The result is byte for byte the index buildIndex() makes from the finished file (same blocks,
// same keys, same Bloom filters; format in docs/index-format.md). Why it is cheap: a frame's keys
// depend only on a few of its fields (for untagged IPv4 and IPv6: the addresses, the protocol and
// the ports), and within a block flows repeat; so each untagged IP frame is reduced to those
// fields exactly, and only a combination not yet seen in the block has its keys hashed. Other
// frames (VLAN-tagged, ARP, short) have their keys hashed every time.
//
// Records lost to a write error make the summary disagree with the file; finish() then refuses
// it, and writeIndexOf() reads the file back instead. Owned by one thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "pcap_recorder/index/file_index.hpp"
#include "pcap_recorder/pcap/format.hpp"

namespace pcap_recorder::index {

// A set of fixed-size flow fields, open addressing; a value whose last word is 0 is never added
// (the callers mark theirs with a set top bit).
template <std::size_t Words>
class FieldSet {
 public:
  using Value = std::array<std::uint64_t, Words>;
  // Whether `value` was new.
  bool insert(const Value& value);
  void clear();

 private:
  void grow();
  std::vector<Value> slots_;
  std::size_t size_ = 0;
};

class LiveIndex {
 public:
  // For a file whose records carry `unit` timestamps and are cut to `snaplen`, as
  // pcap::PcapFileWriter writes them.
  LiveIndex(pcap::TimestampUnit unit, std::uint32_t snaplen);

  // The record of `frame` (as pcap::encodeRecord() stores it), at file offset `offset`.
  void add(const pcap::Frame& frame, std::uint64_t offset);

  // The index of the file `info` of `fileBytes` bytes, if the records added are exactly the
  // file's; nullopt otherwise (a write error cut records off, another timestamp unit).
  std::optional<FileIndex> finish(const PcapFileInfo& info, std::uint64_t fileBytes) &&;

  std::uint64_t records() const noexcept { return index_.header.records; }

 private:
  std::uint32_t addKeys(std::span<const std::byte> stored);
  void closeBlock();

  bool nanoseconds_;
  std::uint32_t snaplen_;
  FileIndex index_;
  BlockBuilder block_;
  std::uint64_t end_ = sizeof(pcap::FileHeader);  // after the last record added
  bool consistent_ = true;                        // every record began where the last ended
  FieldSet<2> ipv4_;
  FieldSet<5> ipv6_;
  FieldSet<2>::Value lastIpv4_{};
  FieldSet<5>::Value lastIpv6_{};
};

// Writes `NAME.idx` for the finished pcap file at `pcapPath`: from `live` when it describes the
// file as it is, else by reading the file back (no live summary: a file repaired at start-up, a
// write error, `pcap-recorderctl index`). Returns whether `live` was used. Throws
// std::system_error / std::runtime_error with the reason.
bool writeIndexOf(const std::filesystem::path& pcapPath, std::optional<LiveIndex> live);

}  // namespace pcap_recorder::index
