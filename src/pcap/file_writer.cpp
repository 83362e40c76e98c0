#include "pcap_recorder/pcap/file_writer.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <utility>

#include "pcap_recorder/util/system_error.hpp"

namespace pcap_recorder::pcap {

namespace {

constexpr unsigned kMaxNameAttempts = 10000;
// What one writev() takes; more segments wait for the next call.
constexpr std::size_t kMaxSegments = IOV_MAX;
// Buffered mode: writeback is started every this many bytes, and waited for one step behind, so
// dirty pages stay bounded and the pages written leave the cache instead of crowding out others.
constexpr std::uint64_t kWritebackStep = 8u << 20;

std::uint64_t tagOf(const Frame& frame) noexcept {
  return std::uint64_t{frame.seconds} << 32 | frame.nanoseconds;
}

// Copies `size` bytes from `offset` in the stream that `segments` make, as the file receives it.
bool readSegments(const std::vector<iovec>& segments, std::size_t offset, void* out,
                  std::size_t size) {
  auto* to = static_cast<std::byte*>(out);
  for (const iovec& segment : segments) {
    if (size == 0) break;
    if (offset >= segment.iov_len) {
      offset -= segment.iov_len;
      continue;
    }
    const std::size_t take = std::min(size, segment.iov_len - offset);
    std::memcpy(to, static_cast<const std::byte*>(segment.iov_base) + offset, take);
    to += take;
    size -= take;
    offset = 0;
  }
  return size == 0;
}

bool exists(int directoryFd, const std::string& name) {
  struct stat st;
  return ::fstatat(directoryFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

// Whether the finished file `name` is there compressed (NAME.zst): a NAME beside it would be
// taken by the next start's repair for one whose compression was interrupted, and deleted.
bool compressedCopyExists(int directoryFd, const std::string& name) {
  return std::any_of(
      std::begin(rotation::kCompressionSuffixes), std::end(rotation::kCompressionSuffixes),
      [&](std::string_view suffix) { return exists(directoryFd, name + std::string(suffix)); });
}

// append() copies a whole record into the buffer, after the file header when the file is new.
WriterOptions withRoomForTheLargestRecord(WriterOptions options) {
  const std::size_t largest = sizeof(FileHeader) + sizeof(RecordHeader) + options.snaplen;
  options.bufferBytes = std::max(options.bufferBytes, largest);
  return options;
}

}  // namespace

PcapFileWriter::PcapFileWriter(int directoryFd, const std::string& finalName,
                               const WriterOptions& options, unsigned firstCounter)
    : directoryFd_(directoryFd),
      options_(withRoomForTheLargestRecord(options)),
      buffer_(std::make_unique<std::byte[]>(options_.bufferBytes)) {
  segments_.reserve(kMaxSegments);  // no allocation while capturing
  for (unsigned attempt = firstCounter; attempt < firstCounter + kMaxNameAttempts; ++attempt) {
    const auto candidate = nameWithSuffix(finalName, attempt);
    if (exists(directoryFd, candidate) || compressedCopyExists(directoryFd, candidate)) continue;
    const auto part = candidate + kPartSuffix;
    fd_.reset(::openat(directoryFd, part.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, options.fileMode));
    if (fd_.valid()) {
      finalName_ = candidate;
      counter_ = attempt;
      break;
    }
    if (errno != EEXIST) util::throwErrno("cannot create " + part);
  }
  if (!fd_.valid()) {
    throw std::system_error(EEXIST, std::generic_category(), "no free name for " + finalName);
  }
  // Why: O_CREAT applies the umask; the configured mode is what operators asked for.
  ::fchmod(fd_.get(), options.fileMode);
  if (options_.directIo != DirectIoPolicy::never) {
    try {
      startDirectIo();
    } catch (const std::system_error&) {
      // No thread for the writes (a task limit), or direct I/O refused under `on`: the new file
      // holds nothing yet, so it goes rather than being left for repair.
      const auto part = partName();
      direct_.reset();
      fd_.reset();
      ::unlinkat(directoryFd_, part.c_str(), 0);
      throw;
    }
  }

  // The header goes to the file at once: a crash before the first flush then leaves a valid,
  // empty capture for the next start to finish, rather than a file it must set aside.
  const FileHeader header = makeFileHeader(options.timestampUnit, options.snaplen);
  if (direct_) {
    std::memcpy(direct_->recordSpace(), &header, sizeof header);
    // Counted as no record: the tag and record count are taken back below.
    direct_->endRecord(sizeof header, 0);
    direct_->flush();
    takeDirectState();
    return;
  }
  std::memcpy(buffer_.get(), &header, sizeof header);
  buffered_ = sizeof header;
  writeBuffer();
}

// Why fcntl after open rather than O_DIRECT in open(): a file system that refuses O_DIRECT makes
// open(O_CREAT|O_DIRECT) fail with EINVAL after the file was already created.
void PcapFileWriter::startDirectIo() {
  // Why not on tmpfs under `auto`: it takes O_DIRECT since Linux 6.6, but its files are the page
  // cache; measured, direct writes there cost twice the CPU and lose frames (docs/benchmarks.md).
  struct statfs fileSystem {};
  if (options_.directIo == DirectIoPolicy::automatic && ::fstatfs(fd_.get(), &fileSystem) == 0 &&
      (fileSystem.f_type == TMPFS_MAGIC || fileSystem.f_type == RAMFS_MAGIC)) {
    return;
  }
  const int flags = ::fcntl(fd_.get(), F_GETFL);
  if (flags >= 0 && ::fcntl(fd_.get(), F_SETFL, flags | O_DIRECT) == 0) {
    direct_ = std::make_unique<DirectStream>(
        fd_.get(),
        DirectStreamOptions{
            .bufferBytes = options_.directBufferBytes,
            .bufferCount = options_.directBufferCount,
            .largestRecord = sizeof(FileHeader) + sizeof(RecordHeader) + options_.snaplen,
            .sha256 = options_.sha256,
            .hashYieldsToCapture = options_.hashYieldsToCapture},
        options_.directEngine);
    return;
  }
  const int error = errno;
  if (options_.directIo == DirectIoPolicy::automatic) return;
  throw std::system_error(error, std::generic_category(),
                          "direct I/O (output.direct_io: on) refused for " + partName());
}

// A writer dropped without close() (an exception during setup) leaves its `.part` for repair.
PcapFileWriter::~PcapFileWriter() {
  if (fd_.valid()) flush();
}

bool PcapFileWriter::append(const Frame& frame) noexcept {
  if (errno_ != 0) {
    ++lostPackets_;
    return false;
  }
  if (direct_) return appendDirect(frame);
  const std::size_t size = encodedSize(frame, options_.snaplen);
  if (buffered_ + size > options_.bufferBytes && !writeBuffer()) {
    ++lostPackets_;
    return false;
  }
  encodeRecord(frame, options_.snaplen, options_.timestampUnit, buffer_.get() + buffered_);
  buffered_ += size;
  noteRecord(frame);
  return true;
}

bool PcapFileWriter::appendLargeInPlace(const Frame& frame) noexcept {
  if (errno_ != 0) {
    ++lostPackets_;
    return false;
  }
  // Room for the head in the buffer, and for three more segments: the buffer's, the frame and
  // the buffer's once more when the write comes.
  const bool full =
      buffered_ + kMaxRecordHeadBytes > options_.bufferBytes || segments_.size() + 3 > kMaxSegments;
  if (full && !writeBuffer()) {
    ++lostPackets_;
    return false;
  }
  const SplitRecord split =
      encodeRecordHead(frame, options_.snaplen, options_.timestampUnit, buffer_.get() + buffered_);
  buffered_ += split.headBytes;
  if (!split.rest.empty()) {
    endBufferSegment();
    // writev() only reads through iov_base; the cast is for the struct's type.
    segments_.push_back({const_cast<std::byte*>(split.rest.data()), split.rest.size()});
    inPlaceBytes_ += split.rest.size();
  }
  noteRecord(frame);
  return true;
}

bool PcapFileWriter::appendDirect(const Frame& frame) noexcept {
  const std::size_t size = encodedSize(frame, options_.snaplen);
  encodeRecord(frame, options_.snaplen, options_.timestampUnit, direct_->recordSpace());
  direct_->endRecord(size, tagOf(frame));
  noteRecord(frame);
  return takeDirectState();
}

// Takes what the stream says reached the file. After a failed write the stream has cut the file
// to its last whole record: what was appended past it is lost. False then.
bool PcapFileWriter::takeDirectState() noexcept {
  const StreamMark inFile = direct_->inFile();
  // The file header went in as the stream's first "record".
  const std::uint64_t records = inFile.records > 0 ? inFile.records - 1 : 0;
  if (records > committedPackets_) {
    lastPacketInFile_ = {static_cast<std::uint32_t>(inFile.tag >> 32),
                         static_cast<std::uint32_t>(inFile.tag)};
  }
  committedPackets_ = records;
  committedBytes_ = inFile.bytes;
  if (!direct_->failed()) return true;
  errno_ = direct_->error();
  const std::uint64_t lost = packets_ - committedPackets_;
  lostPackets_ += lost;
  packets_ -= lost;
  return false;
}

void PcapFileWriter::noteRecord(const Frame& frame) noexcept {
  ++recordsBuffered_;
  const Timestamp stamp{frame.seconds, frame.nanoseconds};
  if (packets_ == 0) firstPacket_ = stamp;
  lastPacket_ = stamp;
  ++packets_;
}

void PcapFileWriter::endBufferSegment() noexcept {
  if (buffered_ == bufferedInSegments_) return;
  segments_.push_back({buffer_.get() + bufferedInSegments_, buffered_ - bufferedInSegments_});
  bufferedInSegments_ = buffered_;
}

bool PcapFileWriter::flush() noexcept {
  if (errno_ != 0) return false;
  if (direct_) {
    direct_->flush();
    return takeDirectState();
  }
  return writeBuffer();
}

bool PcapFileWriter::writeBuffer() noexcept {
  endBufferSegment();
  const std::size_t pending = buffered_ + inPlaceBytes_;
  std::size_t written = 0;
  if (!writeSegments(written)) {
    cutToLastCompleteRecord(written);
    return false;
  }
  committedBytes_ += pending;
  committedPackets_ += recordsBuffered_;
  if (recordsBuffered_ > 0) lastPacketInFile_ = lastPacket_;
  discardPending();
  if (committedBytes_ - writebackStarted_ >= kWritebackStep) startWriteback();
  return errno_ == 0;  // a failed writeback: the frame that asked for room is lost too
}

// Why: left to itself the kernel lets gigabytes of dirty pages pile up, then throttles the writer
// hard while it writes them back, and the written pages stay cached for nobody. Starting
// writeback early keeps the disk busy steadily; waiting for the previous step (long done by then)
// and dropping it keeps the cache to a few steps per file.
//
// A writeback that fails (EIO, ENOSPC on a thin or network volume) is reported to this call alone:
// it consumes the error, so the file's fsync at the end would succeed over pages that never
// reached the disk. The writer stops as after a failed write, and the file keeps its `.part`
// name for the next start's repair.
void PcapFileWriter::startWriteback() noexcept {
  const auto syncRange = [this](off_t offset, off_t bytes, unsigned flags) {
    const int result = options_.syncFileRange
                           ? options_.syncFileRange(fd_.get(), offset, bytes, flags)
                           : ::sync_file_range(fd_.get(), offset, bytes, flags);
    // Not data lost: no control of writeback here (a sandbox's seccomp filter, a pipe), which
    // leaves the kernel to write back alone and the file's fsync to report.
    const bool noControl =
        errno == EINTR || errno == ENOSYS || errno == EPERM || errno == EINVAL || errno == ESPIPE;
    if (result != 0 && !noControl && writebackError_ == 0) {
      writebackError_ = errno;
      errno_ = errno;
    }
  };
  const auto step = static_cast<off_t>(committedBytes_ - writebackStarted_);
  syncRange(static_cast<off_t>(writebackStarted_), step, SYNC_FILE_RANGE_WRITE);
  if (writebackStarted_ > writebackDone_) {
    const auto previous = static_cast<off_t>(writebackStarted_ - writebackDone_);
    syncRange(static_cast<off_t>(writebackDone_), previous,
              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    ::posix_fadvise(fd_.get(), static_cast<off_t>(writebackDone_), previous, POSIX_FADV_DONTNEED);
    writebackDone_ = writebackStarted_;
  }
  writebackStarted_ = committedBytes_;
}

// Writes every segment; `written` tells how far it got when a write fails.
bool PcapFileWriter::writeSegments(std::size_t& written) noexcept {
  std::size_t first = 0;        // the first segment not wholly written
  std::size_t doneOfFirst = 0;  // bytes of it already written
  while (first < segments_.size()) {
    iovec& partial = segments_[first];
    const iovec whole = partial;
    partial.iov_base = static_cast<std::byte*>(partial.iov_base) + doneOfFirst;
    partial.iov_len -= doneOfFirst;
    const ssize_t n =
        ::writev(fd_.get(), segments_.data() + first, static_cast<int>(segments_.size() - first));
    partial = whole;  // kept whole: a failed write is cut back by reading the segments again
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      errno_ = n < 0 ? errno : ENOSPC;
      return false;
    }
    written += static_cast<std::size_t>(n);
    std::size_t left = doneOfFirst + static_cast<std::size_t>(n);
    while (first < segments_.size() && left >= segments_[first].iov_len) {
      left -= segments_[first].iov_len;
      ++first;
    }
    doneOfFirst = left;
  }
  return true;
}

void PcapFileWriter::discardPending() noexcept {
  buffered_ = 0;
  recordsBuffered_ = 0;
  segments_.clear();
  bufferedInSegments_ = 0;
  inPlaceBytes_ = 0;
}

// Why: a short write can end inside a record; readers would report the file "cut short in the
// middle of a packet". Walk the buffered records and keep only those that reached the file whole.
void PcapFileWriter::cutToLastCompleteRecord(std::size_t bytesWritten) noexcept {
  std::size_t keep = 0;
  std::size_t recordsKept = 0;
  if (committedBytes_ == 0) {
    // The buffer starts with the file header; a file without it is cut to nothing.
    keep = bytesWritten >= sizeof(FileHeader) ? sizeof(FileHeader) : 0;
  }
  std::size_t offset = committedBytes_ == 0 ? sizeof(FileHeader) : 0;
  while (offset + sizeof(RecordHeader) <= buffered_ + inPlaceBytes_) {
    RecordHeader header;
    if (!readSegments(segments_, offset, &header, sizeof header)) break;
    const std::size_t end = offset + sizeof header + header.includedLength;
    if (end > bytesWritten) break;
    keep = end;
    ++recordsKept;
    offset = end;
    const bool nano = options_.timestampUnit == TimestampUnit::nanoseconds;
    lastPacketInFile_ = {header.seconds, nano ? header.fraction : header.fraction * 1000};
  }
  const std::size_t lost = recordsBuffered_ - recordsKept;
  lostPackets_ += lost;
  packets_ -= lost;
  if (::ftruncate(fd_.get(), static_cast<off_t>(committedBytes_ + keep)) == 0) {
    committedBytes_ += keep;
    committedPackets_ += recordsKept;
  } else {
    // The cut failed too: whatever reached the file past the last commit is not to be trusted.
    lostPackets_ += recordsKept;
    packets_ -= recordsKept;
    // Best effort: if even this fails, the next start's repair cuts the file.
    [[maybe_unused]] const int ignored =
        ::ftruncate(fd_.get(), static_cast<off_t>(committedBytes_));
  }
  ::lseek(fd_.get(), static_cast<off_t>(committedBytes_), SEEK_SET);
  discardPending();
}

ClosedFile PcapFileWriter::close() {
  flush();
  std::string sha256;
  try {
    // Direct I/O after a failed write: the file was cut inside what was hashed already.
    if (direct_ && errno_ == 0) sha256 = direct_->takeSha256().value_or("");
  } catch (const std::exception&) {
    sha256.clear();  // an OpenSSL failure: the finisher reads the file instead
  }
  // Asked after takeSha256(), which gives up a hash still more than a buffer behind.
  const bool hashSkipped = direct_ && direct_->hashSkipped();
  const bool hashPaused = direct_ && direct_->hashPaused();
  direct_.reset();  // its writer thread ends before the file changes hands
  FileSummary summary{finalName_,        committedPackets_,
                      committedBytes_,   committedPackets_ > 0 ? firstPacket_ : Timestamp{},
                      lastPacketInFile_, std::move(sha256),
                      hashSkipped,       errno_ != 0,
                      hashPaused};
  summary.writebackError = writebackError_;
  // Nothing worth keeping: writing failed before a single record reached the file.
  const bool discard = errno_ != 0 && committedPackets_ == 0;
  return ClosedFile(std::move(fd_), finalName_, summary, discard);
}

FinishOperations systemFinishOperations() {
  return {
      .fsync = [](int fd) { return ::fsync(fd); },
      .truncate = [](int fd, off_t length) { return ::ftruncate(fd, length); },
      .renameNoReplace =
          [](int directoryFd, const char* from, const char* to) {
            return ::renameat2(directoryFd, from, directoryFd, to, RENAME_NOREPLACE);
          },
  };
}

ClosedFile::ClosedFile(util::UniqueFd file, std::string finalName, FileSummary summary,
                       bool discard)
    : file_(std::move(file)), summary_(std::move(summary)), discard_(discard) {
  summary_.name = std::move(finalName);
}

FileSummary ClosedFile::complete(int directoryFd, const FinishOperations& operations) {
  const auto part = partName();
  if (discard_) {
    ::unlinkat(directoryFd, part.c_str(), 0);
    file_.reset();
    return FileSummary{};
  }
  if (summary_.writebackError != 0) {
    throw std::system_error(summary_.writebackError, std::generic_category(),
                            "part of " + part + " did not reach the disk");
  }
  // Why: a cut the writer could not make (ftruncate failing after a failed write, or at a direct
  // I/O flush) leaves zero padding or part of a record after the last whole one. Cut again here;
  // a file that still cannot be cut is not finished, and the next start's repair cuts it.
  struct stat written {};
  if (::fstat(file_.get(), &written) == 0 &&
      static_cast<std::uint64_t>(written.st_size) != summary_.bytes &&
      operations.truncate(file_.get(), static_cast<off_t>(summary_.bytes)) != 0) {
    util::throwErrno("cannot cut " + part + " to its last whole record (" +
                     std::to_string(summary_.bytes) + " of its " + std::to_string(written.st_size) +
                     " bytes)");
  }
  // Why a failed fsync is a failed file: the kernel may already have dropped the pages it could
  // not write, so the data under the final name would not be what was captured.
  if (operations.fsync(file_.get()) != 0) util::throwErrno("cannot fsync " + part);
  // Why: a finished capture is read rarely and much later; its pages are better left to others.
  ::posix_fadvise(file_.get(), 0, 0, POSIX_FADV_DONTNEED);
  file_.reset();
  const auto wanted = summary_.name;
  for (unsigned attempt = 0; attempt < kMaxNameAttempts; ++attempt) {
    const auto candidate = nameWithSuffix(wanted, attempt);
    if (compressedCopyExists(directoryFd, candidate)) continue;
    if (operations.renameNoReplace(directoryFd, part.c_str(), candidate.c_str()) == 0) {
      // Why: the rename is durable only once the directory itself is on disk. When that fails,
      // the name goes back to `.part`, so no one takes the file for finished.
      if (operations.fsync(directoryFd) != 0) {
        const int error = errno;
        operations.renameNoReplace(directoryFd, candidate.c_str(), part.c_str());
        throw std::system_error(error, std::generic_category(),
                                "cannot fsync the directory after renaming " + part + " to " +
                                    candidate + "; renamed back");
      }
      summary_.name = candidate;
      return summary_;
    }
    if (errno != EEXIST) util::throwErrno("cannot rename " + part + " to " + candidate);
  }
  throw std::system_error(EEXIST, std::generic_category(), "no free name for " + part);
}

}  // namespace pcap_recorder::pcap
