#include "pcap_recorder/pcap/direct_stream.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

namespace pcap_recorder::pcap {

DirectStream::DirectStream(int fd, const DirectStreamOptions& options)
    : fd_(fd), options_(options) {
  options_.bufferBytes = alignUp(std::max<std::size_t>(options_.bufferBytes, kDirectAlignment));
  options_.bufferCount = std::max<std::size_t>(options_.bufferCount, 2);
  // Past a buffer's end: room for a record that starts just before it.
  const std::size_t allocation = options_.bufferBytes + alignUp(options_.largestRecord);
  for (std::size_t i = 0; i < options_.bufferCount; ++i) {
    Buffer buffer(static_cast<std::byte*>(std::aligned_alloc(kDirectAlignment, allocation)));
    if (!buffer) throw std::bad_alloc();
    buffers_.push_back(std::move(buffer));
    if (i != current_) free_.push_back(i);
  }
  writer_ = std::jthread([this] { writerLoop(); });
}

DirectStream::~DirectStream() {
  reap(Wait::all);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  writer_.join();
}

bool DirectStream::endRecord(std::size_t bytes, std::uint64_t tag) noexcept {
  if (error_ != 0) return false;
  const StreamMark before = appended_;
  used_ += bytes;
  appended_ = {appended_.bytes + bytes, appended_.records + 1, tag};
  if (used_ < options_.bufferBytes) return true;

  // A record that runs past the buffer's end is whole in the file only with the next buffer.
  const Job full{.buffer = current_,
                 .offset = bufferOffset_,
                 .length = options_.bufferBytes,
                 .markAfter = used_ == options_.bufferBytes ? appended_ : before};
  reap(free_.empty() ? Wait::oneBuffer : Wait::none);
  if (error_ != 0) return false;
  const std::size_t next = free_.back();
  free_.pop_back();
  const std::size_t overflow = used_ - options_.bufferBytes;
  std::memcpy(buffers_[next].get(), buffers_[current_].get() + options_.bufferBytes, overflow);
  submit(full);
  current_ = next;
  used_ = overflow;
  bufferOffset_ += options_.bufferBytes;
  return true;
}

bool DirectStream::flush() noexcept {
  if (error_ != 0) return false;
  if (appended_.bytes == flushedBytes_) return true;
  if (used_ > 0) {
    // The block the records end in goes out whole; the zeros after them are cut below, and this
    // block is written again once the buffer is full.
    const std::size_t padded = alignUp(used_);
    std::memset(buffers_[current_].get() + used_, 0, padded - used_);
    submit(Job{.buffer = current_,
               .offset = bufferOffset_,
               .length = padded,
               .markAfter = appended_,
               .releasesBuffer = false});
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
    std::lock_guard lock(mutex_);
    reservedEnd_ = appended_.bytes;
  }
  inFile_ = appended_;
  flushedBytes_ = appended_.bytes;
  return true;
}

void DirectStream::submit(Job job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(job);
  }
  changed_.notify_all();
}

void DirectStream::reap(Wait wait) noexcept {
  int firstError = 0;
  {
    std::unique_lock lock(mutex_);
    for (;;) {
      while (!jobs_.empty() && jobs_.front().done) {
        const Job job = jobs_.front();
        jobs_.pop_front();
        if (job.releasesBuffer) free_.push_back(job.buffer);
        if (job.error != 0 && firstError == 0) firstError = job.error;
        if (firstError == 0 && job.markAfter.bytes >= inFile_.bytes) inFile_ = job.markAfter;
      }
      if (jobs_.empty()) break;
      // After a failure every write still queued is given up; the file is cut once they are.
      if (firstError == 0 && wait == Wait::none) break;
      if (firstError == 0 && wait == Wait::oneBuffer && !free_.empty()) break;
      changed_.wait(lock);
    }
  }
  if (firstError != 0) failWith(firstError);
}

// Every write has ended: the file goes back to its last whole record, as in buffered mode.
void DirectStream::failWith(int error) noexcept {
  error_ = error;
  // Best effort: when even this fails, the next start's repair cuts the file.
  [[maybe_unused]] const int ignored = ::ftruncate(fd_, static_cast<off_t>(inFile_.bytes));
}

void DirectStream::writerLoop() {
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

// On the writer thread, with the mutex not held.
int DirectStream::writeJob(const Job& job) {
  reserveAhead(job.offset + job.length);
  const std::byte* data = buffers_[job.buffer].get();
  std::size_t done = 0;
  while (done < job.length) {
    const ssize_t n =
        ::pwrite(fd_, data + done, job.length - done, static_cast<off_t>(job.offset + done));
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
void DirectStream::reserveAhead(std::uint64_t end) {
  std::uint64_t from = 0;
  {
    std::lock_guard lock(mutex_);
    if (options_.reserveBytes == 0 || reserveRefused_ || end <= reservedEnd_) return;
    from = reservedEnd_;
  }
  const std::uint64_t to = end + options_.reserveBytes;
  // KEEP_SIZE: the file's size follows the writes, so readers never see the reserved zeros.
  if (::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(from),
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
