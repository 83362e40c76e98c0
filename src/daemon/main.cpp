// pcap-recorderd: the composition root. Reads the config, checks it against this machine, starts
// one Recorder per interface, and waits for signals. The only place that names the concrete log
// sink and systemd's notify protocol.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <vector>

#include "options.hpp"
#include "pcap_recorder/config/config.hpp"
#include "pcap_recorder/service/environment_check.hpp"
#include "pcap_recorder/service/file_finisher.hpp"
#include "pcap_recorder/service/recorder.hpp"
#include "pcap_recorder/version.hpp"

namespace pr = pcap_recorder;

namespace {

constexpr int kExitConfigError = 1;
constexpr int kExitUsage = 2;

void setUpLogging() {
  auto logger = spdlog::stderr_logger_mt("pcap-recorderd");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l: %v");
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

// Loads and checks everything; prints each problem as FILE:LINE:COLUMN: message.
std::optional<pr::config::Config> loadValidConfig(const std::filesystem::path& path) {
  std::vector<pr::config::Problem> problems;
  std::optional<pr::config::Config> config;
  try {
    config = pr::config::load(path);
    problems = pr::service::checkEnvironment(*config);
  } catch (const pr::config::ConfigError& error) {
    problems = error.problems();
  }
  for (const auto& problem : problems) std::cerr << pr::config::format(problem) << '\n';
  if (!problems.empty()) return std::nullopt;
  return config;
}

// Signals are taken synchronously by the main thread; blocked before any thread starts so that
// every thread inherits the mask and none is interrupted.
sigset_t blockControlSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&signals, signal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return signals;
}

using Recorders = std::vector<std::unique_ptr<pr::service::Recorder>>;

void waitForStopSignal(const sigset_t& signals, Recorders& recorders) {
  for (;;) {
    const int signal = sigwaitinfo(&signals, nullptr);
    if (signal == SIGTERM || signal == SIGINT) {
      spdlog::info("received {}, stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
      return;
    }
    if (signal == SIGHUP) {
      spdlog::warn("SIGHUP: reloading the configuration is not supported yet; restart to apply");
    } else if (signal == SIGUSR1) {
      spdlog::info("SIGUSR1: finishing every current file");
      for (auto& recorder : recorders) recorder->requestRotation();
    }
  }
}

// Retention and repair work per output directory, over every interface writing there.
std::vector<pr::service::DirectoryRetention> directoriesOf(const pr::config::Config& config) {
  struct Group {
    std::vector<pr::rotation::OwnFileTemplate> templates;
    std::vector<pr::rotation::RetentionLimits> limits;
  };
  std::map<std::filesystem::path, Group> groups;
  for (const auto& interface : config.interfaces) {
    auto& group = groups[interface.output.directory.lexically_normal()];
    group.templates.push_back({interface.output.fileName, interface.name});
    const auto& retention = interface.retention;
    group.limits.push_back({
        .maxFiles = retention.maxFiles,
        .maxTotalBytes = retention.maxTotalBytes,
        .maxAge = std::chrono::ceil<std::chrono::seconds>(retention.maxAge),
        .minFreeBytes = retention.minFreeBytes,
    });
  }
  std::vector<pr::service::DirectoryRetention> directories;
  for (const auto& [path, group] : groups) {
    directories.push_back({path, pr::rotation::combineLimits(group.limits),
                           pr::rotation::OwnFileMatcher(group.templates)});
  }
  return directories;
}

void logSummary(const pr::service::Recorder& recorder) {
  const auto stats = recorder.stats();
  std::string files;
  for (const auto& name : recorder.finishedFiles()) files += (files.empty() ? "" : ", ") + name;
  spdlog::info(
      "{}: summary: {} packets written, {} bytes, {} kernel drops, {} lost to disk, "
      "files: {}",
      recorder.interface(), stats.packetsWritten, stats.bytesWritten, stats.kernelDrops,
      stats.packetsLostToDisk, files.empty() ? "none" : files);
}

int run(const pr::daemon::Options& options) {
  auto config = loadValidConfig(options.configPath);
  if (!config) return kExitConfigError;
  if (options.checkConfigOnly) {
    std::cout << options.configPath.string() << ": configuration is valid ("
              << config->interfaces.size() << " interface"
              << (config->interfaces.size() == 1 ? "" : "s") << ")\n";
    return 0;
  }

  const sigset_t signals = blockControlSignals();
  auto directories = directoriesOf(*config);
  std::vector<std::filesystem::path> directoryPaths;
  try {
    for (const auto& directory : directories) {
      pr::service::openOutputDirectory(directory.directory);
      pr::service::repairLeftovers(directory.directory, directory.ownFiles);
      directoryPaths.push_back(directory.directory);
    }
  } catch (const std::exception& error) {
    spdlog::error("{}: {}", options.configPath.string(), error.what());
    return kExitConfigError;
  }
  pr::service::FileFinisher finisher(std::move(directories));
  for (const auto& path : directoryPaths) finisher.requestRetention(path);

  Recorders recorders;
  try {
    for (const auto& interface : config->interfaces) {
      recorders.push_back(std::make_unique<pr::service::Recorder>(interface, finisher));
    }
  } catch (const std::exception& error) {
    spdlog::error("{}: {}", options.configPath.string(), error.what());
    return kExitConfigError;
  }
  for (auto& recorder : recorders) recorder->start();
  spdlog::info("pcap-recorderd {} recording {} interface{}", pr::kVersion, recorders.size(),
               recorders.size() == 1 ? "" : "s");
  sd_notifyf(0, "READY=1\nSTATUS=recording %zu interface(s)", recorders.size());

  waitForStopSignal(signals, recorders);
  sd_notify(0, "STOPPING=1");
  for (auto& recorder : recorders) recorder->requestStop();
  for (auto& recorder : recorders) recorder->join();
  finisher.stop();  // every last file finished, and its post_finish_command run
  for (auto& recorder : recorders) logSummary(*recorder);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  pr::daemon::UsageError usageError;
  const auto options = pr::daemon::parseOptions(argc, argv, usageError);
  if (!options) {
    std::cerr << argv[0] << ": " << usageError.message << "\n" << pr::daemon::usage(argv[0]);
    return kExitUsage;
  }
  if (options->showHelp) {
    std::cout << pr::daemon::usage(argv[0]);
    return 0;
  }
  if (options->showVersion) {
    std::cout << "pcap-recorderd " << pr::kVersion << '\n';
    return 0;
  }
  setUpLogging();
  try {
    return run(*options);
  } catch (const std::exception& error) {
    spdlog::critical("{}", error.what());
    return 1;
  }
}
