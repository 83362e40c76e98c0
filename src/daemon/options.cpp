#include "options.hpp"

#include <getopt.h>

namespace pcap_recorder::daemon {

std::string usage(const char* program) {
  return std::string("Usage: ") + program +
         " [--config PATH] [--check-config] [--user USER] [--log-level LEVEL] [--bus BUS]\n"
         "Records network traffic into rotating classic pcap files.\n\n"
         "  -c, --config PATH   configuration file (default " +
         kDefaultConfigPath +
         ")\n"
         "      --check-config  validate the configuration, print each problem, write nothing;\n"
         "                      exit 0 when valid, 1 otherwise\n"
         "  -u, --user USER     when started as root, run as USER keeping only CAP_NET_RAW and\n"
         "                      CAP_NET_ADMIN (overrides run_as)\n"
         "      --log-level L   trace, debug, info, warning (or warn), error, critical or off\n"
         "                      (overrides log.level)\n"
         "      --bus BUS       D-Bus control on the system bus (default), the user's session\n"
         "                      bus (user), or none\n"
         "  -V, --version       print the version and exit\n"
         "  -h, --help          print this help and exit\n\n"
         "Runs in the foreground until SIGTERM or SIGINT. SIGHUP reloads the configuration,\n"
         "SIGUSR1 finishes every current file.\n";
}

std::optional<Options> parseOptions(int argc, char** argv, UsageError& error) {
  enum { kCheckConfig = 256, kLogLevel, kBus };
  static const option kLongOptions[] = {
      {"config", required_argument, nullptr, 'c'},
      {"check-config", no_argument, nullptr, kCheckConfig},
      {"user", required_argument, nullptr, 'u'},
      {"log-level", required_argument, nullptr, kLogLevel},
      {"bus", required_argument, nullptr, kBus},
      {"version", no_argument, nullptr, 'V'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  Options options;
  optind = 1;
  opterr = 0;  // our own message, below
  for (;;) {
    const int previous = optind;
    const int option = ::getopt_long(argc, argv, ":c:u:Vh", kLongOptions, nullptr);
    if (option == -1) break;
    switch (option) {
      case 'c':
        options.configPath = optarg;
        break;
      case kCheckConfig:
        options.checkConfigOnly = true;
        break;
      case 'u':
        options.user = optarg;
        break;
      case kLogLevel:
        // Checked here, once: an unknown level is a usage error (exit 2) before anything runs.
        options.logLevel = config::parseLogLevel(optarg);
        if (!options.logLevel) {
          error.message =
              std::string("unknown log level ") + optarg + " (use " + config::logLevelNames() + ")";
          return std::nullopt;
        }
        break;
      case kBus: {
        const std::string bus = optarg;
        if (bus == "system") {
          options.bus = BusChoice::system;
        } else if (bus == "user") {
          options.bus = BusChoice::user;
        } else if (bus == "none") {
          options.bus = BusChoice::none;
        } else {
          error.message = "--bus takes system, user or none, not " + bus;
          return std::nullopt;
        }
        break;
      }
      case 'V':
        options.showVersion = true;
        break;
      case 'h':
        options.showHelp = true;
        break;
      case ':':
        error.message = std::string("option ") + argv[previous] + " needs an argument";
        return std::nullopt;
      default:
        error.message = std::string("unknown option ") + argv[previous];
        return std::nullopt;
    }
  }
  if (optind < argc) {
    error.message = std::string("unexpected argument ") + argv[optind];
    return std::nullopt;
  }
  return options;
}

}  // namespace pcap_recorder::daemon
