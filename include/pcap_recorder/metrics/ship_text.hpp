// pcap-recorder-shipd's metrics in the Prometheus text format (node_exporter's textfile
// collector), and reading the backlog back from such a file for `pcap-recorderctl status`. Pure:
// the values come in, the text goes out (and back).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pcap_recorder::metrics {

struct ShipSample {
  std::uint64_t filesShipped = 0;  // confirmed uploads since the shipper started
  std::uint64_t bytesShipped = 0;
  std::uint64_t failures = 0;      // files whose upload failed (after the request's retries)
  std::uint64_t backlogFiles = 0;  // finished files not yet confirmed, at the last count
  // Seconds since the epoch of the last confirmed upload; none: none since the shipper started.
  std::optional<double> lastSuccessTimestamp = std::nullopt;
};

// Every family once, with HELP and TYPE; the last success is 0 when there was none.
std::string renderShipPrometheusText(const ShipSample& sample);

// The values of a file renderShipPrometheusText wrote; none for a family it lacks (another file,
// a truncated one). Lines it does not know are skipped.
struct ShipReading {
  std::optional<std::uint64_t> backlogFiles;
  std::optional<std::uint64_t> failures;
  std::optional<double> lastSuccessTimestamp;  // 0: none since the shipper started
};
ShipReading readShipPrometheusText(std::string_view text);

}  // namespace pcap_recorder::metrics
