// The sidecar `NAME.json` beside each finished file (`x.pcap.json`, `x.pcap.zst.json`): what
// other systems (Arkime, Zeek, object stores, chain-of-custody tools) need to take the file
// without opening it, the SHA-256 of its bytes as stored among them. Written before the file is
// announced (hook, FileFinished), so whoever hears of a file finds its sidecar.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pcap_recorder/pcap/file_writer.hpp"

namespace pcap_recorder::service {

inline constexpr std::string_view kSidecarSuffix = ".json";

struct SidecarFields {
  std::string interface;
  std::string file;  // the stored file's name, without directory
  std::string path;  // its full path
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;  // of the pcap, uncompressed
  std::uint64_t storedBytes = 0;
  std::string compression;                     // "none", "gzip", "zstd"
  std::optional<pcap::Timestamp> firstPacket;  // none for a file without packets
  std::optional<pcap::Timestamp> lastPacket;
  std::uint64_t kernelDrops = 0;
  std::uint64_t lostToDisk = 0;
  std::string sha256;
  std::uint32_t snaplen = 0;
  std::string filter;
  std::string host;
  std::string version;
  std::string reason;
};

// "2026-12-02T03:04:05.123456Z": RFC 3339 in UTC; 9 digits of fraction when the time has
// nanoseconds, 6 otherwise.
std::string rfc3339(const pcap::Timestamp& time);

// The sidecar's text: one JSON object, keys in a fixed order, ending in a newline.
std::string sidecarJson(const SidecarFields& fields);

// Writes `text` as `storedName` + ".json" in `directoryFd`: a temporary name, fsync, rename over
// any older one, directory fsync. `mode` as the stored file's. Throws std::system_error.
void writeSidecar(int directoryFd, const std::string& storedName, std::string_view text,
                  unsigned mode);

// The machine's name, for the sidecar's `host`.
std::string hostName();

}  // namespace pcap_recorder::service
