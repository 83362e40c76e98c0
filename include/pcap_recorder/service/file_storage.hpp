// The storing stage of finishing a file, on the finisher thread after the file has its final
// name and its index: compression when configured (the index renamed along), the SHA-256 of the
// bytes as finally stored, and the sidecar. Whatever fails here is logged and the file is still
// announced, uncompressed or without sidecar: it is whole on disk either way.
//
// A run killed between a file's rename and its announcement leaves the file whole under its final
// name, owed its index, compression, sidecar, FileFinished and hook: the empty marker
// `NAME.storing` beside it says so, and the next start stores NAME again (leftovers.hpp). The
// finisher makes it just before the rename (while the name is free: never for a file of someone
// else's that took the name) and removes it once the hook is started or queued, so storing is
// at least once: a kill in between the sidecar and that makes the next start store it again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "pcap_recorder/compress/compression.hpp"
#include "pcap_recorder/compress/file_compressor.hpp"
#include "pcap_recorder/config/config.hpp"
#include "pcap_recorder/rotation/file_naming.hpp"

namespace pcap_recorder::service {

struct FinishedFile;

struct StorageOptions {
  compress::Compression compression = compress::Compression::none;
  int level = 0;                                     // 0: the default of the compression
  std::uint64_t frameBytes = compress::kFrameBytes;  // zstd; 0: one frame
  // For the sidecar.
  std::uint32_t snaplen = 0;
  std::string filter;
  std::uint64_t lostToDisk = 0;  // frames lost to the disk while this file was open
  bool sidecar = true;
  // Hash an uncompressed file by reading it back when it comes without a hash taken as it was
  // written (output.sha256): buffered, or OpenSSL failed; not when that hash was given up, nor
  // after a failed write (file_storage.cpp says why).
  bool sha256 = true;
  compress::CompressOperations operations = compress::systemCompressOperations();
};

using rotation::kStoringSuffix;

// Creates the storing marker of `name` (an entry of `directoryFd`, the directory `directory`);
// one already there is fine. A failure is logged and storing goes on: the marker only matters
// should the run be killed.
void markStoring(int directoryFd, const std::filesystem::path& directory,
                 const std::string& name) noexcept;
// Removes it, once the file is announced. A failure is logged.
void unmarkStoring(int directoryFd, const std::filesystem::path& directory,
                   const std::string& name) noexcept;

// The options an interface's settings give.
StorageOptions storageOptionsFor(const config::InterfaceSettings& settings,
                                 std::uint64_t lostToDisk);

// Whether files written with `output` are hashed as they are written (pcap::WriterOptions::sha256):
// uncompressed files whose sidecar wants their SHA-256. A compressed file's is its compressor's.
bool hashWhileWriting(const config::OutputSettings& output) noexcept;

// Stores `finished` (at `finished.path`, an entry of `directoryFd`) as `options` say and updates
// `finished`: its path (the compressed name), storedBytes, sha256, and withoutSha256 (why there
// is none, when options.sha256 asked for one). Never throws for a failed system call or a
// compression error; logs them.
void storeFinishedFile(int directoryFd, FinishedFile& finished, const StorageOptions& options);

// At start, before `.part` files are repaired: finishes or undoes the compressions a crash
// interrupted in `directoryFd` (`names` its entries; see compress::repairInterruptedCompression),
// moving the index along to the compressed name, and logs each. Returns the names of the
// uncompressed files whose compression was undone: they are to be stored again. Never throws.
std::vector<std::string> repairCompressionLeftovers(int directoryFd,
                                                    const std::filesystem::path& directory,
                                                    const std::vector<std::string>& names,
                                                    const rotation::OwnFileMatcher& ownFiles);

}  // namespace pcap_recorder::service
