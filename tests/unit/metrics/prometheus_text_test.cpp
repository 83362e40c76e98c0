// The Prometheus text the daemon writes for node_exporter's textfile collector.
#include "pcap_recorder/metrics/prometheus_text.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sstream>

namespace pcap_recorder::metrics {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

Sample twoInterfaces() {
  Sample sample;
  sample.version = "0.1.0";
  sample.interfaces.push_back({.interface = "eth0",
                               .packetsWritten = 1000,
                               .bytesWritten = 64000,
                               .kernelDrops = 3,
                               .packetsLostToDisk = 2,
                               .filesFinished = 7,
                               .filesWithoutSha256 = 4,
                               .up = true});
  sample.interfaces.push_back({.interface = "eth1", .up = false});
  sample.directories.push_back({.directory = "/var/lib/pcap-recorder",
                                .freeBytes = 123456789,
                                .oldestFileTimestamp = 1.7e9});
  return sample;
}

TEST(PrometheusText, EveryMetricHasItsExactNameHelpTypeAndLabels) {
  const auto text = renderPrometheusText(twoInterfaces());
  const auto lines = linesOf(text);
  for (const std::string expected : {
           "# TYPE pcap_recorder_packets_written_total counter",
           "pcap_recorder_packets_written_total{interface=\"eth0\"} 1000",
           "pcap_recorder_packets_written_total{interface=\"eth1\"} 0",
           "# TYPE pcap_recorder_bytes_written_total counter",
           "pcap_recorder_bytes_written_total{interface=\"eth0\"} 64000",
           "# TYPE pcap_recorder_kernel_drops_total counter",
           "pcap_recorder_kernel_drops_total{interface=\"eth0\"} 3",
           "# TYPE pcap_recorder_packets_lost_to_disk_total counter",
           "pcap_recorder_packets_lost_to_disk_total{interface=\"eth0\"} 2",
           "# TYPE pcap_recorder_files_finished_total counter",
           "pcap_recorder_files_finished_total{interface=\"eth0\"} 7",
           "# TYPE pcap_recorder_files_without_sha256_total counter",
           "pcap_recorder_files_without_sha256_total{interface=\"eth0\"} 4",
           "pcap_recorder_files_without_sha256_total{interface=\"eth1\"} 0",
           "# TYPE pcap_recorder_interface_up gauge",
           "pcap_recorder_interface_up{interface=\"eth0\"} 1",
           "pcap_recorder_interface_up{interface=\"eth1\"} 0",
           "# TYPE pcap_recorder_output_free_bytes gauge",
           "pcap_recorder_output_free_bytes{directory=\"/var/lib/pcap-recorder\"} 123456789",
           "# TYPE pcap_recorder_oldest_file_timestamp_seconds gauge",
           "pcap_recorder_oldest_file_timestamp_seconds{directory=\"/var/lib/pcap-recorder\"} "
           "1700000000",
           "# TYPE pcap_recorder_info gauge",
           "pcap_recorder_info{version=\"0.1.0\"} 1",
       }) {
    EXPECT_NE(std::find(lines.begin(), lines.end(), expected), lines.end())
        << "missing line: " << expected << "\nin:\n"
        << text;
  }
}

// promtool and node_exporter refuse a family whose samples are split, or that has HELP or TYPE
// twice; each family's HELP comes right before its TYPE, then its samples.
TEST(PrometheusText, EachFamilyIsOneBlockWithHelpThenTypeThenItsSamples) {
  const auto lines = linesOf(renderPrometheusText(twoInterfaces()));
  std::vector<std::string> families;
  std::string current;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    ASSERT_FALSE(line.empty()) << "no blank lines";
    if (line.rfind("# HELP ", 0) == 0) {
      const auto name = line.substr(7, line.find(' ', 7) - 7);
      ASSERT_LT(i + 1, lines.size());
      EXPECT_EQ(lines[i + 1].rfind("# TYPE " + name + " ", 0), 0u) << line;
      EXPECT_EQ(std::count(families.begin(), families.end(), name), 0) << "twice: " << name;
      families.push_back(name);
      current = name;
      EXPECT_GT(line.size(), 8 + name.size()) << "a help text";
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) continue;
    EXPECT_EQ(line.substr(0, line.find('{')), current) << "sample outside its family: " << line;
  }
  EXPECT_EQ(families.size(), 10u);
}

TEST(PrometheusText, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(escapeLabelValue("eth0"), "eth0");
  EXPECT_EQ(escapeLabelValue(R"(C:\dir)"), R"(C:\\dir)");
  EXPECT_EQ(escapeLabelValue("say \"hi\""), R"(say \"hi\")");
  EXPECT_EQ(escapeLabelValue("two\nlines"), R"(two\nlines)");
  EXPECT_EQ(escapeLabelValue("\\\"\n"), R"(\\\"\n)");
  // The format is UTF-8: a path's bytes that are not (a Latin-1 name) become U+FFFD.
  EXPECT_EQ(escapeLabelValue("/srv/M\xe4rz"), "/srv/M\xEF\xBF\xBDrz");
  EXPECT_EQ(escapeLabelValue("/srv/caf\xC3\xA9"), "/srv/caf\xC3\xA9");

  Sample sample;
  sample.version = "1\"2";
  sample.directories.push_back({.directory = "/srv/a \"b\"\\c\nd", .freeBytes = 1});
  const auto text = renderPrometheusText(sample);
  EXPECT_THAT(
      text,
      HasSubstr("pcap_recorder_output_free_bytes{directory=\"/srv/a \\\"b\\\"\\\\c\\nd\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("pcap_recorder_info{version=\"1\\\"2\"} 1\n"));
}

TEST(PrometheusText, AnUnknownDirectoryValueIsLeftOutNotWrittenAsZero) {
  Sample sample;
  sample.version = "0.1.0";
  sample.directories.push_back({.directory = "/gone"});
  const auto text = renderPrometheusText(sample);
  EXPECT_THAT(text, ::testing::Not(HasSubstr("{directory=\"/gone\"}")));
  EXPECT_THAT(text, HasSubstr("# TYPE pcap_recorder_output_free_bytes gauge\n"));
}

TEST(PrometheusText, AFractionalTimestampKeepsMilliseconds) {
  Sample sample;
  sample.directories.push_back({.directory = "/d", .oldestFileTimestamp = 1700000000.25});
  EXPECT_THAT(renderPrometheusText(sample),
              HasSubstr("pcap_recorder_oldest_file_timestamp_seconds{directory=\"/d\"} "
                        "1700000000.250\n"));
}

}  // namespace
}  // namespace pcap_recorder::metrics
