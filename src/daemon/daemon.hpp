// The running daemon: one Recorder per configured interface, the FileFinisher they share, and the
// Control operations (rotate, reload, status) that signals and D-Bus map onto.
// Used from the main thread only, except where a method says otherwise.
#pragma once

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pcap_recorder/capture/link_monitor.hpp"
#include "pcap_recorder/config/config.hpp"
#include "pcap_recorder/metrics/interface_totals.hpp"
#include "pcap_recorder/metrics/prometheus_text.hpp"
#include "pcap_recorder/service/control.hpp"
#include "pcap_recorder/service/directory_locks.hpp"
#include "pcap_recorder/service/environment_check.hpp"
#include "pcap_recorder/service/file_finisher.hpp"
#include "pcap_recorder/service/recorder.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::daemon {

// What the daemon asks of the machine for each interface, as a seam, so that start, reload and
// interfaces coming and going are unit-tested without root (tests/unit/daemon).
struct Platform {
  // The interface of this name as it is now (its index, whether it is up); nullopt when none.
  std::function<std::optional<capture::LinkState>(const std::string& name)> linkState;
  // Opens the recorder of one interface: socket, ring and first file, intake held. `filter`: the
  // filter compiled at load, or null to compile it for the interface. Throws when it cannot.
  std::function<std::unique_ptr<service::Recorder>(const config::InterfaceSettings& settings,
                                                   service::FileFinisher& finisher,
                                                   const bpf::FilterProgram* filter)>
      openRecorder;
};

// The kernel's interfaces and AF_PACKET sockets.
Platform realPlatform();

// Sets the level below which log messages are dropped.
void setLogLevel(config::LogLevel level);

class Daemon final : public service::Control {
 public:
  // `filters`: the config's filters as checkEnvironment() compiled them (missing ones are
  // compiled when needed).
  Daemon(std::filesystem::path configPath, config::Config config,
         service::CompiledFilters filters = {}, Platform platform = realPlatform());
  ~Daemon() override;
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Finishes what an earlier run left, then starts capturing on every interface. Throws, naming
  // the interface, when one cannot be opened.
  void start();
  // Stops every interface, finishes every file and waits for the post_finish_commands.
  void stop();

  std::string version() const override;
  std::vector<service::InterfaceStatus> interfaces() const override;
  service::ControlResult rotate(const std::string& interface) override;
  service::ControlResult reload() override;

  // Locks the output directories again: one made or re-made since (by a recorder, after a
  // removal, a symlink re-pointed) is held from now on. One held by another daemon is logged
  // (once); recording goes on. Called every few seconds.
  void keepDirectoriesLocked();

  // Readable when takeFinishedFiles() has news (files are finished on another thread).
  int finishedFilesFd() const noexcept { return finishedEvent_.get(); }
  std::vector<service::FinishedFile> takeFinishedFiles();

  // Interfaces that appeared, went down or up, or disappeared (rtnetlink). `missedEvents`: the
  // kernel dropped some, so every configured interface is looked at again.
  void onLinkEvents(const std::vector<capture::LinkEvent>& events, bool missedEvents);

  // Configured interfaces that do not exist (yet), so have no recorder.
  std::size_t interfacesWaiting() const {
    return static_cast<std::size_t>(std::count(recorders_.begin(), recorders_.end(), nullptr));
  }
  // True when every capture thread still runs and went round its loop since the last call.
  bool captureIsProgressing();
  // One line for systemd's STATUS=.
  std::string statusLine() const;
  void logStatistics() const;
  // Writes metrics.textfile, when set (daemon_metrics.cpp); a failure is logged, once.
  void writeMetrics();
  metrics::Sample metricsSample();
  const config::Config& config() const noexcept { return config_; }
  // The command line's --log-level, which then holds over log.level, also at reloads; without it
  // each reload applied sets the level its log.level says.
  void keepLogLevel(config::LogLevel level) noexcept { logLevelFromCommandLine_ = level; }

 private:
  std::unique_ptr<service::Recorder> openRecorder(const config::InterfaceSettings& settings,
                                                  const service::CompiledFilters& filters);
  service::ControlResult applyReload();
  // Opens and starts the recorder of a waiting interface that exists now; false if it does not.
  bool startWaiting(std::size_t slot);
  // Stops, joins, logs the summary and empties `recorder`; nothing when it is empty.
  void stopRecorder(std::unique_ptr<service::Recorder>& recorder);
  void logSummary(const service::Recorder& recorder) const;
  // Tells `recorder` of `name` whether its link is up (`up`), logging a change.
  static void setLink(service::Recorder& recorder, const std::string& name, bool up);
  std::vector<service::DirectoryRetention> directoriesOf(const config::Config& config) const;

  Platform platform_;
  std::filesystem::path configPath_;
  config::Config config_;
  service::CompiledFilters filters_;  // config_'s, compiled once when it was loaded
  util::UniqueFd finishedEvent_;
  std::mutex finishedMutex_;
  std::vector<service::FinishedFile> finished_;  // under finishedMutex_
  std::unique_ptr<service::FileFinisher> finisher_;
  service::DirectoryLocks directoryLocks_;  // of every output directory of config_ that exists
  // Those let go of since (a reload, a path leading elsewhere), held until no file is left to
  // store: keepDirectoriesLocked() then lets go of them.
  service::DirectoryLocks retiredLocks_;
  std::set<std::string> lockProblemsSaid_;  // each said once
  // One per configured interface, in config order; empty while the interface does not exist.
  std::vector<std::unique_ptr<service::Recorder>> recorders_;
  std::vector<std::uint64_t> lastHeartbeats_;
  // Every recorder's counters, by interface, across reloads and re-created interfaces. Mutable:
  // reading a total keeps its floor (interface_totals.hpp); on the main thread, as every reader.
  mutable metrics::InterfaceTotals totals_;
  std::string metricsError_;  // the last failure to write the textfile, said once
  std::optional<config::LogLevel> logLevelFromCommandLine_;
};

}  // namespace pcap_recorder::daemon
