#include "pcap_recorder/compress/decompressor.hpp"

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <vector>

#include "pcap_recorder/util/system_error.hpp"

namespace pcap_recorder::compress {

namespace {
constexpr std::size_t kInputBytes = 256u << 10;
}

struct Decompressor::State {
  int fd;
  Compression compression;
  std::uint64_t offset;  // next byte to read from the file
  std::vector<std::byte> input = std::vector<std::byte>(kInputBytes);
  std::size_t inputStart = 0;
  std::size_t inputEnd = 0;
  bool fileEnded = false;
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> zstd{nullptr, &ZSTD_freeDCtx};
  z_stream gzip{};
  bool gzipOpen = false;
  bool gzipMemberEnded = false;  // between members: the end if no byte follows
  std::size_t zstdHint = 1;      // 0 after a frame ended: the end if no byte follows

  ~State() {
    if (gzipOpen) inflateEnd(&gzip);
  }

  bool refill() {
    if (inputStart < inputEnd) return true;
    if (fileEnded) return false;
    for (;;) {
      const ssize_t got = ::pread(fd, input.data(), input.size(), static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) util::throwErrno("read a compressed file");
      inputStart = 0;
      inputEnd = static_cast<std::size_t>(got);
      offset += static_cast<std::uint64_t>(got);
      if (got == 0) fileEnded = true;
      return got > 0;
    }
  }
};

Decompressor::Decompressor(int fd, Compression compression, std::uint64_t storedOffset)
    : state_(std::make_unique<State>()) {
  state_->fd = fd;
  state_->compression = compression;
  state_->offset = storedOffset;
  if (compression == Compression::zstd) {
    state_->zstd.reset(ZSTD_createDCtx());
    if (!state_->zstd) throw std::bad_alloc();
  } else if (compression == Compression::gzip) {
    // 15 + 32: a zlib or gzip header, detected.
    if (inflateInit2(&state_->gzip, 15 + 32) != Z_OK) {
      throw std::runtime_error("zlib: inflateInit2 failed");
    }
    state_->gzipOpen = true;
  } else {
    throw std::invalid_argument("Decompressor: not compressed");
  }
}

Decompressor::~Decompressor() = default;

std::size_t Decompressor::read(std::span<std::byte> into) {
  State& s = *state_;
  std::size_t done = 0;
  while (done < into.size()) {
    // With no input left the decompressor may still hold output: it is asked once more.
    const bool haveInput = s.refill();
    std::size_t produced = 0;
    if (s.compression == Compression::zstd) {
      ZSTD_inBuffer in{s.input.data() + s.inputStart, s.inputEnd - s.inputStart, 0};
      ZSTD_outBuffer out{into.data() + done, into.size() - done, 0};
      const std::size_t hint = ZSTD_decompressStream(s.zstd.get(), &out, &in);
      if (ZSTD_isError(hint)) {
        throw std::runtime_error("zstd: " + std::string(ZSTD_getErrorName(hint)));
      }
      // Called with nothing to read after a frame's end it asks for the next frame's header:
      // that hint does not say the last frame was cut.
      if (haveInput || out.pos > 0) s.zstdHint = hint;
      s.inputStart += in.pos;
      produced = out.pos;
    } else {
      if (s.gzipMemberEnded) {
        if (!haveInput) break;  // the end, after a whole member
        // Another member follows (concatenated gzip files are one stream to gunzip too).
        inflateReset(&s.gzip);
        s.gzipMemberEnded = false;
      }
      s.gzip.next_in = reinterpret_cast<Bytef*>(s.input.data() + s.inputStart);
      s.gzip.avail_in = static_cast<uInt>(s.inputEnd - s.inputStart);
      s.gzip.next_out = reinterpret_cast<Bytef*>(into.data() + done);
      s.gzip.avail_out = static_cast<uInt>(into.size() - done);
      const int status = inflate(&s.gzip, Z_NO_FLUSH);
      if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR) {
        throw std::runtime_error(std::string("zlib: ") +
                                 (s.gzip.msg != nullptr ? s.gzip.msg : "damaged data"));
      }
      s.inputStart += (s.inputEnd - s.inputStart) - s.gzip.avail_in;
      produced = (into.size() - done) - s.gzip.avail_out;
      if (status == Z_STREAM_END) s.gzipMemberEnded = true;
    }
    done += produced;
    if (!haveInput && produced == 0) {
      const bool cleanEnd =
          s.compression == Compression::zstd ? s.zstdHint == 0 : s.gzipMemberEnded;
      if (!cleanEnd) throw std::runtime_error("the compressed file is truncated");
      break;
    }
  }
  return done;
}

std::uint64_t decompressAll(int inFd, Compression compression, int outFd) {
  Decompressor reader(inFd, compression);
  std::vector<std::byte> buffer(1u << 20);
  std::uint64_t total = 0;
  for (;;) {
    const std::size_t got = reader.read(buffer);
    std::size_t written = 0;
    while (written < got) {
      const ssize_t wrote = ::write(outFd, buffer.data() + written, got - written);
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote < 0) util::throwErrno("write the decompressed copy");
      written += static_cast<std::size_t>(wrote);
    }
    total += got;
    if (got < buffer.size()) return total;
  }
}

void decompressRange(int inFd, const std::vector<Frame>& frames, std::uint64_t totalBytes,
                     std::uint64_t begin, std::uint64_t end, int outFd) {
  if (frames.empty() || begin >= end) return;
  // The last frame starting at or before `begin`.
  auto first = std::upper_bound(
      frames.begin(), frames.end(), begin,
      [](std::uint64_t offset, const Frame& frame) { return offset < frame.uncompressedOffset; });
  if (first != frames.begin()) --first;
  Decompressor reader(inFd, Compression::zstd, first->storedOffset);
  std::vector<std::byte> buffer(kFrameBytes);
  std::uint64_t position = first->uncompressedOffset;
  const std::uint64_t stop = std::min(end, totalBytes);
  while (position < stop) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), totalBytes - position));
    const std::size_t got = reader.read(std::span(buffer).first(want));
    if (got == 0) throw std::runtime_error("the compressed file ends before its frame table says");
    std::size_t written = 0;
    while (written < got) {
      const ssize_t wrote = ::pwrite(outFd, buffer.data() + written, got - written,
                                     static_cast<off_t>(position + written));
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote < 0) util::throwErrno("write the decompressed copy");
      written += static_cast<std::size_t>(wrote);
    }
    position += got;
  }
}

}  // namespace pcap_recorder::compress
