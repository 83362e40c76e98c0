#include "pcap_recorder/index/pcap_records.hpp"

#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "pcap_recorder/pcap/repair.hpp"

namespace pcap_recorder::index {

namespace {

constexpr std::size_t kChunkBytes = 1u << 20;

std::uint32_t swap32(std::uint32_t value) {
  return __builtin_bswap32(value);
}

std::size_t readFully(int fd, std::byte* into, std::size_t count, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < count) {
    const ssize_t got = ::pread(fd, into + done, count - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "read");
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

}  // namespace

ReadAt readerOf(int fd) {
  return [fd](std::span<std::byte> into, std::uint64_t offset) {
    return readFully(fd, into.data(), into.size(), offset);
  };
}

std::optional<PcapFileInfo> readPcapHeader(int fd, std::string& problem) {
  return readPcapHeader(readerOf(fd), problem);
}

std::optional<PcapFileInfo> readPcapHeader(const ReadAt& read, std::string& problem) {
  PcapFileInfo info;
  if (read(info.rawHeader, 0) != info.rawHeader.size()) {
    problem = "shorter than a pcap file header";
    return std::nullopt;
  }
  std::memcpy(&info.header, info.rawHeader.data(), sizeof info.header);
  auto& header = info.header;
  if (header.magic == swap32(pcap::kMagicMicroseconds) ||
      header.magic == swap32(pcap::kMagicNanoseconds)) {
    info.byteSwapped = true;
    header.magic = swap32(header.magic);
    header.versionMajor = __builtin_bswap16(header.versionMajor);
    header.versionMinor = __builtin_bswap16(header.versionMinor);
    header.snaplen = swap32(header.snaplen);
    header.linkType = swap32(header.linkType);
  }
  if (header.magic != pcap::kMagicMicroseconds && header.magic != pcap::kMagicNanoseconds) {
    problem = "not a classic pcap file (unknown magic)";
    return std::nullopt;
  }
  if ((header.linkType & 0x0fffffff) != pcap::kLinkTypeEthernet) {
    problem = "link type " + std::to_string(header.linkType) + ", not Ethernet (1)";
    return std::nullopt;
  }
  info.nanoseconds = header.magic == pcap::kMagicNanoseconds;
  return info;
}

RecordReader::RecordReader(int fd, const PcapFileInfo& info, std::uint64_t begin, std::uint64_t end)
    : RecordReader(readerOf(fd), info, begin, end) {}

RecordReader::RecordReader(ReadAt read, const PcapFileInfo& info, std::uint64_t begin,
                           std::uint64_t end)
    : read_(std::move(read)), info_(info), end_(end), position_(begin), bufferOffset_(begin) {}

bool RecordReader::fill(std::size_t needed) {
  if (have_ - start_ >= needed) return true;
  if (endOfFile_) return false;
  // Keep the unread part, then read at least a chunk behind it.
  if (start_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + start_, have_ - start_);
    have_ -= start_;
    bufferOffset_ += start_;
    start_ = 0;
  }
  const std::size_t want = std::max(needed, kChunkBytes);
  if (buffer_.size() < want) buffer_.resize(want);
  while (have_ < needed) {
    const std::uint64_t fileOffset = bufferOffset_ + have_;
    if (fileOffset >= end_) {
      endOfFile_ = true;
      return false;
    }
    const std::size_t room = std::min<std::uint64_t>(buffer_.size() - have_, end_ - fileOffset);
    const std::size_t got = read_(std::span(buffer_).subspan(have_, room), fileOffset);
    have_ += got;
    if (got < room) {
      endOfFile_ = true;
      break;
    }
  }
  return have_ - start_ >= needed;
}

std::optional<RecordView> RecordReader::next() {
  if (!fill(sizeof(pcap::RecordHeader))) return std::nullopt;
  pcap::RecordHeader header;
  std::memcpy(&header, buffer_.data() + start_, sizeof header);
  if (info_.byteSwapped) {
    header.seconds = swap32(header.seconds);
    header.fraction = swap32(header.fraction);
    header.includedLength = swap32(header.includedLength);
    header.originalLength = swap32(header.originalLength);
  }
  const std::uint32_t second = info_.nanoseconds ? 1'000'000'000u : 1'000'000u;
  // The same plausibility rules as the start-up repair (pcap::scanPcap).
  if (header.includedLength > pcap::kMaxSnaplen || header.originalLength == 0 ||
      header.fraction >= second) {
    return std::nullopt;
  }
  const std::size_t total = sizeof header + header.includedLength;
  if (!fill(total)) return std::nullopt;
  const std::byte* stored = buffer_.data() + start_;
  RecordView view{
      .header = header,
      .timeNs = std::uint64_t{header.seconds} * 1'000'000'000u +
                std::uint64_t{header.fraction} * (info_.nanoseconds ? 1u : 1000u),
      .offset = position_,
      .stored = {stored, total},
      .data = {stored + sizeof header, header.includedLength},
  };
  start_ += total;
  position_ += total;
  return view;
}

}  // namespace pcap_recorder::index
