#include "pcap_recorder/rotation/retention.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <system_error>
#include <tuple>

#include "pcap_recorder/rotation/file_naming.hpp"
#include "pcap_recorder/util/saturating.hpp"

namespace pcap_recorder::rotation {

namespace {

// ---------------------------------------------------------------------------------------------
// Templates to regular expressions

// Suffixes of files that are not finished: refused whatever the templates say.
constexpr std::string_view kPartSuffix = ".part";  // pcap::kPartSuffix; rotation is below pcap
constexpr std::string_view kDamagedSuffix = ".damaged";

// One character (or conversion) of an expanded name. Every piece stands for at least one
// character, so the piece index of a literal '.' tells whether it starts the name.
struct Piece {
  std::string regex;
  bool isDot = false;
};

std::string escapedForRegex(char c) {
  static constexpr std::string_view kSpecial = "\\^$.|?*+()[]{}";
  std::string out;
  if (kSpecial.find(c) != std::string_view::npos) out += '\\';
  out += c;
  return out;
}

// What strftime writes for each conversion config accepts (config.cpp, kTimeConversions), in the
// C locale: the daemon never calls setlocale(). Shapes rather than exact ranges: a strict shape
// already keeps out other files, and a range mistake would keep files forever.
std::string regexForConversion(char conversion) {
  switch (conversion) {
    case 'a':
      return "(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat)";
    case 'A':
      return "(?:Sunday|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday)";
    case 'b':
    case 'h':
      return "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
    case 'B':
      return "(?:January|February|March|April|May|June|July|August|September|October|November|"
             "December)";
    case 'C':  // century
    case 'd':  // day of month
    case 'g':  // ISO 8601 week-based year without century
    case 'H':
    case 'I':
    case 'm':
    case 'M':
    case 'S':
    case 'U':  // week of the year
    case 'V':
    case 'W':
    case 'y':
      return "[0-9]{2}";
    case 'j':  // day of the year
      return "[0-9]{3}";
    case 'G':
    case 'Y':
      return "[0-9]{4}";
    case 'F':
      return "[0-9]{4}-[0-9]{2}-[0-9]{2}";
    case 'p':
      return "(?:AM|PM)";
    case 's':  // seconds since the epoch
      return "[0-9]+";
    case 'u':
      return "[1-7]";
    case 'w':
      return "[0-6]";
    case 'z':  // names are made in UTC ("+0000"); the shape keeps working should that change
      return "[+-][0-9]{4}";
    case 'Z':  // "GMT" from gmtime_r
      return "[A-Z]+";
    case '%':
      return "%";
    default:
      break;
  }
  throw std::invalid_argument(std::string("file name template uses %") + conversion +
                              ", which is not an allowed time conversion");
}

std::vector<Piece> piecesOf(std::string_view fileName, std::string_view interface) {
  static constexpr std::string_view kInterface = "{interface}";
  static constexpr std::string_view kSequence = "{seq}";
  std::vector<Piece> pieces;
  for (std::size_t i = 0; i < fileName.size(); ++i) {
    const char c = fileName[i];
    if (c == '%') {
      if (i + 1 == fileName.size()) {
        throw std::invalid_argument("file name template " + std::string(fileName) +
                                    " ends with a lone '%'");
      }
      pieces.push_back({regexForConversion(fileName[++i])});
    } else if (fileName.substr(i).starts_with(kInterface)) {
      for (char n : interface) pieces.push_back({escapedForRegex(n), n == '.'});
      i += kInterface.size() - 1;
    } else if (fileName.substr(i).starts_with(kSequence)) {
      pieces.push_back({"[0-9]{" + std::to_string(kSequenceDigits) + ",}"});
      i += kSequence.size() - 1;
    } else if (c == '{') {
      throw std::invalid_argument("file name template " + std::string(fileName) +
                                  " uses an unknown placeholder");
    } else {
      pieces.push_back({escapedForRegex(c), c == '.'});
    }
  }
  return pieces;
}

// The whole-name pattern for one template, with nameWithSuffix()'s optional "_N" where it puts
// it: before the last '.', or at the end when there is none or the name starts with it.
std::string regexForTemplate(std::string_view fileName, std::string_view interface) {
  const std::vector<Piece> pieces = piecesOf(fileName, interface);
  std::size_t suffixAt = pieces.size();
  for (std::size_t i = pieces.size(); i-- > 1;) {
    if (pieces[i].isDot) {
      suffixAt = i;
      break;
    }
  }
  std::string regex;
  for (std::size_t i = 0; i <= pieces.size(); ++i) {
    if (i == suffixAt) regex += "(?:_[0-9]{3,})?";
    if (i < pieces.size()) regex += pieces[i].regex;
  }
  return regex;
}

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

OwnFileMatcher::OwnFileMatcher(const std::vector<OwnFileTemplate>& templates) {
  std::vector<std::string> regexes;
  for (const OwnFileTemplate& entry : templates) {
    std::string regex = regexForTemplate(entry.fileName, entry.interface);
    if (std::find(regexes.begin(), regexes.end(), regex) == regexes.end()) {
      regexes.push_back(std::move(regex));
    }
  }
  patterns_.reserve(regexes.size());
  for (const std::string& regex : regexes) {
    patterns_.emplace_back(regex, std::regex::ECMAScript | std::regex::optimize);
  }
}

bool OwnFileMatcher::isFinishedFile(std::string_view name) const {
  // Why: a template may itself end in ".part"; the file being written is still never ours.
  if (name.empty() || name.ends_with(kPartSuffix) || name.ends_with(kDamagedSuffix)) return false;
  return std::any_of(patterns_.begin(), patterns_.end(), [&](const std::regex& pattern) {
    return std::regex_match(name.begin(), name.end(), pattern);
  });
}

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
  }
  return combined;
}

std::vector<Deletion> chooseDeletions(std::vector<StoredFile> files, const RetentionLimits& limits,
                                      std::chrono::system_clock::time_point now,
                                      std::uint64_t freeBytes) {
  std::sort(files.begin(), files.end(), [](const StoredFile& a, const StoredFile& b) {
    return std::tie(a.modified, a.name) < std::tie(b.modified, b.name);
  });
  // Every rule deletes oldest first, so the deletions are always a prefix of `files`: the rules
  // only decide how long it is, and no file can be chosen twice.
  std::vector<Deletion> deletions;
  std::size_t kept = 0;  // index of the oldest file still kept
  std::uint64_t keptFiles = files.size();
  std::uint64_t keptBytes = 0;
  for (const StoredFile& file : files) keptBytes += file.bytes;
  const auto deleteOldest = [&](std::string reason) {
    const StoredFile& file = files[kept++];
    deletions.push_back({file.name, file.bytes, std::move(reason)});
    keptFiles -= 1;
    keptBytes -= file.bytes;
    freeBytes += file.bytes;
  };

  if (limits.maxAge.count() > 0) {
    // A cut-off rather than `now - modified`, which overflows for a far-off mtime.
    const auto cutoff = util::saturatingSubtract(now, limits.maxAge);
    while (kept < files.size() && files[kept].modified < cutoff) {
      deleteOldest("older than max_age " + describeDuration(limits.maxAge));
    }
  }
  if (limits.maxFiles > 0) {
    while (keptFiles > limits.maxFiles) {
      deleteOldest("max_files " + std::to_string(limits.maxFiles) + " exceeded (" +
                   std::to_string(keptFiles) + " files)");
    }
  }
  if (limits.maxTotalBytes > 0) {
    while (keptBytes > limits.maxTotalBytes) {
      deleteOldest("max_total_size " + describeLimit(limits.maxTotalBytes) + " exceeded (" +
                   describeAmount(keptBytes) + " stored)");
    }
  }
  if (limits.minFreeBytes > 0) {
    // When even deleting every own file is not enough, they all go: the disk is full of data
    // that is not ours, and the capture running now matters more than the oldest captures.
    while (kept < files.size() && freeBytes < limits.minFreeBytes) {
      deleteOldest("free space " + describeAmount(freeBytes) + " below min_free_space " +
                   describeLimit(limits.minFreeBytes));
    }
  }
  return deletions;
}

std::vector<StoredFile> listOwnFiles(const std::filesystem::path& directory,
                                     const OwnFileMatcher& matcher) {
  std::vector<StoredFile> files;
  for (const std::filesystem::directory_entry& entry :
       std::filesystem::directory_iterator(directory)) {
    std::string name = entry.path().filename().string();
    if (!matcher.isFinishedFile(name)) continue;
    // lstat: the type, size and time of the entry itself, in one call; a symlink is never
    // followed, so a link to somewhere else cannot get that file deleted.
    struct stat status {};
    if (::lstat(entry.path().c_str(), &status) != 0) {
      if (errno == ENOENT) continue;  // deleted or renamed since the listing
      throw std::filesystem::filesystem_error("cannot stat", entry.path(),
                                              std::error_code(errno, std::generic_category()));
    }
    if (!S_ISREG(status.st_mode)) continue;
    const auto sinceEpoch = std::chrono::seconds(status.st_mtim.tv_sec) +
                            std::chrono::nanoseconds(status.st_mtim.tv_nsec);
    files.push_back(
        {std::move(name), static_cast<std::uint64_t>(status.st_size),
         std::chrono::system_clock::time_point(
             std::chrono::duration_cast<std::chrono::system_clock::duration>(sinceEpoch))});
  }
  std::sort(files.begin(), files.end(),
            [](const StoredFile& a, const StoredFile& b) { return a.name < b.name; });
  return files;
}

}  // namespace pcap_recorder::rotation
