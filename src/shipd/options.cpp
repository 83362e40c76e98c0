#include "options.hpp"

#include <cerrno>
#include <cstdlib>

#include "pcap_recorder/config/units.hpp"

namespace pcap_recorder::shipd {
namespace {

// A whole number of seconds, at least 1; "-1" and "5s" are not.
std::optional<std::chrono::seconds> parseSeconds(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return {};
  errno = 0;
  const auto seconds = std::strtoull(text.c_str(), nullptr, 10);
  // A day at most: longer would leave a missed FileFinished unshipped for longer than that.
  if (errno == ERANGE || seconds == 0 || seconds > 86'400) return {};
  return std::chrono::seconds(seconds);
}

}  // namespace

std::string usage() {
  return "usage: pcap-recorder-shipd [--config PATH] [--state PATH] [--host NAME] [--once]\n"
         "                           [--part-size SIZE] [--bus system|user|none]\n"
         "                           [--rescan SECONDS] [--check-config]\n"
         "  --config PATH     the pcap-recorder config (default "
         "/etc/pcap-recorder/pcap-recorder.yaml)\n"
         "  --state PATH      what is confirmed uploaded (default: ship.state in the config,\n"
         "                    /var/lib/pcap-recorder-ship/state)\n"
         "  --host NAME       {host} in ship.prefix (default: this machine's host name)\n"
         "  --once            ship what is finished now, then exit (1 if anything failed)\n"
         "  --part-size SIZE  multipart part size, bytes or with a unit such as 16MiB (default\n"
         "                    16MiB; S3 takes 5MiB to 5GiB); up to ship.parallel x\n"
         "                    ship.parallel_files of them in memory\n"
         "  --bus KIND        where to hear pcap-recorderd's FileFinished (default system)\n"
         "  --rescan SECONDS  scan the directories this often (default 60, 5 without a bus;\n"
         "                    at most 86400)\n"
         "  --check-config    check the ship section and the credentials file, then exit\n"
         "  -h, --help        print this help and exit\n";
}

std::variant<Options, UsageError> parseOptions(int argc, const char* const* argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--once") {
      options.once = true;
      continue;
    }
    if (arg == "--check-config") {
      options.checkConfig = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      options.showHelp = true;
      continue;
    }
    const bool takesValue = arg == "--config" || arg == "--state" || arg == "--host" ||
                            arg == "--part-size" || arg == "--bus" || arg == "--rescan";
    if (!takesValue) return UsageError{"unknown option " + arg};
    if (i + 1 >= argc) return UsageError{arg + " needs a value"};
    const std::string value = argv[++i];
    if (arg == "--config") {
      options.config = value;
    } else if (arg == "--state") {
      options.state = value;
    } else if (arg == "--host") {
      options.host = value;
    } else if (arg == "--bus") {
      if (value == "system") {
        options.bus = dbus::BusKind::system;
      } else if (value == "user") {
        options.bus = dbus::BusKind::user;
      } else if (value == "none") {
        options.bus.reset();
      } else {
        return UsageError{"--bus takes system, user or none, not " + value};
      }
    } else if (arg == "--rescan") {
      options.rescan = parseSeconds(value);
      if (!options.rescan) {
        return UsageError{"--rescan takes whole seconds from 1 to 86400, not " + value};
      }
    } else {  // --part-size
      const auto size = config::parseSize(value);
      if (!size || *size == 0 || *size > kMaxPartSize) {
        return UsageError{"--part-size takes a size from 1 byte to 5GiB, not " + value};
      }
      options.partSize = *size;
    }
  }
  return options;
}

}  // namespace pcap_recorder::shipd
