#include "pcap_recorder/service/file_finisher.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <ctime>

#include "pcap_recorder/index/file_index.hpp"
#include "pcap_recorder/logging/log.hpp"
#include "pcap_recorder/pcap/repair.hpp"
#include "pcap_recorder/service/hook_runner.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::service {

namespace {

namespace fs = std::filesystem;
// max_age and min_free_space change with time and with other writers, not only when we finish
// a file: look again this often.
constexpr std::chrono::seconds kRetentionInterval{10};
constexpr std::chrono::milliseconds kHookPollInterval{100};

std::string formatTime(const pcap::Timestamp& time) {
  const std::time_t seconds = time.seconds;
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[16];
  std::snprintf(fraction, sizeof fraction, ".%06uZ", time.nanoseconds / 1000);
  return std::string(text) + fraction;
}

std::uint64_t freeBytes(const fs::path& directory) {
  struct statvfs fileSystem;
  if (::statvfs(directory.c_str(), &fileSystem) != 0) return UINT64_MAX;
  return std::uint64_t{fileSystem.f_bavail} * fileSystem.f_frsize;
}

}  // namespace

FileFinisher::FileFinisher(std::vector<DirectoryRetention> directories,
                           std::function<void(const FinishedFile&)> observer)
    : observer_(std::move(observer)),
      directories_(std::make_shared<const Directories>(std::move(directories))),
      thread_([this] { run(); }) {}

FileFinisher::~FileFinisher() {
  stop();
}

void FileFinisher::submit(FinishJob job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void FileFinisher::requestRetention(const fs::path& directory) {
  {
    std::lock_guard lock(mutex_);
    retentionRequests_.push_back(directory);
  }
  wake_.notify_one();
}

void FileFinisher::setDirectories(std::vector<DirectoryRetention> directories) {
  auto replacement = std::make_shared<const Directories>(std::move(directories));
  std::lock_guard lock(mutex_);
  directories_ = std::move(replacement);
}

void FileFinisher::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void FileFinisher::run() {
  HookRunner hooks;
  auto nextRetention = std::chrono::steady_clock::now() + kRetentionInterval;
  for (;;) {
    std::deque<FinishJob> jobs;
    std::vector<fs::path> requests;
    std::shared_ptr<const Directories> directories;
    bool stopping;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, kHookPollInterval,
                     [this] { return stopping_ || !jobs_.empty() || !retentionRequests_.empty(); });
      jobs.swap(jobs_);
      requests.swap(retentionRequests_);
      directories = directories_;
      stopping = stopping_;
    }
    for (auto& job : jobs) {
      const auto finished = finish(job);
      if (finished && !job.postFinishCommand.empty()) {
        hooks.start(job.postFinishCommand, finished->path, job.postFinishTimeout, job.interface);
      }
      requests.push_back(job.directory);
    }
    const auto now = std::chrono::steady_clock::now();
    for (const auto& directory : *directories) {
      const bool requested =
          std::find(requests.begin(), requests.end(), directory.directory) != requests.end();
      if (requested || now >= nextRetention) applyRetention(directory);
    }
    if (now >= nextRetention) nextRetention = now + kRetentionInterval;
    hooks.poll();
    if (stopping && jobs.empty()) {
      std::lock_guard lock(mutex_);
      if (jobs_.empty()) break;
    }
  }
  hooks.waitAll();
}

std::optional<FinishedFile> FileFinisher::finish(FinishJob& job) {
  try {
    const auto summary = job.file.complete();
    if (summary.name.empty()) {
      spdlog::warn("{}: removed {}: no record reached it before writing failed", job.interface,
                   (job.directory / job.file.partName()).string());
      return std::nullopt;
    }
    FinishedFile finished{
        .interface = job.interface,
        .path = job.directory / summary.name,
        .packets = summary.packets,
        .bytes = summary.bytes,
        .kernelDrops = job.kernelDrops,
        .firstPacket = summary.firstPacket,
        .lastPacket = summary.lastPacket,
        .reason = job.reason,
    };
    const std::initializer_list<logging::Field> fields = {
        {"INTERFACE", job.interface},    {"PCAP_FILE", finished.path},
        {"PACKETS", finished.packets},   {"BYTES", finished.bytes},
        {"DROPS", finished.kernelDrops}, {"REASON", job.reason},
    };
    if (finished.packets > 0) {
      logging::logEvent(spdlog::level::info, fields,
                        "{}: finished {} ({}): {} packets, {} bytes, {} kernel drops, first {}, "
                        "last {}",
                        job.interface, finished.path.string(), job.reason, finished.packets,
                        finished.bytes, finished.kernelDrops, formatTime(finished.firstPacket),
                        formatTime(finished.lastPacket));
    } else {
      logging::logEvent(spdlog::level::info, fields,
                        "{}: finished {} ({}): no packets, {} kernel drops", job.interface,
                        finished.path.string(), job.reason, finished.kernelDrops);
    }
    // Read back from the finished file, here and not on the capture thread; extract rebuilds an
    // index that is missing.
    try {
      index::indexFile(finished.path);
    } catch (const std::exception& error) {
      spdlog::warn("{}: cannot index {}: {}", job.interface, finished.path.string(), error.what());
    }
    if (job.onFinished) job.onFinished(finished);
    if (observer_) observer_(finished);
    return finished;
  } catch (const std::exception& error) {
    spdlog::error("{}: cannot finish {}: {}; it stays for the next start to repair", job.interface,
                  (job.directory / job.file.partName()).string(), error.what());
    return std::nullopt;
  }
}

void FileFinisher::applyRetention(const DirectoryRetention& directory) {
  const auto files = rotation::listOwnFiles(directory.directory, directory.ownFiles);
  const auto deletions = rotation::chooseDeletions(
      files, directory.limits, std::chrono::system_clock::now(), freeBytes(directory.directory));
  for (const auto& deletion : deletions) {
    const auto path = directory.directory / deletion.name;
    std::error_code error;
    if (fs::remove(path, error)) {
      fs::remove(index::indexPathFor(path), error);  // its index goes with it
      spdlog::info("{}: deleted {} ({} bytes): {}", directory.directory.string(), deletion.name,
                   deletion.bytes, deletion.reason);
    } else if (error) {
      spdlog::warn("{}: cannot delete {}: {}", directory.directory.string(), deletion.name,
                   error.message());
    }
  }
}

std::size_t repairLeftovers(const fs::path& directory, const rotation::OwnFileMatcher& ownFiles) {
  util::UniqueFd directoryFd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directoryFd.valid()) return 0;
  std::vector<std::string> parts;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory, error)) {
    const auto name = entry.path().filename().string();
    if (!name.ends_with(pcap::kPartSuffix)) continue;
    const auto finalName = name.substr(0, name.size() - std::string_view(pcap::kPartSuffix).size());
    if (ownFiles.isFinishedFile(finalName)) parts.push_back(name);
  }
  std::sort(parts.begin(), parts.end());
  for (const auto& part : parts) {
    const auto result = pcap::repairPartFile(directoryFd.get(), part);
    switch (result.outcome) {
      case pcap::RepairOutcome::finished:
        spdlog::warn(
            "{}: finished {} left by an earlier run as {}: {} packets kept, {} bytes of "
            "an incomplete record cut",
            directory.string(), result.finalName, part, result.recordsKept, result.bytesCut);
        break;
      case pcap::RepairOutcome::setAside:
        spdlog::error("{}: {} has a damaged header ({}); set aside as {}, not deleted",
                      directory.string(), part, result.message, result.finalName);
        break;
      case pcap::RepairOutcome::failed:
        spdlog::error("{}: cannot repair {}: {}", directory.string(), part, result.message);
        break;
    }
  }
  return parts.size();
}

}  // namespace pcap_recorder::service
