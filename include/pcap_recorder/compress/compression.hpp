// What a finished capture file may be compressed with, and the names that says: `NAME.pcap.zst`
// and `NAME.pcap.gz` beside (never instead of) the file-name grammar of rotation/file_naming.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pcap_recorder::compress {

enum class Compression { none, gzip, zstd };

inline constexpr std::string_view kZstdSuffix = ".zst";
inline constexpr std::string_view kGzipSuffix = ".gz";

// zstd writes independent frames of this much uncompressed input (the last one shorter), so a
// reader can start decompressing at any frame (output.compression_frame_size; 0: one frame).
inline constexpr std::uint64_t kFrameBytes = 1u << 20;
inline constexpr std::uint64_t kMinFrameBytes = 64u << 10;
inline constexpr std::uint64_t kMaxFrameBytes = 64u << 20;  // what a seeking reader accepts

// The levels `output.compression_level` takes for each, and the default (the key absent).
inline constexpr int kZstdMinLevel = 1;
inline constexpr int kZstdMaxLevel = 19;
inline constexpr int kZstdDefaultLevel = 3;
inline constexpr int kGzipMinLevel = 1;
inline constexpr int kGzipMaxLevel = 9;
// zlib's fastest: gzip is far slower than zstd at any level, and its own default (6) slower still.
inline constexpr int kGzipDefaultLevel = 1;

// "none", "gzip", "zstd".
std::string_view nameOf(Compression compression) noexcept;
std::optional<Compression> parseCompression(std::string_view text) noexcept;
// ".zst", ".gz", or "" for none.
std::string_view suffixOf(Compression compression) noexcept;
// The compression a stored name's suffix says: zstd for "x.pcap.zst", none for "x.pcap".
Compression compressionOfName(std::string_view name) noexcept;
// `name` without a compression suffix ("x.pcap.zst" -> "x.pcap").
std::string_view withoutCompressionSuffix(std::string_view name) noexcept;
// The level used for `level` (0: the default of `compression`).
int effectiveLevel(Compression compression, int level) noexcept;
int minLevel(Compression compression) noexcept;
int maxLevel(Compression compression) noexcept;

}  // namespace pcap_recorder::compress
