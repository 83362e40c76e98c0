// pcap-recorder-shipd: uploads pcap-recorderd's finished files to S3-compatible storage, outside
// the capture unit's sandbox (which forbids IP). Reads the same config file (its `ship:` section
// and the interfaces' output directories), aborts multipart uploads a killed run left open, then
// ships every finished file not yet confirmed, oldest first, each followed by its sidecar. Then
// it ships again whenever pcap-recorderd's FileFinished signal arrives (file_finished_watch.hpp),
// and rescans every minute (every few seconds without the bus) so nothing is missed while either
// was down. What is confirmed is recorded durably (ship/ship_state.hpp), so a restart sends
// nothing twice, and pcap-recorderd's retention reads it (retention.keep_until_shipped,
// ship.delete_after_upload). Up to ship.parallel_files files go at once, each in up to
// ship.parallel parts; ship_round.hpp says how a round starts them and stops after a failure.
//
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>

#include "backlog.hpp"
#include "file_finished_watch.hpp"
#include "options.hpp"
#include "pcap_recorder/config/config.hpp"
#include "pcap_recorder/logging/log.hpp"
#include "pcap_recorder/ship/object_key.hpp"
#include "pcap_recorder/ship/uploader.hpp"
#include "ship_metrics.hpp"
#include "ship_round.hpp"
#include "sidecar_hash.hpp"

namespace pr = pcap_recorder;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
// Without the bus, the rescan is all there is; with it, only the fallback.
constexpr std::chrono::seconds kRescanInterval{5};
constexpr std::chrono::seconds kRescanIntervalWithBus{60};
// After a failure the server or the config must change first: wait longer before the next round.
constexpr std::chrono::seconds kAfterFailure{30};
constexpr std::chrono::seconds kMinRoundGap{1};

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

// The file's SHA-256 from its sidecar when it has one: the upload hashes what it sends and fails
// when the two differ. Without a (readable) sidecar the upload computes it.
std::optional<std::string> expectedSha256(const std::filesystem::path& sidecar) {
  std::ifstream in(sidecar, std::ios::binary);
  if (!in) return std::nullopt;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return pr::shipd::sidecarSha256(text);
  } catch (const std::runtime_error& error) {
    throw std::runtime_error(sidecar.string() + ": " + error.what());
  }
}

// Whether `sidecar` exists and is not yet confirmed uploaded as it is now (its bytes' SHA-256).
bool sidecarPending(const pr::ship::ShipState& state, const std::filesystem::path& sidecar) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(sidecar, error)) return false;
  const auto* record = state.confirmed(sidecar.string());
  if (record == nullptr) return true;
  try {
    return pr::ship::toHex(pr::ship::sha256OfFile(sidecar)) != record->sha256;
  } catch (const std::exception&) {
    return true;
  }
}

// The confirmation of `file` if it is of the file there now: the same size and SHA-256 (the
// sidecar's; without one in it, the sidecar as confirmed vouches for the file, and a file whose
// sidecar changed is hashed). Why not the path alone: the daemon names a new file as an earlier
// one that was shipped and deleted (`{seq}` counting again after a restart, a time slot's name
// after one), and a new file taken for the old one would never be shipped, and be deleted as
// shipped. Without any sidecar, the size is all there is to go by.
const pr::ship::ConfirmedUpload* confirmedAsItIs(const pr::ship::ShipState& state,
                                                 const std::filesystem::path& file) {
  const auto* record = state.confirmed(file.string());
  std::error_code error;
  if (record == nullptr || std::filesystem::file_size(file, error) != record->size || error) {
    return nullptr;
  }
  try {
    const auto sidecar = pr::shipd::sidecarPathFor(file);
    if (const auto sha256 = expectedSha256(sidecar)) {
      return *sha256 == record->sha256 ? record : nullptr;
    }
    if (sidecarPending(state, sidecar)) {
      return pr::ship::toHex(pr::ship::sha256OfFile(file)) == record->sha256 ? record : nullptr;
    }
    return record;
  } catch (const std::exception&) {
    return nullptr;  // an unreadable sidecar or file: the upload says why
  }
}

// Forgets confirmed files that are gone locally (retention, delete_after_upload), so the journal
// does not grow for ever. Only where their directory is still there: an output directory that is
// missing for a while (unmounted) must not make the shipper forget, and so resend, everything.
void forgetDeleted(pr::ship::ShipState& state) {
  std::vector<std::string> gone;
  std::error_code error;
  for (const auto& [path, upload] : state.confirmedUploads()) {
    const std::filesystem::path local(path);
    if (!std::filesystem::exists(local, error) && !error &&
        std::filesystem::is_directory(local.parent_path(), error)) {
      gone.push_back(path);
    }
  }
  if (gone.empty()) return;
  state.forget(gone);
  spdlog::debug("forgot {} confirmed files no longer on disk", gone.size());
}

// One file and then its sidecar, each confirmation recorded as it comes; called by the round's
// workers (ship_round.hpp), several at once for different files: the client, the journal and the
// metrics are thread-safe.
class S3FileShipper final : public pr::shipd::FileShipper {
 public:
  S3FileShipper(const pr::config::Config& config, const pr::shipd::Options& options,
                pr::ship::S3Client& client, pr::ship::ShipState& state,
                pr::shipd::ShipMetrics& metrics)
      : ship_(config.daemon.ship),
        options_(options),
        client_(client),
        state_(state),
        metrics_(metrics) {}

  pr::shipd::FileOutcome ship(const pr::shipd::FinishedFile& file,
                              const std::function<void()>& accepted) override {
    const std::string path = file.path.string();
    const auto sidecar = pr::shipd::sidecarPathFor(file.path);
    const pr::ship::UploadOptions uploadOptions{options_.partSize, ship_.parallel, accepted};
    try {
      std::string key =
          pr::ship::objectKey(ship_.prefix, {options_.host, file.interface, file.finishedAt},
                              file.path.filename().string());
      if (const auto* done = confirmedAsItIs(state_, file.path)) {
        key = done->key;
      } else {
        const auto confirmed = pr::ship::uploadFile(client_, file.path, key, uploadOptions,
                                                    expectedSha256(sidecar), &state_);
        state_.recordConfirmed(confirmed);
        metrics_.shipped(confirmed.size);
        key = confirmed.key;
        spdlog::info("{}: shipped to s3://{}/{} ({} bytes, sha256 {})", path, ship_.bucket, key,
                     confirmed.size, confirmed.sha256);
      }
      // After its file (a reader of the bucket who finds the sidecar finds the file), and also
      // when it appeared only after the file was shipped (the daemon writes it after the rename).
      // Beside the file's key, whatever was there: it describes that object.
      if (sidecarPending(state_, sidecar)) {
        auto sidecarOptions = uploadOptions;
        sidecarOptions.neverReplace = false;
        const auto confirmed = pr::ship::uploadFile(client_, sidecar, key + ".json", sidecarOptions,
                                                    std::nullopt, &state_);
        state_.recordConfirmed(confirmed);
        spdlog::info("{}: sidecar uploaded to s3://{}/{}", sidecar.string(), ship_.bucket,
                     confirmed.key);
      }
      return pr::shipd::FileOutcome::shipped;
    } catch (const pr::ship::S3Error& error) {
      spdlog::error("{}: not shipped: {}", path, error.what());
      metrics_.failed();
      // The server or the config is wrong: the later files would fail the same.
      return pr::shipd::FileOutcome::serverFailed;
    } catch (const std::exception& error) {
      spdlog::error("{}: not shipped: {}", path, error.what());
      metrics_.failed();
      return pr::shipd::FileOutcome::failed;
    }
  }

 private:
  const pr::config::ShipSettings& ship_;
  const pr::shipd::Options& options_;
  pr::ship::S3Client& client_;
  pr::ship::ShipState& state_;
  pr::shipd::ShipMetrics& metrics_;
};

// One pass over the backlog: every finished file not yet confirmed (or whose sidecar is not),
// ship.parallel_files at a time. `failing` carries the files that failed in earlier passes from
// one pass to the next: they go last. Returns false when a file failed (it is tried again next
// round).
bool shipBacklog(const pr::config::Config& config, pr::shipd::FileShipper& shipper,
                 const pr::ship::ShipState& state, pr::shipd::ShipMetrics& metrics,
                 std::set<std::filesystem::path>& failing,
                 const volatile std::sig_atomic_t& stopping) {
  std::vector<std::string> problems;
  const auto files = pr::shipd::scanFinished(config.interfaces, problems);
  for (const auto& problem : problems) spdlog::warn("{}", problem);
  std::vector<pr::shipd::FinishedFile> pending;
  for (const auto& file : files) {
    if (confirmedAsItIs(state, file.path) == nullptr ||
        sidecarPending(state, pr::shipd::sidecarPathFor(file.path))) {
      pending.push_back(file);
    }
  }
  const unsigned parallelFiles = config.daemon.ship.parallelFiles;
  if (!pending.empty()) {
    spdlog::info("{} finished files to ship, up to {} at once", pending.size(),
                 std::min<std::size_t>(parallelFiles, pending.size()));
  }
  metrics.backlog(pending.size());
  pr::shipd::failingLast(pending, failing);
  const auto result =
      pr::shipd::shipRound(pending, parallelFiles, shipper, [&] { return stopping != 0; });
  // Only files still waiting stay in `failing`: one shipped or gone (deleted) is forgotten.
  std::set<std::filesystem::path> stillFailing;
  for (const auto& file : pending) {
    if (failing.count(file.path) != 0) stillFailing.insert(file.path);
  }
  for (const auto& path : result.shipped) stillFailing.erase(path);
  for (const auto& path : result.failed) stillFailing.insert(path);
  failing = std::move(stillFailing);
  return problems.empty() && result.complete();
}

volatile std::sig_atomic_t gStopping = 0;  // written by the signal handler only
void onStopSignal(int) {
  gStopping = 1;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(pr::logging::makeLogger(pr::logging::stderrIsJournal()));
  auto parsed = pr::shipd::parseOptions(argc, argv);
  if (const auto* error = std::get_if<pr::shipd::UsageError>(&parsed)) {
    std::cerr << "pcap-recorder-shipd: " << error->message << "\n" << pr::shipd::usage();
    return kExitUsage;
  }
  auto* options = &std::get<pr::shipd::Options>(parsed);
  if (options->showHelp) {
    std::cout << pr::shipd::usage();
    return 0;
  }
  // Without --state: ship.state from the config (below), where pcap-recorderd looks for it.
  if (options->host.empty()) {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    options->host = name;
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
    // For everything in flight together: one client makes every request.
    endpoint.maxBytesPerSecond = ship.maxRate;
    pr::ship::S3Client client(endpoint, pr::ship::loadCredentials(ship.credentials), {},
                              [](std::string_view what, int attempt,
                                 std::chrono::milliseconds delay, std::string_view reason) {
                                spdlog::warn("{}: attempt {} failed ({}); again in {} ms", what,
                                             attempt, reason, delay.count());
                              });
    const auto statePath = options->state.empty() ? ship.state : options->state;
    pr::ship::ShipState state(statePath);
    const char* runtimeDirectory = std::getenv("RUNTIME_DIRECTORY");  // systemd's
    pr::shipd::ShipMetrics metrics(
        pr::shipd::metricsFiles(ship, runtimeDirectory ? runtimeDirectory : ""));
    // Subscribed before the first scan: a file finished during it wakes the next pass.
    std::unique_ptr<pr::shipd::FileFinishedWatch> watch;
    bool warnedNoBus = false;
    const auto connect = [&] {
      if (!options->bus || options->once || watch) return;
      try {
        watch = std::make_unique<pr::shipd::FileFinishedWatch>(*options->bus);
        spdlog::info("listening for FileFinished on the {}",
                     pr::dbus::busDescription(*options->bus));
        warnedNoBus = false;
      } catch (const std::runtime_error& error) {
        if (!warnedNoBus) spdlog::warn("{}; rescanning every few seconds instead", error.what());
        warnedNoBus = true;
      }
    };
    connect();
    std::vector<std::string> notAborted;
    if (const auto aborted = pr::ship::abortUnfinished(client, state, notAborted); aborted > 0) {
      spdlog::info("aborted {} multipart uploads a previous run left unfinished", aborted);
    }
    for (const auto& failure : notAborted) {
      spdlog::warn(
          "{}; its parts stay in the bucket until it is (tried again at the next start; "
          "a lifecycle rule AbortIncompleteMultipartUpload also removes them)",
          failure);
    }
    S3FileShipper shipper(config, *options, client, state, metrics);
    std::set<std::filesystem::path> failing;
    while (true) {
      const auto roundStarted = std::chrono::steady_clock::now();
      const bool ok = shipBacklog(config, shipper, state, metrics, failing, gStopping);
      if (options->once) return ok ? 0 : kExitFailure;
      if (ok) forgetDeleted(state);
      connect();
      const auto rescan =
          options->rescan.value_or(watch ? kRescanIntervalWithBus : kRescanInterval);
      // After a failure a finished file does not cut the wait short: the server must recover.
      pr::shipd::waitForWork(watch, ok ? rescan : kAfterFailure, ok, gStopping);
      // Any local user may send FileFinished (the bus lets anyone send a signal): however many
      // come, at most one round a second. The next round scans everything, so none is missed.
      const auto earliest = roundStarted + kMinRoundGap;
      if (!gStopping && std::chrono::steady_clock::now() < earliest) {
        std::this_thread::sleep_until(earliest);
      }
      if (gStopping) return 0;
    }
  } catch (const std::exception& error) {
    spdlog::critical("{}", error.what());
    return kExitFailure;
  }
}
