#include "ship_metrics.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <system_error>

#include "pcap_recorder/metrics/textfile.hpp"

namespace pcap_recorder::shipd {

std::vector<std::filesystem::path> metricsFiles(const config::ShipSettings& ship,
                                                const std::string& runtimeDirectory) {
  std::vector<std::filesystem::path> files;
  if (!runtimeDirectory.empty()) {
    files.push_back(std::filesystem::path(runtimeDirectory) / kStatusFileName);
  }
  if (!ship.metricsTextfile.empty()) files.push_back(ship.metricsTextfile);
  return files;
}

ShipMetrics::ShipMetrics(std::vector<std::filesystem::path> files)
    : files_(std::move(files)), failing_(files_.size(), false) {
  publish();
}

void ShipMetrics::backlog(std::uint64_t files) {
  std::lock_guard lock(mutex_);
  sample_.backlogFiles = files;
  publish();
}

void ShipMetrics::shipped(std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  ++sample_.filesShipped;
  sample_.bytesShipped += bytes;
  if (sample_.backlogFiles > 0) --sample_.backlogFiles;
  sample_.lastSuccessTimestamp =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  publish();
}

void ShipMetrics::failed() {
  std::lock_guard lock(mutex_);
  ++sample_.failures;
  publish();
}

void ShipMetrics::publish() {
  if (files_.empty()) return;
  const std::string text = metrics::renderShipPrometheusText(sample_);
  for (std::size_t i = 0; i < files_.size(); ++i) {
    try {
      metrics::writeTextfile(files_[i], text);
      if (failing_[i]) spdlog::info("{}: metrics written again", files_[i].string());
      failing_[i] = false;
    } catch (const std::system_error& error) {
      if (!failing_[i]) spdlog::warn("metrics not written: {}", error.what());
      failing_[i] = true;
    }
  }
}

}  // namespace pcap_recorder::shipd
