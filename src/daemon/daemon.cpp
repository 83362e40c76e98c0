#include "daemon.hpp"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <algorithm>
#include <map>

#include "pcap_recorder/capture/af_packet_source.hpp"
#include "pcap_recorder/logging/log.hpp"
#include "pcap_recorder/service/environment_check.hpp"
#include "pcap_recorder/service/leftovers.hpp"
#include "pcap_recorder/service/reload_plan.hpp"
#include "pcap_recorder/service/retention_directories.hpp"
#include "pcap_recorder/version.hpp"

namespace pcap_recorder::daemon {

namespace {

spdlog::level::level_enum spdlogLevel(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::trace:
      return spdlog::level::trace;
    case config::LogLevel::debug:
      return spdlog::level::debug;
    case config::LogLevel::info:
      return spdlog::level::info;
    case config::LogLevel::warning:
      return spdlog::level::warn;
    case config::LogLevel::error:
      return spdlog::level::err;
    case config::LogLevel::critical:
      return spdlog::level::critical;
    case config::LogLevel::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::string problemsText(const std::vector<config::Problem>& problems) {
  std::string text;
  for (const auto& problem : problems) {
    if (!text.empty()) text += '\n';
    text += config::format(problem);
  }
  return text;
}

// Reads and checks the config file; the problems, or nothing, on failure.
std::optional<config::Config> loadChecked(const std::filesystem::path& path,
                                          std::vector<config::Problem>& problems,
                                          service::CompiledFilters& filters) {
  try {
    auto config = config::load(path);
    problems = service::checkEnvironment(config, &filters);
    if (problems.empty()) return config;
  } catch (const config::ConfigError& error) {
    problems = error.problems();
  }
  return std::nullopt;
}

const config::InterfaceSettings& settingsOf(const config::Config& config, const std::string& name) {
  return *std::find_if(config.interfaces.begin(), config.interfaces.end(),
                       [&](const auto& interface) { return interface.name == name; });
}

}  // namespace

Platform realPlatform() {
  return {
      .linkState = capture::linkStateOf,
      .openRecorder = [](const config::InterfaceSettings& settings, service::FileFinisher& finisher,
                         const bpf::FilterProgram* filter) -> std::unique_ptr<service::Recorder> {
        if (filter != nullptr) {
          return std::make_unique<service::Recorder>(settings, finisher, nullptr, *filter);
        }
        return std::make_unique<service::Recorder>(settings, finisher);
      },
  };
}

void setLogLevel(config::LogLevel level) {
  spdlog::set_level(spdlogLevel(level));
}

Daemon::Daemon(std::filesystem::path configPath, config::Config config,
               service::CompiledFilters filters, Platform platform)
    : platform_(std::move(platform)),
      configPath_(std::move(configPath)),
      config_(std::move(config)),
      filters_(std::move(filters)),
      finishedEvent_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Daemon::~Daemon() {
  stop();
}

std::vector<service::DirectoryRetention> Daemon::directoriesOf(const config::Config& config) const {
  return service::retentionDirectoriesOf(config, config::resolveDirectory);
}

// Every spelling of every directory of `directories`, as DirectoryLocks::lock takes them.
static std::vector<std::filesystem::path> pathsToLock(
    const std::vector<service::DirectoryRetention>& directories) {
  std::vector<std::filesystem::path> paths;
  for (const auto& directory : directories) {
    paths.push_back(directory.directory);
    paths.insert(paths.end(), directory.otherSpellings.begin(), directory.otherSpellings.end());
  }
  return paths;
}

void Daemon::start() {
  auto directories = directoriesOf(config_);
  for (const auto& directory : directories) {
    service::openOutputDirectory(directory.directory);
    for (const auto& spelling : directory.otherSpellings) service::openOutputDirectory(spelling);
  }
  // Before the repair: what it would take for leftovers may be another daemon's live files.
  service::LockProblems problems;
  directoryLocks_ = directoryLocks_.lock(pathsToLock(directories), problems);
  if (!problems.heldElsewhere.empty()) throw std::runtime_error(problems.heldElsewhere.front());
  for (const auto& problem : problems.cannotLock) spdlog::warn("{}", problem);
  lockProblemsSaid_.insert(problems.cannotLock.begin(), problems.cannotLock.end());
  std::vector<service::FinishJob> repaired;
  for (const auto& directory : directories) {
    for (auto& job : service::repairLeftovers(directory.directory, directory.ownFiles,
                                              config_.interfaces, directory.otherSpellings)) {
      repaired.push_back(std::move(job));
    }
  }
  std::vector<std::filesystem::path> paths;
  for (const auto& directory : directories) paths.push_back(directory.directory);
  finisher_ = std::make_unique<service::FileFinisher>(
      std::move(directories), [this](const service::FinishedFile& file) {
        {
          std::lock_guard lock(finishedMutex_);
          finished_.push_back(file);
        }
        const std::uint64_t one = 1;
        [[maybe_unused]] auto ignored = ::write(finishedEvent_.get(), &one, sizeof one);
      });
  // Stored and announced like any finished file, on the finisher's thread: compressing a large
  // file must not hold up the start of capture.
  for (auto& job : repaired) finisher_->submit(std::move(job));
  for (const auto& path : paths) finisher_->requestRetention(path);

  recorders_.resize(config_.interfaces.size());
  for (std::size_t slot = 0; slot < recorders_.size(); ++slot) {
    const auto& name = config_.interfaces[slot].name;
    if (platform_.linkState(name)) {
      recorders_[slot] = openRecorder(config_.interfaces[slot], filters_);
    } else {
      logging::logEvent(spdlog::level::warn, {{"INTERFACE", name}},
                        "{}: does not exist; waiting for it to appear", name);
    }
  }
  for (auto& recorder : recorders_) {
    if (recorder) recorder->start();
  }
  lastHeartbeats_.assign(recorders_.size(), 0);
}

bool Daemon::startWaiting(std::size_t slot) {
  const auto& settings = config_.interfaces[slot];
  if (!platform_.linkState(settings.name)) return false;
  try {
    service::openOutputDirectory(settings.output.directory);
    recorders_[slot] = openRecorder(settings, filters_);
    recorders_[slot]->start();
  } catch (const std::exception& error) {
    logging::logEvent(spdlog::level::err, {{"INTERFACE", settings.name}},
                      "{}: appeared but cannot be captured: {}", settings.name, error.what());
    recorders_[slot].reset();
    return false;
  }
  logging::logEvent(spdlog::level::info, {{"INTERFACE", settings.name}}, "{}: appeared; capturing",
                    settings.name);
  return true;
}

void Daemon::stopRecorder(std::unique_ptr<service::Recorder>& recorder) {
  if (!recorder) return;
  recorder->requestStop();
  recorder->join();
  logSummary(*recorder);
  recorder.reset();
}

// The kernel keeps a socket bound to an interface that goes down, and resumes it when the
// interface comes back up; only a deleted interface takes the socket with it.
void Daemon::onLinkEvents(const std::vector<capture::LinkEvent>& events, bool missedEvents) {
  for (const auto& event : events) {
    for (std::size_t slot = 0; slot < recorders_.size(); ++slot) {
      if (config_.interfaces[slot].name != event.name) continue;
      auto& recorder = recorders_[slot];
      if (event.kind == capture::LinkEvent::Kind::removed) {
        if (recorder && recorder->interfaceIndex() == event.index) {
          logging::logEvent(spdlog::level::warn, {{"INTERFACE", event.name}},
                            "{}: removed; its file is finished; waiting for it to come back",
                            event.name);
          stopRecorder(recorder);
        }
        continue;
      }
      if (recorder && recorder->interfaceIndex() != event.index) {
        // Deleted and made again before we heard of the deletion: a new interface, a new socket.
        logging::logEvent(spdlog::level::warn, {{"INTERFACE", event.name}},
                          "{}: was replaced by a new interface of the same name", event.name);
        stopRecorder(recorder);
      }
      if (!recorder) {
        startWaiting(slot);
        if (recorders_[slot]) setLink(*recorders_[slot], event.name, event.up);
        continue;
      }
      setLink(*recorder, event.name, event.up);
    }
  }
  if (missedEvents) {
    // What the missed events would have said: gone, replaced (deleted and made again: a new
    // index, which the old socket is not bound to), appeared, down or up.
    spdlog::warn("some link events were missed; looking at every interface again");
    for (std::size_t slot = 0; slot < recorders_.size(); ++slot) {
      const auto& name = config_.interfaces[slot].name;
      auto& recorder = recorders_[slot];
      const auto link = platform_.linkState(name);
      if (!link) {
        stopRecorder(recorder);
        continue;
      }
      if (recorder && recorder->interfaceIndex() != link->index) {
        logging::logEvent(spdlog::level::warn, {{"INTERFACE", name}},
                          "{}: was replaced by a new interface of the same name", name);
        stopRecorder(recorder);
      }
      if (!recorder) {
        startWaiting(slot);
      } else {
        setLink(*recorder, name, link->up);
      }
    }
  }
  lastHeartbeats_.assign(recorders_.size(), 0);
}

std::unique_ptr<service::Recorder> Daemon::openRecorder(const config::InterfaceSettings& settings,
                                                        const service::CompiledFilters& filters) {
  const auto compiled = filters.find(settings.name);
  auto recorder = platform_.openRecorder(settings, *finisher_,
                                         compiled != filters.end() ? &compiled->second : nullptr);
  totals_.attach(settings.name, recorder->counters());
  // From here link events tell every change; whether it is up now they do not.
  if (const auto link = platform_.linkState(settings.name))
    setLink(*recorder, settings.name, link->up);
  return recorder;
}

void Daemon::setLink(service::Recorder& recorder, const std::string& name, bool up) {
  if (recorder.linkUp() == up) return;
  recorder.setLinkUp(up);
  logging::logEvent(up ? spdlog::level::info : spdlog::level::warn, {{"INTERFACE", name}},
                    "{}: link {}", name,
                    up ? "up: capturing again" : "down: waiting for it to come up");
}

void Daemon::stop() {
  for (auto& recorder : recorders_) {
    if (recorder) recorder->requestStop();
  }
  for (auto& recorder : recorders_) {
    if (recorder) recorder->join();
  }
  // Every last file is finished (and its post_finish_command run) before the summaries.
  if (finisher_) finisher_->stop();
  for (const auto& recorder : recorders_) {
    if (recorder) logSummary(*recorder);
  }
  recorders_.clear();
  finisher_.reset();
  // Everything in them is finished: the next daemon may take them.
  directoryLocks_ = {};
  retiredLocks_ = {};
}

void Daemon::keepDirectoriesLocked() {
  service::LockProblems problems;
  auto next = directoryLocks_.lock(pathsToLock(directoriesOf(config_)), problems, retiredLocks_);
  // What the config no longer leads to (a symlink re-pointed, a directory moved away) is let go
  // of only once nothing is left to store: its last file may still be being finished there.
  retiredLocks_.adopt(std::move(directoryLocks_));
  directoryLocks_ = std::move(next);
  if (finisher_ && finisher_->queued() == 0) retiredLocks_ = {};
  for (const auto& problem : problems.heldElsewhere) {
    if (lockProblemsSaid_.insert(problem).second) spdlog::error("{}", problem);
  }
  for (const auto& problem : problems.cannotLock) {
    if (lockProblemsSaid_.insert(problem).second) spdlog::warn("{}", problem);
  }
}

void Daemon::logSummary(const service::Recorder& recorder) const {
  const auto stats = recorder.stats();
  std::string files;
  for (const auto& name : recorder.finishedFiles()) files += (files.empty() ? "" : ", ") + name;
  logging::logEvent(
      spdlog::level::info,
      {{"INTERFACE", recorder.interface()},
       {"PACKETS", stats.packetsWritten},
       {"DROPS", stats.kernelDrops}},
      "{}: summary: {} packets written, {} bytes, {} kernel drops, {} lost to disk, files: {}",
      recorder.interface(), stats.packetsWritten, stats.bytesWritten, stats.kernelDrops,
      stats.packetsLostToDisk, files.empty() ? "none" : files);
}

std::string Daemon::version() const {
  return kVersion;
}

std::vector<service::InterfaceStatus> Daemon::interfaces() const {
  std::vector<service::InterfaceStatus> statuses;
  for (std::size_t slot = 0; slot < recorders_.size(); ++slot) {
    const auto& recorder = recorders_[slot];
    const auto& name = config_.interfaces[slot].name;
    // Since the daemon started, as the metrics count: across reloads that restarted the interface
    // and interfaces deleted and made again, so that losses never vanish from the count.
    if (!recorder) {
      statuses.push_back(
          {name, {service::CaptureState::waitingForInterface}, totals_.total(name), {}});
      continue;
    }
    statuses.push_back({name, recorder->state(), totals_.total(name), recorder->currentFile()});
  }
  return statuses;
}

service::ControlResult Daemon::rotate(const std::string& interface) {
  bool found = false;
  std::string outcome;
  std::vector<std::string> rotated;
  for (std::size_t slot = 0; slot < recorders_.size(); ++slot) {
    const auto& name = config_.interfaces[slot].name;
    if (!interface.empty() && name != interface) continue;
    found = true;
    if (recorders_[slot] && recorders_[slot]->requestRotation()) {
      rotated.push_back(name);
      outcome += "rotated " + name + ": the current file is being finished, a new one started\n";
    } else {
      outcome +=
          name + ": not rotated: " +
          (recorders_[slot] ? "its current file has no packets" : "waiting for the interface") +
          "\n";
    }
  }
  if (!found) return {false, "no interface " + interface + " is being recorded"};
  if (!rotated.empty()) {
    std::string names;
    for (const auto& name : rotated) names += (names.empty() ? "" : ", ") + name;
    spdlog::info("finishing the current file of {}", names);
  }
  outcome.pop_back();
  return {true, outcome};
}

service::ControlResult Daemon::reload() {
  sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration");
  spdlog::info("reloading {}", configPath_.string());
  service::ControlResult result;
  // A reload never stops the daemon: whatever fails in it is reported as the reload's failure.
  try {
    result = applyReload();
  } catch (const std::exception& error) {
    spdlog::error("reload failed: {}", error.what());
    result = {false, error.what()};
  }
  sd_notifyf(0, "READY=1\nSTATUS=%s", statusLine().c_str());
  return result;
}

// Why everything that can fail (reading and checking the file, compiling filters, opening
// sockets and files, starting threads) is done before anything running is touched: a reload that
// cannot be applied whole leaves the daemon as it was. After that point only attaching filters
// remains, and an interface whose filter the kernel refuses stops alone.
service::ControlResult Daemon::applyReload() {
  std::vector<config::Problem> problems;
  service::CompiledFilters nextFilters;
  auto next = loadChecked(configPath_, problems, nextFilters);
  if (!next) {
    for (const auto& problem : problems) spdlog::error("{}", config::format(problem));
    spdlog::error("reload refused: the configuration has {} problem{}; running on unchanged",
                  problems.size(), problems.size() == 1 ? "" : "s");
    return {false, problemsText(problems)};
  }

  // As at start: directories (perhaps new ones) and a config file that others could write.
  for (const auto& warning : service::permissionWarnings(*next)) spdlog::warn("{}", warning);
  const auto plan = service::planReload(config_, *next);
  auto slotOf = [this](const std::string& name) -> std::unique_ptr<service::Recorder>& {
    for (std::size_t slot = 0; slot < recorders_.size(); ++slot) {
      if (config_.interfaces[slot].name == name) return recorders_[slot];
    }
    throw std::logic_error("no interface " + name);
  };
  // New sockets for added and restarted interfaces that exist now (absent ones will wait), their
  // threads running with intake held. Destroyed unstarted if anything below fails.
  std::map<std::string, std::unique_ptr<service::Recorder>> opened;
  service::DirectoryLocks nextLocks;
  try {
    std::vector<std::string> toOpen = plan.added;
    toOpen.insert(toOpen.end(), plan.restarted.begin(), plan.restarted.end());
    std::erase_if(toOpen, [&](const std::string& name) { return !platform_.linkState(name); });
    // Every directory of the new config, as at start, so that each can be locked before anything
    // records into it. One that cannot be made now refuses the reload if a new recorder is to
    // write there; otherwise it is the running recorder's to retry (it pauses), and
    // keepDirectoriesLocked()'s to lock once it exists.
    for (const auto& interface : next->interfaces) {
      try {
        service::openOutputDirectory(interface.output.directory);
      } catch (const std::exception&) {
        if (std::find(toOpen.begin(), toOpen.end(), interface.name) != toOpen.end()) throw;
      }
    }
    service::LockProblems problems;
    nextLocks = directoryLocks_.lock(pathsToLock(directoriesOf(*next)), problems, retiredLocks_);
    if (!problems.heldElsewhere.empty()) throw std::runtime_error(problems.heldElsewhere.front());
    for (const auto& problem : problems.cannotLock) {
      if (lockProblemsSaid_.insert(problem).second) spdlog::warn("{}", problem);
    }
    for (const auto& name : toOpen) {
      opened[name] = openRecorder(settingsOf(*next, name), nextFilters);
    }
    for (auto& [name, recorder] : opened) recorder->startThread();
  } catch (const std::exception& error) {
    opened.clear();
    spdlog::error("reload refused: {}; running on unchanged", error.what());
    return {false, error.what()};
  }
  // The point of no return. Only from here do the new retention limits apply: a retention pass
  // while the reload was tried (any interface finishing a file asks for one) used the old ones.
  // A pass asked for meanwhile by a new recorder (a full disk in a new directory) is asked again.
  // The old ones too, until every file submitted by then is stored: those a removed or moved
  // interface ends now are still being indexed, compressed and hashed for a while.
  retiredLocks_.adopt(std::move(directoryLocks_));
  directoryLocks_ = std::move(nextLocks);
  finisher_->setDirectories(directoriesOf(*next));
  for (const auto& directory : directoriesOf(*next)) {
    finisher_->requestRetention(directory.directory);
  }
  for (const auto& name : plan.changedInPlace) {
    if (auto& running = slotOf(name)) {
      const auto& settings = settingsOf(*next, name);
      if (const auto filter = nextFilters.find(name); filter != nextFilters.end()) {
        running->applySettings(settings, filter->second);
      } else {
        running->applySettings(settings);
      }
    }
  }
  std::vector<std::string> failed;
  const auto beginIntake = [&](const std::string& name,
                               std::unique_ptr<service::Recorder>& recorder) {
    try {
      recorder->beginIntake();
    } catch (const std::exception& error) {
      logging::logEvent(spdlog::level::err, {{"INTERFACE", name}},
                        "{}: cannot capture with the new settings: {}", name, error.what());
      failed.push_back(name + ": " + error.what());
      stopRecorder(recorder);
    }
  };

  // Interfaces that go away finish their files. A restarted one hands over to its replacement
  // the moment its old socket stops taking frames: no frame twice, and only that instant missed.
  for (const auto& name : plan.removed) stopRecorder(slotOf(name));
  for (const auto& name : plan.restarted) {
    auto& recorder = slotOf(name);
    auto replacement = opened.find(name);
    if (recorder) {
      recorder->requestStop();
      recorder->waitUntilIntakeStopped();
    }
    if (replacement != opened.end()) beginIntake(name, replacement->second);
    stopRecorder(recorder);  // already stopping: joins and logs its summary
  }
  for (const auto& name : plan.added) {
    if (auto found = opened.find(name); found != opened.end()) beginIntake(name, found->second);
  }
  // The new slots follow the new config's order.
  std::vector<std::unique_ptr<service::Recorder>> slots;
  for (const auto& interface : next->interfaces) {
    if (auto found = opened.find(interface.name); found != opened.end()) {
      slots.push_back(std::move(found->second));
    } else if (std::find(plan.added.begin(), plan.added.end(), interface.name) !=
               plan.added.end()) {
      logging::logEvent(spdlog::level::warn, {{"INTERFACE", interface.name}},
                        "{}: does not exist; waiting for it to appear", interface.name);
      slots.emplace_back();
    } else {
      slots.push_back(std::move(slotOf(interface.name)));
    }
  }
  recorders_ = std::move(slots);
  lastHeartbeats_.assign(recorders_.size(), 0);
  config_ = std::move(*next);
  filters_ = std::move(nextFilters);
  setLogLevel(logLevelFromCommandLine_.value_or(config_.daemon.logLevel));
  spdlog::info("reloaded: {} started, {} stopped, {} restarted, {} changed in place, {} unchanged",
               plan.added.size(), plan.removed.size(), plan.restarted.size(),
               plan.changedInPlace.size(), plan.unchanged.size());
  if (!failed.empty()) {
    std::string text;
    for (const auto& each : failed) text += (text.empty() ? "" : "\n") + each;
    return {false, text};
  }
  return {};
}

std::vector<service::FinishedFile> Daemon::takeFinishedFiles() {
  std::uint64_t count;
  [[maybe_unused]] auto ignored = ::read(finishedEvent_.get(), &count, sizeof count);
  std::lock_guard lock(finishedMutex_);
  return std::exchange(finished_, {});
}

bool Daemon::captureIsProgressing() {
  bool progressing = true;
  for (std::size_t i = 0; i < recorders_.size(); ++i) {
    if (!recorders_[i]) continue;  // waiting for its interface: nothing to watch
    const auto heartbeat = recorders_[i]->heartbeat();
    if (!recorders_[i]->capturing() || heartbeat == lastHeartbeats_[i]) progressing = false;
    lastHeartbeats_[i] = heartbeat;
  }
  return progressing;
}

std::string Daemon::statusLine() const {
  std::string line;
  for (const auto& status : interfaces()) {
    line += (line.empty() ? "" : "; ") + status.name + " " +
            std::string(service::stateText(status.state)) + ": " +
            std::to_string(status.stats.packetsWritten) + " packets, " +
            std::to_string(status.stats.kernelDrops) + " drops";
  }
  return line.empty() ? "no interface" : line;
}

void Daemon::logStatistics() const {
  for (const auto& recorder : recorders_) {
    if (!recorder) continue;
    const auto stats = totals_.total(recorder->interface());
    logging::logEvent(
        spdlog::level::info,
        {{"INTERFACE", recorder->interface()},
         {"PACKETS", stats.packetsWritten},
         {"DROPS", stats.kernelDrops}},
        "{}: statistics: {}: {} packets received, {} kernel drops, {} written ({} bytes), {} "
        "lost to disk, {} files ({} without sha256)",
        recorder->interface(), service::stateText(recorder->state()), stats.packetsReceived,
        stats.kernelDrops, stats.packetsWritten, stats.bytesWritten, stats.packetsLostToDisk,
        stats.filesWritten, stats.filesWithoutSha256);
  }
}

}  // namespace pcap_recorder::daemon
