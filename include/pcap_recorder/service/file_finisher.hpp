// Finishes files away from the capture threads: fsync, rename from `.part`, directory fsync, the
// log line, statistics, retention over the output directory, and the post-finish hook. One thread
// for the whole daemon; capture threads only submit.
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
#include <string>
#include <thread>
#include <vector>

#include "pcap_recorder/pcap/file_writer.hpp"
#include "pcap_recorder/rotation/retention.hpp"

namespace pcap_recorder::service {

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
};

struct FinishJob {
  std::string interface;
  std::filesystem::path directory;
  pcap::ClosedFile file;
  std::uint64_t kernelDrops = 0;
  std::string reason;
  std::string postFinishCommand;
  std::chrono::milliseconds postFinishTimeout{0};
  std::size_t postFinishMaxRunning = 1;  // hooks of this interface running at once
  // Called on the finisher thread once the file is finished (not when it was discarded).
  std::function<void(const FinishedFile&)> onFinished;
};

// Retention for one output directory, over every interface writing there.
struct DirectoryRetention {
  std::filesystem::path directory;
  rotation::RetentionLimits limits;
  rotation::OwnFileMatcher ownFiles;
};

class FileFinisher {
 public:
  // `observer` hears of every finished file (on the finisher thread), after its own callback.
  explicit FileFinisher(std::vector<DirectoryRetention> directories,
                        std::function<void(const FinishedFile&)> observer = {});
  ~FileFinisher();
  FileFinisher(const FileFinisher&) = delete;
  FileFinisher& operator=(const FileFinisher&) = delete;

  void submit(FinishJob job);
  // Applies retention to `directory` soon (a write failed there, space may be needed).
  void requestRetention(const std::filesystem::path& directory);
  // Replaces the directories retention looks after (a reload).
  void setDirectories(std::vector<DirectoryRetention> directories);
  // Finishes everything submitted, waits for the hooks, and ends the thread.
  void stop();

 private:
  void run();
  std::optional<FinishedFile> finish(FinishJob& job);
  void applyRetention(const DirectoryRetention& directory);

  using Directories = std::vector<DirectoryRetention>;
  std::function<void(const FinishedFile&)> observer_;
  std::mutex mutex_;
  std::shared_ptr<const Directories> directories_;  // under mutex_; replaced whole
  std::condition_variable wake_;
  std::deque<FinishJob> jobs_;
  std::vector<std::filesystem::path> retentionRequests_;
  bool stopping_ = false;
  std::jthread thread_;  // last: joined before the members it uses go
};

// Finishes the `.part` files a previous run left in `directory` (after kill -9 or power loss):
// each is cut to its last complete record and renamed; one with a damaged header is set aside.
// Only names `ownFiles` recognises are touched. Logs each; returns how many it handled.
std::size_t repairLeftovers(const std::filesystem::path& directory,
                            const rotation::OwnFileMatcher& ownFiles);

}  // namespace pcap_recorder::service
