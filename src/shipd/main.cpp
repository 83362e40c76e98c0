// pcap-recorder-shipd: uploads pcap-recorderd's finished files to S3-compatible storage, outside
// the capture unit's sandbox (which forbids IP). Reads the same config file (its `ship:` section
// and the interfaces' output directories), aborts multipart uploads a killed run left open, then
// ships every finished file not yet confirmed, oldest first, and rescans every few seconds.
// What is confirmed is recorded durably (ship/ship_state.hpp), so a restart sends nothing twice.
//
// Not yet: FileFinished over D-Bus (the rescan stands in for it), the sidecar's sha256 (computed
// here), retention that waits for confirmation.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include "backlog.hpp"
#include "pcap_recorder/config/config.hpp"
#include "pcap_recorder/logging/log.hpp"
#include "pcap_recorder/ship/object_key.hpp"
#include "pcap_recorder/ship/uploader.hpp"
#include "ship_metrics.hpp"

namespace pr = pcap_recorder;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr std::chrono::seconds kRescanInterval{5};
// After a failure the server or the config must change first: wait longer before the next round.
constexpr std::chrono::seconds kAfterFailure{30};

struct Options {
  std::filesystem::path config = "/etc/pcap-recorder/pcap-recorder.yaml";
  std::filesystem::path state;
  std::string host;
  std::uint64_t partSize = 16ull << 20;
  bool once = false;
  bool checkConfig = false;
};

void usage(std::ostream& out) {
  out << "usage: pcap-recorder-shipd [--config PATH] [--state PATH] [--host NAME] [--once]\n"
         "                           [--part-size BYTES] [--check-config]\n"
         "  --config PATH     the pcap-recorder config (default "
         "/etc/pcap-recorder/pcap-recorder.yaml)\n"
         "  --state PATH      what is confirmed uploaded (default $STATE_DIRECTORY/state,\n"
         "                    else /var/lib/pcap-recorder-ship/state)\n"
         "  --host NAME       {host} in ship.prefix (default: this machine's host name)\n"
         "  --once            ship what is finished now, then exit (1 if anything failed)\n"
         "  --part-size BYTES multipart part size (default 16 MiB; S3's minimum is 5 MiB)\n"
         "  --check-config    check the ship section and the credentials file, then exit\n";
}

std::optional<Options> parseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    std::optional<std::string> v;
    if (arg == "--once") {
      options.once = true;
    } else if (arg == "--check-config") {
      options.checkConfig = true;
    } else if (arg == "--help" || arg == "-h") {
      usage(std::cout);
      std::exit(0);
    } else if ((arg == "--config" || arg == "--state" || arg == "--host" || arg == "--part-size") &&
               (v = value())) {
      if (arg == "--config") options.config = *v;
      if (arg == "--state") options.state = *v;
      if (arg == "--host") options.host = *v;
      if (arg == "--part-size") {
        char* end = nullptr;
        options.partSize = std::strtoull(v->c_str(), &end, 10);
        if (end == v->c_str() || *end != '\0' || options.partSize == 0) return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
  }
  if (options.state.empty()) {
    const char* stateDirectory = std::getenv("STATE_DIRECTORY");  // systemd's StateDirectory=
    options.state =
        std::filesystem::path(stateDirectory && *stateDirectory ? stateDirectory
                                                                : "/var/lib/pcap-recorder-ship") /
        "state";
  }
  if (options.host.empty()) {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    options.host = name;
  }
  return options;
}

// Everything the shipper needs that the config loader leaves to it; messages name the key.
std::vector<std::string> shipProblems(const pr::config::Config& config) {
  std::vector<std::string> problems;
  const auto& ship = config.daemon.ship;
  const std::string file = config.sourceFile.string();
  if (const auto problem = pr::ship::endpointProblem(ship.endpoint); !problem.empty()) {
    problems.push_back(file + ": ship.endpoint '" + ship.endpoint + "' " + problem);
  }
  if (const auto problem = pr::ship::keyPrefixProblem(ship.prefix); !problem.empty()) {
    problems.push_back(file + ": ship.prefix '" + ship.prefix + "' " + problem);
  }
  struct stat status {};
  if (::stat(ship.credentials.c_str(), &status) != 0) {
    problems.push_back(file + ": ship.credentials: " + ship.credentials.string() + ": " +
                       std::strerror(errno));
  } else if (const auto problem = pr::ship::credentialsModeProblem(status.st_mode);
             !problem.empty()) {
    problems.push_back(file + ": ship.credentials: " + ship.credentials.string() + " " + problem);
  } else {
    try {
      pr::ship::loadCredentials(ship.credentials);
    } catch (const pr::ship::CredentialsError& error) {
      problems.push_back(file + ": ship.credentials: " + error.what());
    }
  }
  return problems;
}

// One pass over the backlog. Returns false when a file failed (it is tried again next round).
bool shipBacklog(const pr::config::Config& config, const Options& options,
                 pr::ship::S3Client& client, pr::ship::ShipState& state,
                 pr::shipd::ShipMetrics& metrics, const volatile std::sig_atomic_t& stopping) {
  const auto& ship = config.daemon.ship;
  std::vector<std::string> problems;
  const auto files = pr::shipd::scanFinished(config.interfaces, problems);
  for (const auto& problem : problems) spdlog::warn("{}", problem);
  std::size_t pending = 0;
  for (const auto& file : files) pending += state.confirmed(file.path.string()) == nullptr;
  if (pending > 0) spdlog::info("{} finished files to ship", pending);
  metrics.backlog(pending);
  bool allShipped = problems.empty();
  const pr::ship::UploadOptions uploadOptions{options.partSize, ship.parallel};
  for (const auto& file : files) {
    if (stopping) break;
    const std::string path = file.path.string();
    if (state.confirmed(path) != nullptr) continue;
    try {
      const std::string key =
          pr::ship::objectKey(ship.prefix, {options.host, file.interface, file.finishedAt},
                              file.path.filename().string());
      const auto confirmed =
          pr::ship::uploadFile(client, file.path, key, uploadOptions, {}, &state);
      state.recordConfirmed(confirmed);
      metrics.shipped(confirmed.size);
      spdlog::info("{}: shipped to s3://{}/{} ({} bytes, sha256 {})", path, ship.bucket, key,
                   confirmed.size, confirmed.sha256);
    } catch (const pr::ship::S3Error& error) {
      spdlog::error("{}: not shipped: {}", path, error.what());
      metrics.failed();
      return false;  // the server or the config is wrong: the later files would fail the same
    } catch (const std::exception& error) {
      spdlog::error("{}: not shipped: {}", path, error.what());
      metrics.failed();
      allShipped = false;
    }
  }
  return allShipped;
}

volatile std::sig_atomic_t gStopping = 0;  // written by the signal handler only
void onStopSignal(int) {
  gStopping = 1;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(pr::logging::makeLogger(pr::logging::stderrIsJournal()));
  const auto options = parseOptions(argc, argv);
  if (!options) {
    usage(std::cerr);
    return kExitUsage;
  }
  pr::config::Config config;
  try {
    config = pr::config::load(options->config);
  } catch (const pr::config::ConfigError& error) {
    for (const auto& problem : error.problems()) std::cerr << pr::config::format(problem) << "\n";
    return kExitFailure;
  }
  const auto& ship = config.daemon.ship;
  if (!ship.configured) {
    spdlog::info("{}: no ship section: nothing to ship", options->config.string());
    return 0;
  }
  if (const auto problems = shipProblems(config); !problems.empty()) {
    for (const auto& problem : problems) std::cerr << problem << "\n";
    return kExitFailure;
  }
  if (options->checkConfig) {
    std::cout << options->config.string() << ": ship section OK\n";
    return 0;
  }

  std::signal(SIGTERM, onStopSignal);
  std::signal(SIGINT, onStopSignal);
  try {
    pr::ship::S3Endpoint endpoint;
    endpoint.endpoint = ship.endpoint;
    endpoint.bucket = ship.bucket;
    endpoint.region = ship.region;
    endpoint.pathStyle = ship.pathStyle;
    endpoint.caFile = ship.caFile.string();
    // max_rate is for all uploads together; each of the parallel parts gets its share.
    endpoint.maxBytesPerSecond = ship.maxRate / ship.parallel;
    pr::ship::S3Client client(endpoint, pr::ship::loadCredentials(ship.credentials), {},
                              [](std::string_view what, int attempt,
                                 std::chrono::milliseconds delay, std::string_view reason) {
                                spdlog::warn("{}: attempt {} failed ({}); again in {} ms", what,
                                             attempt, reason, delay.count());
                              });
    pr::ship::ShipState state(options->state);
    const char* runtimeDirectory = std::getenv("RUNTIME_DIRECTORY");  // systemd's
    pr::shipd::ShipMetrics metrics(
        pr::shipd::metricsFiles(ship, runtimeDirectory ? runtimeDirectory : ""));
    if (const auto aborted = pr::ship::abortUnfinished(client, state); aborted > 0) {
      spdlog::info("aborted {} multipart uploads a previous run left unfinished", aborted);
    }
    while (true) {
      const bool ok = shipBacklog(config, *options, client, state, metrics, gStopping);
      if (options->once) return ok ? 0 : kExitFailure;
      const auto wait = ok ? kRescanInterval : kAfterFailure;
      for (auto waited = std::chrono::milliseconds(0); waited < wait && !gStopping;
           waited += std::chrono::milliseconds(200)) {
        ::usleep(200'000);
      }
      if (gStopping) return 0;
    }
  } catch (const std::exception& error) {
    spdlog::critical("{}", error.what());
    return kExitFailure;
  }
}
