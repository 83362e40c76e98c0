// Finishes files away from the capture threads, and keeps each output directory within its
// retention limits, on two threads of its own (capture threads only submit and ask):
//
// - `pr-finisher`, below capture's priority, finishes each file in this order: fsync, rename
//   from `.part`, directory fsync, the index (NAME.idx), storing (compression, the SHA-256 read
//   back, the sidecar: file_storage.hpp), the log line, the recorder's statistics, the observer
//   (the daemon: D-Bus FileFinished, sent from its main thread), the post-finish hook.
// - `pr-retention` applies retention over the output directories (docs/architecture.md) after
//   each finished file, when asked (requestRetention: a write failed, a start) and every 10 s.
//
// Why retention has a thread of its own: storing one file can take half a minute (gzip of 1 GiB
// of random payload; zstd takes up to 5 s), more with several queued, and at 3 Gbit/s that is
// gigabytes reaching the disk while no pass runs; the budget would hold only between
// compressions. A pass never waits for compression, a read-back or a hook. Why at capture's
// priority (the priority of the thread that makes the finisher), not lowered with pr-finisher:
// a pass is a directory listing and a few unlinks, mostly waiting on the file system, so it
// costs capture next to nothing, and it is what keeps capture's disk from filling; lowered, it
// would get its CPU in the small share left beside a compression when capture takes the cores.
//
// A file is in progress from submit() until it is stored (sidecar written). Retention counts it
// as one file of all its bytes on the disk (`.part` waiting here, NAME, the compression's
// NAME.zst.part / .gz.part, NAME.zst / .gz: the budget is about the disk, so a file being
// compressed counts twice its stored copy until the uncompressed one goes) and deletes none of
// them, nor their index or sidecar (rotation::StoredFile::inProgress): removing NAME under its
// compressor would bring NAME.zst back afterwards, outside the accounting. A pass reads the set of
// files in progress when it begins, and the finisher begins no file while a pass runs, so nothing
// that pass did not count as in progress is renamed, compressed or stored under it.
//
// The queue is bounded: a closed file waiting here holds its descriptor, so a storm of rotations
// (SIGUSR1, D-Bus Rotate, max_packets 1) must not queue without end. Capture threads ask
// hasRoom() before a rotation they may put off, and go on writing the current file when there is
// none: no frame is lost, the file just grows past its limit until the disk catches up.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <atomic>
#include <cstdint>

#include "pcap_recorder/index/live_index.hpp"
#include "pcap_recorder/pcap/file_writer.hpp"
#include "pcap_recorder/rotation/retention.hpp"
#include "pcap_recorder/service/file_storage.hpp"
#include "pcap_recorder/service/output_directory.hpp"
#include "pcap_recorder/service/ship_confirmations.hpp"

namespace pcap_recorder::service {

// Why a finished file has no SHA-256 although its interface asks for one (output.sha256).
enum class WithoutSha256 {
  no,           // it has one, or none was asked for
  fellBehind,   // given up as it was written: hashing fell behind the traffic (not read back)
  paused,       // not tried: begun within the pause after a hash fell behind (kFirstHashPause)
  writeFailed,  // the file was cut by a failed write: not read back (file_storage.cpp says why)
  failed,       // computing it failed (logged)
};

// What a finished file's log line, D-Bus signal and collectors need.
struct FinishedFile {
  std::string interface;
  std::filesystem::path path;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t kernelDrops = 0;  // during this file
  pcap::Timestamp firstPacket;
  pcap::Timestamp lastPacket;
  std::string reason;  // why it was finished
  // As finally stored (compressed or not); see file_storage.hpp.
  std::uint64_t storedBytes = 0;
  std::string sha256{};  // hex; empty when not asked for, given up or failed
  // Why sha256 is empty although asked for: from the writer (pcap::FileSummary::hashSkipped,
  // writeFailed), then settled by the storing stage. Counted (stats::InterfaceStats).
  WithoutSha256 withoutSha256 = WithoutSha256::no;
  bool writeFailed = false;  // cut back to its last whole record after a failed write
};

struct FinishJob {
  std::string interface;
  // As configured (one spelling, util::tidyPath): which retention to apply afterwards.
  std::filesystem::path directory;
  std::shared_ptr<const OutputDirectory> output;  // where the file is
  pcap::ClosedFile file;
  // A file start-up repair already finished under its final name (file.summary().name, its
  // descriptor closed): only the stages from the index on remain (leftovers.hpp).
  bool alreadyFinished = false;
  std::uint64_t kernelDrops = 0;
  std::string reason;
  std::string postFinishCommand;
  std::chrono::milliseconds postFinishTimeout{0};
  std::size_t postFinishMaxRunning = 1;  // hooks of this interface running at once
  bool index = true;                     // write NAME.idx beside the finished file
  // The index built while the file was written; without it (or when it disagrees with the file)
  // the finished file is read back to index it.
  std::optional<index::LiveIndex> liveIndex = std::nullopt;
  StorageOptions storage{};  // compression and sidecar, after the index
  // Called on the finisher thread once the file is finished (not when it was discarded).
  std::function<void(const FinishedFile&)> onFinished;
  // Called when the file cannot be finished and is gone (its directory was removed): its
  // records, counted as written when they reached it, are lost.
  std::function<void(std::uint64_t packets, std::uint64_t bytes)> onLost;
};

struct FinisherOptions {
  // Files submitted and not yet finished, at most (plus one per capture thread that asked
  // hasRoom() at the same moment). Each holds one descriptor.
  std::size_t maxQueuedFiles = 64;
  pcap::FinishOperations operations = pcap::systemFinishOperations();
};

// Retention for one output directory, over every interface writing there.
struct DirectoryRetention {
  // As configured (one spelling, util::tidyPath), as FinishJob names it: retention lists and
  // deletes through this one.
  std::filesystem::path directory;
  rotation::RetentionLimits limits;
  rotation::OwnFileMatcher ownFiles;
  // The shipper's state (ship.state), read when limits keep or delete by shipping; else empty.
  std::filesystem::path shipState{};
  // The same directory as other interfaces spell it (through a symbolic link or a `..`; see
  // service/retention_directories.hpp): files in progress, requests for retention and the
  // shipper's confirmations are found under these too.
  std::vector<std::filesystem::path> otherSpellings{};
};

class FileFinisher {
 public:
  // `observer` hears of every finished file (on the finisher thread), after its own callback.
  explicit FileFinisher(std::vector<DirectoryRetention> directories,
                        std::function<void(const FinishedFile&)> observer = {},
                        FinisherOptions options = {});
  ~FileFinisher();
  FileFinisher(const FileFinisher&) = delete;
  FileFinisher& operator=(const FileFinisher&) = delete;

  // Always queues `job`: a file that must be finished now (stop, reload, write error) is never
  // refused. Rotations that can wait ask hasRoom() first.
  void submit(FinishJob job);
  // Whether the queue takes another file without going past maxQueuedFiles.
  bool hasRoom() const noexcept;
  // Files submitted and not yet finished.
  std::size_t queued() const noexcept { return pending_.load(std::memory_order_relaxed); }
  // Applies retention to `directory` soon (a write failed there, space may be needed). Returns
  // the round that will: done once retentionRounds() reaches it.
  std::uint64_t requestRetention(const std::filesystem::path& directory);
  // Replaces the directories retention looks after (a reload).
  void setDirectories(std::vector<DirectoryRetention> directories);
  // How many rounds pr-retention has finished (a pass over what was asked, or due).
  std::uint64_t retentionRounds() const noexcept {
    return retentionRounds_.load(std::memory_order_acquire);
  }
  // Finishes everything submitted, waits for the hooks, applies the retention the last files
  // asked for, and ends both threads.
  void stop();

 private:
  using Directories = std::vector<DirectoryRetention>;
  // Files in progress (see the top), by configured directory: their final uncompressed names.
  using InProgress = std::map<std::filesystem::path, std::multiset<std::string>>;

  void finishFiles();  // pr-finisher
  // pr-retention; also ends when `stop` is requested (the finisher thread could not start).
  void keepWithinLimits(const std::stop_token& stop);
  // `storing`: the name whose storing marker (file_storage.hpp) it left, for the caller to remove
  // once the file is announced; empty when none.
  std::optional<FinishedFile> finish(FinishJob& job, std::string& storing);
  void markInProgress(const std::filesystem::path& directory, const std::string& name);
  void markStored(const std::filesystem::path& directory, const std::string& name);
  bool isInProgress(const DirectoryRetention& directory, std::string_view name);
  // One pass over `directory`; returns how many files it deleted.
  std::size_t applyRetention(const DirectoryRetention& directory);
  // Whether the file system of `directory` has less free than its min_free_space.
  bool belowMinFreeSpace(const DirectoryRetention& directory);
  // The held directory for `path`, (re)opened when it was removed or replaced. Retention thread.
  std::shared_ptr<const OutputDirectory> heldDirectory(const std::filesystem::path& path);

  std::function<void(const FinishedFile&)> observer_;
  FinisherOptions options_;
  std::atomic<std::size_t> pending_{0};

  // The finisher's queue.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<FinishJob> jobs_;
  bool stopping_ = false;

  std::mutex inProgressMutex_;  // held briefly: submit() takes it on capture threads
  InProgress inProgress_;
  // Held by pr-retention for a whole pass; pr-finisher takes it before it begins a file.
  std::mutex passMutex_;

  // Retention's requests; the directories under retentionMutex_, replaced whole.
  std::mutex retentionMutex_;
  std::condition_variable retentionWake_;
  std::shared_ptr<const Directories> directories_;
  std::vector<std::filesystem::path> retentionRequests_;
  bool retentionStopping_ = false;
  std::uint64_t retentionRoundsBegun_ = 0;  // under retentionMutex_
  std::atomic<std::uint64_t> retentionRounds_{0};
  std::map<std::filesystem::path, std::shared_ptr<const OutputDirectory>> held_;  // pr-retention
  std::map<std::filesystem::path, ShipConfirmations>
      shipConfirmations_;  // by state file; pr-retention

  // Last: joined before the members they use go. The finisher first: its last files ask for
  // retention.
  std::jthread retention_;
  std::jthread finisher_;
};

}  // namespace pcap_recorder::service
