// The Daemon's metrics: what it measures for node_exporter's textfile collector, and the writing.
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "pcap_recorder/metrics/textfile.hpp"
#include "pcap_recorder/version.hpp"

namespace pcap_recorder::daemon {

metrics::Sample Daemon::metricsSample() {
  metrics::Sample sample{.version = kVersion, .interfaces = {}, .directories = {}};
  for (std::size_t slot = 0; slot < config_.interfaces.size(); ++slot) {
    const auto& name = config_.interfaces[slot].name;
    const auto total = totals_.total(name);
    const auto* recorder = slot < recorders_.size() ? recorders_[slot].get() : nullptr;
    sample.interfaces.push_back({
        .interface = name,
        .packetsWritten = total.packetsWritten,
        .bytesWritten = total.bytesWritten,
        .kernelDrops = total.kernelDrops,
        .packetsLostToDisk = total.packetsLostToDisk,
        .filesFinished = total.filesWritten,
        .filesWithoutSha256 = total.filesWithoutSha256,
        // Not waiting for the interface, nor paused by a full disk, nor with its link down.
        .up = recorder != nullptr && recorder->state().state == service::CaptureState::capturing,
    });
  }
  for (const auto& directory : directoriesOf(config_)) {
    sample.directories.push_back(metrics::sampleDirectory(directory.directory, directory.ownFiles));
  }
  return sample;
}

void Daemon::writeMetrics() {
  const auto& path = config_.daemon.metrics.textfile;
  if (path.empty()) return;
  try {
    metrics::writeTextfile(path, metrics::renderPrometheusText(metricsSample()));
    if (!metricsError_.empty()) spdlog::info("metrics: writing {} again", path.string());
    metricsError_.clear();
  } catch (const std::exception& error) {
    // Said once per kind of failure: the file is rewritten every interval.
    if (metricsError_ != error.what()) {
      spdlog::warn("metrics: {}; the textfile is not updated until it can be written",
                   error.what());
    }
    metricsError_ = error.what();
  }
}

}  // namespace pcap_recorder::daemon
