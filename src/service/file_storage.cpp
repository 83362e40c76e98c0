#include "pcap_recorder/service/file_storage.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "pcap_recorder/compress/sha256.hpp"
#include "pcap_recorder/index/file_index.hpp"
#include "pcap_recorder/service/file_finisher.hpp"
#include "pcap_recorder/service/sidecar.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "pcap_recorder/version.hpp"

namespace pcap_recorder::service {

namespace {

std::string hashStored(int directoryFd, const std::string& name) {
  // Read past the page cache where the file system allows it: through it, the read-back filled
  // the cache with every file (+8.7 GB in the 9 GB disk run with `direct_io: off`) and cost a
  // copy per byte (docs/benchmarks.md).
  constexpr int kFlags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC;
  util::UniqueFd fd(::openat(directoryFd, name.c_str(), kFlags | O_DIRECT));
  if (!fd.valid() && errno == EINVAL)
    fd = util::UniqueFd(::openat(directoryFd, name.c_str(), kFlags));
  if (!fd.valid()) throw std::system_error(errno, std::generic_category(), "open " + name);
  return compress::sha256OfFile(fd.get());
}

}  // namespace

void markStoring(int directoryFd, const std::filesystem::path& directory,
                 const std::string& name) noexcept {
  const std::string marker = name + std::string(kStoringSuffix);
  // No fsync: the marker is for a killed process, whose writes the kernel still completes.
  const int fd = ::openat(directoryFd, marker.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
  } else if (errno != EEXIST) {
    spdlog::warn(
        "{}: cannot create {} (should this run be killed before {} is stored, the next "
        "start will not store it again): {}",
        directory.string(), marker, name, std::strerror(errno));
  }
}

void unmarkStoring(int directoryFd, const std::filesystem::path& directory,
                   const std::string& name) noexcept {
  const std::string marker = name + std::string(kStoringSuffix);
  if (::unlinkat(directoryFd, marker.c_str(), 0) != 0 && errno != ENOENT) {
    spdlog::warn("{}: cannot remove {} (the next start will store {} again): {}",
                 directory.string(), marker, name, std::strerror(errno));
  }
}

StorageOptions storageOptionsFor(const config::InterfaceSettings& settings,
                                 std::uint64_t lostToDisk) {
  StorageOptions options;
  options.snaplen = settings.output.snaplen;
  options.filter = settings.filter;
  options.lostToDisk = lostToDisk;
  options.compression = settings.output.compression;
  options.level = static_cast<int>(settings.output.compressionLevel);
  options.frameBytes = settings.output.compressionFrameBytes;
  options.sha256 = settings.output.sha256;
  return options;
}

bool hashWhileWriting(const config::OutputSettings& output) noexcept {
  return output.sha256 && output.compression == compress::Compression::none;
}

void storeFinishedFile(int directoryFd, FinishedFile& finished, const StorageOptions& options) {
  const std::string name = finished.path.filename().string();
  struct stat status {};
  if (::fstatat(directoryFd, name.c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0) {
    spdlog::error("{}: cannot store {}: {}", finished.interface, finished.path.string(),
                  std::strerror(errno));
    if (options.sha256 && finished.sha256.empty() && finished.withoutSha256 == WithoutSha256::no) {
      finished.withoutSha256 = WithoutSha256::failed;
    }
    return;
  }
  const unsigned mode = status.st_mode & 0666;
  finished.storedBytes = static_cast<std::uint64_t>(status.st_size);
  auto compression = compress::Compression::none;
  if (options.compression != compress::Compression::none) {
    try {
      const auto compressed =
          compress::compressFile(directoryFd, name, options.compression,
                                 compress::effectiveLevel(options.compression, options.level), mode,
                                 options.frameBytes, options.operations);
      compression = options.compression;
      if (!compressed.warning.empty()) {
        spdlog::warn("{}: {}", finished.interface, compressed.warning);
      }
      // The index describes the uncompressed bytes and goes with the stored name.
      const auto indexName = index::indexPathFor(name).string();
      const auto newIndexName = index::indexPathFor(compressed.name).string();
      ::renameat(directoryFd, indexName.c_str(), directoryFd, newIndexName.c_str());
      finished.path = finished.path.parent_path() / compressed.name;
      finished.storedBytes = compressed.storedBytes;
      finished.sha256 = compressed.sha256;
    } catch (const std::exception& error) {
      spdlog::error("{}: cannot compress {}, kept uncompressed: {}", finished.interface,
                    finished.path.string(), error.what());
    }
  }
  const std::string stored = finished.path.filename().string();
  // An uncompressed file written with direct I/O comes with the hash of its bytes taken as they
  // were written (pcap::FileSummary::sha256). Read back when that is missing: a buffered file
  // (on tmpfs, from memory; the capture thread does not hash), an OpenSSL failure. Not when the
  // hash was given up for falling behind the traffic: reading back would compete with capture
  // for the CPU and with the next file's writes for the disk at just that moment. Nor after a
  // failed write: the file is whole (cut to its last record) and would hash right, but its disk
  // is full or failing: reading up to a whole file back would hold the next files up behind it
  // on this one thread while capture waits for room, and a failing disk may not even answer. The
  // shipper hashes a file whose sidecar has no hash.
  if (!finished.sha256.empty()) {
    finished.withoutSha256 = WithoutSha256::no;  // the compressor's
  } else if (options.sha256 && finished.withoutSha256 == WithoutSha256::no) {
    if (finished.writeFailed) {
      finished.withoutSha256 = WithoutSha256::writeFailed;
    } else {
      try {
        finished.sha256 = hashStored(directoryFd, stored);
      } catch (const std::exception& error) {
        finished.withoutSha256 = WithoutSha256::failed;
        spdlog::error("{}: cannot hash {}: {}", finished.interface, finished.path.string(),
                      error.what());
      }
    }
  }
  if (!options.sidecar) return;
  try {
    SidecarFields fields{
        .interface = finished.interface,
        .file = stored,
        .path = finished.path.string(),
        .packets = finished.packets,
        .bytes = finished.bytes,
        .storedBytes = finished.storedBytes,
        .compression = std::string(compress::nameOf(compression)),
        .firstPacket = {},
        .lastPacket = {},
        .kernelDrops = finished.kernelDrops,
        .lostToDisk = options.lostToDisk,
        .sha256 = finished.sha256,
        .snaplen = options.snaplen,
        .filter = options.filter,
        .host = hostName(),
        .version = kVersion,
        .reason = finished.reason,
    };
    if (finished.packets > 0) {
      fields.firstPacket = finished.firstPacket;
      fields.lastPacket = finished.lastPacket;
    }
    writeSidecar(directoryFd, stored, sidecarJson(fields), mode);
  } catch (const std::exception& error) {
    spdlog::error("{}: cannot write the sidecar of {}: {}", finished.interface,
                  finished.path.string(), error.what());
  }
}

std::vector<std::string> repairCompressionLeftovers(int directoryFd,
                                                    const std::filesystem::path& directory,
                                                    const std::vector<std::string>& names,
                                                    const rotation::OwnFileMatcher& ownFiles) {
  using Action = compress::CompressionRepair::Action;
  std::vector<std::string> undone;
  try {
    const auto repairs = compress::repairInterruptedCompression(
        directoryFd, names, [&](std::string_view name) { return ownFiles.isFinishedFile(name); });
    for (const auto& repair : repairs) {
      switch (repair.action) {
        case Action::removedPart: {
          spdlog::warn(
              "{}: removed {}, a compression an earlier run did not finish; the "
              "uncompressed file is kept and stored again",
              directory.string(), repair.name);
          std::string_view original = repair.name;
          original.remove_suffix(std::string_view(rotation::kPartSuffix).size());
          undone.emplace_back(compress::withoutCompressionSuffix(original));
          break;
        }
        case Action::removedUncompressed: {
          spdlog::warn(
              "{}: removed {}, compressed by an earlier run that stopped before removing "
              "it",
              directory.string(), repair.name);
          // Its index, if not moved yet, goes to the compressed name.
          for (const std::string_view suffix : rotation::kCompressionSuffixes) {
            const std::string stored = repair.name + std::string(suffix);
            if (std::find(names.begin(), names.end(), stored) == names.end()) continue;
            const auto from = index::indexPathFor(repair.name).string();
            const auto to = index::indexPathFor(stored).string();
            ::renameat2(directoryFd, from.c_str(), directoryFd, to.c_str(), RENAME_NOREPLACE);
          }
          break;
        }
        case Action::keptPart:
          spdlog::error(
              "{}: {} is an unfinished compression without its uncompressed file; "
              "left for a human to look at",
              directory.string(), repair.name);
          break;
        case Action::failed:
          spdlog::error("{}: cannot remove {}: {}", directory.string(), repair.name,
                        repair.message);
          break;
      }
    }
  } catch (const std::exception& error) {
    spdlog::error("{}: cannot settle interrupted compressions: {}", directory.string(),
                  error.what());
  }
  return undone;
}

}  // namespace pcap_recorder::service
