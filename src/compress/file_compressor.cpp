#include "pcap_recorder/compress/file_compressor.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <stdexcept>

#include "pcap_recorder/compress/seekable.hpp"
#include "pcap_recorder/compress/sha256.hpp"
#include "pcap_recorder/util/system_error.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::compress {

namespace {

constexpr std::string_view kPart = ".part";
constexpr std::size_t kGzipOutputBytes = 256u << 10;

void writeAll(int fd, const std::byte* data, std::size_t count, const std::string& name) {
  std::size_t done = 0;
  while (done < count) {
    const ssize_t wrote = ::write(fd, data + done, count - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) util::throwErrno("write " + name);
    done += static_cast<std::size_t>(wrote);
  }
}

// Reads up to `into.size()` bytes; fewer only at the end of the file.
std::size_t readFull(int fd, std::span<std::byte> into, const std::string& name) {
  std::size_t done = 0;
  while (done < into.size()) {
    const ssize_t got = ::read(fd, into.data() + done, into.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) util::throwErrno("read " + name);
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

// Where the compressed bytes go: the `.part` file, hashed and counted on the way.
class Sink {
 public:
  Sink(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  void put(const std::byte* data, std::size_t count) {
    writeAll(fd_, data, count, name_);
    hash_.update({data, count});
    bytes_ += count;
  }
  std::uint64_t bytes() const noexcept { return bytes_; }
  std::string digest() { return hash_.hexDigest(); }

 private:
  int fd_;
  std::string name_;
  Sha256 hash_;
  std::uint64_t bytes_ = 0;
};

// The whole input as one frame, streamed (a file may be far larger than memory should hold).
std::uint64_t compressZstdOneFrame(ZSTD_CCtx* context, int in, Sink& out,
                                   std::vector<Frame>& frames, const std::string& name) {
  struct stat status {};
  // The content size in the frame header, as the framed path writes it; a file that changes
  // size meanwhile makes ZSTD_compressStream2 fail rather than lie.
  if (::fstat(in, &status) == 0) ZSTD_CCtx_setPledgedSrcSize(context, status.st_size);
  std::vector<std::byte> input(ZSTD_CStreamInSize());
  std::vector<std::byte> output(ZSTD_CStreamOutSize());
  frames.push_back({0, out.bytes()});
  std::uint64_t total = 0;
  for (bool last = false; !last;) {
    const std::size_t got = readFull(in, input, name);
    last = got < input.size();
    total += got;
    ZSTD_inBuffer source{input.data(), got, 0};
    for (bool flushed = false; !flushed;) {
      ZSTD_outBuffer target{output.data(), output.size(), 0};
      const std::size_t remaining =
          ZSTD_compressStream2(context, &target, &source, last ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(remaining)) {
        throw std::runtime_error("zstd: " + std::string(ZSTD_getErrorName(remaining)));
      }
      out.put(output.data(), target.pos);
      flushed = last ? remaining == 0 : source.pos == source.size;
    }
  }
  return total;
}

std::uint64_t compressZstd(int in, Sink& out, int level, std::uint64_t frameBytes,
                           std::vector<Frame>& frames, const std::string& name) {
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> context(ZSTD_createCCtx(), &ZSTD_freeCCtx);
  if (!context) throw std::bad_alloc();
  ZSTD_CCtx_setParameter(context.get(), ZSTD_c_compressionLevel, level);
  // A checksum per frame: zstdcat and extract notice a damaged file instead of returning garbage.
  ZSTD_CCtx_setParameter(context.get(), ZSTD_c_checksumFlag, 1);
  if (frameBytes == 0) return compressZstdOneFrame(context.get(), in, out, frames, name);
  std::vector<std::byte> input(frameBytes);
  std::vector<std::byte> output(ZSTD_compressBound(frameBytes));
  std::uint64_t total = 0;
  for (;;) {
    const std::size_t got = readFull(in, input, name);
    if (got == 0) break;
    // One whole frame per chunk, its content size in the frame header.
    const std::size_t size =
        ZSTD_compress2(context.get(), output.data(), output.size(), input.data(), got);
    if (ZSTD_isError(size)) {
      throw std::runtime_error("zstd: " + std::string(ZSTD_getErrorName(size)));
    }
    frames.push_back({total, out.bytes()});
    out.put(output.data(), size);
    total += got;
    if (got < input.size()) break;
  }
  // The frame table, for readers that seek (SeekableReader); a skippable frame to all others.
  // Not after a single frame: there is nothing to seek to, and Wireshark 4.0 (Debian 12) reads
  // whatever follows the first frame of a file as raw data once the frame exceeds its 128 KiB
  // input buffer (it looks for the next frame's magic at the buffer's start).
  if (frames.size() > 1) {
    const auto table = encodeSeekTable(frames, total, out.bytes());
    out.put(table.data(), table.size());
  }
  return total;
}

std::uint64_t compressGzip(int in, Sink& out, int level, const std::string& name) {
  z_stream stream{};
  // 15 + 16: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("zlib: deflateInit2 failed");
  }
  std::unique_ptr<z_stream, decltype(&deflateEnd)> guard(&stream, &deflateEnd);
  std::vector<std::byte> input(kFrameBytes);
  std::vector<std::byte> output(kGzipOutputBytes);
  std::uint64_t total = 0;
  bool end = false;
  while (!end) {
    const std::size_t got = readFull(in, input, name);
    end = got < input.size();
    total += got;
    stream.next_in = reinterpret_cast<Bytef*>(input.data());
    stream.avail_in = static_cast<uInt>(got);
    const int flush = end ? Z_FINISH : Z_NO_FLUSH;
    int status;
    do {
      stream.next_out = reinterpret_cast<Bytef*>(output.data());
      stream.avail_out = static_cast<uInt>(output.size());
      status = deflate(&stream, flush);
      if (status == Z_STREAM_ERROR) throw std::runtime_error("zlib: deflate failed");
      out.put(output.data(), output.size() - stream.avail_out);
    } while (stream.avail_out == 0 || (end && status != Z_STREAM_END));
  }
  return total;
}

}  // namespace

CompressOperations systemCompressOperations() {
  return {.fsync = [](int fd) { return ::fsync(fd); }, .afterStep = {}};
}

bool isCompressionPart(std::string_view name) noexcept {
  if (!name.ends_with(kPart)) return false;
  name.remove_suffix(kPart.size());
  return compressionOfName(name) != Compression::none;
}

CompressedFile compressFile(int directoryFd, const std::string& sourceName, Compression compression,
                            int level, unsigned mode, std::uint64_t frameBytes,
                            const CompressOperations& operations) {
  if (compression == Compression::none) throw std::invalid_argument("compressFile: none");
  CompressedFile result;
  result.name = sourceName + std::string(suffixOf(compression));
  const std::string partName = result.name + std::string(kPart);
  struct stat existing;
  if (::fstatat(directoryFd, result.name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    throw std::runtime_error(result.name + " exists already; " + sourceName +
                             " is left uncompressed");
  }
  util::UniqueFd in(::openat(directoryFd, sourceName.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in.valid()) util::throwErrno("open " + sourceName);
  ::posix_fadvise(in.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  // A `.part` of ours left by an earlier failure is replaced: it never holds the only copy.
  ::unlinkat(directoryFd, partName.c_str(), 0);
  util::UniqueFd out(::openat(directoryFd, partName.c_str(),
                              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!out.valid()) util::throwErrno("create " + partName);
  try {
    if (::fchmod(out.get(), mode) != 0) util::throwErrno("chmod " + partName);
    Sink sink(out.get(), partName);
    result.inputBytes =
        compression == Compression::zstd
            ? compressZstd(in.get(), sink, level, frameBytes, result.frames, sourceName)
            : compressGzip(in.get(), sink, level, sourceName);
    result.storedBytes = sink.bytes();
    result.sha256 = sink.digest();
    if (operations.fsync(out.get()) != 0) util::throwErrno("fsync " + partName);
    // As for an uncompressed file: a finished capture is read rarely and much later.
    ::posix_fadvise(out.get(), 0, 0, POSIX_FADV_DONTNEED);
    if (operations.afterStep) operations.afterStep("part written");
    if (::renameat2(directoryFd, partName.c_str(), directoryFd, result.name.c_str(),
                    RENAME_NOREPLACE) != 0) {
      util::throwErrno("rename " + partName + " to " + result.name);
    }
  } catch (...) {
    ::unlinkat(directoryFd, partName.c_str(), 0);
    throw;
  }
  // From here the compressed file is the one to keep, and the one stored and announced: a
  // failure leaves both (repair removes the uncompressed one at the next start), never neither,
  // and is told in `warning` rather than thrown, which would have NAME announced instead.
  if (operations.fsync(directoryFd) != 0) {
    result.warning = "cannot fsync the directory of " + result.name + ": " + std::strerror(errno) +
                     "; " + sourceName + " is kept beside it";
    return result;
  }
  if (operations.afterStep) operations.afterStep("renamed");
  if (::unlinkat(directoryFd, sourceName.c_str(), 0) != 0 && errno != ENOENT) {
    result.warning = "cannot remove " + sourceName +
                     " after compressing it: " + std::strerror(errno) +
                     "; the next start removes it";
    return result;
  }
  operations.fsync(directoryFd);  // the removal may be redone by repair: no error worth raising
  return result;
}

std::vector<CompressionRepair> repairInterruptedCompression(
    int directoryFd, const std::vector<std::string>& names,
    const std::function<bool(std::string_view)>& isOwnFinished) {
  const std::set<std::string_view> present(names.begin(), names.end());
  std::vector<CompressionRepair> repairs;
  const auto remove = [&](const std::string& name, CompressionRepair::Action action) {
    if (::unlinkat(directoryFd, name.c_str(), 0) == 0 || errno == ENOENT) {
      repairs.push_back({name, action, {}});
    } else {
      repairs.push_back({name, CompressionRepair::Action::failed, std::strerror(errno)});
    }
  };
  for (const auto& name : names) {
    std::string_view stored = name;
    const bool part = isCompressionPart(stored);
    if (part) stored.remove_suffix(kPart.size());
    if (compressionOfName(stored) == Compression::none) continue;
    const std::string_view original = withoutCompressionSuffix(stored);
    if (!isOwnFinished(original)) continue;
    const bool originalThere = present.contains(original);
    if (part) {
      if (originalThere) {
        remove(name, CompressionRepair::Action::removedPart);
      } else {
        repairs.push_back({name, CompressionRepair::Action::keptPart, {}});
      }
    } else if (originalThere) {
      remove(std::string(original), CompressionRepair::Action::removedUncompressed);
    }
  }
  if (!repairs.empty()) ::fsync(directoryFd);
  return repairs;
}

}  // namespace pcap_recorder::compress
