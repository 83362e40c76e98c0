// Records one interface: a capture thread that takes filled blocks from its PacketSource, encodes
// their frames into the current pcap file and gives the blocks back. The ring is the queue between
// the kernel and the disk, so a slow write delays the hand-back of blocks, never the kernel, and
// the slow part of finishing a file (fsync, rename) is left to the FileFinisher.
//
// Construction opens everything (output directory, capture socket, first file) and throws on
// failure, so startup fails fast. Once started, nothing is thrown: problems are counted and logged.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pcap_recorder/bpf/filter.hpp"
#include "pcap_recorder/capture/packet_source.hpp"
#include "pcap_recorder/config/config.hpp"
#include "pcap_recorder/logging/log.hpp"
#include "pcap_recorder/pcap/file_writer.hpp"
#include "pcap_recorder/rotation/policy.hpp"
#include "pcap_recorder/service/file_finisher.hpp"
#include "pcap_recorder/service/interface_state.hpp"
#include "pcap_recorder/service/output_directory.hpp"
#include "pcap_recorder/stats/interface_stats.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::service {

class Recorder {
 public:
  // Opens the real AF_PACKET source for `settings.name`.
  Recorder(const config::InterfaceSettings& settings, FileFinisher& finisher);
  // With a given source (tests), and the hooks of its direct I/O engine (a test holds the hasher).
  Recorder(const config::InterfaceSettings& settings, FileFinisher& finisher,
           std::unique_ptr<capture::PacketSource> source, pcap::DirectEngineHooks engineHooks = {});
  // With the filter already compiled (by the config check: once per load); `source` null: the
  // real AF_PACKET source.
  Recorder(const config::InterfaceSettings& settings, FileFinisher& finisher,
           std::unique_ptr<capture::PacketSource> source, bpf::FilterProgram filter,
           pcap::DirectEngineHooks engineHooks = {});
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // startThread() then beginIntake().
  void start();
  // Starts the capture thread with intake still held: the part that can fail for lack of
  // resources (a thread), done before a reload touches anything that runs.
  void startThread();
  // Attaches the filter: frames flow from here on.
  void beginIntake();
  // Finishes the current file and starts the next (SIGUSR1, D-Bus Rotate). Returns at once.
  // Coalesced: a file without packets is not rotated (nor is there one while writing is
  // paused): false then, and nothing happens. Why: a rotation of an empty file only makes an
  // empty file, and retention (max_files) would delete real captures to keep it.
  bool requestRotation() noexcept;
  // Takes new settings for the same interface and capture socket (a reload): a new filter,
  // rotation, retention or file settings. File settings start a new file. Returns at once; the
  // capture thread applies them between two blocks. Throws bpf::FilterError for a bad filter.
  void applySettings(const config::InterfaceSettings& settings);
  // The same with the filter already compiled. Should the kernel still refuse the new filter, the
  // old one keeps capturing and the refusal is logged as an error.
  void applySettings(const config::InterfaceSettings& settings, bpf::FilterProgram filter);
  // Asks the capture thread to stop: intake stops, every frame already queued by the kernel is
  // written, and the file is handed over for finishing. Returns at once; join() waits.
  void requestStop() noexcept;
  // After requestStop(): returns once the socket takes no more frames (well before join()).
  void waitUntilIntakeStopped() const;
  void join();

  const std::string& interface() const noexcept { return settings_.name; }
  stats::InterfaceStats stats() const noexcept { return shared_->counters.snapshot(); }
  // The live counters, held as long as anyone (the finisher's callbacks of this recorder's files
  // too) can still add to them: the daemon's totals outlive the recorder (metrics).
  std::shared_ptr<const stats::InterfaceCounters> counters() const noexcept {
    return {shared_, &shared_->counters};
  }
  // Names of the files finished so far, in order. Safe from any thread.
  std::vector<std::string> finishedFiles() const;
  // The `.part` being written (full path), empty when none; and the state for status displays.
  std::string currentFile() const;
  InterfaceState state() const noexcept;
  int interfaceIndex() const noexcept { return source_->interfaceIndex(); }
  // Told by the link monitor; only shown in state() (the kernel resumes capture by itself).
  void setLinkUp(bool up) noexcept { linkUp_.store(up, std::memory_order_relaxed); }
  bool linkUp() const noexcept { return linkUp_.load(std::memory_order_relaxed); }
  // Grows while the capture thread goes round its loop (at least every 100 ms): the watchdog
  // checks it moves. Stops growing when the thread has ended.
  std::uint64_t heartbeat() const noexcept { return heartbeat_.load(std::memory_order_relaxed); }
  bool capturing() const noexcept { return capturing_.load(std::memory_order_relaxed); }

 private:
  using Nanoseconds = rotation::Nanoseconds;

  void run() noexcept;
  // Large frames go to the file straight from `block`, so they are written before it returns.
  void processBlock(std::span<const std::byte> block);
  void drainAfterStop();
  // Every turn with no block ready (`ringEmpty`), and once a second while busy: follows the
  // output directory, ends the file by the clock (only with the ring empty), flushes, publishes.
  void betweenBlocks(Nanoseconds now, bool ringEmpty);
  void rotate(rotation::RotationReason reason, Nanoseconds time);
  // Whether `reason` may wait while the finisher's queue is full (the file goes on meanwhile).
  static bool canWait(rotation::RotationReason reason) noexcept;
  int openNextFile(Nanoseconds time);
  // The time a file opened now is for: the latest frame's while blocks are coming, else the
  // clock's (never later than the clock).
  Nanoseconds timeForNextFile() const noexcept;
  // Notices a removed or replaced output directory and re-creates and re-opens it as at start;
  // the file being written in a removed one is lost with it. False when it cannot be re-opened.
  bool followOutputDirectory();
  void finishCurrentFile(rotation::RotationReason reason);
  void pauseAfterWriteFailure();
  void resumeWhenSpaceReturns(Nanoseconds now);
  void publishKernelCounts() noexcept;
  void publishWriterCounts() noexcept;
  void takePendingSettings();
  void setCurrentFile(std::string path);
  void reportDirectIo();

  // The current file's counts already added to counters_.
  struct PublishedCounts {
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    std::uint64_t lost = 0;
  };

  config::InterfaceSettings settings_;
  FileFinisher& finisher_;
  std::unique_ptr<capture::PacketSource> source_;
  bpf::FilterProgram filter_;  // compiled once, attached by start()
  std::shared_ptr<const OutputDirectory> directory_;
  bool directoryFailing_ = false;  // re-opening it failed; said once
  pcap::WriterOptions writerOptions_;
  rotation::RotationLimits limits_;
  Nanoseconds lateness_;  // how late a frame can reach us after its timestamp

  std::optional<pcap::PcapFileWriter> writer_;
  std::optional<index::LiveIndex> liveIndex_;  // of writer_'s file, with output.index
  rotation::Slot slot_;
  std::uint64_t kernelDropsAtOpen_ = 0;
  std::uint64_t lostToDiskAtOpen_ = 0;  // for the sidecar's lost_to_disk of the current file
  PublishedCounts published_;
  std::uint64_t nextSequence_ = 1;
  // The last name the template gave and the collision counter used with it: the next file of the
  // same name continues from there, so a name freed by retention is never reused out of order.
  std::string lastExpandedName_;
  unsigned lastCounter_ = 0;
  bool directIoReported_ = false;
  std::uint64_t outgoingCopiesSkipped_ = 0;
  std::uint64_t unreportedDrops_ = 0;
  logging::RateLimiter dropWarnings_{std::chrono::seconds(10)};
  logging::RateLimiter deferWarnings_{std::chrono::seconds(10)};
  std::uint64_t rotationsDeferred_ = 0;

  // While writing is paused by a full disk.
  std::chrono::steady_clock::time_point nextOpenAttempt_;
  std::chrono::steady_clock::time_point nextDiskWarning_;
  std::uint64_t lostToDiskAtPause_ = 0;
  unsigned writeFailuresInARow_ = 0;  // with no file finished whole between them

  std::chrono::steady_clock::time_point lastFlush_;
  // Whether the last turn took a block, and the latest timestamp of a frame taken since the
  // current file was opened (frames of several CPUs reach the ring a little out of order); capture
  // thread only: see timeForNextFile().
  bool framesComing_ = false;
  Nanoseconds latestFrameTime_ = 0;
  // The time the open file was opened for, and the interval its slot_ was computed with.
  Nanoseconds fileTime_ = 0;
  std::chrono::milliseconds slotInterval_{0};
  // Shared with the finisher's callbacks, which may run after this recorder is gone.
  struct Shared {
    stats::InterfaceCounters counters;
    std::mutex finishedMutex;
    std::vector<std::string> finishedFiles;
  };
  // Handed from the reloading thread to the capture thread.
  mutable std::mutex pendingMutex_;
  std::optional<config::InterfaceSettings> pendingSettings_;
  std::optional<bpf::FilterProgram> pendingFilter_;
  std::string currentFile_;  // under pendingMutex_
  std::atomic<bool> settingsPending_{false};
  std::atomic<std::uint64_t> heartbeat_{0};
  std::atomic<bool> capturing_{false};
  std::atomic<PauseReason> pause_{PauseReason::none};  // none: writing
  std::atomic<bool> intakeStopped_{false};
  std::atomic<bool> intakeBegun_{false};  // a thread never given frames leaves no file behind
  std::atomic<bool> linkUp_{true};
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  stats::InterfaceCounters& counters_ = shared_->counters;
  std::atomic<bool> rotationRequested_{false};
  // Packets in the open file as last published; 0 when none is open.
  std::atomic<std::uint64_t> packetsInCurrentFile_{0};
  std::atomic<bool> stopRequested_{false};
  std::jthread thread_;  // last member: joined before the rest is destroyed
};

// The mode of every directory the recorder creates, whatever the umask: the owner writes, its
// group (the readers of captures) reads, nobody else gets in.
inline constexpr mode_t kOutputDirectoryMode = 0750;

// Creates `directory` (and its parents) if missing, each kOutputDirectoryMode, and opens it for
// the recorder's files.
util::UniqueFd openOutputDirectory(const std::filesystem::path& directory);

// How long writing stays paused after the `failuresInARow`-th failed file in a row: 1 s, doubling
// up to 60 s. Why: a disk that fails every write (EIO, a thin volume out of space while statvfs
// shows room) would otherwise get a new file, and two error lines, every second.
std::chrono::seconds reopenBackoff(unsigned failuresInARow) noexcept;

}  // namespace pcap_recorder::service
