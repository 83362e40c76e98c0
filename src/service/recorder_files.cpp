// The recorder's file side, on the capture thread: when a file may be rotated, opening the next
// one (following the output directory if it was removed or replaced), finishing one and handing it
// to the finisher, and pausing after a failed write until the disk has room again. The capture
// loop and the recorder's life cycle are in recorder.cpp.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "pcap_recorder/logging/log.hpp"
#include "pcap_recorder/rotation/file_naming.hpp"
#include "pcap_recorder/service/empty_files.hpp"
#include "pcap_recorder/service/recorder.hpp"
#include "pcap_recorder/util/printable.hpp"
#include "pcap_recorder/util/system_error.hpp"

namespace pcap_recorder::service {

namespace {

using Clock = std::chrono::steady_clock;
using rotation::RotationReason;
constexpr std::chrono::seconds kReopenBackoff{1};
constexpr std::chrono::seconds kLongestReopenBackoff{60};
constexpr std::chrono::seconds kDiskWarningInterval{10};
// Writing resumes after a full disk once at least this much is free again.
constexpr std::uint64_t kResumeFreeBytes = 64 << 10;

}  // namespace

std::chrono::seconds reopenBackoff(unsigned failuresInARow) noexcept {
  auto backoff = kReopenBackoff;
  for (unsigned i = 1; i < failuresInARow && backoff < kLongestReopenBackoff; ++i) backoff *= 2;
  return std::min(backoff, kLongestReopenBackoff);
}

bool Recorder::canWait(RotationReason reason) noexcept {
  switch (reason) {
    case RotationReason::size:
    case RotationReason::packets:
    case RotationReason::interval:
    case RotationReason::clockSetBack:
    case RotationReason::signal:
      return true;
    default:
      return false;
  }
}

void Recorder::rotate(RotationReason reason, Nanoseconds time) {
  // Back-pressure: with the finisher's queue full, the file goes on (past its limit) rather than
  // queueing another descriptor; the rotation comes with the next frame or idle turn that finds
  // room, a requested one not at all.
  if (canWait(reason) && !finisher_.hasRoom()) {
    ++rotationsDeferred_;
    if (deferWarnings_.allow(Clock::now())) {
      spdlog::warn(
          "{}: {} files wait to be finished; {} rotations put off so far, the current "
          "file goes on (the disk is slower than the rotations asked for)",
          settings_.name, finisher_.queued(), rotationsDeferred_);
    }
    return;
  }
  // Writing what was buffered can fail too; then this is a write failure, not a rotation.
  if (writer_ && !writer_->flush()) {
    pauseAfterWriteFailure();
    return;
  }
  finishCurrentFile(reason);
  openNextFile(time);
  if (writer_ && writer_->failed()) pauseAfterWriteFailure();
}

bool Recorder::followOutputDirectory() {
  // A reload moved the output: the new directory is opened here, retried each turn while that
  // fails, as for a removed one.
  const bool moved = directory_->configuredPath() != settings_.output.directory;
  const auto state = moved ? OutputDirectory::State::same : directory_->state();
  if (!moved && state == OutputDirectory::State::same) return true;
  const std::string was = directory_->currentPath().string();
  if (!moved && !directoryFailing_) {
    std::uint64_t lost = 0;
    if (writer_ && state == OutputDirectory::State::removed) {
      // The file went with its directory: what reached it, and what is still buffered, is lost.
      publishWriterCounts();
      counters_.moveWrittenToLost(published_.packets, published_.bytes);
      lost = writer_->packets();
      counters_.addLostToDisk(writer_->packets() - writer_->packetsInFile());
      writer_.reset();
      setCurrentFile({});
    } else if (writer_) {
      finishCurrentFile(RotationReason::directoryReplaced);
    }
    logging::logEvent(spdlog::level::err, {{"INTERFACE", settings_.name}},
                      "{}: the output directory {} was {}; {} frames of the file being written "
                      "there are lost; re-creating {} and going on in a new file there",
                      settings_.name, was, describe(state), lost,
                      settings_.output.directory.string());
  }
  try {
    directory_ = OutputDirectory::open(settings_.output.directory);
  } catch (const std::exception& error) {
    if (!directoryFailing_) {
      spdlog::error("{}: {}; frames are counted as lost until it can be re-created", settings_.name,
                    error.what());
    }
    directoryFailing_ = true;
    pause_.store(PauseReason::noOutputDirectory, std::memory_order_relaxed);
    return false;
  }
  directoryFailing_ = false;
  lastExpandedName_.clear();
  if (!writer_) {
    lostToDiskAtPause_ = counters_.snapshot().packetsLostToDisk;
    openNextFile(timeForNextFile());
  }
  return true;
}

// Returns 0, or the errno that kept the file from being created.
int Recorder::openNextFile(Nanoseconds time) {
  if (!followOutputDirectory()) return ENOENT;
  if (writer_) return 0;  // following a re-created directory opened one already
  slot_ = rotation::slotOf(time, limits_.interval);
  slotInterval_ = limits_.interval;
  fileTime_ = time;
  latestFrameTime_ = 0;  // the high-water mark is per file: a frame stamped far ahead ends with it
  // A file of a time slot is named after the slot's start, so hourly files read hh:00:00.
  const Nanoseconds nameTime = limits_.interval.count() != 0 ? slot_.start : time;
  const auto openedAt = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(nameTime)));
  const auto name =
      rotation::expandFileName(settings_.output.fileName, settings_.name, nextSequence_, openedAt);
  const unsigned firstCounter = name == lastExpandedName_ ? lastCounter_ + 1 : 0;
  try {
    writer_.emplace(directory_->fd(), name, writerOptions_, firstCounter);
    liveIndex_.reset();
    if (settings_.output.index)
      liveIndex_.emplace(writerOptions_.timestampUnit, writerOptions_.snaplen);
    lastExpandedName_ = name;
    lastCounter_ = writer_->counter();
    setCurrentFile((directory_->currentPath() / writer_->partName()).string());
    reportDirectIo();
    pause_.store(PauseReason::none, std::memory_order_relaxed);
    published_ = {};
    kernelDropsAtOpen_ = counters_.snapshot().kernelDrops;
    lostToDiskAtOpen_ = counters_.snapshot().packetsLostToDisk;
    ++nextSequence_;
    return 0;
  } catch (const std::system_error& error) {
    spdlog::error("{}: {} in {}", settings_.name, error.what(),
                  settings_.output.directory.string());
    // No file to write into: frames are lost to the disk until one can be made, and the state
    // says so (a reload that changed a file setting in place would otherwise show "capturing").
    if (pause_.load(std::memory_order_relaxed) == PauseReason::none) {
      lostToDiskAtPause_ = counters_.snapshot().packetsLostToDisk;
      pause_.store(PauseReason::writeFailed, std::memory_order_relaxed);
    }
    return error.code().value();
  }
}

// Once per output directory: whether files there bypass the page cache, and why not.
void Recorder::reportDirectIo() {
  if (directIoReported_ || writerOptions_.directIo == pcap::DirectIoPolicy::never) return;
  directIoReported_ = true;
  if (writer_->directIo()) {
    spdlog::info("{}: writing to {} with direct I/O", settings_.name,
                 settings_.output.directory.string());
  } else {
    spdlog::info(
        "{}: {} is in memory (tmpfs) or its file system refuses direct I/O (O_DIRECT); writing "
        "through the page cache",
        settings_.name, settings_.output.directory.string());
  }
}

void Recorder::finishCurrentFile(RotationReason reason) {
  if (!writer_) return;
  publishKernelCounts();
  auto closed = writer_->close();
  publishWriterCounts();
  const bool writeFailed = writer_->failed();
  if (!writeFailed) writeFailuresInARow_ = 0;
  writer_.reset();
  packetsInCurrentFile_.store(0, std::memory_order_relaxed);
  setCurrentFile({});
  if (removeIfEmpty(closed, writeFailed, settings_.output.keepEmptyFiles, directory_->fd())) {
    return;
  }
  finisher_.submit(FinishJob{
      .interface = settings_.name,
      .directory = settings_.output.directory,
      .output = directory_,
      .file = std::move(closed),
      .kernelDrops = counters_.snapshot().kernelDrops - kernelDropsAtOpen_,
      .reason = std::string(rotation::describe(reason)),
      .postFinishCommand = settings_.output.postFinishCommand,
      .postFinishTimeout = settings_.output.postFinishTimeout,
      .postFinishMaxRunning = settings_.output.postFinishMaxRunning,
      .index = settings_.output.index,
      .liveIndex = std::exchange(liveIndex_, std::nullopt),
      .storage =
          storageOptionsFor(settings_, counters_.snapshot().packetsLostToDisk - lostToDiskAtOpen_),
      .onFinished =
          [shared = shared_](const FinishedFile& finished) {
            shared->counters.addFileWritten();
            if (finished.withoutSha256 != WithoutSha256::no) {
              shared->counters.addFileWithoutSha256();
            }
            std::lock_guard lock(shared->finishedMutex);
            shared->finishedFiles.push_back(finished.path.filename().string());
          },
      .onLost = [shared = shared_](
                    std::uint64_t packets,
                    std::uint64_t bytes) { shared->counters.moveWrittenToLost(packets, bytes); },
  });
}

// A write failed (a full disk, a quota, an I/O error): the file ends at its last complete record
// and is finished; frames are counted as lost to the disk until a new file can be written.
void Recorder::pauseAfterWriteFailure() {
  // Counted from before the failed file's own losses, so the resume line tells the whole loss.
  lostToDiskAtPause_ = counters_.snapshot().packetsLostToDisk;
  pause_.store(PauseReason::writeFailed, std::memory_order_relaxed);
  const int error = writer_ ? writer_->lastErrno() : ENOSPC;
  const auto backoff = reopenBackoff(++writeFailuresInARow_);
  spdlog::error(
      "{}: writing to {} failed: {}; frames are counted as lost to the disk until it "
      "can be written again (next try in {} s)",
      settings_.name, settings_.output.directory.string(), std::strerror(error), backoff.count());
  finishCurrentFile(RotationReason::writeError);
  finisher_.requestRetention(settings_.output.directory);
  nextOpenAttempt_ = Clock::now() + backoff;
  nextDiskWarning_ = Clock::now() + kDiskWarningInterval;
}

void Recorder::resumeWhenSpaceReturns(Nanoseconds now) {
  const auto steadyNow = Clock::now();
  if (steadyNow < nextOpenAttempt_) return;
  nextOpenAttempt_ = steadyNow + kReopenBackoff;
  const std::uint64_t lost = counters_.snapshot().packetsLostToDisk - lostToDiskAtPause_;
  struct statvfs fileSystem;
  const bool space = ::fstatvfs(directory_->fd(), &fileSystem) == 0 &&
                     std::uint64_t{fileSystem.f_bavail} * fileSystem.f_frsize >= kResumeFreeBytes;
  if (!space) {
    if (steadyNow >= nextDiskWarning_) {
      spdlog::warn("{}: still no space in {}: {} frames lost to the disk so far", settings_.name,
                   settings_.output.directory.string(), lost);
      nextDiskWarning_ = steadyNow + kDiskWarningInterval;
    }
    return;
  }
  if (openNextFile(now) == 0 && !writer_->failed()) {
    spdlog::info("{}: writing again into {} after {} frames lost to the disk", settings_.name,
                 writer_->partName(), lost);
  }
}

// Only what reached the file counts as written; what a failed write cut off counts as lost.
void Recorder::publishWriterCounts() noexcept {
  if (!writer_) return;
  const PublishedCounts now{writer_->packetsInFile(), writer_->bytesInFile(),
                            writer_->packetsLostToWriteErrors()};
  counters_.addWritten(now.packets - published_.packets, now.bytes - published_.bytes);
  counters_.addLostToDisk(now.lost - published_.lost);
  published_ = now;
  packetsInCurrentFile_.store(writer_->packets(), std::memory_order_relaxed);
}

}  // namespace pcap_recorder::service
