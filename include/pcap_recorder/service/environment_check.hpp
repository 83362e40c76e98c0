// The checks of a config that need this machine: every filter compiles, every interface that
// exists carries Ethernet (one that does not exist is waited for), every output directory is (or
// can be made) a writable directory.
// Writes nothing, so `--check-config` is safe on a running system.
#pragma once

#include <vector>

#include "pcap_recorder/config/config.hpp"

namespace pcap_recorder::service {

std::vector<config::Problem> checkEnvironment(const config::Config& config);

// Things that work but are unsafe: a config file, or an output directory, that users other than
// its owner can write (they could redirect the capture, or plant files and symlinks).
std::vector<std::string> permissionWarnings(const config::Config& config);

}  // namespace pcap_recorder::service
