// Retention: which finished capture files to delete so the output directory stays within its
// limits. Deletes oldest first, and only files the recorder itself wrote: never a `.part` file
// (being written), never a name that no configured template could have produced.
//
// Pure logic apart from listOwnFiles(), which reads one directory; the caller deletes the files
// and logs each Deletion with its reason.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pcap_recorder::rotation {

// One interface writing into a directory: its `file_name` template and its name.
struct OwnFileTemplate {
  std::string fileName;   // "{interface}-%Y%m%dT%H%M%S.pcap"
  std::string interface;  // "eth0"
};

// Recognises the finished files that the given interfaces write: names expandFileName() can make
// from one of the templates, optionally with the `_N` collision counter that
// pcap::nameWithSuffix() puts before the last extension. Everything else is not ours: `.part`
// and `.damaged` files, other interfaces' files, other extensions, hand-made files.
class OwnFileMatcher {
 public:
  // Throws std::invalid_argument for a template config validation would have refused (an unknown
  // conversion or placeholder): a matcher that cannot read a template must not guess.
  explicit OwnFileMatcher(const std::vector<OwnFileTemplate>& templates);

  bool isFinishedFile(std::string_view name) const;

 private:
  std::vector<std::regex> patterns_;
};

// Limits of one directory; 0 means no limit.
struct RetentionLimits {
  std::uint64_t maxFiles = 0;
  std::uint64_t maxTotalBytes = 0;
  std::chrono::seconds maxAge{0};
  std::uint64_t minFreeBytes = 0;  // bytes free on the file system
};

// The limits for a directory several interfaces write into: the strictest non-zero value of each
// (the smallest maximum, the largest min_free_space). See the definition for why.
RetentionLimits combineLimits(std::span<const RetentionLimits> limits);

struct StoredFile {
  std::string name;  // relative to the directory
  std::uint64_t bytes = 0;
  std::chrono::system_clock::time_point modified;
};

struct Deletion {
  std::string name;
  std::uint64_t bytes = 0;
  std::string reason;  // "max_files 3 exceeded (5 files)", "older than max_age 7d", ...
};

// The files to delete, oldest first (by modified time, then name), each at most once. Applies
// max_age, then max_files, then max_total_size, then min_free_space (assuming each deletion frees
// the file's size), deleting no more than needed. `files` should hold only finished own files
// (see listOwnFiles()); the file being written counts towards none of the limits.
std::vector<Deletion> chooseDeletions(std::vector<StoredFile> files, const RetentionLimits& limits,
                                      std::chrono::system_clock::time_point now,
                                      std::uint64_t freeBytes);

// The regular files in `directory` (symlinks are not followed, so never listed) whose names the
// matcher accepts, with size and modification time, sorted by name. Files that disappear while
// listing are skipped. Throws std::filesystem::filesystem_error when the directory cannot be read.
std::vector<StoredFile> listOwnFiles(const std::filesystem::path& directory,
                                     const OwnFileMatcher& matcher);

}  // namespace pcap_recorder::rotation
