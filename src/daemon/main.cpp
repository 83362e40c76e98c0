// pcap-recorderd: the composition root. Reads the config, checks it against this machine, gives
// up root, starts the Daemon, and runs the main loop: signals, D-Bus, and systemd's notify
// protocol (READY, STATUS, WATCHDOG, RELOADING, STOPPING). The only place that names the concrete
// log sink, sd-bus and sd_notify.
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <vector>

#include "daemon.hpp"
#include "options.hpp"
#include "pcap_recorder/capture/af_packet_source.hpp"
#include "pcap_recorder/capture/link_monitor.hpp"
#include "pcap_recorder/config/config.hpp"
#include "pcap_recorder/dbus/bus_service.hpp"
#include "pcap_recorder/logging/log.hpp"
#include "pcap_recorder/service/environment_check.hpp"
#include "pcap_recorder/util/saturating.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "pcap_recorder/version.hpp"
#include "privileges.hpp"

namespace pr = pcap_recorder;

namespace {

using Clock = std::chrono::steady_clock;
// sysexits.h's EX_CONFIG, which systemd names "CONFIG": the unit does not restart on it
// (RestartPreventExitStatus=78), since only an edit helps. A start that failed for the machine's
// state (kExitNotNow) is retried.
constexpr int kExitConfigError = 78;
constexpr int kExitNotNow = 1;
constexpr int kExitUsage = 2;
constexpr std::chrono::seconds kStatusInterval{5};
constexpr std::chrono::milliseconds kLoopTick{500};
// Metrics written because files were finished come at most this often: a rotation storm
// (max_packets: 1) must not turn into a directory listing and an fsync per file.
constexpr std::chrono::seconds kMetricsSpacing{1};

// To the journal with structured fields when systemd connected stderr to it; to stderr otherwise.
void setUpLogging() {
  spdlog::set_default_logger(pr::logging::makeLogger(pr::logging::stderrIsJournal()));
}

// Reads the file; prints each problem as FILE:LINE:COLUMN: message.
std::optional<pr::config::Config> loadConfig(const std::filesystem::path& path) {
  try {
    return pr::config::load(path);
  } catch (const pr::config::ConfigError& error) {
    for (const auto& problem : error.problems()) {
      std::cerr << pr::config::format(problem) << '\n';
    }
    return std::nullopt;
  }
}

// The checks against this machine, as the user the daemon will run as; prints each problem.
// 0 when every check passes; else the exit status: kExitNotNow when each problem may pass by
// itself, kExitConfigError when one needs an edit.
int checkThisMachine(const pr::config::Config& config, pr::service::CompiledFilters& filters) {
  const auto problems = pr::service::checkEnvironment(config, &filters);
  for (const auto& problem : problems) std::cerr << pr::config::format(problem) << '\n';
  if (problems.empty()) return 0;
  const bool allMayPass = std::all_of(problems.begin(), problems.end(),
                                      [](const auto& problem) { return problem.mayPass; });
  return allMayPass ? kExitNotNow : kExitConfigError;
}

// Signals are read from a signalfd by the main loop; blocked before any thread starts so that
// every thread inherits the mask and none is interrupted.
pr::util::UniqueFd blockControlSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&signals, signal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return pr::util::UniqueFd(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
}

// D-Bus control, if the bus can be had: a recorder without it still records.
std::unique_ptr<pr::dbus::BusService> connectBus(pr::daemon::Daemon& daemon,
                                                 pr::daemon::BusChoice choice) {
  if (choice == pr::daemon::BusChoice::none) return nullptr;
  const auto kind =
      choice == pr::daemon::BusChoice::user ? pr::dbus::BusKind::user : pr::dbus::BusKind::system;
  try {
    auto bus = std::make_unique<pr::dbus::BusService>(daemon, kind);
    spdlog::info("D-Bus control: {} on the {}", pr::dbus::kBusName, pr::dbus::busDescription(kind));
    return bus;
  } catch (const std::exception& error) {
    spdlog::warn("no D-Bus control: {}", error.what());
    return nullptr;
  }
}

// The main loop: returns when SIGTERM or SIGINT arrives.
void runUntilStopped(pr::daemon::Daemon& daemon, int signals,
                     std::unique_ptr<pr::dbus::BusService> bus,
                     std::unique_ptr<pr::capture::LinkMonitor> links) {
  std::uint64_t watchdogUsec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdogUsec) > 0;
  const auto watchdogEvery = std::chrono::microseconds(watchdogUsec / 2);
  auto nextWatchdog = Clock::now();
  auto nextStatus = Clock::now() + kStatusInterval;
  auto statsEvery = daemon.config().daemon.statsInterval;
  auto nextStats = pr::util::saturatingAdd(Clock::now(), statsEvery);
  auto nextMetrics = Clock::now();
  auto lastMetrics = Clock::time_point{};
  bool metricsPending = false;

  for (;;) {
    pollfd waits[4] = {{signals, POLLIN, 0},
                       {daemon.finishedFilesFd(), POLLIN, 0},
                       {-1, 0, 0},
                       {links ? links->fd() : -1, POLLIN, 0}};
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kLoopTick);
    if (bus) {
      waits[2] = pollfd{bus->fd(), bus->events(), 0};
      if (const auto busTimeout = bus->timeout()) {
        timeout = std::min(timeout, std::chrono::ceil<std::chrono::milliseconds>(*busTimeout));
      }
    }
    ::poll(waits, 4, static_cast<int>(timeout.count()));
    if (links && (waits[3].revents & POLLIN)) {
      bool missed = false;
      const auto events = links->readEvents(missed);
      daemon.onLinkEvents(events, missed);
    }

    signalfd_siginfo info;
    while (::read(signals, &info, sizeof info) == sizeof info) {
      switch (info.ssi_signo) {
        case SIGTERM:
        case SIGINT:
          spdlog::info("received {}, stopping", info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
          return;
        case SIGHUP:
          daemon.reload();
          break;
        case SIGUSR1:
          daemon.rotate("");
          break;
      }
    }
    bool filesFinished = false;
    if (waits[1].revents & POLLIN) {
      filesFinished = true;
      for (const auto& file : daemon.takeFinishedFiles()) {
        if (bus && bus->connected() && !bus->emitFileFinished(file)) {
          spdlog::warn("cannot send FileFinished for {}", file.path.string());
        }
      }
    }
    // A lost connection (the bus daemon restarted) is reconnected by process() with back-off.
    if (bus) bus->process();

    const auto now = Clock::now();
    // Why only while every capture thread moves: a stuck thread should get us restarted.
    if (watchdog && now >= nextWatchdog) {
      if (daemon.captureIsProgressing()) {
        sd_notify(0, "WATCHDOG=1");
      } else {
        spdlog::warn("a capture thread is not making progress; not telling the watchdog");
      }
      nextWatchdog = now + watchdogEvery;
    }
    if (now >= nextStatus) {
      daemon.keepDirectoriesLocked();
      sd_notifyf(0, "STATUS=%s", daemon.statusLine().c_str());
      nextStatus = now + kStatusInterval;
    }
    // Every interval and on every file finished; the interval as the config has it now.
    metricsPending = metricsPending || filesFinished;
    if ((metricsPending && now >= lastMetrics + kMetricsSpacing) || now >= nextMetrics) {
      daemon.writeMetrics();
      lastMetrics = now;
      metricsPending = false;
      nextMetrics = pr::util::saturatingAdd(now, daemon.config().daemon.metrics.interval);
    }
    // The interval as the config has it now: a reload that changes it starts it again.
    if (daemon.config().daemon.statsInterval != statsEvery) {
      statsEvery = daemon.config().daemon.statsInterval;
      nextStats = pr::util::saturatingAdd(now, statsEvery);
    }
    if (statsEvery.count() > 0 && now >= nextStats) {
      daemon.logStatistics();
      nextStats = pr::util::saturatingAdd(now, statsEvery);
    }
  }
}

int run(const pr::daemon::Options& options) {
  auto config = loadConfig(options.configPath);
  if (!config) return kExitConfigError;
  if (!options.checkConfigOnly) {
    pr::daemon::setLogLevel(options.logLevel.value_or(config->daemon.logLevel));
  }
  const auto signals = blockControlSignals();
  // Before the checks, so that directories are checked as the user who will write them.
  const std::string user = options.user.empty() ? config->daemon.runAs : options.user;
  try {
    if (!options.checkConfigOnly || !user.empty()) pr::daemon::dropPrivileges(user);
  } catch (const std::exception& error) {
    std::cerr << options.configPath.string() << ": " << error.what() << '\n';
    return kExitConfigError;
  }
  // Read as root above; every reload reads it again as `user`.
  if (!user.empty() && ::access(options.configPath.c_str(), R_OK) != 0) {
    std::cerr << options.configPath.string() << ": user " << user
              << " cannot read it: " << std::strerror(errno)
              << "; every reload would fail (make it readable to that user, e.g. group "
                 "pcap-recorder, mode 0640)\n";
    return kExitConfigError;
  }
  pr::service::CompiledFilters filters;
  if (const int status = checkThisMachine(*config, filters); status != 0) return status;
  for (const auto& warning : pr::service::permissionWarnings(*config)) {
    if (options.checkConfigOnly) {
      std::cout << "warning: " << warning << '\n';
    } else {
      spdlog::warn("{}", warning);
    }
  }
  if (options.checkConfigOnly) {
    for (const auto& interface : config->interfaces) {
      if (!pr::capture::interfaceExists(interface.name)) {
        std::cout << pr::config::format({interface.where, "note: interface " + interface.name +
                                                              " does not exist now; the daemon "
                                                              "will wait for it"})
                  << '\n';
      }
    }
    std::cout << options.configPath.string() << ": configuration is valid ("
              << config->interfaces.size() << " interface"
              << (config->interfaces.size() == 1 ? "" : "s") << ")\n";
    return 0;
  }

  // Subscribed before capture starts, so no interface can come or go unnoticed in between.
  std::unique_ptr<pr::capture::LinkMonitor> links;
  try {
    links = std::make_unique<pr::capture::LinkMonitor>();
  } catch (const std::exception& error) {
    spdlog::warn("interfaces that come and go are not followed: {}", error.what());
  }

  pr::daemon::Daemon daemon(options.configPath, std::move(*config), std::move(filters));
  if (options.logLevel) daemon.keepLogLevel(*options.logLevel);
  try {
    daemon.start();
  } catch (const std::exception& error) {
    spdlog::error("{}: {}", options.configPath.string(), error.what());
    return kExitNotNow;
  }
  const std::size_t waiting = daemon.interfacesWaiting();
  const std::size_t recording = daemon.config().interfaces.size() - waiting;
  spdlog::info("pcap-recorderd {} recording {} interface{}{}", pr::kVersion, recording,
               recording == 1 ? "" : "s",
               waiting > 0 ? ", waiting for " + std::to_string(waiting) + " more" : "");
  sd_notifyf(0, "READY=1\nSTATUS=%s", daemon.statusLine().c_str());

  runUntilStopped(daemon, signals.get(), connectBus(daemon, options.bus), std::move(links));
  sd_notify(0, "STOPPING=1\nSTATUS=stopping: finishing files");
  daemon.stop();
  // The final counts, every interface down: node_exporter goes on reading the file.
  daemon.writeMetrics();
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
    return kExitNotNow;
  }
}
