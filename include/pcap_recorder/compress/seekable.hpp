// zstd's seekable format (zstd's contrib/seekable_format, version 0.1.0): the frame table of a
// .zst file as a skippable frame at its end, which zstdcat, libzstd's streaming decoder and
// Wireshark skip; and reading a file's uncompressed bytes at any offset by decompressing only the
// frames that hold them.
//
// The table is part of the compressed file itself (written into the `.part` before its fsync and
// rename, covered by the sidecar's sha256), so it cannot go stale or get lost apart from the data
// it describes; a file without one (gzip, or a .zst from elsewhere) is read from its start.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pcap_recorder/compress/file_compressor.hpp"

namespace pcap_recorder::compress {

inline constexpr std::uint32_t kSeekTableFrameMagic = 0x184D2A5E;  // a zstd skippable frame
inline constexpr std::uint32_t kSeekableMagic = 0x8F92EAB1;        // ends the footer
inline constexpr std::size_t kSeekTableFooterBytes = 9;
// A frame larger than this is refused when reading a table: the whole frame is held in memory.
inline constexpr std::uint64_t kMaxSeekableFrameBytes = 64u << 20;

struct SeekTable {
  std::vector<Frame> frames;            // in order; the first at 0, 0
  std::uint64_t uncompressedBytes = 0;  // the whole file's, decompressed
  std::uint64_t framesEnd = 0;          // where the last frame ends and the table begins

  // The frame's end offsets: the next frame's start, or the totals for the last one.
  std::uint64_t uncompressedEnd(std::size_t frame) const noexcept;
  std::uint64_t storedEnd(std::size_t frame) const noexcept;
};

// The table's skippable frame for `frames` (as compressFile records them), the last of which
// ends at `uncompressedBytes` and `framesEnd`. Entries without the optional checksum: every frame
// carries its own content checksum already.
std::vector<std::byte> encodeSeekTable(const std::vector<Frame>& frames,
                                       std::uint64_t uncompressedBytes, std::uint64_t framesEnd);

// The table at the end of the file behind `fd` of `fileBytes` bytes; nullopt (and `problem`) when
// there is none or it does not describe the file (its frames must fill it up to the table).
// Throws std::system_error on read errors.
std::optional<SeekTable> readSeekTable(int fd, std::uint64_t fileBytes, std::string& problem);

// A zstd decompression context and its input buffer, shared by the readers of one query (creating
// them per file cost more than decoding a pcap header). Used by one thread at a time.
class FrameDecoder {
 public:
  FrameDecoder();
  ~FrameDecoder();
  FrameDecoder(const FrameDecoder&) = delete;
  FrameDecoder& operator=(const FrameDecoder&) = delete;

 private:
  friend class SeekableReader;
  struct Context;
  std::unique_ptr<Context> context_;
  std::vector<std::byte> input_;
  std::vector<std::byte> head_;
};

// Reads the uncompressed bytes of a seekable .zst file at any offset. Keeps the last frame it
// decompressed, so a walk forward decompresses each frame once. A short read (up to 64 KiB) of
// the start of a frame it does not hold (a pcap header) decodes only the first zstd blocks of it.
class SeekableReader {
 public:
  // `fd` is not owned and must outlive the reader; so must `decoder`.
  SeekableReader(int fd, SeekTable table, FrameDecoder& decoder);
  ~SeekableReader();
  SeekableReader(const SeekableReader&) = delete;
  SeekableReader& operator=(const SeekableReader&) = delete;

  std::uint64_t size() const noexcept { return table_.uncompressedBytes; }
  // Fills `into` from uncompressed `offset`; fewer bytes only at the end. Throws
  // std::system_error on read errors and std::runtime_error on damaged data.
  std::size_t readAt(std::span<std::byte> into, std::uint64_t offset);

  // Frames decompressed whole, and frames whose start only was decoded (see above).
  std::uint64_t framesDecompressed() const noexcept { return framesDecompressed_; }
  std::uint64_t framesPeeked() const noexcept { return framesPeeked_; }
  // Compressed bytes read so far.
  std::uint64_t storedBytesRead() const noexcept { return storedBytesRead_; }

 private:
  void load(std::size_t frame);
  std::size_t peek(std::size_t frame, std::span<std::byte> into, std::uint64_t within);

  int fd_;
  SeekTable table_;
  FrameDecoder& decoder_;
  // The uncompressed bytes of frame `loaded_` (allocated once, not zeroed).
  std::unique_ptr<std::byte[]> frame_;
  std::size_t frameCapacity_ = 0;
  std::optional<std::size_t> loaded_;
  std::uint64_t framesDecompressed_ = 0;
  std::uint64_t framesPeeked_ = 0;
  std::uint64_t storedBytesRead_ = 0;
};

}  // namespace pcap_recorder::compress
