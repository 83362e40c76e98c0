// Reading a compressed capture file back: streaming decompression of .zst (any number of
// frames) and .gz (any number of members), from the start or, for zstd, from a frame's offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "pcap_recorder/compress/compression.hpp"
#include "pcap_recorder/compress/file_compressor.hpp"

namespace pcap_recorder::compress {

class Decompressor {
 public:
  // Reads the file behind `fd` (not owned) from `storedOffset`, which must be 0 or, for zstd,
  // where a frame begins. `compression` must not be none.
  Decompressor(int fd, Compression compression, std::uint64_t storedOffset = 0);
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // Fills `into` as far as the data goes; returns how many bytes, fewer only at the end. Throws
  // std::system_error on read errors and std::runtime_error on damaged or truncated data.
  std::size_t read(std::span<std::byte> into);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Decompresses the whole file behind `inFd` into `outFd` (written from its current position).
// Returns the uncompressed size. Throws as Decompressor::read does, or for a failed write.
std::uint64_t decompressAll(int inFd, Compression compression, int outFd);

// Decompresses, of the zstd file behind `inFd` with frame table `frames`, the frames covering
// the uncompressed bytes [begin, end), writing each at its uncompressed offset in `outFd` (pwrite:
// a sparse copy with only those bytes). `totalBytes` is the uncompressed size.
void decompressRange(int inFd, const std::vector<Frame>& frames, std::uint64_t totalBytes,
                     std::uint64_t begin, std::uint64_t end, int outFd);

}  // namespace pcap_recorder::compress
