// The checks of a config that need this machine: every filter compiles (in time, and to a program
// the kernel takes), every interface that
// exists carries Ethernet (one that does not exist is waited for), every output directory is (or
// can be made) a writable directory.
// Writes nothing, so `--check-config` is safe on a running system.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "pcap_recorder/bpf/filter.hpp"
#include "pcap_recorder/config/config.hpp"

namespace pcap_recorder::service {

// Each interface's filter as checkEnvironment() compiled it, by interface name: compiled once per
// load, then attached by the recorders.
using CompiledFilters = std::map<std::string, bpf::FilterProgram>;

// The most time all filters of one load may take to compile, together. A reload runs on the main
// loop, which must keep telling systemd's watchdog (WatchdogSec=30s) that it is alive.
inline constexpr std::chrono::seconds kFilterCompileBudget{10};

// Compiles every filter (each distinct one once, in a child process, within kFilterCompileBudget)
// and stores the programs in `filters` when given.
std::vector<config::Problem> checkEnvironment(const config::Config& config,
                                              CompiledFilters* filters = nullptr);

// Things that work but are unsafe: a config file, or an output directory, that users other than
// its owner can write (they could redirect the capture, or plant files and symlinks).
std::vector<std::string> permissionWarnings(const config::Config& config);

}  // namespace pcap_recorder::service
