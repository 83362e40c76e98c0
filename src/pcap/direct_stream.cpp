#include "pcap_recorder/pcap/direct_stream.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <new>
#include <span>

namespace pcap_recorder::pcap {

namespace {

// What the hasher hashes between two looks at whether the hash was given up: short enough that a
// capture thread waiting for the buffer waits well under a millisecond.
constexpr std::size_t kHashChunk = 256u << 10;

}  // namespace

void lowerThisThreadsPriority(int by) noexcept {
  const auto self = static_cast<id_t>(::gettid());
  errno = 0;
  const int nice = ::getpriority(PRIO_PROCESS, self);
  if (nice == -1 && errno != 0) return;
  // Best effort: a thread that stays at its priority still works, only less politely.
  [[maybe_unused]] const int ignored = ::setpriority(PRIO_PROCESS, self, std::min(nice + by, 19));
}

DirectWriteEngine::~DirectWriteEngine() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (hasher_.joinable()) hasher_.join();
}

void DirectWriteEngine::beginFile(const DirectStreamOptions& options) {
  // Past a buffer's end: room for a record that starts just before it.
  const std::size_t allocation = options.bufferBytes + alignUp(options.largestRecord);
  if (buffers_.size() != options.bufferCount || bufferBytes_ != options.bufferBytes ||
      allocation_ < allocation) {
    // No write is in flight (the previous stream waited for its own): the writer touches no
    // buffer meanwhile.
    buffers_.clear();
    for (std::size_t i = 0; i < options.bufferCount; ++i) {
      Buffer buffer(static_cast<std::byte*>(std::aligned_alloc(kDirectAlignment, allocation)));
      if (!buffer) throw std::bad_alloc();
      // Touched now rather than while frames wait in the ring.
      std::memset(buffer.get(), 0, allocation);
      buffers_.push_back(std::move(buffer));
    }
    bufferBytes_ = options.bufferBytes;
    allocation_ = allocation;
    ++buffersMade_;
  }
  {
    std::lock_guard lock(mutex_);
    jobs_.clear();
    reserveBytes_ = options.reserveBytes;
    reservedEnd_ = 0;
    reserveRefused_ = false;
    writerFailed_ = false;
    hashAbandoned_ = false;
  }
  // Started from the capture thread, they run at its priority; the hasher lowers its own.
  if (!writer_.joinable()) {
    writer_ = std::jthread([this] {
      ::pthread_setname_np(::pthread_self(), "pr-writer");
      writerLoop();
    });
  }
  if (options.sha256 && !hasher_.joinable()) {
    hasher_ = std::jthread([this] {
      ::pthread_setname_np(::pthread_self(), "pr-hasher");
      lowerThisThreadsPriority(kBackgroundNice);
      hasherLoop();
    });
  }
}

DirectStream::DirectStream(int fd, const DirectStreamOptions& options,
                           std::shared_ptr<DirectWriteEngine> engine)
    : fd_(fd),
      options_(options),
      engine_(engine ? std::move(engine) : std::make_shared<DirectWriteEngine>()) {
  options_.bufferBytes = alignUp(std::max<std::size_t>(options_.bufferBytes, kDirectAlignment));
  options_.bufferCount = std::max<std::size_t>(options_.bufferCount, 2);
  engine_->beginFile(options_);
  if (options_.sha256 && options_.hashYieldsToCapture && engine_->now() < engine_->hashResumes_) {
    hashSkipped_ = true;  // the hash pause: see kFirstHashPause
    hashPaused_ = true;
  } else if (options_.sha256) {
    try {
      hash_.emplace();
    } catch (const std::exception&) {
      hashFailed_ = true;  // OpenSSL could not start one: the finisher reads the file instead
    }
  }
  for (std::size_t i = 0; i < options_.bufferCount; ++i) {
    if (i != current_) free_.push_back(i);
  }
}

DirectStream::~DirectStream() {
  {
    // No hash is taken any more: none may go on into this stream's hash after it.
    std::lock_guard lock(engine_->mutex_);
    engine_->abandonHashes();
  }
  reap(Wait::drained);
}

bool DirectStream::endRecord(std::size_t bytes, std::uint64_t tag) noexcept {
  if (error_ != 0) return false;
  const StreamMark before = appended_;
  used_ += bytes;
  appended_ = {appended_.bytes + bytes, appended_.records + 1, tag};
  // A loop, for a record longer than a buffer: every buffer handed on is full, and the one left
  // filling is never full. Otherwise a later flush() of an over-full buffer would queue its
  // bytes' hash ahead of the buffer's full write, which then had none to wait for and went back
  // to the pool while the hasher still had to read it.
  while (used_ >= options_.bufferBytes) {
    // A record that runs past the buffer's end is whole in the file only with the next buffer.
    const Job full{.fd = fd_,
                   .buffer = current_,
                   .offset = bufferOffset_,
                   .length = options_.bufferBytes,
                   .from = settled_,
                   .markAfter = used_ == options_.bufferBytes ? appended_ : before};
    reap(free_.empty() ? Wait::oneBuffer : Wait::none);
    if (error_ != 0) return false;
    const std::size_t next = free_.back();
    free_.pop_back();
    const std::size_t overflow = used_ - options_.bufferBytes;
    std::memcpy(engine_->buffers_[next].get(),
                engine_->buffers_[current_].get() + options_.bufferBytes, overflow);
    submit(full, options_.bufferBytes);
    current_ = next;
    used_ = overflow;
    settled_ = 0;
    bufferOffset_ += options_.bufferBytes;
  }
  return true;
}

bool DirectStream::flush() noexcept {
  if (error_ != 0) return false;
  if (appended_.bytes == flushedBytes_) return true;
  if (used_ > 0) {
    // The blocks written since the last flush, the one the records end in whole; the zeros
    // after them are cut below, and that block is written again by the next write of the buffer.
    const std::size_t padded = alignUp(used_);
    std::memset(engine_->buffers_[current_].get() + used_, 0, padded - used_);
    submit(Job{.fd = fd_,
               .buffer = current_,
               .offset = bufferOffset_,
               .length = padded,
               .from = settled_,
               .markAfter = appended_,
               .releasesBuffer = false},
           used_);
    settled_ = alignDown(used_);
  }
  reap(Wait::all);
  if (error_ != 0) return false;
  // Why cut at every flush: readers of the live `.part` see whole records only, never padding.
  if (::ftruncate(fd_, static_cast<off_t>(appended_.bytes)) != 0) {
    failWith(errno);
    return false;
  }
  {
    // The cut gave back the space reserved past the end; the next write reserves anew.
    std::lock_guard lock(engine_->mutex_);
    engine_->reservedEnd_ = appended_.bytes;
  }
  inFile_ = appended_;
  flushedBytes_ = appended_.bytes;
  return true;
}

std::optional<std::string> DirectStream::takeSha256() {
  {
    // Waiting at the end of a file for a hasher more than a buffer behind would hold up capture
    // as much as waiting for a buffer does: that hash is given up too.
    std::lock_guard lock(engine_->mutex_);
    std::size_t behind = 0;
    for (const Job& job : engine_->jobs_) {
      if (!job.hashed) behind += job.hashTo - job.hashFrom;
    }
    if (options_.hashYieldsToCapture && !hashSkipped_ && behind > options_.bufferBytes) {
      giveUpHash();
    }
  }
  reap(Wait::drained);
  if (!hash_ || hashFailed_ || hashSkipped_ || error_ != 0 || hashQueuedTo_ != appended_.bytes ||
      flushedBytes_ != appended_.bytes) {
    return std::nullopt;
  }
  std::string digest = hash_->hexDigest();
  hash_.reset();
  // Hashing keeps up again: the pause is over.
  engine_->hashPause_ = std::chrono::milliseconds{0};
  engine_->hashResumes_ = {};
  return digest;
}

// `records`: how many of the job's first bytes are records (the rest is padding).
void DirectStream::submit(Job job, std::size_t records) {
  if (hash_ && !hashFailed_ && !hashSkipped_) {
    // A block flushed before is written again with the buffer; its records are hashed once.
    const std::uint64_t end = job.offset + records;
    if (end > hashQueuedTo_) {
      job.hash = &*hash_;
      job.hashFrom = static_cast<std::size_t>(hashQueuedTo_ - job.offset);
      job.hashTo = records;
      job.hashed = false;
      hashQueuedTo_ = end;
    }
  }
  {
    std::lock_guard lock(engine_->mutex_);
    engine_->jobs_.push_back(job);
  }
  engine_->changed_.notify_all();
}

void DirectStream::reap(Wait wait) noexcept {
  int firstError = 0;
  {
    auto& jobs = engine_->jobs_;
    std::unique_lock lock(engine_->mutex_);
    for (;;) {
      // Writes end in stream order: the file holds whole records up to the last one written,
      // whether or not its hash is done.
      bool allWritten = true;
      for (const Job& job : jobs) {
        if (!job.done) {
          allWritten = false;
          break;
        }
        if (job.error != 0 && firstError == 0) firstError = job.error;
        if (firstError == 0 && job.markAfter.bytes >= inFile_.bytes) inFile_ = job.markAfter;
      }
      // Buffers go back as soon as their write and hash are done, also behind one still being
      // hashed (after a hash was given up): capture waits for no hash but the hasher's chunk
      // of the same buffer (a flushed block of it), which it still reads.
      for (Job& job : jobs) {
        if (!job.done || !job.hashed || job.released) continue;
        if (job.releasesBuffer && std::any_of(jobs.begin(), jobs.end(), [&](const Job& other) {
              return other.hashing && other.buffer == job.buffer;
            })) {
          continue;
        }
        if (job.releasesBuffer) free_.push_back(job.buffer);
        if (job.hashFailed) hashFailed_ = true;
        job.released = true;
      }
      while (!jobs.empty() && jobs.front().released) jobs.pop_front();
      if (jobs.empty()) break;
      // After a failure every write still queued is given up; the file is cut once they are.
      // Not for one buffer: one written may still wait for its hash (below).
      if (allWritten && wait != Wait::drained && (wait == Wait::all || firstError != 0)) break;
      if (firstError == 0 && wait == Wait::none) break;
      if (firstError == 0 && wait == Wait::oneBuffer && !free_.empty()) break;
      // Capture needs a buffer that is written and only waits for its hash: the hash goes, so
      // that it never costs a frame.
      if (options_.hashYieldsToCapture && wait == Wait::oneBuffer && !hashSkipped_ &&
          jobs.front().done && !jobs.front().hashed) {
        giveUpHash();
        continue;
      }
      engine_->changed_.wait(lock);
    }
  }
  if (firstError != 0) failWith(firstError);
}

void DirectStream::giveUpHash() noexcept {
  hashSkipped_ = true;
  engine_->abandonHashes();
  auto& pause = engine_->hashPause_;
  pause = pause.count() == 0 ? kFirstHashPause : std::min(pause * 2, kLongestHashPause);
  engine_->hashResumes_ = engine_->now() + pause;
}

// Every write has ended: the file goes back to its last whole record, as in buffered mode.
void DirectStream::failWith(int error) noexcept {
  error_ = error;
  // Best effort: when even this fails, the next start's repair cuts the file.
  [[maybe_unused]] const int ignored = ::ftruncate(fd_, static_cast<off_t>(inFile_.bytes));
}

void DirectWriteEngine::writerLoop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    const auto pending =
        std::find_if(jobs_.begin(), jobs_.end(), [](const Job& job) { return !job.done; });
    if (pending == jobs_.end()) {
      if (stopping_) return;
      changed_.wait(lock);
      continue;
    }
    const Job job = *pending;
    int error = ECANCELED;
    if (!writerFailed_) {
      lock.unlock();
      error = writeJob(job);
      lock.lock();
    }
    if (error != 0) writerFailed_ = true;
    // Still the first not done: the capture thread takes only done jobs off the front.
    const auto written =
        std::find_if(jobs_.begin(), jobs_.end(), [](const Job& job) { return !job.done; });
    written->done = true;
    written->error = error;
    changed_.notify_all();
  }
}

std::chrono::steady_clock::time_point DirectWriteEngine::now() const {
  return hooks_.now ? hooks_.now() : std::chrono::steady_clock::now();
}

void DirectWriteEngine::abandonHashes() {
  hashAbandoned_.store(true, std::memory_order_relaxed);
  for (Job& job : jobs_) {
    if (!job.hashing) job.hashed = true;
  }
  changed_.notify_all();
}

// Hashes the jobs in stream order, each while (or after) the writer writes it. A buffer is read
// here and by the writer at once, written by neither.
void DirectWriteEngine::hasherLoop() {
  const auto firstNotHashed = [this] {
    return std::find_if(jobs_.begin(), jobs_.end(), [](const Job& job) { return !job.hashed; });
  };
  std::unique_lock lock(mutex_);
  for (;;) {
    if (firstNotHashed() == jobs_.end()) {
      if (stopping_) return;
      changed_.wait(lock);
      continue;
    }
    if (hooks_.beforeHash) {
      lock.unlock();
      hooks_.beforeHash();
      lock.lock();
    }
    // Looked for again: the capture thread may have given the hash up meanwhile.
    const auto pending = firstNotHashed();
    if (pending == jobs_.end()) continue;
    // Stays where it is until hashed: jobs leave the front only once hashed, and a deque keeps
    // its elements in place when others are added or taken off the front.
    Job& job = *pending;
    job.hashing = true;
    const std::byte* data = buffers_[job.buffer].get();
    const std::size_t from = job.hashFrom;
    const std::size_t to = job.hashTo;
    compress::Sha256* hash = job.hash;
    lock.unlock();
    if (hooks_.whileHashing) hooks_.whileHashing();
    bool failed = false;
    try {
      for (std::size_t at = from; at < to; at += kHashChunk) {
        if (hashAbandoned_.load(std::memory_order_relaxed)) break;
        hash->update(std::span<const std::byte>(data + at, std::min(kHashChunk, to - at)));
      }
    } catch (const std::exception&) {
      failed = true;  // the file goes without a streamed hash; the finisher reads it back
    }
    lock.lock();
    job.hashing = false;
    job.hashed = true;
    job.hashFailed = failed;
    changed_.notify_all();
  }
}

// On the writer thread, with the mutex not held.
int DirectWriteEngine::writeJob(const Job& job) {
  reserveAhead(job.fd, job.offset + job.length);
  if (hooks_.beforeWrite) hooks_.beforeWrite(job.offset + job.from, job.length - job.from);
  const std::byte* data = buffers_[job.buffer].get();
  std::size_t done = job.from;
  while (done < job.length) {
    const ssize_t n =
        ::pwrite(job.fd, data + done, job.length - done, static_cast<off_t>(job.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    // A short write that is not block-aligned cannot go on with O_DIRECT: the disk is full.
    if (n == 0 || (done + static_cast<std::size_t>(n) < job.length && n % kDirectAlignment != 0)) {
      return ENOSPC;
    }
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

// Why: without it the file system allocates blocks on each write, and extent by extent.
void DirectWriteEngine::reserveAhead(int fd, std::uint64_t end) {
  std::uint64_t from = 0;
  {
    std::lock_guard lock(mutex_);
    if (reserveBytes_ == 0 || reserveRefused_ || end <= reservedEnd_) return;
    from = reservedEnd_;
  }
  const std::uint64_t to = end + reserveBytes_;
  // KEEP_SIZE: the file's size follows the writes, so readers never see the reserved zeros.
  if (::fallocate(fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(from),
                  static_cast<off_t>(to - from)) == 0) {
    std::lock_guard lock(mutex_);
    reservedEnd_ = std::max(reservedEnd_, to);
  } else if (errno == EOPNOTSUPP) {
    std::lock_guard lock(mutex_);
    reserveRefused_ = true;
  }
  // Other errors (a full disk): the write itself reports them.
}

}  // namespace pcap_recorder::pcap
