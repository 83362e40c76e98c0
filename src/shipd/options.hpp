// pcap-recorder-shipd's command line.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>

#include "pcap_recorder/dbus/protocol.hpp"

namespace pcap_recorder::shipd {

// S3's limits on one part of a multipart upload: at least 5 MiB (all but the last; a server may
// allow less, as the tests' does), at most 5 GiB.
inline constexpr std::uint64_t kMaxPartSize = 5ull << 30;

struct Options {
  std::filesystem::path config = "/etc/pcap-recorder/pcap-recorder.yaml";
  std::filesystem::path state;  // empty: ship.state from the config
  std::string host;             // empty: this machine's host name
  std::uint64_t partSize = 16ull << 20;
  std::optional<dbus::BusKind> bus = dbus::BusKind::system;  // nothing: --bus none
  std::optional<std::chrono::seconds> rescan;
  bool once = false;
  bool checkConfig = false;
  bool showHelp = false;
};

// What is wrong with the command line, naming the option: print it and the usage, exit 2.
struct UsageError {
  std::string message;
};

std::string usage();

std::variant<Options, UsageError> parseOptions(int argc, const char* const* argv);

}  // namespace pcap_recorder::shipd
