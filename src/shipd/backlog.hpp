// The finished capture files waiting to be shipped, found by scanning the interfaces' output
// directories: names their `file_name` templates make (never `.part`, `.damaged`, indexes,
// sidecars or anyone else's files), oldest finished first (modification time, then name), so
// the bucket fills in the order the files were finished.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "pcap_recorder/config/config.hpp"

namespace pcap_recorder::shipd {

struct FinishedFile {
  std::filesystem::path path;
  std::string interface;
  std::chrono::system_clock::time_point finishedAt;  // its modification time
  std::uint64_t size = 0;
};

// Every finished file of `interfaces`, in finish order. Directories that cannot be read are
// skipped and named in `problems`.
std::vector<FinishedFile> scanFinished(const std::vector<config::InterfaceSettings>& interfaces,
                                       std::vector<std::string>& problems);

}  // namespace pcap_recorder::shipd
