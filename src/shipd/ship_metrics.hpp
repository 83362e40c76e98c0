// What pcap-recorder-shipd tells node_exporter and `pcap-recorderctl status`: its counters and
// backlog, rewritten (atomically, metrics/textfile.hpp) into every metrics file after each
// change. A file that cannot be written is logged once until it can be again; shipping goes on.
// Thread-safe: the uploads of parallel files (ship.parallel_files) report as they end.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "pcap_recorder/config/config.hpp"
#include "pcap_recorder/metrics/ship_text.hpp"

namespace pcap_recorder::shipd {

// The shipper always writes `ship.prom` in its runtime directory (systemd's RuntimeDirectory=,
// `runtimeDirectory` empty outside systemd), which pcap-recorderctl status reads, and
// `ship.metrics_textfile` when set, for node_exporter.
inline constexpr const char* kStatusFileName = "ship.prom";
std::vector<std::filesystem::path> metricsFiles(const config::ShipSettings& ship,
                                                const std::string& runtimeDirectory);

class ShipMetrics {
 public:
  explicit ShipMetrics(std::vector<std::filesystem::path> files);

  void backlog(std::uint64_t files);  // after a scan
  void shipped(std::uint64_t bytes);  // one file confirmed: one fewer in the backlog
  void failed();

 private:
  void publish();  // with mutex_ held

  std::mutex mutex_;  // guards everything below
  std::vector<std::filesystem::path> files_;
  std::vector<bool> failing_;  // per file: its last write failed (and was logged)
  metrics::ShipSample sample_;
};

}  // namespace pcap_recorder::shipd
