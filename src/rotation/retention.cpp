#include "pcap_recorder/rotation/retention.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <tuple>

#include "pcap_recorder/rotation/file_naming.hpp"
#include "pcap_recorder/util/saturating.hpp"

namespace pcap_recorder::rotation {

namespace {

// ---------------------------------------------------------------------------------------------
// Reasons, in the units the config is written in

constexpr std::pair<std::string_view, std::uint64_t> kBinaryUnits[] = {
    {"TiB", 1ull << 40}, {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}};
constexpr std::pair<std::string_view, std::uint64_t> kDecimalUnits[] = {
    {"TB", 1'000'000'000'000ull}, {"GB", 1'000'000'000ull}, {"MB", 1'000'000ull}, {"kB", 1000}};

// A measured amount: "1000 B", "120 MiB", "1.5 GiB".
std::string describeAmount(std::uint64_t bytes) {
  for (const auto& [unit, factor] : kBinaryUnits) {
    if (bytes < factor) continue;
    if (bytes % factor == 0) return std::to_string(bytes / factor) + " " + std::string(unit);
    char text[48];
    std::snprintf(text, sizeof text, "%.1f %s", static_cast<double>(bytes) / factor,
                  std::string(unit).c_str());
    return text;
  }
  return std::to_string(bytes) + " B";
}

// A configured limit, exactly and as it was probably written: "1 GiB", "2 GB", "600 B" (the
// unit giving the smallest whole number).
std::string describeLimit(std::uint64_t bytes) {
  std::string best = std::to_string(bytes) + " B";
  std::uint64_t bestNumber = bytes;
  for (const auto* units : {&kBinaryUnits, &kDecimalUnits}) {
    for (const auto& [unit, factor] : *units) {
      if (bytes != 0 && bytes % factor == 0 && bytes / factor < bestNumber) {
        bestNumber = bytes / factor;
        best = std::to_string(bestNumber) + " " + std::string(unit);
      }
    }
  }
  return best;
}

std::string describeDuration(std::chrono::seconds duration) {
  static constexpr std::pair<std::string_view, std::int64_t> kUnits[] = {
      {"d", 86400}, {"h", 3600}, {"m", 60}};
  const std::int64_t seconds = duration.count();
  for (const auto& [unit, factor] : kUnits) {
    if (seconds != 0 && seconds % factor == 0) {
      return std::to_string(seconds / factor) + std::string(unit);
    }
  }
  return std::to_string(seconds) + "s";
}

// The smaller of two maximums where 0 (or less) means "none".
template <typename T>
T stricterMaximum(T a, T b) {
  if (a <= T{}) return b;
  if (b <= T{}) return a;
  return std::min(a, b);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

// Interfaces sharing a directory share its files: each limit counts all of them together, and
// one pass of deletions serves every interface. Each operator's limit is a promise about the
// whole directory ("no more than 100 files here", "keep 10 GiB free"), so only the strictest
// value keeps every promise at once: the smallest maximum, the largest minimum. A 0 is "no
// limit", not the smallest maximum, so it never wins over a real limit.
RetentionLimits combineLimits(std::span<const RetentionLimits> limits) {
  RetentionLimits combined;
  for (const RetentionLimits& each : limits) {
    combined.maxFiles = stricterMaximum(combined.maxFiles, each.maxFiles);
    combined.maxTotalBytes = stricterMaximum(combined.maxTotalBytes, each.maxTotalBytes);
    combined.maxAge = stricterMaximum(combined.maxAge, each.maxAge);
    combined.minFreeBytes = std::max(combined.minFreeBytes, each.minFreeBytes);
    // Keeping is the promise of whoever asked for it; deleting after upload is daemon-wide.
    combined.keepUntilShipped = combined.keepUntilShipped || each.keepUntilShipped;
    combined.deleteShipped = combined.deleteShipped || each.deleteShipped;
  }
  return combined;
}

std::vector<Deletion> chooseDeletions(std::vector<StoredFile> files, const RetentionLimits& limits,
                                      std::chrono::system_clock::time_point now,
                                      std::uint64_t freeBytes) {
  for (StoredFile& file : files) file.modified = std::min(file.modified, now);
  std::sort(files.begin(), files.end(), [](const StoredFile& a, const StoredFile& b) {
    return std::tie(a.modified, a.name) < std::tie(b.modified, b.name);
  });
  // Every rule walks the files oldest first and deletes what it may; with keep_until_shipped an
  // unshipped file is passed over (but still counts), so the deletions need not be a prefix.
  std::vector<std::pair<std::size_t, Deletion>> deletions;  // by index into `files`
  std::vector<bool> deleted(files.size(), false);
  std::uint64_t keptFiles = files.size();
  std::uint64_t keptBytes = 0;
  for (const StoredFile& file : files) keptBytes += file.bytes + file.companionBytes;
  const auto remove = [&](std::size_t index, std::string reason) {
    const StoredFile& file = files[index];
    deleted[index] = true;
    deletions.push_back(
        {index,
         {file.name, file.bytes, std::move(reason), limits.keepUntilShipped && !file.shipped}});
    const std::uint64_t freed = file.bytes + file.companionBytes;
    keptFiles -= 1;
    keptBytes -= freed;
    // Saturating: free space that could not be read is passed as the most there can be, and
    // wrapping round to almost none would make min_free_space delete every file.
    freeBytes = freeBytes > UINT64_MAX - freed ? UINT64_MAX : freeBytes + freed;
  };
  // Whether any rule may delete the file at `index`.
  const auto mayGo = [&](std::size_t index) { return !deleted[index] && !files[index].inProgress; };
  // Whether the limits (all but min_free_space) may delete the file at `index`.
  const auto deletable = [&](std::size_t index) {
    return mayGo(index) && (!limits.keepUntilShipped || files[index].shipped);
  };

  if (limits.deleteShipped) {
    for (std::size_t i = 0; i < files.size(); ++i) {
      if (files[i].shipped && mayGo(i)) {
        remove(i, "confirmed uploaded (ship.delete_after_upload)");
      }
    }
  }
  if (limits.maxAge.count() > 0) {
    // A cut-off rather than `now - modified`, which overflows for a far-off mtime.
    const auto cutoff = util::saturatingSubtract(now, limits.maxAge);
    for (std::size_t i = 0; i < files.size() && files[i].modified < cutoff; ++i) {
      if (deletable(i)) remove(i, "older than max_age " + describeDuration(limits.maxAge));
    }
  }
  if (limits.maxFiles > 0) {
    for (std::size_t i = 0; i < files.size() && keptFiles > limits.maxFiles; ++i) {
      if (!deletable(i)) continue;
      remove(i, "max_files " + std::to_string(limits.maxFiles) + " exceeded (" +
                    std::to_string(keptFiles) + " files)");
    }
  }
  if (limits.maxTotalBytes > 0) {
    for (std::size_t i = 0; i < files.size() && keptBytes > limits.maxTotalBytes; ++i) {
      if (!deletable(i)) continue;
      remove(i, "max_total_size " + describeLimit(limits.maxTotalBytes) + " exceeded (" +
                    describeAmount(keptBytes) + " stored)");
    }
  }
  if (limits.minFreeBytes > 0) {
    const auto reason = [&] {
      return "free space " + describeAmount(freeBytes) + " below min_free_space " +
             describeLimit(limits.minFreeBytes);
    };
    // Confirmed files first: they are safe in the bucket.
    for (std::size_t i = 0; i < files.size() && freeBytes < limits.minFreeBytes; ++i) {
      if (deletable(i)) remove(i, reason());
    }
    // When even deleting every own file is not enough, they all go, unshipped ones too: the disk
    // is full of data that is not ours, and the capture running now matters more than the oldest
    // captures.
    for (std::size_t i = 0; i < files.size() && freeBytes < limits.minFreeBytes; ++i) {
      if (mayGo(i)) remove(i, reason() + ", not yet shipped");
    }
  }
  // Oldest first, whichever rule chose them.
  std::sort(deletions.begin(), deletions.end(),
            [&](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Deletion> ordered;
  ordered.reserve(deletions.size());
  for (auto& [index, deletion] : deletions) ordered.push_back(std::move(deletion));
  return ordered;
}

std::chrono::system_clock::time_point retentionTime(std::chrono::system_clock::time_point mtime,
                                                    std::chrono::system_clock::time_point ctime) {
  return std::min(mtime, ctime);
}

Listing listOwnFiles(int directoryFd, const OwnFileMatcher& matcher, uid_t owner,
                     std::span<const std::string_view> companionSuffixes) {
  Listing listing;
  // A description of its own: readdir's position is not shared with anyone else's descriptor.
  const int listFd = ::openat(directoryFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (listFd < 0) {
    listing.error = errno;
    return listing;
  }
  DIR* stream = ::fdopendir(listFd);
  if (stream == nullptr) {
    listing.error = errno;
    ::close(listFd);
    return listing;
  }
  const auto toTime = [](const timespec& time) {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(time.tv_sec) + std::chrono::nanoseconds(time.tv_nsec)));
  };
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(stream);
    if (entry == nullptr) {
      listing.error = errno;
      break;
    }
    const std::string_view name = entry->d_name;
    if (!matcher.isFinishedFile(name)) continue;
    // The entry itself, never what a symlink points to.
    struct stat status {};
    if (::fstatat(directoryFd, entry->d_name, &status, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(status.st_mode) || status.st_uid != owner) continue;
    StoredFile file{std::string(name), static_cast<std::uint64_t>(status.st_size),
                    retentionTime(toTime(status.st_mtim), toTime(status.st_ctim))};
    for (const std::string_view suffix : companionSuffixes) {
      const std::string companion = file.name + std::string(suffix);
      struct stat companionStatus {};
      if (::fstatat(directoryFd, companion.c_str(), &companionStatus, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISREG(companionStatus.st_mode)) {
        file.companionBytes += static_cast<std::uint64_t>(companionStatus.st_size);
      }
    }
    listing.files.push_back(std::move(file));
  }
  ::closedir(stream);
  if (listing.error != 0) listing.files.clear();
  std::sort(listing.files.begin(), listing.files.end(),
            [](const StoredFile& a, const StoredFile& b) { return a.name < b.name; });
  return listing;
}

}  // namespace pcap_recorder::rotation
