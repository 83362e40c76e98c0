// Reading the records of a classic pcap file through its fd, in large chunks: the file header,
// then each whole record of a byte range. A record cut by the end of the file (a `.part` file
// still being written) or an implausible one (a zero-filled tail) ends the walk; nothing torn is
// ever returned. Files of either byte order are read; headers are returned in host order.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pcap_recorder/pcap/format.hpp"

namespace pcap_recorder::index {

struct PcapFileInfo {
  pcap::FileHeader header{};                                    // host order
  std::array<std::byte, sizeof(pcap::FileHeader)> rawHeader{};  // as stored
  bool nanoseconds = false;
  bool byteSwapped = false;
};

// Where a pcap's bytes come from: fills `into` from `offset`, fewer bytes only at the end. A file
// is read with pread (readerOf); a compressed file's uncompressed bytes come from its decompressor.
// Throws std::system_error on read errors (std::runtime_error for damaged compressed data).
using ReadAt = std::function<std::size_t(std::span<std::byte> into, std::uint64_t offset)>;
ReadAt readerOf(int fd);

// Reads and checks the 24-byte header; nullopt (and `problem`) when it is not a pcap header.
std::optional<PcapFileInfo> readPcapHeader(int fd, std::string& problem);
std::optional<PcapFileInfo> readPcapHeader(const ReadAt& read, std::string& problem);

struct RecordView {
  pcap::RecordHeader header;          // host order
  std::uint64_t timeNs;               // since the epoch
  std::uint64_t offset;               // of the record header in the file
  std::span<const std::byte> stored;  // the record as stored: header and data
  std::span<const std::byte> data;    // the captured bytes
};

class RecordReader {
 public:
  // Walks the records in [begin, end) of the file; `end` may lie beyond the end of the file.
  RecordReader(int fd, const PcapFileInfo& info, std::uint64_t begin, std::uint64_t end);
  RecordReader(ReadAt read, const PcapFileInfo& info, std::uint64_t begin, std::uint64_t end);

  // The next whole record, or nullopt at the end of the range, of the file, or of plausible
  // records. The view stays valid until the next call. Throws std::system_error on read errors.
  std::optional<RecordView> next();
  // Where the walk stopped: the end of the last record returned.
  std::uint64_t position() const noexcept { return position_; }

 private:
  bool fill(std::size_t needed);

  ReadAt read_;
  PcapFileInfo info_;
  std::uint64_t end_;
  std::uint64_t position_;      // file offset of buffer_[start_]
  std::uint64_t bufferOffset_;  // file offset of buffer_[0]
  std::vector<std::byte> buffer_;
  std::size_t start_ = 0;
  std::size_t have_ = 0;
  bool endOfFile_ = false;
};

}  // namespace pcap_recorder::index
