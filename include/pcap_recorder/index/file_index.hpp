// The index of one pcap file (`NAME.idx` beside `NAME`, format in docs/index-format.md): per
// block of at most kBlockRecords records or about kBlockBytes bytes of the pcap, the block's byte
// range and time range and a Bloom filter of the keys of its frames (packet_keys.hpp), so a query
// seeks to the blocks of its time window and skips those that cannot hold a match.
//
// Built from the finished pcap file (off the capture thread); checked on reading (magic, version,
// CRC-32 of header and body, the pcap's size and header it was built from), so a damaged, stale or
// foreign index is never trusted: the caller rebuilds it from the pcap.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pcap_recorder/index/pcap_records.hpp"

namespace pcap_recorder::index {

// Version 2: keys of fields captured in part (an IPv6 address's prefixes, a VLAN id). A version-1
// header, laid out the same, still gives a file's time range; its blocks are rebuilt.
inline constexpr std::uint32_t kFormatVersion = 2;
inline constexpr std::uint32_t kOldestHeaderVersion = 1;
inline constexpr std::uint32_t kBlockRecords = 4096;
inline constexpr std::uint64_t kBlockBytes = 1u << 20;
inline constexpr std::uint32_t kBloomBitsPerKey = 10;
inline constexpr std::uint8_t kBloomHashes = 7;  // false positives about 0.8 % per lookup
inline constexpr const char* kIndexSuffix = ".idx";

struct BlockSummary {
  std::uint64_t offset = 0;     // of the block's first record header
  std::uint64_t endOffset = 0;  // after its last record
  std::uint64_t minTimeNs = 0;
  std::uint64_t maxTimeNs = 0;
  std::uint32_t records = 0;
  std::uint32_t flags = 0;  // FrameFlag of its frames, or-ed
  std::uint8_t hashes = kBloomHashes;
  std::vector<std::uint64_t> bloom;  // bits; empty when the block has no key

  bool mayContain(std::uint64_t keyHash) const noexcept;
};

// The distinct key hashes of a block, in the order first seen: an open-addressing table (the
// hashes are mixed already), so that closing a block of 4096 records sorts nothing (sorting its
// ~50,000 keys was most of the cost of indexing).
class DistinctKeys {
 public:
  void insert(std::uint64_t keyHash);
  const std::vector<std::uint64_t>& keys() const noexcept { return keys_; }
  void clear();

 private:
  void grow();
  std::vector<std::uint64_t> keys_;
  std::vector<std::uint64_t> slots_;  // 0: free (a zero hash is kept in zero_)
  bool zero_ = false;
};

// Summarises consecutive records into one block (buildIndex's and LiveIndex's builder).
class BlockBuilder {
 public:
  void add(std::uint64_t offset, std::uint64_t storedBytes, std::uint64_t timeNs,
           std::span<const std::byte> data);
  // A record whose keys the caller gives through addKey() (or gave for an earlier record of the
  // block with the same keys), and whose frame kind is `flags`.
  void addRecord(std::uint64_t offset, std::uint64_t storedBytes, std::uint64_t timeNs,
                 std::uint32_t flags);
  void addKey(std::uint64_t keyHash) { keys_.insert(keyHash); }
  std::uint32_t records() const noexcept { return block_.records; }
  std::uint64_t bytes() const noexcept { return block_.endOffset - block_.offset; }
  // The block so far; the builder starts the next one.
  BlockSummary finish();

 private:
  BlockSummary block_;
  DistinctKeys keys_;
};

// The file-wide part, which a query reads first (and alone, for files outside its window).
struct IndexHeader {
  std::uint32_t version = kFormatVersion;
  std::uint64_t pcapBytes = 0;  // end of the last whole record indexed
  std::array<std::byte, 24> pcapHeader{};
  std::uint64_t records = 0;
  std::uint64_t minTimeNs = 0;
  std::uint64_t maxTimeNs = 0;
  std::uint32_t blockCount = 0;
  std::uint32_t flags = 0;
  std::uint32_t bodyBytes = 0;
  std::uint32_t bodyCrc = 0;
};

struct FileIndex {
  IndexHeader header;
  std::vector<BlockSummary> blocks;
};

std::filesystem::path indexPathFor(const std::filesystem::path& pcapPath);

// Indexes the whole records of the file behind `fd` up to `fileBytes`. Throws std::system_error
// on read errors.
FileIndex buildIndex(int fd, const PcapFileInfo& info, std::uint64_t fileBytes);
// The same over bytes from `read` (a compressed file's uncompressed bytes).
FileIndex buildIndex(const ReadAt& read, const PcapFileInfo& info, std::uint64_t fileBytes);

std::vector<std::byte> serialize(const FileIndex& index);

// Whether `header` describes the pcap file `info` of `fileBytes` bytes.
bool describes(const IndexHeader& header, const PcapFileInfo& info, std::uint64_t fileBytes);

// Reads the header of the index at `indexPath`: nullopt when missing, damaged or of another
// version than kOldestHeaderVersion to kFormatVersion (`problem` says which).
std::optional<IndexHeader> readIndexHeader(const std::filesystem::path& indexPath,
                                           std::string& problem);
// Reads the whole index; nullopt when missing or damaged, as above, or of an older version.
std::optional<FileIndex> readIndex(const std::filesystem::path& indexPath, std::string& problem);

// Writes `index` as `indexPath` atomically (a temporary file renamed over it), with `mode`.
// Throws std::system_error.
void writeIndex(const std::filesystem::path& indexPath, const FileIndex& index, unsigned mode);

// Builds and writes the index of the finished pcap file at `pcapPath` (the recorder calls this on
// its finishing thread). Throws std::system_error / std::runtime_error with the reason.
FileIndex indexFile(const std::filesystem::path& pcapPath);

std::uint32_t crc32(std::span<const std::byte> bytes, std::uint32_t crc = 0) noexcept;

}  // namespace pcap_recorder::index
