// pcap-recorderctl's command line: `[--user] status [--ship-status FILE] | rotate [INTERFACE] |
// reload | stats [--json] | --version | --help`. Pure: parsed from strings, nothing printed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pcap_recorder/dbus/protocol.hpp"

namespace pcap_recorder::ctl {

enum class Command { status, rotate, reload, stats, version, help };

struct CommandLine {
  Command command = Command::help;
  dbus::BusKind bus = dbus::BusKind::system;
  std::string interface;  // rotate: "" = every interface
  bool json = false;      // stats
  // status: pcap-recorder-shipd's status file (its RuntimeDirectory=), for the ship backlog.
  std::string shipStatus = "/run/pcap-recorder-ship/ship.prom";
  // --ship-status given: then a file that cannot be read is an error, not "no shipper here".
  bool shipStatusGiven = false;
};

// What to do when the command line is wrong: print `message` and the usage, exit 2.
struct UsageError {
  std::string message;
};

std::string usage(const std::string& program);

// `arguments` without the program name.
std::optional<CommandLine> parseCommandLine(const std::vector<std::string>& arguments,
                                            UsageError& error);

}  // namespace pcap_recorder::ctl
