// The capture store a config describes: the files each interface wrote into its output directory
// (finished files and `.part` files still being written), found by the interfaces' file_name
// templates, read straight from the directories (no daemon needed).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "pcap_recorder/config/config.hpp"

namespace pcap_recorder::ctl {

struct StoreFile {
  std::filesystem::path path;
  std::string interface;
  bool part = false;  // still being written
};

// The files of `interfaces` (every configured one when empty), sorted by path. Throws
// std::invalid_argument naming an interface the config does not have; a directory that cannot be
// read is reported in `problems` and skipped.
std::vector<StoreFile> listStore(const config::Config& config,
                                 const std::vector<std::string>& interfaces,
                                 std::vector<std::string>& problems);

}  // namespace pcap_recorder::ctl
