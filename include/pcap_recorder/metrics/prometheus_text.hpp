// The daemon's metrics in the Prometheus text exposition format (version 0.0.4), for
// node_exporter's textfile collector: the daemon serves no HTTP, it writes a file. Pure: the
// values come in, the text goes out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pcap_recorder::metrics {

struct InterfaceSample {
  std::string interface {};
  std::uint64_t packetsWritten = 0;
  std::uint64_t bytesWritten = 0;
  std::uint64_t kernelDrops = 0;
  std::uint64_t packetsLostToDisk = 0;
  std::uint64_t filesFinished = 0;
  std::uint64_t filesWithoutSha256 = 0;  // finished without the sidecar's SHA-256 (stats module)
  bool up = false;                       // capturing now
};

struct DirectorySample {
  std::string directory{};
  std::optional<std::uint64_t> freeBytes = std::nullopt;  // none: statvfs failed
  // Seconds since the epoch of the oldest capture kept there; none: no file (yet).
  std::optional<double> oldestFileTimestamp = std::nullopt;
};

struct Sample {
  std::string version;
  std::vector<InterfaceSample> interfaces;
  std::vector<DirectorySample> directories;
};

// A label value as the format wants it inside double quotes: backslash, double quote and line
// feed escaped, bytes that are not UTF-8 as U+FFFD (interface names are tame, directory paths
// need not be).
std::string escapeLabelValue(std::string_view value);

// Every metric family once, with its HELP and TYPE lines, samples in the order given.
std::string renderPrometheusText(const Sample& sample);

}  // namespace pcap_recorder::metrics
