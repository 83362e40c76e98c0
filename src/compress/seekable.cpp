#include "pcap_recorder/compress/seekable.hpp"

#include <unistd.h>
#include <zstd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "pcap_recorder/util/little_endian.hpp"

namespace pcap_recorder::compress {

namespace {

constexpr std::size_t kSkippableHeaderBytes = 8;
constexpr std::size_t kEntryBytes = 8;
constexpr std::size_t kEntryWithChecksumBytes = 12;
constexpr std::uint8_t kChecksumFlag = 0x80;
constexpr std::uint8_t kReservedBits = 0x7c;
// The spec's own limit on the number of frames.
constexpr std::uint32_t kMaxFrames = 0x8000000;
// A read this short from the start of a frame not held decodes only the zstd blocks it needs.
constexpr std::uint64_t kPeekBytes = 64u << 10;
constexpr std::size_t kPeekInputBytes = 16u << 10;

std::size_t preadFull(int fd, std::byte* into, std::size_t count, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < count) {
    const ssize_t got = ::pread(fd, into + done, count - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw std::system_error(errno, std::generic_category(), "read a compressed file");
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

[[noreturn]] void damaged(const std::string& what) {
  throw std::runtime_error("the compressed file does not match its seek table: " + what);
}

}  // namespace

std::uint64_t SeekTable::uncompressedEnd(std::size_t frame) const noexcept {
  return frame + 1 < frames.size() ? frames[frame + 1].uncompressedOffset : uncompressedBytes;
}

std::uint64_t SeekTable::storedEnd(std::size_t frame) const noexcept {
  return frame + 1 < frames.size() ? frames[frame + 1].storedOffset : framesEnd;
}

std::vector<std::byte> encodeSeekTable(const std::vector<Frame>& frames,
                                       std::uint64_t uncompressedBytes, std::uint64_t framesEnd) {
  const SeekTable table{frames, uncompressedBytes, framesEnd};
  std::vector<std::byte> out;
  out.reserve(kSkippableHeaderBytes + frames.size() * kEntryBytes + kSeekTableFooterBytes);
  util::appendLittleEndian<std::uint32_t>(out, kSeekTableFrameMagic);
  util::appendLittleEndian<std::uint32_t>(
      out, static_cast<std::uint32_t>(frames.size() * kEntryBytes + kSeekTableFooterBytes));
  for (std::size_t i = 0; i < frames.size(); ++i) {
    util::appendLittleEndian<std::uint32_t>(
        out, static_cast<std::uint32_t>(table.storedEnd(i) - frames[i].storedOffset));
    util::appendLittleEndian<std::uint32_t>(
        out, static_cast<std::uint32_t>(table.uncompressedEnd(i) - frames[i].uncompressedOffset));
  }
  util::appendLittleEndian<std::uint32_t>(out, static_cast<std::uint32_t>(frames.size()));
  out.push_back(std::byte{0});  // descriptor: no checksums
  util::appendLittleEndian<std::uint32_t>(out, kSeekableMagic);
  return out;
}

std::optional<SeekTable> readSeekTable(int fd, std::uint64_t fileBytes, std::string& problem) {
  std::byte footer[kSeekTableFooterBytes];
  if (fileBytes < kSkippableHeaderBytes + kSeekTableFooterBytes ||
      preadFull(fd, footer, sizeof footer, fileBytes - sizeof footer) != sizeof footer ||
      util::loadLittleEndian<std::uint32_t>(footer + 5) != kSeekableMagic) {
    problem = "no seek table";
    return std::nullopt;
  }
  const std::uint32_t count = util::loadLittleEndian<std::uint32_t>(footer);
  const auto descriptor = static_cast<std::uint8_t>(footer[4]);
  const std::size_t entryBytes =
      (descriptor & kChecksumFlag) != 0 ? kEntryWithChecksumBytes : kEntryBytes;
  const std::uint64_t tableBytes =
      kSkippableHeaderBytes + std::uint64_t{count} * entryBytes + kSeekTableFooterBytes;
  if ((descriptor & kReservedBits) != 0 || count > kMaxFrames || tableBytes > fileBytes) {
    problem = "a damaged seek table";
    return std::nullopt;
  }
  std::vector<std::byte> bytes(tableBytes);
  if (preadFull(fd, bytes.data(), bytes.size(), fileBytes - tableBytes) != bytes.size() ||
      util::loadLittleEndian<std::uint32_t>(bytes.data()) != kSeekTableFrameMagic ||
      util::loadLittleEndian<std::uint32_t>(bytes.data() + 4) !=
          tableBytes - kSkippableHeaderBytes) {
    problem = "a damaged seek table";
    return std::nullopt;
  }
  SeekTable table;
  table.frames.reserve(count);
  std::uint64_t stored = 0;
  std::uint64_t uncompressed = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::byte* entry = bytes.data() + kSkippableHeaderBytes + i * entryBytes;
    const std::uint32_t storedSize = util::loadLittleEndian<std::uint32_t>(entry);
    const std::uint32_t size = util::loadLittleEndian<std::uint32_t>(entry + 4);
    if (storedSize == 0 || size == 0 || size > kMaxSeekableFrameBytes) {
      problem = "a seek table with frames of " + std::to_string(size) + " bytes";
      return std::nullopt;
    }
    table.frames.push_back({uncompressed, stored});
    stored += storedSize;
    uncompressed += size;
  }
  if (stored != fileBytes - tableBytes) {
    problem = "a seek table that does not describe the file";
    return std::nullopt;
  }
  table.framesEnd = stored;
  table.uncompressedBytes = uncompressed;
  return table;
}

struct FrameDecoder::Context {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> zstd{ZSTD_createDCtx(), &ZSTD_freeDCtx};
};

FrameDecoder::FrameDecoder() : context_(std::make_unique<Context>()) {
  if (!context_->zstd) throw std::bad_alloc();
}

FrameDecoder::~FrameDecoder() = default;

SeekableReader::SeekableReader(int fd, SeekTable table, FrameDecoder& decoder)
    : fd_(fd), table_(std::move(table)), decoder_(decoder) {}

SeekableReader::~SeekableReader() = default;

void SeekableReader::load(std::size_t frame) {
  const std::uint64_t storedBytes = table_.storedEnd(frame) - table_.frames[frame].storedOffset;
  const std::uint64_t bytes =
      table_.uncompressedEnd(frame) - table_.frames[frame].uncompressedOffset;
  loaded_.reset();
  auto& input = decoder_.input_;
  if (input.size() < storedBytes) input.resize(storedBytes);
  if (preadFull(fd_, input.data(), storedBytes, table_.frames[frame].storedOffset) != storedBytes) {
    damaged("it ends early");
  }
  storedBytesRead_ += storedBytes;
  if (frameCapacity_ < bytes) {
    frame_ = std::make_unique_for_overwrite<std::byte[]>(bytes);
    frameCapacity_ = bytes;
  }
  const std::size_t got = ZSTD_decompressDCtx(decoder_.context_->zstd.get(), frame_.get(), bytes,
                                              input.data(), storedBytes);
  if (ZSTD_isError(got)) {
    throw std::runtime_error("zstd: frame " + std::to_string(frame) + ": " +
                             ZSTD_getErrorName(got));
  }
  if (got != bytes) damaged("frame " + std::to_string(frame) + " holds another size");
  ++framesDecompressed_;
  loaded_ = frame;
}

std::size_t SeekableReader::peek(std::size_t frame, std::span<std::byte> into,
                                 std::uint64_t within) {
  ZSTD_DCtx* zstd = decoder_.context_->zstd.get();
  ZSTD_DCtx_reset(zstd, ZSTD_reset_session_only);
  auto& head = decoder_.head_;
  head.resize(within + into.size());
  auto& input = decoder_.input_;
  if (input.size() < kPeekInputBytes) input.resize(kPeekInputBytes);
  ZSTD_outBuffer out{head.data(), head.size(), 0};
  std::uint64_t offset = table_.frames[frame].storedOffset;
  const std::uint64_t end = table_.storedEnd(frame);
  while (out.pos < out.size && offset < end) {
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(kPeekInputBytes, end - offset));
    const std::size_t got = preadFull(fd_, input.data(), want, offset);
    if (got != want) damaged("it ends early");
    storedBytesRead_ += got;
    offset += got;
    ZSTD_inBuffer in{input.data(), got, 0};
    while (in.pos < in.size && out.pos < out.size) {
      const std::size_t hint = ZSTD_decompressStream(zstd, &out, &in);
      if (ZSTD_isError(hint)) {
        throw std::runtime_error("zstd: frame " + std::to_string(frame) + ": " +
                                 ZSTD_getErrorName(hint));
      }
      if (hint == 0) break;  // the frame ended
    }
    if (in.pos < in.size && out.pos < out.size) damaged("frame " + std::to_string(frame));
  }
  if (out.pos != out.size) damaged("frame " + std::to_string(frame) + " is shorter");
  ++framesPeeked_;
  std::memcpy(into.data(), head.data() + within, into.size());
  return into.size();
}

std::size_t SeekableReader::readAt(std::span<std::byte> into, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < into.size() && offset + done < table_.uncompressedBytes) {
    const std::uint64_t at = offset + done;
    const auto next = std::upper_bound(
        table_.frames.begin(), table_.frames.end(), at,
        [](std::uint64_t value, const Frame& frame) { return value < frame.uncompressedOffset; });
    const auto frame = static_cast<std::size_t>(next - table_.frames.begin()) - 1;
    const std::uint64_t within = at - table_.frames[frame].uncompressedOffset;
    const std::size_t count = static_cast<std::size_t>(
        std::min<std::uint64_t>(into.size() - done, table_.uncompressedEnd(frame) - at));
    // Only a short read of its own: a read running on from the frame before goes on into the
    // next frames too (RecordReader's chunks), which are then decompressed whole, once.
    if (loaded_ != frame && done == 0 && within + into.size() <= kPeekBytes) {
      done += peek(frame, into.subspan(done, count), within);
      continue;
    }
    if (loaded_ != frame) load(frame);
    std::memcpy(into.data() + done, frame_.get() + within, count);
    done += count;
  }
  return done;
}

}  // namespace pcap_recorder::compress
