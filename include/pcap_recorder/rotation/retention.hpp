// Retention: which finished capture files to delete so the output directory stays within its
// limits. Deletes oldest first, and only files the recorder itself wrote: never a `.part` file
// (being written), never a name that no configured template could have produced.
//
// Pure logic apart from listOwnFiles(), which reads one directory through a descriptor; the
// caller deletes the files through the same descriptor and logs each Deletion with its reason.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pcap_recorder/rotation/file_naming.hpp"

namespace pcap_recorder::rotation {

// Limits of one directory; 0 means no limit.
struct RetentionLimits {
  std::uint64_t maxFiles = 0;
  std::uint64_t maxTotalBytes = 0;
  std::chrono::seconds maxAge{0};
  std::uint64_t minFreeBytes = 0;  // bytes free on the file system
  // retention.keep_until_shipped: max_age, max_files and max_total_size never delete a file not
  // confirmed uploaded; only min_free_space may, and then after every confirmed one.
  bool keepUntilShipped = false;
  // ship.delete_after_upload: every file confirmed uploaded goes, whatever the limits.
  bool deleteShipped = false;
};

// The limits for a directory several interfaces write into: the strictest non-zero value of each
// (the smallest maximum, the largest min_free_space, keep_until_shipped when any interface
// wants it). See the definition for why.
RetentionLimits combineLimits(std::span<const RetentionLimits> limits);

struct StoredFile {
  std::string name;  // relative to the directory
  std::uint64_t bytes = 0;
  // The older of its mtime and its ctime. Anyone who can write a file can set its mtime, to the
  // future too, but only the kernel sets the ctime (to now, on every change), so a planted file
  // with a future mtime counts as written when it was planted: it ages and goes like any other,
  // rather than sitting newest for ever while real captures are deleted before it.
  std::chrono::system_clock::time_point modified;
  bool shipped = false;  // confirmed uploaded by pcap-recorder-shipd
  // Still being finished or stored (service::FileFinisher: renamed, compressed, its sidecar
  // written) while retention runs beside it: it counts towards every limit, as its bytes are on
  // the disk, but is never deleted, not even by min_free_space: deleting the uncompressed file
  // under its compressor would only bring the compressed copy back afterwards, uncounted.
  bool inProgress = false;
  // Its companions' (index, sidecar), which go with it: they count towards max_total_size and
  // come back free with it, but are no part of the file a shipper confirmed by its size.
  std::uint64_t companionBytes = 0;
};

// A file's time for retention (see StoredFile::modified).
std::chrono::system_clock::time_point retentionTime(std::chrono::system_clock::time_point mtime,
                                                    std::chrono::system_clock::time_point ctime);

struct Deletion {
  std::string name;
  std::uint64_t bytes = 0;
  std::string reason;  // "max_files 3 exceeded (5 files)", "older than max_age 7d", ...
  // Deleted though keep_until_shipped holds it (min_free_space left no choice): warn.
  bool unshipped = false;
};

// The files to delete, oldest first (by modified time, then name), each at most once. Applies
// delete_after_upload (every shipped file), then max_age, then max_files, then max_total_size,
// then min_free_space (assuming each deletion frees the file's size), deleting no more than
// needed. With keepUntilShipped the first three limits pass over unshipped files (which still
// count towards them), and min_free_space deletes every shipped file before the oldest
// unshipped one (marked `unshipped`). A time later than `now` counts as `now` (the clock was set
// back). `files` should hold only finished own files (see listOwnFiles()) and the files still
// being finished (`inProgress`: counted, never deleted); the file being written counts towards
// none of the limits.
std::vector<Deletion> chooseDeletions(std::vector<StoredFile> files, const RetentionLimits& limits,
                                      std::chrono::system_clock::time_point now,
                                      std::uint64_t freeBytes);

struct Listing {
  std::vector<StoredFile> files;  // sorted by name
  int error = 0;                  // errno when the directory could not be read; files then empty
};

// The files retention may delete in the directory open as `directoryFd`: regular files (a
// symlink is never followed, so never listed) owned by `owner` whose names the matcher accepts,
// with size and retention time. Read through the descriptor (openat ".", fstatat), never a path,
// so a path re-pointed since the directory was opened cannot redirect it. Files that disappear
// while listing are skipped. Never throws for a failed system call. `companionSuffixes`: the
// files that go with each (NAME + suffix: its index, its sidecar), counted in companionBytes.
Listing listOwnFiles(int directoryFd, const OwnFileMatcher& matcher, uid_t owner,
                     std::span<const std::string_view> companionSuffixes = {});

}  // namespace pcap_recorder::rotation
