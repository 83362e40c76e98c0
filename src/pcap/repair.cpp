#include "pcap_recorder/pcap/repair.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <vector>

#include "pcap_recorder/pcap/file_writer.hpp"
#include "pcap_recorder/util/system_error.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::pcap {

namespace {

// Why a page: the kernel reads at least that much for any read, and one window holds the
// headers of dozens of small records, so a file of 64-byte frames costs one read per page rather
// than one per record, while a file of large frames still skips their data.
constexpr std::size_t kWindowBytes = 4096;
constexpr unsigned kMaxNameAttempts = 10000;  // as PcapFileWriter

std::uint16_t swapped(std::uint16_t value) {
  return __builtin_bswap16(value);
}
std::uint32_t swapped(std::uint32_t value) {
  return __builtin_bswap32(value);
}
std::int32_t swapped(std::int32_t value) {
  return static_cast<std::int32_t>(__builtin_bswap32(static_cast<std::uint32_t>(value)));
}

std::string hex32(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08X", value);
  return text;
}

std::string at(std::uint64_t recordNumber, std::uint64_t offset) {
  return "record " + std::to_string(recordNumber) + " at offset " + std::to_string(offset);
}

// Reads small pieces at increasing offsets through one window.
class WindowReader {
 public:
  WindowReader(const ReadAt& readAt, std::uint64_t fileSize)
      : readAt_(readAt), fileSize_(fileSize), window_(kWindowBytes) {}

  // Copies into.size() bytes from `offset`; false when the file ends before they do.
  bool read(std::uint64_t offset, std::span<std::byte> into) {
    if (offset < start_ || offset + into.size() > start_ + filled_) fill(offset);
    if (offset + into.size() > start_ + filled_) return false;
    std::memcpy(into.data(), window_.data() + (offset - start_), into.size());
    return true;
  }

 private:
  void fill(std::uint64_t offset) {
    start_ = offset;
    filled_ = 0;
    const std::size_t want =
        offset >= fileSize_ ? 0 : std::min<std::uint64_t>(window_.size(), fileSize_ - offset);
    // Why a loop: a ReadAt may return less than asked before the end (a pipe-like source, a
    // signal); only a read of nothing ends the file.
    while (filled_ < want) {
      const std::size_t n =
          readAt_(offset + filled_, std::span(window_.data() + filled_, want - filled_));
      if (n == 0) break;
      filled_ += std::min(n, want - filled_);
    }
  }

  const ReadAt& readAt_;
  std::uint64_t fileSize_;
  std::vector<std::byte> window_;
  std::uint64_t start_ = 0;
  std::size_t filled_ = 0;
};

// Empty when the header is one this module may repair; else what is wrong with it.
std::string checkHeader(FileHeader& header, ScanResult& result) {
  switch (header.magic) {
    case kMagicMicroseconds:
      break;
    case kMagicNanoseconds:
      result.unit = TimestampUnit::nanoseconds;
      break;
    default:
      if (swapped(header.magic) == kMagicMicroseconds) {
        result.byteSwapped = true;
      } else if (swapped(header.magic) == kMagicNanoseconds) {
        result.byteSwapped = true;
        result.unit = TimestampUnit::nanoseconds;
      } else {
        return "unknown magic " + hex32(header.magic);
      }
  }
  if (result.byteSwapped) {
    header.versionMajor = swapped(header.versionMajor);
    header.versionMinor = swapped(header.versionMinor);
    header.thisZone = swapped(header.thisZone);
    header.sigFigs = swapped(header.sigFigs);
    header.snaplen = swapped(header.snaplen);
    header.linkType = swapped(header.linkType);
  }
  if (header.versionMajor != 2 || header.versionMinor != 4) {
    return "version " + std::to_string(header.versionMajor) + "." +
           std::to_string(header.versionMinor) + ", not 2.4";
  }
  if (header.snaplen == 0) return "snaplen 0";
  if (header.snaplen > kMaxSnaplen) {
    return "snaplen " + std::to_string(header.snaplen) + " above " + std::to_string(kMaxSnaplen);
  }
  if (header.linkType != kLinkTypeEthernet) {
    return "link type " + std::to_string(header.linkType) + ", not Ethernet (1)";
  }
  result.snaplen = header.snaplen;
  return {};
}

// Empty when the record can be one the writer wrote; else why not.
std::string checkRecord(const RecordHeader& record, const ScanResult& scan) {
  if (record.includedLength > scan.snaplen) {
    return "incl_len " + std::to_string(record.includedLength) + " above snaplen " +
           std::to_string(scan.snaplen);
  }
  if (record.includedLength > record.originalLength) {
    return "incl_len " + std::to_string(record.includedLength) + " above orig_len " +
           std::to_string(record.originalLength);
  }
  // Why: after a power loss the file system may show blocks that never got their data as zeros;
  // an all-zero header would otherwise pass as an empty record, 16 bytes at a time.
  if (record.originalLength == 0) return "orig_len 0";
  const std::uint32_t second =
      scan.unit == TimestampUnit::nanoseconds ? 1'000'000'000u : 1'000'000u;
  if (record.fraction >= second) {
    return "fraction of a second " + std::to_string(record.fraction) + " not below " +
           std::to_string(second);
  }
  return {};
}

RepairResult failure(int errnoValue, const std::string& what) {
  RepairResult result;
  result.outcome = RepairOutcome::failed;
  result.errnoValue = errnoValue;
  result.message = what + ": " + std::strerror(errnoValue);
  return result;
}

struct Renamed {
  std::string name;  // empty when failed
  int errnoValue = 0;
  std::string candidate;  // the name the failed attempt was for
};

// Renames `from` to the first name `nameFor(0)`, `nameFor(1)`, ... that is free. Why
// RENAME_NOREPLACE rather than a check and a rename: another process (or an operator) may create
// the name between the two, and a capture file must never replace anything.
template <typename NameFor>
Renamed renameToFreeName(int directoryFd, const std::string& from, NameFor nameFor) {
  for (unsigned attempt = 0; attempt < kMaxNameAttempts; ++attempt) {
    auto candidate = nameFor(attempt);
    if (::renameat2(directoryFd, from.c_str(), directoryFd, candidate.c_str(), RENAME_NOREPLACE) ==
        0) {
      return Renamed{std::move(candidate), 0, {}};
    }
    if (errno != EEXIST) return Renamed{{}, errno, std::move(candidate)};
  }
  return Renamed{{}, EEXIST, nameFor(0) + " and " + std::to_string(kMaxNameAttempts - 1) + " more"};
}

}  // namespace

ReadAt preadAt(int fd, const std::string& name) {
  return [fd, &name](std::uint64_t offset, std::span<std::byte> into) -> std::size_t {
    std::size_t done = 0;
    while (done < into.size()) {
      const ssize_t n =
          ::pread(fd, into.data() + done, into.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) util::throwErrno("cannot read " + name);
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    return done;
  };
}

ScanResult scanPcap(const ReadAt& readAt, std::uint64_t fileSize) {
  ScanResult result;
  WindowReader reader(readAt, fileSize);
  FileHeader header;
  if (fileSize < sizeof header || !reader.read(0, std::as_writable_bytes(std::span(&header, 1)))) {
    result.headerProblem =
        "shorter than the 24-byte file header (" + std::to_string(fileSize) + " bytes)";
    return result;
  }
  result.headerProblem = checkHeader(header, result);
  if (!result.headerProblem.empty()) return result;
  result.headerValid = true;

  std::uint64_t offset = sizeof header;
  result.completeBytes = offset;
  while (offset < fileSize) {
    const auto where = at(result.records + 1, offset);
    RecordHeader record;
    if (fileSize - offset < sizeof record) {
      result.tailProblem = "file ends inside the header of " + where;
      break;
    }
    if (!reader.read(offset, std::as_writable_bytes(std::span(&record, 1)))) {
      result.tailProblem = "file shrank while being read, in the header of " + where;
      break;
    }
    if (result.byteSwapped) {
      record.seconds = swapped(record.seconds);
      record.fraction = swapped(record.fraction);
      record.includedLength = swapped(record.includedLength);
      record.originalLength = swapped(record.originalLength);
    }
    if (auto problem = checkRecord(record, result); !problem.empty()) {
      result.tailProblem = where + ": " + problem;
      break;
    }
    const std::uint64_t end = offset + sizeof record + record.includedLength;
    if (end > fileSize) {
      result.tailProblem = "file ends inside the data of " + where;
      break;
    }
    offset = end;
    result.completeBytes = end;
    const Timestamp time{record.seconds, result.unit == TimestampUnit::nanoseconds
                                             ? record.fraction
                                             : record.fraction * 1000u};
    if (result.records == 0) result.firstPacket = time;
    result.lastPacket = time;
    ++result.records;
  }
  return result;
}

ScanResult scanPcap(std::span<const std::byte> wholeFile) {
  const ReadAt fromMemory = [wholeFile](std::uint64_t offset,
                                        std::span<std::byte> into) -> std::size_t {
    if (offset >= wholeFile.size()) return 0;
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(into.size(), wholeFile.size() - offset));
    std::memcpy(into.data(), wholeFile.data() + offset, n);
    return n;
  };
  return scanPcap(fromMemory, wholeFile.size());
}

RepairResult repairPartFile(int directoryFd, const std::string& partName) {
  const std::string partSuffix = kPartSuffix;
  // Why refuse a '/': the name must be an entry of this directory, not a path leading elsewhere.
  if (partName.size() <= partSuffix.size() || !partName.ends_with(partSuffix) ||
      partName.find('/') != std::string::npos) {
    return failure(EINVAL, "'" + partName + "' is not the name of a .part file");
  }
  const auto finalName = partName.substr(0, partName.size() - partSuffix.size());

  util::UniqueFd fd(::openat(directoryFd, partName.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return failure(errno, "cannot open " + partName);
  struct stat status;
  if (::fstat(fd.get(), &status) != 0) return failure(errno, "cannot stat " + partName);
  if (!S_ISREG(status.st_mode)) return failure(EINVAL, partName + " is not a regular file");
  const auto fileSize = static_cast<std::uint64_t>(status.st_size);
  if (fileSize == 0) {
    if (::unlinkat(directoryFd, partName.c_str(), 0) != 0) {
      return failure(errno, "cannot remove " + partName + ", which holds no bytes");
    }
    ::fsync(directoryFd);
    RepairResult result;
    result.outcome = RepairOutcome::removedEmpty;
    return result;
  }

  ScanResult scan;
  try {
    scan = scanPcap(preadAt(fd.get(), partName), fileSize);
  } catch (const std::system_error& error) {
    RepairResult result = failure(error.code().value(), "");
    result.message = error.what();
    return result;
  }

  RepairResult result;
  if (!scan.headerValid) {
    // Why not cut or remove it: with a header that is not ours we cannot know what the bytes are;
    // they may be the only copy of someone's capture. fsync so what is set aside is what is seen.
    ::fsync(fd.get());
    const auto renamed = renameToFreeName(directoryFd, partName, [&](unsigned n) {
      return nameWithSuffix(finalName, n) + kDamagedSuffix;
    });
    if (renamed.name.empty()) {
      return failure(renamed.errnoValue, "cannot rename " + partName + " to " + renamed.candidate);
    }
    result.outcome = RepairOutcome::setAside;
    result.finalName = renamed.name;
    result.bytesKept = fileSize;
    result.message = scan.headerProblem;
  } else {
    if (scan.completeBytes < fileSize &&
        ::ftruncate(fd.get(), static_cast<off_t>(scan.completeBytes)) != 0) {
      return failure(
          errno, "cannot cut " + partName + " to " + std::to_string(scan.completeBytes) + " bytes");
    }
    if (scan.completeBytes == fileSize) {
      // Gives back what a direct writer reserved past the end (fallocate KEEP_SIZE), which a
      // cut to the same size frees too. Best effort: the records are whole either way.
      [[maybe_unused]] const int ignored =
          ::ftruncate(fd.get(), static_cast<off_t>(scan.completeBytes));
    }
    // Why before the rename: a final name must never point at data that a power loss can still
    // take away; until then the file keeps its .part name and is repaired again on the next start.
    if (::fsync(fd.get()) != 0) return failure(errno, "cannot fsync " + partName);
    const auto renamed = renameToFreeName(directoryFd, partName,
                                          [&](unsigned n) { return nameWithSuffix(finalName, n); });
    if (renamed.name.empty()) {
      return failure(renamed.errnoValue, "cannot rename " + partName + " to " + renamed.candidate);
    }
    result.outcome = RepairOutcome::finished;
    result.finalName = renamed.name;
    result.recordsKept = scan.records;
    result.bytesKept = scan.completeBytes;
    result.bytesCut = fileSize - scan.completeBytes;
    result.firstPacket = scan.firstPacket;
    result.lastPacket = scan.lastPacket;
    result.message = scan.tailProblem;
  }
  // Why: the rename is durable only once the directory itself is on disk. A failure here is not
  // worth failing the repair for: the file is whole either way, under one name or the other.
  ::fsync(directoryFd);
  return result;
}

}  // namespace pcap_recorder::pcap
