// Writes one classic pcap file: created as `<name>.part`, filled through a large buffer so the
// disk sees big sequential writes, and finished by fsync and an atomic rename to `<name>`.
// Large frames can be written straight from the capture ring (appendInPlace): one writev() takes
// the record headers from the buffer and the frames from the ring, which saves copying each byte.
//
// With direct I/O (WriterOptions::directIo) records are copied into aligned buffers instead and
// written past the page cache by a DirectStream; flush() and close() still leave the file ending
// exactly after its last record.
//
// With WriterOptions::sha256 and direct I/O the writer hashes the file's bytes on the engine's
// hasher thread, beside the write, so a finished file's SHA-256 needs no reading back; the hash
// is given up when it falls behind the traffic (DirectStream::hashSkipped). Buffered files are
// not hashed here: the capture thread would pay for it; the finisher reads them back at its
// lower priority (on tmpfs, from memory).
//
// A file never holds a half-written record: when a write fails (a full disk, an I/O error) the
// file is cut back to its last complete record and the writer refuses further records.
// Owned and used by one thread; not thread-safe.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pcap_recorder/compress/sha256.hpp"
#include "pcap_recorder/pcap/direct_stream.hpp"
#include "pcap_recorder/pcap/format.hpp"
#include "pcap_recorder/rotation/file_naming.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::pcap {

enum class DirectIoPolicy {
  never,      // through the page cache
  automatic,  // direct I/O where the file system takes it and is not memory (tmpfs), else never
  required,   // direct I/O or no file
};

struct WriterOptions {
  TimestampUnit timestampUnit = TimestampUnit::microseconds;
  std::uint32_t snaplen = 262144;
  mode_t fileMode = 0640;
  // Small enough to stay in the CPU's cache until write() copies it; grown to hold the largest
  // record if snaplen needs it.
  std::size_t bufferBytes = 256u << 10;
  DirectIoPolicy directIo = DirectIoPolicy::never;
  // With direct I/O: each aligned buffer, and how many (one fills while the others are written).
  std::size_t directBufferBytes = 4u << 20;
  std::size_t directBufferCount = 4;
  // With direct I/O: the buffers and writer thread, shared by the files written one after the
  // other with these options; null: each file makes its own.
  std::shared_ptr<DirectWriteEngine> directEngine{};
  // With direct I/O: hash the file's bytes as they are written (FileSummary::sha256).
  bool sha256 = false;
  // With direct I/O: give that hash up rather than make capture wait for it (see direct_stream).
  bool hashYieldsToCapture = true;
  // Buffered mode: sync_file_range(2); empty: the real one. A seam: tests inject its failures.
  std::function<int(int fd, off_t offset, off_t bytes, unsigned flags)> syncFileRange{};
};

// The file-name grammar's, as a C string.
inline constexpr const char* kPartSuffix = rotation::kPartSuffix.data();

// "name.pcap" with a collision counter before the extension: rotation::withCounter(), the one
// owner of the file-name grammar.
inline std::string nameWithSuffix(const std::string& name, unsigned counter) {
  return rotation::withCounter(name, counter);
}

struct Timestamp {
  std::uint32_t seconds = 0;
  std::uint32_t nanoseconds = 0;
};

// What a finished (or abandoned) file holds, for the log line and for statistics.
struct FileSummary {
  std::string name;  // final name, relative to the directory
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;  // file size, header included
  Timestamp firstPacket;
  Timestamp lastPacket;
  // The SHA-256 (hex) of the file's bytes, hashed as they were written; empty when it was not
  // asked for, the file was buffered, or not every byte could be hashed (a failed write, an
  // OpenSSL failure): then read the file to hash it, unless hashSkipped or writeFailed.
  std::string sha256{};
  // The hash was given up because it fell behind the traffic: reading the file back now would
  // take the disk and CPU from capture just the same, so it goes without one.
  bool hashSkipped = false;
  // A write failed (a full disk, an I/O error) and the file was cut back to its last whole record.
  bool writeFailed = false;
  // Of hashSkipped: not even tried, the file was begun in the pause after a hash given up
  // (DirectWriteEngine, kFirstHashPause).
  bool hashPaused = false;
  // Buffered mode: the errno of a writeback that failed (its pages never reached the disk, and
  // the file's fsync would not say so): the file is not finished (ClosedFile::complete).
  int writebackError = 0;
};

// The system calls that make a finished file durable under its final name. A seam: tests inject
// their failures (EIO from fsync) or slow them down.
struct FinishOperations {
  std::function<int(int fd)> fsync;
  std::function<int(int fd, off_t length)> truncate;
  // renameat2(RENAME_NOREPLACE) within one directory.
  std::function<int(int directoryFd, const char* from, const char* to)> renameNoReplace;
};
// The real ones.
FinishOperations systemFinishOperations();

// A file whose writing is over but that is not yet finished: finishing it (fsync, rename,
// directory fsync) can take long on a real disk, so it is done away from the capture thread.
// Holds one descriptor, the file's: a queue of closed files costs one each.
class ClosedFile {
 public:
  ClosedFile(util::UniqueFd file, std::string finalName, FileSummary summary, bool discard);
  ClosedFile(ClosedFile&&) noexcept = default;
  ClosedFile& operator=(ClosedFile&&) noexcept = default;

  // Fsyncs, renames `.part` in `directoryFd` to the final name (or the next free one, never
  // replacing a file) and fsyncs the directory. A file that holds no record because writing
  // failed is removed instead, and the summary's name is empty. Throws std::system_error naming
  // the file when an fsync or the rename fails: the file then has its `.part` name (a rename
  // whose directory fsync failed is undone), so it is not reported finished and the next start
  // repairs it.
  FileSummary complete(int directoryFd, const FinishOperations& operations);
  FileSummary complete(int directoryFd) { return complete(directoryFd, systemFinishOperations()); }

  const FileSummary& summary() const noexcept { return summary_; }
  std::string partName() const { return summary_.name + kPartSuffix; }

 private:
  util::UniqueFd file_;
  FileSummary summary_;
  bool discard_;
};

class PcapFileWriter {
 public:
  // Creates `<finalName>.part` in `directoryFd` with O_EXCL|O_NOFOLLOW; when that name or the
  // final name is taken, the next free nameWithSuffix() from `firstCounter` on is used: nothing
  // is ever overwritten. Throws std::system_error when the file cannot be created, or when direct
  // I/O is required and the file system refuses it (EINVAL; the `.part` is removed again).
  PcapFileWriter(int directoryFd, const std::string& finalName, const WriterOptions& options,
                 unsigned firstCounter = 0);
  ~PcapFileWriter();
  PcapFileWriter(const PcapFileWriter&) = delete;
  PcapFileWriter& operator=(const PcapFileWriter&) = delete;

  // Appends one record, copying the frame. False when the file can no longer be written; see
  // lastErrno().
  bool append(const Frame& frame) noexcept;

  // Appends one record; a frame that puts at least kInPlaceFrameBytes in the file is not copied
  // but written from where it is, so its bytes must stay as they are until writeInPlaceFrames()
  // or flush(). With direct I/O every frame is copied: the aligned buffers are what is written.
  bool appendInPlace(const Frame& frame) noexcept {
    return direct_ ||
                   encodedSize(frame, options_.snaplen) < sizeof(RecordHeader) + kInPlaceFrameBytes
               ? append(frame)
               : appendLargeInPlace(frame);
  }
  static constexpr std::size_t kInPlaceFrameBytes = 256;  // below, a copy costs less than a segment

  // Writes out every record whose frame is still in place (nothing when there is none), so its
  // memory can be reused. False on a write error.
  bool writeInPlaceFrames() noexcept { return inPlaceBytes_ == 0 || flush(); }

  // Hands buffered records to the kernel so readers see them. False on a write error.
  bool flush() noexcept;

  // Writes what is buffered and hands the file over for finishing; the writer is spent.
  ClosedFile close();

  // close() and complete() in one go.
  FileSummary finish() { return close().complete(directoryFd_); }

  // Whether records go to the file with direct I/O.
  bool directIo() const noexcept { return direct_ != nullptr; }
  const std::string& finalName() const noexcept { return finalName_; }
  // The collision counter in finalName() (0: none).
  unsigned counter() const noexcept { return counter_; }
  std::string partName() const { return finalName_ + kPartSuffix; }
  // Records accepted so far, and the file's size once they are all written.
  std::uint64_t packets() const noexcept { return packets_; }
  std::uint64_t bytes() const noexcept {
    return direct_ ? direct_->appendedBytes() : committedBytes_ + buffered_ + inPlaceBytes_;
  }
  // What has reached the file (the kernel's page cache) so far.
  std::uint64_t packetsInFile() const noexcept { return committedPackets_; }
  std::uint64_t bytesInFile() const noexcept { return committedBytes_; }
  bool failed() const noexcept { return errno_ != 0; }
  int lastErrno() const noexcept { return errno_; }
  // Records that were appended but never reached the file because a write failed.
  std::uint64_t packetsLostToWriteErrors() const noexcept { return lostPackets_; }

 private:
  bool appendLargeInPlace(const Frame& frame) noexcept;
  bool appendDirect(const Frame& frame) noexcept;
  bool takeDirectState() noexcept;
  void startDirectIo();
  void startWriteback() noexcept;
  void noteRecord(const Frame& frame) noexcept;
  void endBufferSegment() noexcept;
  void discardPending() noexcept;
  bool writeBuffer() noexcept;
  bool writeSegments(std::size_t& written) noexcept;
  void cutToLastCompleteRecord(std::size_t bytesWritten) noexcept;

  int directoryFd_;
  util::UniqueFd fd_;
  std::string finalName_;
  unsigned counter_ = 0;
  WriterOptions options_;
  std::unique_ptr<std::byte[]> buffer_;
  std::size_t buffered_ = 0;
  std::size_t recordsBuffered_ = 0;
  // What the next write takes, in file order, while frames are in place: stretches of buffer_
  // and frames where they are. Empty when every pending byte is in buffer_.
  std::vector<iovec> segments_;
  std::size_t bufferedInSegments_ = 0;  // buffer_ bytes already in segments_
  std::size_t inPlaceBytes_ = 0;        // frame bytes in segments_, not in buffer_
  std::uint64_t committedBytes_ = 0;    // in the file, ending on a record boundary
  std::uint64_t packets_ = 0;
  std::uint64_t committedPackets_ = 0;
  std::uint64_t lostPackets_ = 0;
  Timestamp firstPacket_;
  Timestamp lastPacket_;        // of the records appended
  Timestamp lastPacketInFile_;  // of the records that reached the file
  int errno_ = 0;
  // Buffered mode: where writeback was last started, and up to where it was waited for.
  std::uint64_t writebackStarted_ = 0;
  std::uint64_t writebackDone_ = 0;
  int writebackError_ = 0;
  std::unique_ptr<DirectStream> direct_;  // after fd_: gone before the file is closed
};

}  // namespace pcap_recorder::pcap
