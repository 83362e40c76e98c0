#include "pcap_recorder/service/recorder.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "pcap_recorder/bpf/filter.hpp"
#include "pcap_recorder/capture/af_packet_source.hpp"
#include "pcap_recorder/capture/tpacket_block.hpp"
#include "pcap_recorder/rotation/file_naming.hpp"
#include "pcap_recorder/util/system_error.hpp"

namespace pcap_recorder::service {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kIdleWait{100};
// Files are readable while capture runs: buffered records reach the file at least this often.
constexpr std::chrono::seconds kFlushInterval{1};
constexpr std::chrono::seconds kReopenBackoff{1};

pcap::TimestampUnit toUnit(config::TimestampPrecision precision) {
  return precision == config::TimestampPrecision::nano ? pcap::TimestampUnit::nanoseconds
                                                       : pcap::TimestampUnit::microseconds;
}

std::unique_ptr<capture::PacketSource> openSource(const config::InterfaceSettings& settings) {
  const auto filter = bpf::FilterProgram::compile(settings.filter, settings.output.snaplen);
  capture::SourceSettings source{
      .interface = settings.name,
      .ringBytes = settings.capture.ringBytes,
      .snaplen = settings.output.snaplen,
      .promiscuous = settings.capture.promiscuous,
  };
  auto opened = std::make_unique<capture::AfPacketSource>(source, filter);
  const auto& ring = opened->geometry();
  spdlog::info(
      "{}: capturing: ring {} x {} KiB blocks, filter \"{}\" ({} BPF instructions), "
      "snaplen {}, promiscuous {}",
      settings.name, ring.blockCount, ring.blockBytes / 1024, settings.filter, filter.size(),
      settings.output.snaplen, settings.capture.promiscuous);
  return opened;
}

}  // namespace

util::UniqueFd openOutputDirectory(const std::filesystem::path& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    throw std::system_error(error, "cannot create output directory " + directory.string());
  }
  util::UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) util::throwErrno("cannot open output directory " + directory.string());
  return fd;
}

Recorder::Recorder(const config::InterfaceSettings& settings)
    : Recorder(settings, openSource(settings)) {}

Recorder::Recorder(const config::InterfaceSettings& settings,
                   std::unique_ptr<capture::PacketSource> source)
    : settings_(settings),
      source_(std::move(source)),
      directory_(openOutputDirectory(settings.output.directory)),
      writerOptions_{.timestampUnit = toUnit(settings.output.timestamp),
                     .snaplen = settings.output.snaplen} {
  // The first file is opened before capture starts so a directory problem fails startup.
  openNextFile();
  if (!writer_) throw std::runtime_error(settings_.name + ": cannot create the first capture file");
}

Recorder::~Recorder() {
  requestStop();
  join();
}

void Recorder::start() {
  thread_ = std::jthread([this] { run(); });
}

void Recorder::requestStop() noexcept {
  stopRequested_.store(true, std::memory_order_relaxed);
  if (source_) source_->wake();
}

void Recorder::join() {
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> Recorder::finishedFiles() const {
  std::lock_guard lock(finishedMutex_);
  return finishedFiles_;
}

void Recorder::run() noexcept {
  try {
    lastFlush_ = Clock::now();
    while (!stopRequested_.load(std::memory_order_relaxed)) {
      const auto block = source_->nextBlock(kIdleWait);
      if (!block.empty()) {
        processBlock(block);
        source_->releaseBlock();
      }
      const auto now = Clock::now();
      if (now - lastFlush_ >= kFlushInterval || block.empty()) {
        if (writer_ && !writer_->flush()) handleWriteFailure();
        if (!writer_) handleWriteFailure();  // retries opening a file after a failure
        publishWriterCounts();
        publishKernelCounts();
        lastFlush_ = now;
      }
    }
    drainAfterStop();
  } catch (const std::exception& error) {
    spdlog::error("{}: capture stopped: {}", settings_.name, error.what());
  }
  try {
    finishCurrentFile();
  } catch (const std::exception& error) {
    spdlog::error("{}: {}", settings_.name, error.what());
  }
  publishKernelCounts();
}

// Why a deadline rather than "until the ring is empty": the kernel hands over a partly filled
// block only when its timer expires, so frames queued before the stop can surface up to one block
// timeout later. Intake is off by then, so the wait is bounded.
void Recorder::drainAfterStop() {
  source_->stopIntake();
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
  const auto walk =
      capture::forEachFrame(block, source_->seesOwnFramesTwice(), [&](const pcap::Frame& frame) {
        if (writer_) {
          writer_->append(frame);
        } else {
          ++withoutFile;
        }
      });
  outgoingCopiesSkipped_ += walk.skipped;
  counters_.addLostToDisk(withoutFile);
  if ((writer_ && writer_->failed()) || withoutFile > 0) handleWriteFailure();
  publishWriterCounts();
}

void Recorder::handleWriteFailure() {
  if (writer_ && writer_->failed()) {
    spdlog::error("{}: writing {} failed: {}; the file ends at its last complete record",
                  settings_.name, writer_->partName(), std::strerror(writer_->lastErrno()));
    finishCurrentFile();
    nextOpenAttempt_ = Clock::now() + kReopenBackoff;
  }
  if (!writer_ && Clock::now() >= nextOpenAttempt_) {
    openNextFile();
    if (!writer_) nextOpenAttempt_ = Clock::now() + kReopenBackoff;
  }
}

void Recorder::openNextFile() {
  const auto name = rotation::expandFileName(settings_.output.fileName, settings_.name,
                                             nextSequence_, std::chrono::system_clock::now());
  try {
    writer_.emplace(directory_.get(), name, writerOptions_);
    published_ = {};
    ++nextSequence_;
  } catch (const std::system_error& error) {
    spdlog::error("{}: {} in {}", settings_.name, error.what(),
                  settings_.output.directory.string());
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
}

void Recorder::finishCurrentFile() {
  if (!writer_) return;
  try {
    const auto summary = writer_->finish();
    publishWriterCounts();
    if (!summary.name.empty()) {
      counters_.addFileWritten();
      spdlog::info("{}: finished {}: {} packets, {} bytes", settings_.name,
                   (settings_.output.directory / summary.name).string(), summary.packets,
                   summary.bytes);
      std::lock_guard lock(finishedMutex_);
      finishedFiles_.push_back(summary.name);
    }
  } catch (const std::system_error& error) {
    publishWriterCounts();
    spdlog::error("{}: cannot finish {}: {}", settings_.name, writer_->partName(), error.what());
  }
  writer_.reset();
}

void Recorder::publishKernelCounts() noexcept {
  const auto counts = source_->takeKernelCounts();
  // Loopback frames reach the socket twice; only one copy of each is a packet received.
  const auto skipped = std::min(outgoingCopiesSkipped_, counts.packets);
  outgoingCopiesSkipped_ -= skipped;
  counters_.addKernelStatistics(counts.packets - skipped, counts.drops);
}

}  // namespace pcap_recorder::service
