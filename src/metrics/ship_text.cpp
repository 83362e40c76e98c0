#include "pcap_recorder/metrics/ship_text.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "family.hpp"

namespace pcap_recorder::metrics {

namespace {

using detail::Family;

constexpr Family kFiles{"pcap_recorder_ship_files_total", "counter",
                        "Files uploaded and confirmed (size, ETag and SHA-256 checked)."};
constexpr Family kBytes{"pcap_recorder_ship_bytes_total", "counter",
                        "Bytes of the files uploaded and confirmed."};
constexpr Family kFailures{
    "pcap_recorder_ship_failures_total", "counter",
    "File uploads that failed after their requests' retries (the file is tried again later)."};
constexpr Family kBacklog{"pcap_recorder_ship_backlog_files", "gauge",
                          "Finished capture files not yet confirmed uploaded."};
constexpr Family kLastSuccess{
    "pcap_recorder_ship_last_success_timestamp_seconds", "gauge",
    "Time of the last confirmed upload; 0 when there was none since the shipper started."};

void family(std::string& out, const Family& family, const std::string& value) {
  detail::writeHeader(out, family);
  out += family.name;
  out += ' ';
  out += value;
  out += '\n';
}

std::string formatSeconds(double seconds) {
  char text[64];
  std::snprintf(text, sizeof text, "%.3f", seconds);
  return text;
}

}  // namespace

std::string renderShipPrometheusText(const ShipSample& sample) {
  std::string out;
  family(out, kFiles, std::to_string(sample.filesShipped));
  family(out, kBytes, std::to_string(sample.bytesShipped));
  family(out, kFailures, std::to_string(sample.failures));
  family(out, kBacklog, std::to_string(sample.backlogFiles));
  family(out, kLastSuccess, formatSeconds(sample.lastSuccessTimestamp.value_or(0)));
  return out;
}

ShipReading readShipPrometheusText(std::string_view text) {
  ShipReading reading;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    const auto space = line.find(' ');
    if (line.empty() || line.front() == '#' || space == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, space);
    const std::string value(line.substr(space + 1));
    char* rest = nullptr;
    const double number = std::strtod(value.c_str(), &rest);
    if (rest == value.c_str() || *rest != '\0' || !std::isfinite(number) || number < 0) continue;
    if (name == kBacklog.name) reading.backlogFiles = static_cast<std::uint64_t>(number);
    if (name == kFailures.name) reading.failures = static_cast<std::uint64_t>(number);
    if (name == kLastSuccess.name) reading.lastSuccessTimestamp = number;
  }
  return reading;
}

}  // namespace pcap_recorder::metrics
