#include "ship_status.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>

#include "pcap_recorder/metrics/ship_text.hpp"

namespace pcap_recorder::ctl {

namespace {

std::string utc(double seconds) {
  const auto whole = static_cast<std::time_t>(seconds);
  std::tm parts{};
  ::gmtime_r(&whole, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

}  // namespace

std::string formatShipStatus(const std::optional<std::string>& text, double now) {
  if (!text) return "";
  const auto reading = metrics::readShipPrometheusText(*text);
  if (!reading.backlogFiles) return "ship: unreadable status file\n";
  std::string line = "ship: " + std::to_string(*reading.backlogFiles) +
                     (*reading.backlogFiles == 1 ? " file" : " files") + " waiting for upload";
  const double last = reading.lastSuccessTimestamp.value_or(0);
  if (last > 0) {
    const auto ago = static_cast<long long>(std::max(0.0, std::floor(now - last)));
    line += ", last upload " + utc(last) + " (" + std::to_string(ago) + " s ago)";
  } else {
    line += ", no upload since the shipper started";
  }
  if (reading.failures && *reading.failures > 0) {
    line += ", " + std::to_string(*reading.failures) +
            " failed (see journalctl -u "
            "pcap-recorder-ship)";
  }
  return line + "\n";
}

std::optional<std::string> readShipStatusFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) return std::nullopt;
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace pcap_recorder::ctl
