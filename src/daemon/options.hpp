// The daemon's command line.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "pcap_recorder/config/config.hpp"

namespace pcap_recorder::daemon {

inline constexpr const char* kDefaultConfigPath = "/etc/pcap-recorder/pcap-recorder.yaml";

enum class BusChoice { system, user, none };

struct Options {
  std::filesystem::path configPath = kDefaultConfigPath;
  std::string user;                          // --user: overrides run_as
  std::optional<config::LogLevel> logLevel;  // --log-level: overrides log.level
  BusChoice bus = BusChoice::system;
  bool checkConfigOnly = false;
  bool showVersion = false;
  bool showHelp = false;
};

// What to do when the command line is wrong: print `message` and usage, exit 2.
struct UsageError {
  std::string message;
};

std::string usage(const char* program);

// Parses argv; a UsageError in the result when it is not understood.
std::optional<Options> parseOptions(int argc, char** argv, UsageError& error);

}  // namespace pcap_recorder::daemon
