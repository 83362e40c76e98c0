#include "pcap_recorder/service/recorder.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "pcap_recorder/bpf/filter.hpp"
#include "pcap_recorder/capture/af_packet_source.hpp"
#include "pcap_recorder/capture/tpacket_block.hpp"
#include "pcap_recorder/logging/log.hpp"
#include "pcap_recorder/rotation/file_naming.hpp"
#include "pcap_recorder/service/empty_files.hpp"
#include "pcap_recorder/util/printable.hpp"
#include "pcap_recorder/util/system_error.hpp"

namespace pcap_recorder::service {

namespace {

using Clock = std::chrono::steady_clock;
using rotation::RotationReason;
using rotation::wallClockNow;
constexpr std::chrono::milliseconds kIdleWait{100};
// Files are readable while capture runs: buffered records reach the file at least this often.
constexpr std::chrono::seconds kFlushInterval{1};
constexpr rotation::Nanoseconds kNanosecondsPerSecond = 1'000'000'000;

pcap::TimestampUnit toUnit(config::TimestampPrecision precision) {
  return precision == config::TimestampPrecision::nano ? pcap::TimestampUnit::nanoseconds
                                                       : pcap::TimestampUnit::microseconds;
}

pcap::DirectIoPolicy toPolicy(config::DirectIo directIo) {
  switch (directIo) {
    case config::DirectIo::on:
      return pcap::DirectIoPolicy::required;
    case config::DirectIo::off:
      return pcap::DirectIoPolicy::never;
    case config::DirectIo::automatic:
      break;
  }
  return pcap::DirectIoPolicy::automatic;
}

rotation::Nanoseconds timeOf(const pcap::Frame& frame) {
  return rotation::Nanoseconds{frame.seconds} * kNanosecondsPerSecond + frame.nanoseconds;
}

bool isFullDisk(int error) {
  return error == ENOSPC || error == EDQUOT || error == EIO;
}

// Opened with intake held (a filter that drops everything): capture begins at start(), so a
// reload can start a replacement socket exactly when the old one stops taking frames.
std::unique_ptr<capture::PacketSource> openSource(const config::InterfaceSettings& settings,
                                                  const bpf::FilterProgram& filter) {
  capture::SourceSettings source{
      .interface = settings.name,
      .ringBytes = settings.capture.ringBytes,
      .snaplen = settings.output.snaplen,
      .promiscuous = settings.capture.promiscuous,
  };
  auto opened = std::make_unique<capture::AfPacketSource>(source, bpf::FilterProgram::dropAll());
  const auto& ring = opened->geometry();
  logging::logEvent(spdlog::level::info, {{"INTERFACE", settings.name}},
                    "{}: capturing: ring {} x {} KiB blocks, filter \"{}\" ({} BPF "
                    "instructions), snaplen {}, promiscuous {}",
                    settings.name, ring.blockCount, ring.blockBytes / 1024,
                    util::printable(settings.filter), filter.size(), settings.output.snaplen,
                    settings.capture.promiscuous);
  return opened;
}

bpf::FilterProgram compileFilter(const config::InterfaceSettings& settings) {
  return bpf::FilterProgram::compileForInterface(settings.name, settings.filter,
                                                 settings.output.snaplen);
}

}  // namespace

util::UniqueFd openOutputDirectory(const std::filesystem::path& directory) {
  // Each missing component is made kOutputDirectoryMode, set with chmod after mkdir: the umask
  // (000 from a careless shell, 077 from a strict one) must not decide who may read captures.
  std::filesystem::path partial;
  for (const auto& component : directory) {
    partial /= component;
    if (::mkdir(partial.c_str(), kOutputDirectoryMode) == 0) {
      if (::chmod(partial.c_str(), kOutputDirectoryMode) != 0) {
        util::throwErrno("cannot set the mode of output directory " + partial.string());
      }
    } else if (errno != EEXIST) {
      util::throwErrno("cannot create output directory " + partial.string());
    }
  }
  util::UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) util::throwErrno("cannot open output directory " + directory.string());
  return fd;
}

Recorder::Recorder(const config::InterfaceSettings& settings, FileFinisher& finisher)
    : Recorder(settings, finisher, nullptr, compileFilter(settings)) {}

Recorder::Recorder(const config::InterfaceSettings& settings, FileFinisher& finisher,
                   std::unique_ptr<capture::PacketSource> source,
                   pcap::DirectEngineHooks engineHooks)
    : Recorder(settings, finisher, std::move(source), compileFilter(settings),
               std::move(engineHooks)) {}

Recorder::Recorder(const config::InterfaceSettings& settings, FileFinisher& finisher,
                   std::unique_ptr<capture::PacketSource> source, bpf::FilterProgram filter,
                   pcap::DirectEngineHooks engineHooks)
    : settings_(settings),
      finisher_(finisher),
      source_(source ? std::move(source) : openSource(settings, filter)),
      filter_(std::move(filter)),
      directory_(OutputDirectory::open(settings.output.directory)),
      writerOptions_{
          .timestampUnit = toUnit(settings.output.timestamp),
          .snaplen = settings.output.snaplen,
          .fileMode = static_cast<mode_t>(settings.output.fileMode),
          .directIo = toPolicy(settings.output.directIo),
          .directEngine = std::make_shared<pcap::DirectWriteEngine>(std::move(engineHooks)),
          .sha256 = hashWhileWriting(settings.output)},
      limits_{.maxFileBytes = settings.rotate.maxFileBytes,
              .interval = settings.rotate.interval,
              .maxPackets = settings.rotate.maxPackets},
      lateness_(std::chrono::nanoseconds(2 * source_->blockTimeout() + kIdleWait).count()) {
  // The first file is opened before capture starts so a directory problem fails startup; a full
  // disk does not: the recorder starts paused and resumes when space returns.
  if (const int error = openNextFile(wallClockNow()); error != 0 && !isFullDisk(error)) {
    throw std::system_error(error, std::generic_category(),
                            settings_.name + ": cannot create a capture file in " +
                                settings_.output.directory.string());
  }
  if (!writer_ || writer_->failed()) pauseAfterWriteFailure();
}

Recorder::~Recorder() {
  requestStop();
  join();
  // Never started (another interface failed at startup): no frame was captured, leave no file.
  if (writer_) {
    const auto part = writer_->partName();
    writer_->close();
    ::unlinkat(directory_->fd(), part.c_str(), 0);
  }
}

void Recorder::start() {
  startThread();
  beginIntake();
}

void Recorder::startThread() {
  if (!thread_.joinable()) thread_ = std::jthread([this] { run(); });
}

void Recorder::beginIntake() {
  source_->replaceFilter(filter_);
  intakeBegun_.store(true, std::memory_order_release);
  // From here the socket takes frames into the ring: capturing, though the thread may not have
  // gone round its loop yet (READY=1's STATUS= is read right after start()).
  capturing_.store(true, std::memory_order_relaxed);
}

void Recorder::waitUntilIntakeStopped() const {
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (!intakeStopped_.load(std::memory_order_acquire) && thread_.joinable() &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool Recorder::requestRotation() noexcept {
  if (packetsInCurrentFile_.load(std::memory_order_relaxed) == 0) return false;
  rotationRequested_.store(true, std::memory_order_relaxed);
  source_->wake();
  return true;
}

void Recorder::applySettings(const config::InterfaceSettings& settings) {
  applySettings(settings, compileFilter(settings));
}

void Recorder::applySettings(const config::InterfaceSettings& settings, bpf::FilterProgram filter) {
  {
    std::lock_guard lock(pendingMutex_);
    pendingSettings_ = settings;
    pendingFilter_.emplace(std::move(filter));
  }
  settingsPending_.store(true, std::memory_order_release);
  source_->wake();
}

std::string Recorder::currentFile() const {
  std::lock_guard lock(pendingMutex_);
  return currentFile_;
}

InterfaceState Recorder::state() const noexcept {
  if (!capturing()) return {CaptureState::stopped};
  if (const auto pause = pause_.load(std::memory_order_relaxed); pause != PauseReason::none) {
    return {CaptureState::paused, pause};
  }
  return {linkUp() ? CaptureState::capturing : CaptureState::linkDown};
}

void Recorder::setCurrentFile(std::string path) {
  std::lock_guard lock(pendingMutex_);
  currentFile_ = std::move(path);
}

// On the capture thread, between blocks: frames before this point were captured and written
// under the old settings, frames after it under the new ones.
void Recorder::takePendingSettings() {
  std::optional<config::InterfaceSettings> next;
  std::optional<bpf::FilterProgram> filter;
  {
    std::lock_guard lock(pendingMutex_);
    next.swap(pendingSettings_);
    filter.swap(pendingFilter_);
  }
  if (!next) return;
  if (next->filter != settings_.filter) {
    try {
      source_->replaceFilter(*filter);
    } catch (const std::exception& error) {
      // The socket keeps the filter it had: capture goes on as before rather than stopping.
      logging::logEvent(spdlog::level::err, {{"INTERFACE", settings_.name}},
                        "{}: the new filter could not be applied ({}); the old filter \"{}\" "
                        "keeps capturing",
                        settings_.name, error.what(), util::printable(settings_.filter));
      next->filter = settings_.filter;
    }
  }
  const bool newFile = next->output != settings_.output;
  const bool writing = writer_.has_value();
  if (newFile) {
    // Finished as it was written: in its own directory, stored (compression, hash, hook,
    // keep_empty_files) as the settings it was written under say.
    if (writing && !writer_->flush()) {
      pauseAfterWriteFailure();
    } else {
      finishCurrentFile(RotationReason::reload);
    }
  }
  settings_ = *next;
  limits_ = {.maxFileBytes = settings_.rotate.maxFileBytes,
             .interval = settings_.rotate.interval,
             .maxPackets = settings_.rotate.maxPackets};
  writerOptions_.timestampUnit = toUnit(settings_.output.timestamp);
  writerOptions_.fileMode = static_cast<mode_t>(settings_.output.fileMode);
  writerOptions_.directIo = toPolicy(settings_.output.directIo);
  writerOptions_.sha256 = hashWhileWriting(settings_.output);
  if (newFile) {
    directIoReported_ = false;
    lastExpandedName_.clear();
    // The directory, perhaps a new one, is opened (created if missing) with the next file, by
    // followOutputDirectory(): should that fail, writing pauses and it is retried each turn.
    if (writing && pause_.load(std::memory_order_relaxed) == PauseReason::none) {
      openNextFile(timeForNextFile());
      if (writer_ && writer_->failed()) pauseAfterWriteFailure();
    }
  } else if (writer_ && limits_.interval != slotInterval_) {
    // A new interval applies to the open file as to the next: its slot is recomputed around the
    // time it was opened for. Why not the clock: a reload just after a boundary, before the clock
    // or a frame ended the file, would move it into the next slot under its old name.
    slot_ = rotation::slotOf(fileTime_, limits_.interval);
    slotInterval_ = limits_.interval;
  }
  spdlog::info("{}: new settings applied", settings_.name);
}

void Recorder::requestStop() noexcept {
  stopRequested_.store(true, std::memory_order_relaxed);
  if (source_) source_->wake();
}

void Recorder::join() {
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> Recorder::finishedFiles() const {
  std::lock_guard lock(shared_->finishedMutex);
  return shared_->finishedFiles;
}

void Recorder::run() noexcept {
  try {
    lastFlush_ = Clock::now();
    while (!stopRequested_.load(std::memory_order_relaxed)) {
      heartbeat_.fetch_add(1, std::memory_order_relaxed);
      if (settingsPending_.exchange(false, std::memory_order_acquire)) takePendingSettings();
      const auto block = source_->nextBlock(kIdleWait);
      framesComing_ = !block.empty();
      if (!block.empty()) {
        processBlock(block);
        source_->releaseBlock();
      }
      if (rotationRequested_.exchange(false, std::memory_order_relaxed) && writer_ &&
          writer_->packets() > 0) {
        rotate(RotationReason::signal, timeForNextFile());
      }
      if (block.empty() || Clock::now() - lastFlush_ >= kFlushInterval) {
        betweenBlocks(wallClockNow(), block.empty());
      }
    }
    drainAfterStop();
  } catch (const std::exception& error) {
    spdlog::error("{}: capture stopped: {}", settings_.name, error.what());
  }
  try {
    // Never given a frame (a reload rolled back): the destructor removes the empty file.
    if (intakeBegun_.load(std::memory_order_acquire)) finishCurrentFile(RotationReason::stop);
  } catch (const std::exception& error) {
    spdlog::error("{}: {}", settings_.name, error.what());
  }
  publishKernelCounts();
  capturing_.store(false, std::memory_order_relaxed);
}

// Why not always the clock: while this thread is behind, the frames a file opened now gets first
// are from before now, perhaps from before a boundary; a file named and slotted by the clock would
// hold them and the frames after the boundary too. min(): a frame stamped ahead of the clock
// (a clock stepped back) must not name a file after the future.
rotation::Nanoseconds Recorder::timeForNextFile() const noexcept {
  const Nanoseconds now = wallClockNow();
  return framesComing_ && latestFrameTime_ != 0 ? std::min(now, latestFrameTime_) : now;
}

void Recorder::betweenBlocks(Nanoseconds now, bool ringEmpty) {
  followOutputDirectory();
  // Why only with the ring empty: while this thread is behind the traffic, frames from before the
  // boundary still wait in the ring and belong to this file; the clock would put them in the next
  // one and make it span the boundary. Their own times rotate the file then (processBlock).
  // A clock set back with no traffic ends the file too: it would otherwise stay open, named after
  // a slot the clock reaches only later, and no file would come for the intervals in between.
  if (ringEmpty && writer_) {
    const rotation::OpenFile file{.slot = slot_};
    if (rotation::slotOver(file, now, lateness_)) {
      rotate(RotationReason::interval, now);
    } else if (rotation::beforeSlot(file, now, lateness_)) {
      rotate(RotationReason::clockSetBack, now);
    }
  }
  if (writer_ && !writer_->flush()) pauseAfterWriteFailure();
  if (!writer_) resumeWhenSpaceReturns(timeForNextFile());
  publishWriterCounts();
  publishKernelCounts();
  lastFlush_ = Clock::now();
}

// Why a deadline rather than "until the ring is empty": the kernel hands over a partly filled
// block only when its timer expires, so frames queued before the stop can surface up to one block
// timeout later. Intake is off by then, so the wait is bounded.
void Recorder::drainAfterStop() {
  source_->stopIntake();
  intakeStopped_.store(true, std::memory_order_release);
  const auto deadline = Clock::now() + 2 * source_->blockTimeout() + std::chrono::milliseconds(20);
  for (auto now = Clock::now(); now < deadline; now = Clock::now()) {
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    const auto block = source_->nextBlock(remaining + std::chrono::milliseconds(1));
    if (block.empty()) continue;
    processBlock(block);
    source_->releaseBlock();
  }
  // Blocks already handed over but not yet read.
  for (auto block = source_->nextBlock(std::chrono::milliseconds(0)); !block.empty();
       block = source_->nextBlock(std::chrono::milliseconds(0))) {
    processBlock(block);
    source_->releaseBlock();
  }
}

void Recorder::processBlock(std::span<const std::byte> block) {
  std::uint64_t withoutFile = 0;
  const std::uint32_t snaplen = writerOptions_.snaplen;
  const auto walk =
      capture::forEachFrame(block, source_->seesOwnFramesTwice(), [&](const pcap::Frame& frame) {
        const Nanoseconds time = timeOf(frame);
        if (writer_) {
          const rotation::OpenFile file{writer_->bytes(), writer_->packets(), slot_};
          auto reason =
              rotation::reasonBeforeRecord(file, limits_, pcap::encodedSize(frame, snaplen), time);
          // The clock is read only for a frame stamped before the slot: rarely.
          if (reason == RotationReason::none && rotation::beforeSlot(file, time, lateness_) &&
              rotation::beforeSlot(file, wallClockNow(), lateness_)) {
            reason = RotationReason::clockSetBack;
          }
          if (reason != RotationReason::none) rotate(reason, time);
        }
        // After the rotation, which starts the mark again for the new file.
        latestFrameTime_ = std::max(latestFrameTime_, time);
        if (!writer_) {
          ++withoutFile;
          return;
        }
        const std::uint64_t offset = writer_->bytes();
        // A failed write ends the file at once, so it is finished for what it is.
        if (!writer_->appendInPlace(frame)) {
          pauseAfterWriteFailure();
        } else if (liveIndex_) {
          liveIndex_->add(frame, offset);
        }
      });
  // Frames written in place are read from the block: they reach the file before it goes back.
  if (writer_ && !writer_->writeInPlaceFrames()) pauseAfterWriteFailure();
  outgoingCopiesSkipped_ += walk.skipped;
  counters_.addLostToDisk(withoutFile);
  publishWriterCounts();
}

void Recorder::publishKernelCounts() noexcept {
  const auto counts = source_->takeKernelCounts();
  if (counts.drops > 0) {
    unreportedDrops_ += counts.drops;
    // Why rate-limited: a ring that overflows does so thousands of times a second.
    if (dropWarnings_.allow(Clock::now())) {
      logging::logEvent(spdlog::level::warn,
                        {{"INTERFACE", settings_.name}, {"DROPS", unreportedDrops_}},
                        "{}: the kernel dropped {} frames because the ring was full (ring_size "
                        "{} bytes; a larger ring or a faster disk helps)",
                        settings_.name, unreportedDrops_, settings_.capture.ringBytes);
      unreportedDrops_ = 0;
    }
  }
  // Loopback frames reach the socket twice; only one copy of each is a packet received.
  const auto skipped = std::min(outgoingCopiesSkipped_, counts.packets);
  outgoingCopiesSkipped_ -= skipped;
  counters_.addKernelStatistics(counts.packets - skipped, counts.drops);
}

}  // namespace pcap_recorder::service
