#include "command_line.hpp"

#include "extract_command.hpp"

namespace pcap_recorder::ctl {

std::string usage(const std::string& program) {
  return "Usage: " + program +
         " [--user] COMMAND\n"
         "Asks the running pcap-recorderd over D-Bus.\n\n"
         "Commands:\n"
         "  status [--ship-status FILE]\n"
         "                     version and one line per interface, and the upload backlog of\n"
         "                     pcap-recorder-shipd while it runs (read from FILE, default\n"
         "                     /run/pcap-recorder-ship/ship.prom)\n"
         "  stats [--json]     every counter of every interface; --json: one JSON object\n"
         "  rotate [INTERFACE] finish the current file of INTERFACE (default: every interface)\n"
         "                     and start the next\n"
         "  reload             re-read the configuration file and apply it\n"
         "Reading the stored captures directly (exit 1 on an error; see pcap-recorderctl(1)):\n" +
         storeCommandsUsage() +
         "\n"
         "Options:\n"
         "      --user         talk to the session bus instead of the system bus\n"
         "  -V, --version      print the version and exit\n"
         "  -h, --help         print this help and exit\n\n"
         "Exit status: 0 done, 1 the daemon refused or failed, 2 usage error,\n"
         "3 pcap-recorderd is not running.\n";
}

std::optional<CommandLine> parseCommandLine(const std::vector<std::string>& arguments,
                                            UsageError& error) {
  CommandLine line;
  bool help = false;
  bool version = false;
  bool json = false;
  bool shipStatus = false;
  bool optionsEnded = false;
  std::vector<std::string> words;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    if (!optionsEnded && argument.size() > 1 && argument[0] == '-') {
      if (argument == "--") {
        optionsEnded = true;
      } else if (argument == "--user") {
        line.bus = dbus::BusKind::user;
      } else if (argument == "--json") {
        json = true;
      } else if (argument == "--ship-status") {
        if (i + 1 == arguments.size()) {
          error.message = "--ship-status needs a file";
          return std::nullopt;
        }
        line.shipStatus = arguments[++i];
        line.shipStatusGiven = true;
        shipStatus = true;
      } else if (argument == "-h" || argument == "--help") {
        help = true;
      } else if (argument == "-V" || argument == "--version") {
        version = true;
      } else {
        error.message = "unknown option " + argument;
        return std::nullopt;
      }
      continue;
    }
    words.push_back(argument);
  }
  if (help) {
    line.command = Command::help;
    return line;
  }
  if (version) {
    line.command = Command::version;
    return line;
  }
  if (words.empty()) {
    error.message = "missing command";
    return std::nullopt;
  }
  const std::string& command = words.front();
  std::size_t maxArguments = 0;
  if (command == "status") {
    line.command = Command::status;
  } else if (command == "stats") {
    line.command = Command::stats;
  } else if (command == "rotate") {
    line.command = Command::rotate;
    maxArguments = 1;
  } else if (command == "reload") {
    line.command = Command::reload;
  } else {
    error.message = "unknown command " + command;
    return std::nullopt;
  }
  if (words.size() - 1 > maxArguments) {
    error.message = "unexpected argument " + words[maxArguments + 1];
    return std::nullopt;
  }
  if (line.command == Command::rotate && words.size() == 2) {
    // An empty interface means every one to the daemon: `rotate "$IFACE"` with IFACE unset
    // must not rotate them all.
    if (words[1].empty()) {
      error.message = "rotate: the interface name is empty (rotate alone rotates every one)";
      return std::nullopt;
    }
    line.interface = words[1];
  }
  if (json && line.command != Command::stats) {
    error.message = "--json goes with stats only";
    return std::nullopt;
  }
  line.json = json;
  if (shipStatus && line.command != Command::status) {
    error.message = "--ship-status goes with status only";
    return std::nullopt;
  }
  return line;
}

}  // namespace pcap_recorder::ctl
