#include "pcap_recorder/compress/compression.hpp"

namespace pcap_recorder::compress {

std::string_view nameOf(Compression compression) noexcept {
  switch (compression) {
    case Compression::gzip:
      return "gzip";
    case Compression::zstd:
      return "zstd";
    case Compression::none:
      break;
  }
  return "none";
}

std::optional<Compression> parseCompression(std::string_view text) noexcept {
  if (text == "none") return Compression::none;
  if (text == "gzip") return Compression::gzip;
  if (text == "zstd") return Compression::zstd;
  return std::nullopt;
}

std::string_view suffixOf(Compression compression) noexcept {
  switch (compression) {
    case Compression::gzip:
      return kGzipSuffix;
    case Compression::zstd:
      return kZstdSuffix;
    case Compression::none:
      break;
  }
  return {};
}

Compression compressionOfName(std::string_view name) noexcept {
  if (name.ends_with(kZstdSuffix)) return Compression::zstd;
  if (name.ends_with(kGzipSuffix)) return Compression::gzip;
  return Compression::none;
}

std::string_view withoutCompressionSuffix(std::string_view name) noexcept {
  name.remove_suffix(suffixOf(compressionOfName(name)).size());
  return name;
}

int minLevel(Compression compression) noexcept {
  return compression == Compression::gzip ? kGzipMinLevel : kZstdMinLevel;
}

int maxLevel(Compression compression) noexcept {
  return compression == Compression::gzip ? kGzipMaxLevel : kZstdMaxLevel;
}

int effectiveLevel(Compression compression, int level) noexcept {
  if (level != 0) return level;
  return compression == Compression::gzip ? kGzipDefaultLevel : kZstdDefaultLevel;
}

}  // namespace pcap_recorder::compress
