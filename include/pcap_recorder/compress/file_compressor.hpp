// Compressing a finished capture file where it lies, so that a crash at any moment leaves one
// whole copy: NAME is read into `NAME.zst.part` (or `.gz.part`), which is fsynced and renamed
// (never over an existing file) to `NAME.zst`; the directory is fsynced; only then is NAME
// removed. repairInterruptedCompression() settles what a crash between the steps left behind.
//
// zstd output is a sequence of independent frames, one per `frameBytes` of input (kFrameBytes by
// default), then their table in zstd's seekable format (compress/seekable.hpp): still one ordinary
// .zst file for zstdcat, but a reader that knows where the frames begin can start decompressing
// at any of them. frameBytes 0 makes one frame of the whole file and no table: Wireshark 4.0
// (Debian 12) reads only such files, as it loses its place after a frame that does not end in
// its first read.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "pcap_recorder/compress/compression.hpp"

namespace pcap_recorder::compress {

struct Frame {
  std::uint64_t uncompressedOffset = 0;  // of its first byte in the uncompressed file
  std::uint64_t storedOffset = 0;        // of the frame in the compressed file

  bool operator==(const Frame&) const = default;
};

struct CompressedFile {
  std::string name;  // the final name in the directory: NAME + ".zst" / ".gz"
  std::uint64_t inputBytes = 0;
  std::uint64_t storedBytes = 0;
  std::string sha256;  // of the stored (compressed) bytes, hex
  std::vector<Frame>
      frames;  // zstd: every frame, in order (also in the file's seek table); gzip: empty
  // A failure after the compressed file took its name (a directory fsync, removing NAME): the
  // compressed file stands, NAME may still be beside it until the next start's repair.
  std::string warning;
};

// The steps' system calls and a seam between them: `afterStep` is called with "part written"
// (fsynced, not yet renamed) and "renamed" (NAME.zst in place, NAME not yet removed); a test
// throws there to leave what a crash would.
struct CompressOperations {
  std::function<int(int fd)> fsync;
  std::function<void(std::string_view step)> afterStep;
};
CompressOperations systemCompressOperations();

// Compresses the finished file `sourceName` of `directoryFd` (see the top of this file), with
// `level` (0: the default) and, for zstd, frames of `frameBytes` of input (0: one frame). The
// compressed file gets `mode`. Throws std::system_error or std::runtime_error naming the file; NAME
// is then still there, whole, and no `.part` is left (except after a failure to remove it, which
// the next start's repair handles). Once the compressed file is in place nothing is thrown: see
// CompressedFile::warning. `compression` must not be none.
CompressedFile compressFile(int directoryFd, const std::string& sourceName, Compression compression,
                            int level, unsigned mode, std::uint64_t frameBytes = kFrameBytes,
                            const CompressOperations& operations = systemCompressOperations());

// What a crash during compressFile() may have left, for the start-up scan of a directory whose
// names are `names`; `isOwnFinished` says whether a name (without compression suffix) is one of
// the recorder's finished files. Removes `X.zst.part` / `X.gz.part` when X is there (compression
// undone: X is whole), and X when `X.zst` / `X.gz` is there (finished: that is whole and was
// fsynced before its rename). A `.part` without X is left alone (reported as kept). Never throws
// for a failed system call.
struct CompressionRepair {
  enum class Action { removedPart, removedUncompressed, keptPart, failed };
  std::string name;
  Action action = Action::failed;
  std::string message;  // for failed
};
std::vector<CompressionRepair> repairInterruptedCompression(
    int directoryFd, const std::vector<std::string>& names,
    const std::function<bool(std::string_view)>& isOwnFinished);

// Whether `name` is a compression's temporary file ("X.zst.part", "X.gz.part").
bool isCompressionPart(std::string_view name) noexcept;

}  // namespace pcap_recorder::compress
