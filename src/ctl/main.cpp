// pcap-recorderctl: asks the running pcap-recorderd over D-Bus for its status and statistics, to
// rotate its files or to reload its configuration; extracts packets from the store (no daemon).
//
// Exit status: 0 done, 1 the daemon refused or failed, 2 usage error, 3 pcap-recorderd is not
// running (or the bus cannot be reached).
#include <systemd/sd-bus.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <iostream>

#include "command_line.hpp"
#include "extract_command.hpp"
#include "format.hpp"
#include "pcap_recorder/version.hpp"
#include "recorder_client.hpp"
#include "ship_status.hpp"

namespace {

namespace ctl = pcap_recorder::ctl;
namespace dbus = pcap_recorder::dbus;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotRunning = 3;
constexpr const char* kProgram = "pcap-recorderctl";

int fail(int status, const std::string& message) {
  std::cerr << kProgram << ": " << message << '\n';
  return status;
}

const char* verbOf(ctl::Command command) {
  switch (command) {
    case ctl::Command::rotate:
      return "rotate";
    case ctl::Command::reload:
      return "reload";
    default:
      return "this";
  }
}

int run(const ctl::CommandLine& line) {
  ctl::RecorderClient client(line.bus);
  switch (line.command) {
    case ctl::Command::status:
      std::cout << ctl::formatStatus(client.snapshot());
      break;
    case ctl::Command::stats: {
      const auto snapshot = client.snapshot();
      std::cout << (line.json ? ctl::formatStatsJson(snapshot) : ctl::formatStats(snapshot));
      break;
    }
    case ctl::Command::rotate:
      if (const auto outcome = client.rotate(line.interface); !outcome.empty()) {
        std::cout << outcome << '\n';
      } else if (line.interface.empty()) {
        std::cout << "rotated every interface: the current files are being finished, new ones "
                     "started\n";
      } else {
        std::cout << "rotated "
                  << line.interface << ": the current file is being finished, a new one started\n";
      }
      break;
    case ctl::Command::reload:
      client.reload();
      std::cout << "reloaded the configuration\n";
      break;
    case ctl::Command::version:
    case ctl::Command::help:
      break;
  }
  std::cout.flush();
  return std::cout ? 0 : kExitFailed;
}

// run(), its failures reported on stderr and in the exit status.
int runReporting(const ctl::CommandLine& commandLine) {
  const auto* line = &commandLine;
  const std::string bus = dbus::busDescription(line->bus);
  try {
    return run(*line);
  } catch (const ctl::ConnectError& error) {
    return fail(kExitNotRunning, std::string("pcap-recorderd is not reachable: ") + error.what());
  } catch (const ctl::BusError& error) {
    if (ctl::meansNotRunning(error)) {
      return fail(kExitNotRunning, "pcap-recorderd is not running (no " +
                                       std::string(dbus::kBusName) + " on the " + bus + ")");
    }
    // The bus policy's refusal is long and technical (the daemon's own is not): say what is
    // needed first.
    if (error.name == SD_BUS_ERROR_ACCESS_DENIED &&
        std::string(error.what()).find(" needs root or membership of group ") ==
            std::string::npos) {
      return fail(kExitFailed, std::string(verbOf(line->command)) +
                                   " needs root or membership of group " + dbus::kOperatorGroup +
                                   " (the bus refused the call: " + error.what() + ")");
    }
    return fail(kExitFailed, error.what());
  } catch (const std::exception& error) {
    return fail(kExitFailed, error.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> arguments(argv + (argc > 0 ? 1 : 0), argv + argc);
  // extract and index read the store itself: no bus.
  if (ctl::isStoreCommand(arguments)) return ctl::runStoreCommand(kProgram, arguments);
  ctl::UsageError usageError;
  const auto line = ctl::parseCommandLine(arguments, usageError);
  if (!line) {
    std::cerr << kProgram << ": " << usageError.message << '\n' << ctl::usage(kProgram);
    return kExitUsage;
  }
  if (line->command == ctl::Command::help) {
    std::cout << ctl::usage(kProgram);
    return 0;
  }
  if (line->command == ctl::Command::version) {
    std::cout << kProgram << ' ' << pcap_recorder::kVersion << '\n';
    return 0;
  }
  int status = runReporting(*line);
  // The shipper's backlog also when pcap-recorderd is down: shipping goes on without it.
  if (line->command == ctl::Command::status) {
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const auto text = ctl::readShipStatusFile(line->shipStatus);
    const int readError = errno;
    std::cout << ctl::formatShipStatus(text, now) << std::flush;
    // The default file missing only means no shipper runs here; one named may be a typo.
    if (!text && line->shipStatusGiven) {
      std::cerr << kProgram << ": cannot read " << line->shipStatus << ": "
                << std::strerror(readError) << '\n';
      if (status == 0) status = kExitFailed;
    }
  }
  return status;
}
