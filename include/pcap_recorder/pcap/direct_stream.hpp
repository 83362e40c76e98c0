// Writes a stream of records to a file opened with O_DIRECT, past the page cache: records are
// assembled in aligned buffers (one copy from the capture ring), full buffers are written by a
// writer thread while the next fills, and space is reserved ahead with fallocate so the file
// system allocates nothing per write.
//
// The file always holds a prefix of the stream: a full buffer is written whole even when its last
// record goes on in the next one, so after a crash the file may end inside a record, or in the
// zero padding flush() writes; repair cuts both. flush() and a failed write leave the file ending
// exactly after its last whole record.
//
// Why one writer thread rather than io_uring: ext4 does direct writes that extend the file one at
// a time, whatever submits them, and one 4 MiB write at a time comes close to the disk's speed (dd
// oflag=direct: 1.2 GB/s at 1 MiB, 1.6-1.7 at 2-4 MiB). Tried and measured worse: the file sized
// ahead (fallocate without KEEP_SIZE) so that two writer threads write in parallel lost 14 % of
// 1514 B frames at the generator's maximum, against 7 % with this (docs/benchmarks.md); and 1, 2
// or 4 threads writing 4 MiB each into one file made no more than one did (1.5-1.9 GB/s).
//
// With DirectStreamOptions::sha256 the stream also hashes what it writes, on a hasher thread of
// its engine: buffer N is hashed while its write is in flight, and goes back to the pool when both
// are done, so hashing runs beside the disk rather than before or after it. What is hashed is
// each record byte once, in file order (no padding), so the digest is the file's after flush().
// The hash yields to capture: its thread runs at a lower priority (kBackgroundNice), and when the
// capture thread would wait for a free buffer that only the hasher still holds, the stream gives
// up that file's hash (hashSkipped()) and the buffers go back at once. The files begun in the
// pause that follows are not hashed at all (kFirstHashPause). Why not read the file
// back instead: the hash falls behind only under traffic that already takes the CPU and the disk,
// and reading back would compete with the next file's writes at exactly that moment.
//
// Used by one thread (the capture thread); the writer and hasher threads are its engine's.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pcap_recorder/compress/sha256.hpp"

namespace pcap_recorder::pcap {

// O_DIRECT wants buffers, offsets and lengths aligned to the device's logical block: 4096 covers
// 512-byte and 4 KiB devices alike.
inline constexpr std::size_t kDirectAlignment = 4096;

constexpr std::size_t alignUp(std::size_t bytes) noexcept {
  return (bytes + kDirectAlignment - 1) / kDirectAlignment * kDirectAlignment;
}

constexpr std::size_t alignDown(std::size_t bytes) noexcept {
  return bytes / kDirectAlignment * kDirectAlignment;
}

struct DirectStreamOptions {
  std::size_t bufferBytes = 2u << 20;      // rounded up to kDirectAlignment
  std::size_t bufferCount = 4;             // one fills while the others are written (at least 2)
  std::size_t largestRecord = 0;           // recordSpace() always has room for this many bytes
  std::uint64_t reserveBytes = 64u << 20;  // fallocate steps; 0: none
  bool sha256 = false;                     // hash the file's bytes as they are written
  // The hash is given up rather than make capture wait for it; false (tests of the hash itself)
  // waits for it instead, so that a busy machine cannot take the hash away.
  bool hashYieldsToCapture = true;
};

// How far the file holds whole records.
struct StreamMark {
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
  std::uint64_t tag = 0;  // endRecord()'s tag of the last of them
};

class DirectStream;

// How much nicer than the thread that starts them the engine's hasher thread and the finisher
// run: capture first, hashing and finishing with the CPU it leaves. Not the lowest nice nor
// SCHED_IDLE: capture still waits for a hasher that holds the engine's lock, and measured, both
// made the long stalls worse (docs/benchmarks.md).
inline constexpr int kBackgroundNice = 10;
// Lowers the calling thread's priority by `by` (nice at most 19). Best effort.
void lowerThisThreadsPriority(int by = kBackgroundNice) noexcept;

// After a file's hash is given up, the files begun within this pause go without one; the pause
// doubles with each give-up, up to the longest, and ends once a file is hashed whole. Why: under
// traffic the hasher cannot keep up with, each new file's hash took CPU from capture only to be
// given up a fraction of a second later (500 kpps of 1514 B frames on the benchmark VM: 87 of 88
// files given up, 730-940 ns of CPU per packet against 670-800 without the hash). Short enough
// that files are hashed again within seconds of a burst's end.
inline constexpr std::chrono::milliseconds kFirstHashPause{1'000};
inline constexpr std::chrono::milliseconds kLongestHashPause{16'000};

// Seams for tests.
struct DirectEngineHooks {
  // Called on the hasher thread before it takes the next buffer to hash, holding none: a test
  // blocks it to play a hasher that falls behind.
  std::function<void()> beforeHash{};
  // Called on the hasher thread once it has taken a buffer to hash and before it reads it,
  // holding none: a test blocks it to keep a buffer being read.
  std::function<void()> whileHashing{};
  // The clock of the hash pause; empty: std::chrono::steady_clock.
  std::function<std::chrono::steady_clock::time_point()> now{};
  // Called on the writer thread before each write with the file offset and length it writes: a
  // test counts what reaches the disk.
  std::function<void(std::uint64_t offset, std::size_t length)> beforeWrite{};
};

// The aligned buffers and the writer thread of direct I/O, kept from one file to the next: a
// recorder hands the same engine to each file it writes. Why: fresh memory costs a page fault on
// first touch of every 4 KiB, which on the benchmark VM made filling a new 4 MiB buffer take 9 ms
// instead of 2; with buffers made per file, 100 MiB files at 1.5 GB/s left the disk idle long
// enough to lose 22 % of the frames (docs/benchmarks.md). Buffers are touched when made, so the
// first file does not pay either.
//
// Used by one DirectStream at a time (a recorder writes one file at a time); it waits for its
// writes before the next stream takes the engine.
class DirectWriteEngine {
 public:
  // Nothing is allocated until a stream first uses it: where files go through the page cache,
  // an engine costs nothing.
  DirectWriteEngine() = default;
  explicit DirectWriteEngine(DirectEngineHooks hooks) : hooks_(std::move(hooks)) {}
  // Stops the writer thread; no stream may use it any more.
  ~DirectWriteEngine();
  DirectWriteEngine(const DirectWriteEngine&) = delete;
  DirectWriteEngine& operator=(const DirectWriteEngine&) = delete;

  // How many times buffers were made (tests: a second file of the same sizes makes none).
  std::size_t buffersMade() const noexcept { return buffersMade_; }

 private:
  friend class DirectStream;

  struct FreeDeleter {
    void operator()(std::byte* memory) const noexcept { std::free(memory); }
  };
  using Buffer = std::unique_ptr<std::byte, FreeDeleter>;

  struct Job {
    int fd = -1;
    std::size_t buffer = 0;
    std::uint64_t offset = 0;
    std::size_t length = 0;
    // The buffer's first `from` bytes (whole blocks) are in the file already, as they stay:
    // written from there on.
    std::size_t from = 0;
    StreamMark markAfter;        // whole records in the file once this write is done
    bool releasesBuffer = true;  // false for flush()'s write of the buffer still filling
    bool done = false;
    int error = 0;
    // The buffer's bytes [hashFrom, hashTo) go into `hash` (the stream's) before it is free
    // again: the file's bytes from offset + hashFrom on, each once, the padding left out.
    compress::Sha256* hash = nullptr;
    std::size_t hashFrom = 0;
    std::size_t hashTo = 0;
    bool hashed = true;
    bool hashing = false;   // the hasher reads the buffer now
    bool released = false;  // done and hashed, its buffer back in the pool: leaves at the front
    bool hashFailed = false;
  };

  // For a new file, with no write in flight: buffers of the sizes `options` asks for (kept when
  // they fit already) and the writer thread started. Throws std::bad_alloc, or std::system_error
  // when no thread can be made.
  void beginFile(const DirectStreamOptions& options);
  void writerLoop();
  void hasherLoop();
  int writeJob(const Job& job);
  void reserveAhead(int fd, std::uint64_t end);
  // With the mutex held: no job waits for its hash any more; one being hashed ends at its next
  // chunk.
  void abandonHashes();
  std::chrono::steady_clock::time_point now() const;

  DirectEngineHooks hooks_;

  std::vector<Buffer> buffers_;
  std::size_t bufferBytes_ = 0;  // each buffer's part that is written
  std::size_t allocation_ = 0;   // and its size: room past the end for a record that starts there
  std::size_t buffersMade_ = 0;

  std::mutex mutex_;
  std::condition_variable changed_;
  // In stream order. The writer writes the first that is not done, the hasher hashes the first
  // that is not hashed; only jobs both done and hashed leave the front (their buffers may go
  // back earlier).
  std::deque<Job> jobs_;
  std::uint64_t reserveBytes_ = 0;  // the current file's fallocate steps
  std::uint64_t reservedEnd_ = 0;   // the current file's space is reserved up to here
  bool reserveRefused_ = false;     // the file system has no fallocate
  bool writerFailed_ = false;       // the writer writes nothing more to the current file
  bool stopping_ = false;
  // The current file's hash was given up: the hasher stops within the chunk it is at.
  std::atomic<bool> hashAbandoned_ = false;
  // The hash pause (kFirstHashPause): files begun before hashResumes_ are not hashed; zero
  // pause: none given up since the last file hashed whole. Capture thread only.
  std::chrono::steady_clock::time_point hashResumes_{};
  std::chrono::milliseconds hashPause_{0};
  std::jthread writer_;  // last two: stopped and joined before the rest goes
  std::jthread hasher_;  // started by the first stream that hashes
};

class DirectStream {
 public:
  // `fd` (not owned, open until this is destroyed) is an empty file opened with O_DIRECT. The
  // stream takes `engine` for its buffers and writer thread, or makes its own when it is null.
  DirectStream(int fd, const DirectStreamOptions& options,
               std::shared_ptr<DirectWriteEngine> engine = nullptr);
  // Waits for the writes in flight; the file keeps what reached it (a `.part` for repair).
  ~DirectStream();
  DirectStream(const DirectStream&) = delete;
  DirectStream& operator=(const DirectStream&) = delete;

  // Where the next record goes: room for options.largestRecord bytes.
  std::byte* recordSpace() noexcept { return engine_->buffers_[current_].get() + used_; }
  // Ends a record of `bytes` written at recordSpace(). Hands a full buffer to the writer thread,
  // and waits for a free one when every buffer is in flight: for its write, never for its hash
  // (the file's hash is given up instead). False once a write has failed.
  bool endRecord(std::size_t bytes, std::uint64_t tag) noexcept;
  // Writes every record appended, the last block padded with zeros, waits for it (not for its
  // hash), and cuts the file to exactly its records (which also gives back the space reserved
  // ahead). False when a write failed.
  bool flush() noexcept;

  StreamMark inFile() const noexcept { return inFile_; }
  std::uint64_t appendedBytes() const noexcept { return appended_.bytes; }
  std::uint64_t appendedRecords() const noexcept { return appended_.records; }
  bool failed() const noexcept { return error_ != 0; }
  int error() const noexcept { return error_; }
  // After flush(): waits for the hashes still going (gives the hash up instead when they are more
  // than a buffer behind), then the SHA-256 (hex) of the file's bytes,
  // when the options asked for it and every byte was hashed (nothing after a failed write or
  // hash, or a hash given up). Once: the hash is spent.
  std::optional<std::string> takeSha256();
  // Whether the hash was given up because it fell behind the traffic, in this file or (the hash
  // pause) in one just before (no takeSha256() then).
  bool hashSkipped() const noexcept { return hashSkipped_; }
  // Of hashSkipped(): the file was begun in the hash pause, so its hash was not even tried.
  bool hashPaused() const noexcept { return hashPaused_; }

 private:
  using Job = DirectWriteEngine::Job;

  void submit(Job job, std::size_t records);
  // Takes finished jobs off the front; `wait`: until one buffer is free, until every write is
  // done (all: hashes may go on; the buffer still filling is only read by them), or until every
  // write and hash is (drained).
  enum class Wait { none, oneBuffer, all, drained };
  void reap(Wait wait) noexcept;
  void failWith(int error) noexcept;
  // With the engine's mutex held: this file's hash goes, and the hash pause begins or doubles.
  void giveUpHash() noexcept;

  int fd_;
  DirectStreamOptions options_;
  std::shared_ptr<DirectWriteEngine> engine_;
  std::vector<std::size_t> free_;
  std::size_t current_ = 0;
  std::size_t used_ = 0;  // bytes of the current buffer filled
  // Whole blocks at the current buffer's start that a flush wrote and no later record changes:
  // the next write of this buffer begins after them. Why: flushes come up to ten times a second
  // on a quiet link, and rewriting the buffer from its start each time wrote megabytes a second
  // to store a few kilobytes.
  std::size_t settled_ = 0;
  std::uint64_t bufferOffset_ = 0;  // where the current buffer goes in the file
  StreamMark appended_;
  StreamMark inFile_;
  std::uint64_t flushedBytes_ = 0;  // appended_.bytes at the last flush
  int error_ = 0;
  std::optional<compress::Sha256> hash_;  // with options.sha256, until a hash fails
  std::uint64_t hashQueuedTo_ = 0;        // the file's bytes handed to the hasher so far
  bool hashFailed_ = false;
  bool hashSkipped_ = false;
  bool hashPaused_ = false;
};

}  // namespace pcap_recorder::pcap
