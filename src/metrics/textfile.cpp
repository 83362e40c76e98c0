#include "pcap_recorder/metrics/textfile.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <tuple>

#include "pcap_recorder/pcap/format.hpp"
#include "pcap_recorder/rotation/retention.hpp"
#include "pcap_recorder/util/system_error.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::metrics {

namespace fs = std::filesystem;

namespace {

constexpr mode_t kTextfileMode = 0644;

std::uint32_t swapped(std::uint32_t value) {
  return __builtin_bswap32(value);
}

void writeAll(int fd, std::string_view text, const std::string& name) {
  while (!text.empty()) {
    const ssize_t written = ::write(fd, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      util::throwErrno("cannot write " + name);
    }
    text.remove_prefix(static_cast<std::size_t>(written));
  }
}

}  // namespace

void writeTextfile(const fs::path& path, std::string_view text) {
  const fs::path directory = path.has_parent_path() ? path.parent_path() : fs::path(".");
  // Built step by step: GCC 12 at -O3 warns (-Wrestrict, falsely) about "." + std::string&&.
  std::string temporaryName = ".";
  temporaryName += path.filename().string();
  temporaryName += ".tmp";
  const fs::path temporary = directory / temporaryName;
  util::UniqueFd file(::open(temporary.c_str(),
                             O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, kTextfileMode));
  if (!file.valid()) util::throwErrno("cannot create " + temporary.string());
  try {
    if (::fchmod(file.get(), kTextfileMode) != 0) {
      util::throwErrno("cannot set the mode of " + temporary.string());
    }
    writeAll(file.get(), text, temporary.string());
    if (::fsync(file.get()) != 0) util::throwErrno("cannot fsync " + temporary.string());
    file.reset();
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
      util::throwErrno("cannot rename " + temporary.string() + " to " + path.string());
    }
  } catch (...) {
    file.reset();
    ::unlink(temporary.c_str());
    throw;
  }
  // The rename is durable with its directory; a failure here leaves the new file in place.
  util::UniqueFd directoryFd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (directoryFd.valid()) ::fsync(directoryFd.get());
}

std::optional<double> firstPacketTime(int fd) {
  unsigned char bytes[sizeof(pcap::FileHeader) + sizeof(pcap::RecordHeader)];
  if (::pread(fd, bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    return std::nullopt;
  }
  pcap::FileHeader header;
  pcap::RecordHeader record;
  std::memcpy(&header, bytes, sizeof header);
  std::memcpy(&record, bytes + sizeof header, sizeof record);
  bool nanoseconds;
  if (header.magic == pcap::kMagicMicroseconds || header.magic == pcap::kMagicNanoseconds) {
    nanoseconds = header.magic == pcap::kMagicNanoseconds;
  } else if (swapped(header.magic) == pcap::kMagicMicroseconds ||
             swapped(header.magic) == pcap::kMagicNanoseconds) {
    nanoseconds = swapped(header.magic) == pcap::kMagicNanoseconds;
    record.seconds = swapped(record.seconds);
    record.fraction = swapped(record.fraction);
  } else {
    return std::nullopt;
  }
  return record.seconds + record.fraction / (nanoseconds ? 1e9 : 1e6);
}

DirectorySample sampleDirectory(const fs::path& directory,
                                const rotation::OwnFileMatcher& ownFiles) {
  DirectorySample sample{.directory = directory.string()};
  util::UniqueFd directoryFd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directoryFd.valid()) return sample;
  struct statvfs fileSystem;
  if (::fstatvfs(directoryFd.get(), &fileSystem) == 0) {
    sample.freeBytes = std::uint64_t{fileSystem.f_bavail} * fileSystem.f_frsize;
  }
  auto listing = rotation::listOwnFiles(directoryFd.get(), ownFiles, ::geteuid());
  if (listing.files.empty()) return sample;
  // Retention deletes by this order too: the oldest by it is the next to go.
  const auto oldest = std::min_element(
      listing.files.begin(), listing.files.end(), [](const auto& left, const auto& right) {
        return std::tie(left.modified, left.name) < std::tie(right.modified, right.name);
      });
  util::UniqueFd file(
      ::openat(directoryFd.get(), oldest->name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (file.valid()) sample.oldestFileTimestamp = firstPacketTime(file.get());
  if (!sample.oldestFileTimestamp) {
    sample.oldestFileTimestamp =
        std::chrono::duration<double>(oldest->modified.time_since_epoch()).count();
  }
  return sample;
}

}  // namespace pcap_recorder::metrics
