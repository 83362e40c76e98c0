#include "pcap_recorder/metrics/prometheus_text.hpp"

#include <cmath>
#include <cstdio>
#include <functional>

#include "pcap_recorder/util/printable.hpp"

#include "family.hpp"

namespace pcap_recorder::metrics {

namespace {

using detail::Family;

void line(std::string& out, const Family& family, std::string_view label, std::string_view value,
          const std::string& number) {
  out += family.name;
  out += '{';
  out += label;
  out += "=\"";
  out += escapeLabelValue(value);
  out += "\"} ";
  out += number;
  out += '\n';
}

// Whole seconds print without an exponent; a fraction keeps its milliseconds.
std::string formatSeconds(double seconds) {
  char text[64];
  if (seconds == std::floor(seconds) && std::fabs(seconds) < 1e15) {
    std::snprintf(text, sizeof text, "%.0f", seconds);
  } else {
    std::snprintf(text, sizeof text, "%.3f", seconds);
  }
  return text;
}

constexpr Family kPacketsWritten{"pcap_recorder_packets_written_total", "counter",
                                 "Packets written to capture files."};
constexpr Family kBytesWritten{
    "pcap_recorder_bytes_written_total", "counter",
    "Bytes written to capture files, as the files hold them (pcap headers included)."};
constexpr Family kKernelDrops{
    "pcap_recorder_kernel_drops_total", "counter",
    "Packets the kernel accepted but dropped because the capture ring was full."};
constexpr Family kLostToDisk{
    "pcap_recorder_packets_lost_to_disk_total", "counter",
    "Packets captured but not written because the disk could not take them."};
constexpr Family kFilesFinished{"pcap_recorder_files_finished_total", "counter",
                                "Capture files finished (fsynced and renamed)."};
constexpr Family kFilesWithoutSha256{
    "pcap_recorder_files_without_sha256_total", "counter",
    "Capture files finished without the SHA-256 their sidecar was to carry (given up or failed)."};
constexpr Family kInterfaceUp{"pcap_recorder_interface_up", "gauge",
                              "1 while the interface is being captured and written, 0 otherwise."};
constexpr Family kFreeBytes{
    "pcap_recorder_output_free_bytes", "gauge",
    "Bytes available to the recorder on the output directory's file system."};
constexpr Family kOldestFile{
    "pcap_recorder_oldest_file_timestamp_seconds", "gauge",
    "Start of the retention window: time of the oldest capture file kept in the directory."};
constexpr Family kInfo{"pcap_recorder_info", "gauge", "The recorder's version, in the label."};

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  // The format is UTF-8: one label value that is not makes node_exporter refuse the whole file.
  for (const char c : util::validUtf8(value)) {
    switch (c) {
      case '\\':
        escaped += "\\\\";
        break;
      case '"':
        escaped += "\\\"";
        break;
      case '\n':
        escaped += "\\n";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::string renderPrometheusText(const Sample& sample) {
  std::string out;
  const auto perInterface = [&](const Family& family,
                                const std::function<std::uint64_t(const InterfaceSample&)>& value) {
    detail::writeHeader(out, family);
    for (const auto& interface : sample.interfaces) {
      line(out, family, "interface", interface.interface, std::to_string(value(interface)));
    }
  };
  perInterface(kPacketsWritten, [](const auto& each) { return each.packetsWritten; });
  perInterface(kBytesWritten, [](const auto& each) { return each.bytesWritten; });
  perInterface(kKernelDrops, [](const auto& each) { return each.kernelDrops; });
  perInterface(kLostToDisk, [](const auto& each) { return each.packetsLostToDisk; });
  perInterface(kFilesFinished, [](const auto& each) { return each.filesFinished; });
  perInterface(kFilesWithoutSha256, [](const auto& each) { return each.filesWithoutSha256; });
  perInterface(kInterfaceUp, [](const auto& each) { return each.up ? 1u : 0u; });

  detail::writeHeader(out, kFreeBytes);
  for (const auto& directory : sample.directories) {
    if (directory.freeBytes) {
      line(out, kFreeBytes, "directory", directory.directory, std::to_string(*directory.freeBytes));
    }
  }
  detail::writeHeader(out, kOldestFile);
  for (const auto& directory : sample.directories) {
    if (directory.oldestFileTimestamp) {
      line(out, kOldestFile, "directory", directory.directory,
           formatSeconds(*directory.oldestFileTimestamp));
    }
  }
  detail::writeHeader(out, kInfo);
  line(out, kInfo, "version", sample.version, "1");
  return out;
}

}  // namespace pcap_recorder::metrics
