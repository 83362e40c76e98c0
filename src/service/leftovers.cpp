#include "pcap_recorder/service/leftovers.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <optional>

#include "pcap_recorder/index/file_index.hpp"
#include "pcap_recorder/pcap/repair.hpp"
#include "pcap_recorder/service/file_storage.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::service {

namespace {

namespace fs = std::filesystem;

// The names in the directory open as `directoryFd`, read through a description of their own.
// Empty when it cannot be read.
std::vector<std::string> namesIn(int directoryFd) {
  std::vector<std::string> names;
  const int listFd = ::openat(directoryFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (listFd < 0) return names;
  DIR* stream = ::fdopendir(listFd);
  if (stream == nullptr) {
    ::close(listFd);
    return names;
  }
  while (const dirent* entry = ::readdir(stream)) names.emplace_back(entry->d_name);
  ::closedir(stream);
  return names;
}

// The interfaces writing into `directory`, however they spell it, each with the matcher of its
// own names.
class Owners {
 public:
  Owners(const fs::path& directory, const std::vector<fs::path>& otherSpellings,
         const std::vector<config::InterfaceSettings>& interfaces) {
    for (const auto& settings : interfaces) {
      if (settings.output.directory != directory &&
          std::find(otherSpellings.begin(), otherSpellings.end(), settings.output.directory) ==
              otherSpellings.end()) {
        continue;
      }
      owners_.emplace_back(&settings,
                           rotation::OwnFileMatcher({{settings.output.fileName, settings.name}}));
    }
  }
  // Whose finished file `name` is; null when no interface's template makes it.
  const config::InterfaceSettings* of(std::string_view name) const {
    for (const auto& [settings, matcher] : owners_) {
      if (matcher.isFinishedFile(name)) return settings;
    }
    return nullptr;
  }

 private:
  std::vector<std::pair<const config::InterfaceSettings*, rotation::OwnFileMatcher>> owners_;
};

// The job that stores `summary`'s file, marked as owed its storing from now on (file_storage.hpp):
// should this run be killed before the finisher reaches it, the next start stores it again.
FinishJob jobFor(const config::InterfaceSettings& settings, const fs::path& directory,
                 const std::shared_ptr<const OutputDirectory>& output, pcap::FileSummary summary) {
  markStoring(output->fd(), directory, summary.name);
  std::string name = summary.name;
  return FinishJob{
      .interface = settings.name,
      .directory = directory,
      .output = output,
      .file = pcap::ClosedFile(util::UniqueFd(), std::move(name), std::move(summary), false),
      .alreadyFinished = true,
      .kernelDrops = 0,  // not known: the counters died with the run
      .reason = std::string(kRepairedReason),
      .postFinishCommand = settings.output.postFinishCommand,
      .postFinishTimeout = settings.output.postFinishTimeout,
      .postFinishMaxRunning = settings.output.postFinishMaxRunning,
      .index = settings.output.index,
      .storage = storageOptionsFor(settings, 0),
      .onFinished = {},  // no recorder of this run wrote it
      .onLost = {},
  };
}

// What the finished file `name` holds (one whose compression was undone, or one owed its
// storing); none when it cannot be read.
std::optional<pcap::FileSummary> summaryOf(int directoryFd, const std::string& name) {
  util::UniqueFd fd(
      ::openat(directoryFd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat status {};
  if (!fd.valid() || ::fstat(fd.get(), &status) != 0) return std::nullopt;
  try {
    const auto scan =
        pcap::scanPcap(pcap::preadAt(fd.get(), name), static_cast<std::uint64_t>(status.st_size));
    if (!scan.headerValid) return std::nullopt;
    return pcap::FileSummary{.name = name,
                             .packets = scan.records,
                             .bytes = static_cast<std::uint64_t>(status.st_size),
                             .firstPacket = scan.firstPacket,
                             .lastPacket = scan.lastPacket};
  } catch (const std::system_error&) {
    return std::nullopt;
  }
}

// Whether `name` is an entry of `directoryFd`.
bool exists(int directoryFd, const std::string& name) {
  struct stat status {};
  return ::fstatat(directoryFd, name.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0;
}

}  // namespace

std::vector<FinishJob> repairLeftovers(const fs::path& directory,
                                       const rotation::OwnFileMatcher& ownFiles,
                                       const std::vector<config::InterfaceSettings>& interfaces,
                                       const std::vector<fs::path>& otherSpellings) {
  std::vector<FinishJob> jobs;
  std::vector<std::string> stored;  // the files of `jobs`
  std::shared_ptr<const OutputDirectory> output;
  try {
    output = OutputDirectory::open(directory);
  } catch (const std::exception& error) {
    spdlog::error("{}: cannot repair what an earlier run left: {}", directory.string(),
                  error.what());
    return jobs;
  }
  const int directoryFd = output->fd();
  const Owners owners(directory, otherSpellings, interfaces);
  std::vector<std::string> names = namesIn(directoryFd);
  // First what a crash during compression left: then only pcap `.part` files remain.
  for (const auto& name : repairCompressionLeftovers(directoryFd, directory, names, ownFiles)) {
    const auto* settings = owners.of(name);
    auto summary = summaryOf(directoryFd, name);
    if (settings != nullptr && summary) {
      jobs.push_back(jobFor(*settings, directory, output, std::move(*summary)));
      stored.push_back(name);
    }
  }
  std::vector<std::string> parts;
  for (std::string& name : names) {
    if (ownFiles.isPartFile(name)) parts.push_back(std::move(name));
  }
  std::sort(parts.begin(), parts.end());
  for (const auto& part : parts) {
    const auto result = pcap::repairPartFile(directoryFd, part);
    switch (result.outcome) {
      case pcap::RepairOutcome::finished: {
        const auto* settings = owners.of(result.finalName);
        const bool keepEmpty = settings != nullptr && settings->output.keepEmptyFiles;
        if (result.recordsKept == 0 && !keepEmpty) {
          // A file that was just opened when the run was killed: as any file without packets.
          if (::unlinkat(directoryFd, result.finalName.c_str(), 0) == 0) {
            spdlog::info(
                "{}: removed {} left by an earlier run: no packets "
                "(output.keep_empty_files is off)",
                directory.string(), part);
          } else {
            spdlog::warn("{}: cannot remove {}, left by an earlier run without packets: {}",
                         directory.string(), result.finalName, std::strerror(errno));
          }
          break;
        }
        spdlog::warn(
            "{}: finished {} left by an earlier run as {}: {} packets kept, {} bytes of "
            "an incomplete record cut",
            directory.string(), result.finalName, part, result.recordsKept, result.bytesCut);
        if (settings == nullptr) break;
        stored.push_back(result.finalName);
        jobs.push_back(jobFor(*settings, directory, output,
                              pcap::FileSummary{.name = result.finalName,
                                                .packets = result.recordsKept,
                                                .bytes = result.bytesKept,
                                                .firstPacket = result.firstPacket,
                                                .lastPacket = result.lastPacket}));
        break;
      }
      case pcap::RepairOutcome::setAside:
        spdlog::error("{}: {} has a damaged header ({}); set aside as {}, not deleted",
                      directory.string(), part, result.message, result.finalName);
        break;
      case pcap::RepairOutcome::removedEmpty:
        // Why a warning: a kill between creating the file and writing its header leaves such a
        // file, but so can a power loss that took what it held; the log cannot tell which.
        spdlog::warn(
            "{}: removed {} left by an earlier run: it holds no bytes (the run stopped before "
            "writing its header, or a power loss took what it held)",
            directory.string(), part);
        break;
      case pcap::RepairOutcome::failed:
        spdlog::error("{}: cannot repair {}: {}", directory.string(), part, result.message);
        break;
    }
  }
  // Last, the files a killed run had renamed but not stored (their storing marker,
  // file_storage.hpp): whole, but owed their index, compression, sidecar, FileFinished and hook.
  // A marked file repaired above, or whose compression was undone, has its job already.
  for (const auto& marker : names) {
    if (!marker.ends_with(kStoringSuffix)) continue;
    const std::string name = marker.substr(0, marker.size() - kStoringSuffix.size());
    const auto* settings = owners.of(name);
    if (settings == nullptr) continue;  // not a name of this config: left alone
    if (std::find(stored.begin(), stored.end(), name) != stored.end()) continue;
    struct stat status {};
    if (::fstatat(directoryFd, name.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0) {
      // As retention: only a regular file of the daemon's own user is taken for its own.
      auto summary = S_ISREG(status.st_mode) && status.st_uid == ::geteuid()
                         ? summaryOf(directoryFd, name)
                         : std::nullopt;
      if (summary) {
        spdlog::warn(
            "{}: {} was finished but not yet stored when an earlier run stopped; storing "
            "it now (index, compression, sidecar, FileFinished, hook)",
            directory.string(), name);
        jobs.push_back(jobFor(*settings, directory, output, std::move(*summary)));
        stored.push_back(name);
        continue;  // the job removes the marker once the file is announced
      }
      spdlog::error(
          "{}: {} was not yet stored when an earlier run stopped, and is not a pcap file of "
          "this user's; left as it is",
          directory.string(), name);
    } else if (exists(directoryFd, name + std::string(rotation::kPartSuffix))) {
      continue;  // a `.part` the repair above could not settle: the marker waits with it
    } else if (const auto suffix = std::find_if(std::begin(rotation::kCompressionSuffixes),
                                                std::end(rotation::kCompressionSuffixes),
                                                [&](std::string_view each) {
                                                  return exists(directoryFd,
                                                                name + std::string(each));
                                                });
               suffix != std::end(rotation::kCompressionSuffixes)) {
      // Killed between removing NAME and moving its index: the index goes with the stored name.
      const auto indexName = index::indexPathFor(name).string();
      const auto storedIndexName = index::indexPathFor(name + std::string(*suffix)).string();
      if (exists(directoryFd, indexName) && !exists(directoryFd, storedIndexName)) {
        ::renameat(directoryFd, indexName.c_str(), directoryFd, storedIndexName.c_str());
      }
      spdlog::warn(
          "{}: {} was compressed when an earlier run stopped, but perhaps not announced: "
          "it is kept as it is, and its sidecar, FileFinished and post_finish_command "
          "may be missing",
          directory.string(), name);
    }
    unmarkStoring(directoryFd, directory, name);
  }
  return jobs;
}

}  // namespace pcap_recorder::service
