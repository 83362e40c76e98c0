#include "pcap_recorder/service/file_finisher.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include "pcap_recorder/compress/compression.hpp"
#include "pcap_recorder/compress/sha256.hpp"
#include "pcap_recorder/index/file_index.hpp"
#include "pcap_recorder/logging/log.hpp"
#include "pcap_recorder/service/hook_runner.hpp"
#include "pcap_recorder/service/sidecar.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::service {

namespace {

namespace fs = std::filesystem;

// The size and SHA-256 of the sidecar `name` in `directoryFd`: none when there is none
// (ENOENT); `unreadable` when it cannot be read, which confirms nothing.
struct SidecarDigest {
  std::optional<std::pair<std::uint64_t, std::string>> sizeAndSha256;
  bool unreadable = false;
};
SidecarDigest digestOfSidecar(int directoryFd, const std::string& name) {
  util::UniqueFd fd(::openat(directoryFd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return {.sizeAndSha256 = std::nullopt, .unreadable = errno != ENOENT};
  struct stat status {};
  try {
    if (::fstat(fd.get(), &status) != 0) return {.sizeAndSha256 = std::nullopt, .unreadable = true};
    return {.sizeAndSha256 = std::pair(static_cast<std::uint64_t>(status.st_size),
                                       compress::sha256OfFile(fd.get())),
            .unreadable = false};
  } catch (const std::system_error&) {
    return {.sizeAndSha256 = std::nullopt, .unreadable = true};
  }
}
// max_age and min_free_space change with time and with other writers, not only when we finish
// a file: look again this often.
constexpr std::chrono::seconds kRetentionInterval{10};
// Between passes, how often free space is looked at where min_free_space is set: at 1 Gbit/s a
// pass every 10 s let 1.25 GB be written before min_free_space was looked at again.
constexpr std::chrono::seconds kFreeSpaceLook{1};
constexpr std::chrono::milliseconds kHookPollInterval{100};

// Given up on purpose (SHA256_SKIPPED=1), rather than failed.
bool skipped(WithoutSha256 without) noexcept {
  return without == WithoutSha256::fellBehind || without == WithoutSha256::paused ||
         without == WithoutSha256::writeFailed;
}

// The finished line's "sha256 ...".
std::string describeSha256(const FinishedFile& finished) {
  switch (finished.withoutSha256) {
    case WithoutSha256::no:
      return finished.sha256;
    case WithoutSha256::fellBehind:
      return "skipped (hashing fell behind the traffic)";
    case WithoutSha256::paused:
      return "skipped (paused: hashing fell behind the traffic on a file just before)";
    case WithoutSha256::writeFailed:
      return "skipped (the write failed; not read back)";
    case WithoutSha256::failed:
      return "none (it could not be computed)";
  }
  return finished.sha256;
}

std::chrono::system_clock::time_point toTimePoint(const timespec& time) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(time.tv_sec) + std::chrono::nanoseconds(time.tv_nsec)));
}

std::uint64_t freeBytes(int directoryFd) {
  struct statvfs fileSystem;
  if (::fstatvfs(directoryFd, &fileSystem) != 0) return UINT64_MAX;
  return std::uint64_t{fileSystem.f_bavail} * fileSystem.f_frsize;
}

// `listed` (own finished files) with the files in progress among them replaced by one entry
// each: all their bytes on the disk, counted and never deleted (see file_finisher.hpp). Their
// names are read afresh, not taken from the listing: a file stored since then has changed names.
std::vector<rotation::StoredFile> withFilesInProgress(int directoryFd,
                                                      std::vector<rotation::StoredFile> listed,
                                                      const std::set<std::string>& inProgress) {
  if (inProgress.empty()) return listed;
  std::erase_if(listed, [&](const rotation::StoredFile& file) {
    return inProgress.contains(std::string(compress::withoutCompressionSuffix(file.name)));
  });
  const std::string_view part = rotation::kPartSuffix;
  for (const std::string& name : inProgress) {
    // Waiting here under its `.part` name, finished, being compressed, compressed.
    std::vector<std::string> names = {name + std::string(part), name};
    for (const std::string_view suffix : rotation::kCompressionSuffixes) {
      names.push_back(name + std::string(suffix) + std::string(part));
      names.push_back(name + std::string(suffix));
    }
    rotation::StoredFile file;
    file.name = name;
    file.inProgress = true;
    bool onDisk = false;
    for (const std::string& each : names) {
      struct stat status {};
      if (::fstatat(directoryFd, each.c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (!S_ISREG(status.st_mode) || status.st_uid != ::geteuid()) continue;
      file.bytes += static_cast<std::uint64_t>(status.st_size);
      const auto time =
          rotation::retentionTime(toTimePoint(status.st_mtim), toTimePoint(status.st_ctim));
      file.modified = onDisk ? std::min(file.modified, time) : time;
      onDisk = true;
    }
    if (onDisk) listed.push_back(std::move(file));
  }
  return listed;
}

// Every spelling under which interfaces name `directory`.
std::vector<fs::path> spellingsOf(const DirectoryRetention& directory) {
  std::vector<fs::path> all = {directory.directory};
  all.insert(all.end(), directory.otherSpellings.begin(), directory.otherSpellings.end());
  return all;
}

}  // namespace

FileFinisher::FileFinisher(std::vector<DirectoryRetention> directories,
                           std::function<void(const FinishedFile&)> observer,
                           FinisherOptions options)
    : observer_(std::move(observer)),
      options_(std::move(options)),
      directories_(std::make_shared<const Directories>(std::move(directories))),
      retention_([this](const std::stop_token& stop) { keepWithinLimits(stop); }),
      finisher_([this] { finishFiles(); }) {}

FileFinisher::~FileFinisher() {
  stop();
}

void FileFinisher::submit(FinishJob job) {
  pending_.fetch_add(1, std::memory_order_relaxed);
  // Before the file can appear under its final name: from now on retention counts it and
  // leaves it alone.
  markInProgress(job.directory, job.file.summary().name);
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

bool FileFinisher::hasRoom() const noexcept {
  return pending_.load(std::memory_order_relaxed) < options_.maxQueuedFiles;
}

std::uint64_t FileFinisher::requestRetention(const fs::path& directory) {
  std::uint64_t round;
  {
    std::lock_guard lock(retentionMutex_);
    retentionRequests_.push_back(directory);
    round = retentionRoundsBegun_ + 1;  // a round begun already took its requests
  }
  retentionWake_.notify_one();
  return round;
}

void FileFinisher::setDirectories(std::vector<DirectoryRetention> directories) {
  auto replacement = std::make_shared<const Directories>(std::move(directories));
  std::lock_guard lock(retentionMutex_);
  directories_ = std::move(replacement);
}

void FileFinisher::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (finisher_.joinable()) finisher_.join();
  // Only now: the retention the last finished files asked for still runs.
  {
    std::lock_guard lock(retentionMutex_);
    retentionStopping_ = true;
  }
  retentionWake_.notify_one();
  if (retention_.joinable()) retention_.join();
}

void FileFinisher::markInProgress(const fs::path& directory, const std::string& name) {
  std::lock_guard lock(inProgressMutex_);
  inProgress_[directory].insert(name);
}

void FileFinisher::markStored(const fs::path& directory, const std::string& name) {
  std::lock_guard lock(inProgressMutex_);
  const auto names = inProgress_.find(directory);
  if (names == inProgress_.end()) return;
  if (const auto entry = names->second.find(name); entry != names->second.end()) {
    names->second.erase(entry);
  }
  if (names->second.empty()) inProgress_.erase(names);
}

bool FileFinisher::isInProgress(const DirectoryRetention& directory, std::string_view name) {
  const std::string uncompressed(compress::withoutCompressionSuffix(name));
  std::lock_guard lock(inProgressMutex_);
  for (const auto& spelling : spellingsOf(directory)) {
    const auto names = inProgress_.find(spelling);
    if (names != inProgress_.end() && names->second.contains(uncompressed)) return true;
  }
  return false;
}

void FileFinisher::finishFiles() {
  // Named so that top -H and the compression benchmark (/proc/PID/task/TID) can tell its CPU,
  // compression included, from the capture threads'.
  ::pthread_setname_np(::pthread_self(), "pr-finisher");
  // Below the capture threads: reading back for a hash, compressing and hooks take the CPU they
  // leave. Not SCHED_IDLE: a file must still be finished (and its descriptor closed) when
  // capture takes a whole core.
  pcap::lowerThisThreadsPriority();
  HookRunner hooks;
  for (;;) {
    std::deque<FinishJob> jobs;
    bool stopping;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, kHookPollInterval, [this] { return stopping_ || !jobs_.empty(); });
      jobs.swap(jobs_);
      stopping = stopping_;
    }
    for (auto& job : jobs) {
      const std::string submittedName = job.file.summary().name;
      // Why: a pass running now read the files in progress when it began; this file may have
      // been submitted since, so it must not change until that pass is over.
      { const std::lock_guard waitForThePass(passMutex_); }
      std::string storing;
      const auto finished = finish(job, storing);
      // The hook starts before retention may take the file: under tight limits the newest file
      // could otherwise be gone before its hook sees it.
      if (finished && !job.postFinishCommand.empty()) {
        try {
          hooks.start(job.postFinishCommand, *finished, job.postFinishTimeout,
                      job.postFinishMaxRunning);
        } catch (const std::exception& error) {
          spdlog::error("{}: cannot run the post-finish hook for {}: {}", job.interface,
                        finished->path.string(), error.what());
        }
      }
      // Announced and its hook begun: nothing is owed any more. (Not announced: the marker stays,
      // and the next start stores the file again.)
      if (finished && !storing.empty()) unmarkStoring(job.output->fd(), job.directory, storing);
      // A name complete() had to take instead is marked stored by finish() itself.
      markStored(job.directory, submittedName);
      // Why counted down only now: the job's descriptor is closed by finish().
      pending_.fetch_sub(1, std::memory_order_relaxed);
      requestRetention(job.directory);
    }
    hooks.poll();
    if (stopping && jobs.empty()) {
      std::lock_guard lock(mutex_);
      if (jobs_.empty()) break;
    }
  }
  hooks.finish();
}

void FileFinisher::keepWithinLimits(const std::stop_token& stop) {
  ::pthread_setname_np(::pthread_self(), "pr-retention");
  // Why: when starting pr-finisher throws, the constructor never reaches stop(), and this
  // thread's jthread joins it on the way out.
  const std::stop_callback stopWhenAsked(stop, [this] {
    {
      std::lock_guard lock(retentionMutex_);
      retentionStopping_ = true;
    }
    retentionWake_.notify_one();
  });
  // At the priority of the thread that made the finisher, as capture: see the top of the header.
  auto nextRetention = std::chrono::steady_clock::now() + kRetentionInterval;
  // Directories whose last pass for low free space deleted nothing (the disk is full of what is
  // not ours, or all is in progress): looked at again with the next periodic pass, not every
  // second, for a pass lists the whole directory.
  std::set<fs::path> nothingToFree;
  for (;;) {
    std::vector<fs::path> requests;
    std::shared_ptr<const Directories> directories;
    bool stopping;
    {
      std::unique_lock lock(retentionMutex_);
      const auto wakeAt =
          std::min(nextRetention, std::chrono::steady_clock::now() + kFreeSpaceLook);
      retentionWake_.wait_until(
          lock, wakeAt, [this] { return retentionStopping_ || !retentionRequests_.empty(); });
      requests.swap(retentionRequests_);
      directories = directories_;
      stopping = retentionStopping_;
      ++retentionRoundsBegun_;
    }
    const auto now = std::chrono::steady_clock::now();
    for (const auto& directory : *directories) {
      const auto spellings = spellingsOf(directory);
      const bool requested = std::any_of(spellings.begin(), spellings.end(), [&](const auto& each) {
        return std::find(requests.begin(), requests.end(), each) != requests.end();
      });
      // No exception leaves this thread: an uncaught one would end the daemon (std::terminate).
      try {
        const bool due = requested || now >= nextRetention;
        const bool lowOnSpace =
            !due && !nothingToFree.contains(directory.directory) && belowMinFreeSpace(directory);
        if (!due && !lowOnSpace) continue;
        const std::size_t deleted = applyRetention(directory);
        if (lowOnSpace && deleted == 0) nothingToFree.insert(directory.directory);
      } catch (const std::exception& error) {
        spdlog::error("{}: retention failed: {}", directory.directory.string(), error.what());
      }
    }
    if (now >= nextRetention) {
      nextRetention = now + kRetentionInterval;
      nothingToFree.clear();
    }
    retentionRounds_.fetch_add(1, std::memory_order_release);
    if (stopping) break;
  }
}

std::optional<FinishedFile> FileFinisher::finish(FinishJob& job, std::string& storing) {
  const fs::path directory = job.output ? job.output->currentPath() : job.directory;
  const auto partPath = (directory / job.file.partName()).string();
  const std::string submittedName = job.file.summary().name;
  // When complete() had to take the next free name, that is the file in progress until it is
  // stored; the caller marks the submitted name stored.
  std::optional<std::string> renamedInProgress;
  const auto markRenamedStored = [&] {
    if (renamedInProgress) markStored(job.directory, *renamedInProgress);
  };
  // Marked before the rename, so that a kill right after it finds the marker there already; but
  // only while the name is free (or the file is already there, finished by the start-up repair):
  // a marker must never point at a file of someone else's that took the name, which the next
  // start would then store as ours.
  struct stat taken {};
  if (job.output && (job.alreadyFinished || ::fstatat(job.output->fd(), submittedName.c_str(),
                                                      &taken, AT_SYMLINK_NOFOLLOW) != 0)) {
    markStoring(job.output->fd(), directory, submittedName);
    storing = submittedName;
  }
  try {
    const auto summary = !job.output ? pcap::FileSummary{}
                         : job.alreadyFinished
                             ? job.file.summary()
                             : job.file.complete(job.output->fd(), options_.operations);
    if (!summary.name.empty() && summary.name != submittedName) {
      markInProgress(job.directory, summary.name);
      renamedInProgress = summary.name;
    }
    if (!summary.name.empty() && summary.name != storing) {
      // complete() took another name (the submitted one was taken): marked only now.
      markStoring(job.output->fd(), directory, summary.name);
      if (!storing.empty()) unmarkStoring(job.output->fd(), directory, storing);
      storing = summary.name;
    }
    if (summary.name.empty()) {
      spdlog::warn("{}: removed {}: no record reached it before writing failed", job.interface,
                   partPath);
      if (!storing.empty()) unmarkStoring(job.output->fd(), directory, storing);
      storing.clear();
      return std::nullopt;
    }
    FinishedFile finished{
        .interface = job.interface,
        .path = directory / summary.name,
        .packets = summary.packets,
        .bytes = summary.bytes,
        .kernelDrops = job.kernelDrops,
        .firstPacket = summary.firstPacket,
        .lastPacket = summary.lastPacket,
        .reason = job.reason,
        .sha256 = summary.sha256,
        .withoutSha256 = summary.hashPaused    ? WithoutSha256::paused
                         : summary.hashSkipped ? WithoutSha256::fellBehind
                                               : WithoutSha256::no,
        .writeFailed = summary.writeFailed,
    };
    // Built as the file was written (read back only when that summary is missing or disagrees
    // with the file); extract rebuilds an index that is missing.
    if (job.index) {
      try {
        index::writeIndexOf(finished.path, std::move(job.liveIndex));
      } catch (const std::exception& error) {
        spdlog::warn("{}: cannot index {}: {}", job.interface, finished.path.string(),
                     error.what());
      }
    }
    // Compression, SHA-256 and sidecar: before the file is announced (log line, hook, signal).
    if (job.output) storeFinishedFile(job.output->fd(), finished, job.storage);
    const int sha256Skipped = skipped(finished.withoutSha256) ? 1 : 0;
    const std::initializer_list<logging::Field> fields = {
        {"INTERFACE", job.interface},    {"PCAP_FILE", finished.path},
        {"PACKETS", finished.packets},   {"BYTES", finished.bytes},
        {"DROPS", finished.kernelDrops}, {"REASON", job.reason},
        {"SHA256", finished.sha256},     {"SHA256_SKIPPED", sha256Skipped},
    };
    const std::string sha256 = describeSha256(finished);
    if (finished.packets > 0) {
      logging::logEvent(spdlog::level::info, fields,
                        "{}: finished {} ({}): {} packets, {} bytes, {} kernel drops, first {}, "
                        "last {}, sha256 {}",
                        job.interface, finished.path.string(), job.reason, finished.packets,
                        finished.bytes, finished.kernelDrops, rfc3339(finished.firstPacket),
                        rfc3339(finished.lastPacket), sha256);
    } else {
      logging::logEvent(spdlog::level::info, fields,
                        "{}: finished {} ({}): no packets, {} kernel drops, sha256 {}",
                        job.interface, finished.path.string(), job.reason, finished.kernelDrops,
                        sha256);
    }
    if (job.onFinished) job.onFinished(finished);
    if (observer_) observer_(finished);
    markRenamedStored();
    return finished;
  } catch (const std::exception& error) {
    markRenamedStored();
    // Still a `.part` (not renamed): its repair at the next start needs no marker. Renamed: the
    // marker stays, and the next start stores the file again.
    struct stat stillPart {};
    if (!storing.empty() && !job.alreadyFinished &&
        ::fstatat(job.output->fd(), job.file.partName().c_str(), &stillPart, AT_SYMLINK_NOFOLLOW) ==
            0) {
      unmarkStoring(job.output->fd(), directory, storing);
      storing.clear();
    }
    const auto& summary = job.file.summary();
    struct stat part {};
    const bool gone =
        job.output &&
        ::fstatat(job.output->fd(), job.file.partName().c_str(), &part, AT_SYMLINK_NOFOLLOW) != 0 &&
        errno == ENOENT;
    if (gone) {
      logging::logEvent(spdlog::level::err, {{"INTERFACE", job.interface}, {"PCAP_FILE", partPath}},
                        "{}: lost {} packets: {} cannot be finished ({}) and is gone (was its "
                        "directory removed?)",
                        job.interface, summary.packets, partPath, error.what());
      if (job.onLost) job.onLost(summary.packets, summary.bytes);
    } else {
      logging::logEvent(spdlog::level::err, {{"INTERFACE", job.interface}, {"PCAP_FILE", partPath}},
                        "{}: cannot finish {}: {}; it keeps its .part name for the next start to "
                        "repair, and no hook runs for it",
                        job.interface, partPath, error.what());
    }
    return std::nullopt;
  }
}

std::shared_ptr<const OutputDirectory> FileFinisher::heldDirectory(const fs::path& path) {
  auto& held = held_[path];
  if (held) {
    const auto state = held->state();
    if (state == OutputDirectory::State::same) return held;
    spdlog::error("{}: the output directory was {}; retention goes on in {} as configured",
                  held->currentPath().string(), describe(state), path.string());
  }
  held = OutputDirectory::open(path);
  return held;
}

bool FileFinisher::belowMinFreeSpace(const DirectoryRetention& directory) {
  const std::uint64_t minimum = directory.limits.minFreeBytes;
  return minimum > 0 && freeBytes(heldDirectory(directory.directory)->fd()) < minimum;
}

std::size_t FileFinisher::applyRetention(const DirectoryRetention& directory) {
  // For the whole pass: the finisher begins no file meanwhile, so every file that can change
  // under this pass is in `inProgress` (see the top of the header).
  const std::lock_guard pass(passMutex_);
  const auto spellings = spellingsOf(directory);
  std::set<std::string> inProgress;
  {
    std::lock_guard lock(inProgressMutex_);
    for (const auto& spelling : spellings) {
      if (const auto names = inProgress_.find(spelling); names != inProgress_.end()) {
        inProgress.insert(names->second.begin(), names->second.end());
      }
    }
  }
  const auto held = heldDirectory(directory.directory);
  static constexpr std::string_view kCompanions[] = {index::kIndexSuffix, kSidecarSuffix};
  const auto listing =
      rotation::listOwnFiles(held->fd(), directory.ownFiles, ::geteuid(), kCompanions);
  const fs::path where = held->currentPath();
  if (listing.error != 0) {
    spdlog::warn("{}: cannot list for retention: {}", where.string(), std::strerror(listing.error));
    return 0;
  }
  auto files = withFilesInProgress(held->fd(), listing.files, inProgress);
  const auto& limits = directory.limits;
  if ((limits.keepUntilShipped || limits.deleteShipped) && !directory.shipState.empty()) {
    auto& confirmations =
        shipConfirmations_.try_emplace(directory.shipState, directory.shipState).first->second;
    confirmations.refresh();
    // The shipper names files by their interface's configured directory, any of its spellings.
    // A file counts as shipped once its sidecar (deleted with it) is too, when it has one: the
    // sidecar as it is now, which names this file's SHA-256, and which the shipper sends only
    // after the file as it is now. So a new file named as an earlier one is not taken for it.
    const auto confirmedAnywhere = [&](const std::string& name, std::uint64_t bytes,
                                       std::optional<std::string_view> sha256) {
      return std::any_of(spellings.begin(), spellings.end(), [&](const fs::path& spelling) {
        return confirmations.confirmed(spelling / name, bytes, sha256);
      });
    };
    for (auto& file : files) {
      if (!confirmedAnywhere(file.name, file.bytes, std::nullopt)) continue;
      const std::string sidecar = file.name + std::string(kSidecarSuffix);
      const auto digest = digestOfSidecar(held->fd(), sidecar);
      file.shipped = !digest.unreadable && (!digest.sizeAndSha256 ||
                                            confirmedAnywhere(sidecar, digest.sizeAndSha256->first,
                                                              digest.sizeAndSha256->second));
    }
  }
  const auto deletions = rotation::chooseDeletions(
      std::move(files), limits, std::chrono::system_clock::now(), freeBytes(held->fd()));
  std::size_t deleted = 0;
  for (const auto& deletion : deletions) {
    // Submitted since the pass began (a file start-up repair finished): not begun yet, as this
    // pass holds the finisher back, but its job is queued to store it.
    if (isInProgress(directory, deletion.name)) continue;
    if (deletion.unshipped) {
      spdlog::warn(
          "{}: deleting {}, not yet confirmed uploaded: {} (keep_until_shipped yields "
          "only to min_free_space)",
          where.string(), deletion.name, deletion.reason);
    }
    if (::unlinkat(held->fd(), deletion.name.c_str(), 0) == 0) {
      // Its index and sidecar go with it.
      ::unlinkat(held->fd(), index::indexPathFor(deletion.name).c_str(), 0);
      ::unlinkat(held->fd(), (deletion.name + std::string(kSidecarSuffix)).c_str(), 0);
      spdlog::info("{}: deleted {} ({} bytes): {}", where.string(), deletion.name, deletion.bytes,
                   deletion.reason);
      ++deleted;
    } else if (errno != ENOENT) {
      spdlog::warn("{}: cannot delete {}: {}", where.string(), deletion.name, std::strerror(errno));
    }
  }
  return deleted;
}

}  // namespace pcap_recorder::service
