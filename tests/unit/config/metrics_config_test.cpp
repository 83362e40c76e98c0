// metrics: {textfile, interval} (daemon-wide) and output.keep_empty_files.
#include <gtest/gtest.h>

#include "pcap_recorder/config/config.hpp"
#include "unit/config/parse_helpers.hpp"

namespace pcap_recorder::config {
namespace {

using namespace std::chrono_literals;

TEST(MetricsConfig, ReadsTheTextfileAndTheInterval) {
  const auto config = parse(
      "metrics:\n  textfile: /var/lib/prometheus/node-exporter/pcap-recorder.prom\n"
      "  interval: 30s\ninterfaces:\n  - name: eth0\n",
      "test.yaml");
  EXPECT_EQ(config.daemon.metrics.textfile, "/var/lib/prometheus/node-exporter/pcap-recorder.prom");
  EXPECT_EQ(config.daemon.metrics.interval, 30s);
}

TEST(MetricsConfig, OffByDefaultEveryFifteenSecondsOnceOn) {
  const auto config = parse("interfaces:\n  - name: eth0\n", "test.yaml");
  EXPECT_TRUE(config.daemon.metrics.textfile.empty());
  EXPECT_EQ(config.daemon.metrics.interval, 15s);
}

TEST(MetricsConfig, BadValuesAreRefusedWithTheirPosition) {
  EXPECT_EQ(firstProblem("metrics:\n  textfile: metrics.prom\ninterfaces:\n  - name: eth0\n"),
            "test.yaml:2:13: metrics.textfile must be an absolute path, got \"metrics.prom\"");
  EXPECT_NE(firstProblem("metrics:\n  textfile: /tmp/metrics.txt\ninterfaces:\n  - name: eth0\n")
                .find("test.yaml:2:13: metrics.textfile must name a file ending in .prom"),
            std::string::npos);
  EXPECT_NE(firstProblem("metrics:\n  textfile: /tmp/.prom\ninterfaces:\n  - name: eth0\n")
                .find("must name a file ending in .prom"),
            std::string::npos);
  EXPECT_EQ(firstProblem("metrics:\n  interval: 0\ninterfaces:\n  - name: eth0\n"),
            "test.yaml:2:13: metrics.interval must be at least 1000 ms, got \"0\"");
  EXPECT_NE(firstProblem("metrics:\n  interval: 500ms\ninterfaces:\n  - name: eth0\n")
                .find("test.yaml:2:13: metrics.interval must be at least 1000 ms, got \"500ms\""),
            std::string::npos);
  EXPECT_NE(firstProblem("metrics:\n  interval: 3651d\ninterfaces:\n  - name: eth0\n")
                .find("test.yaml:2:13: metrics.interval must be at most 3650d"),
            std::string::npos);
  EXPECT_NE(firstProblem("metrics:\n  text_file: /x.prom\ninterfaces:\n  - name: eth0\n")
                .find("did you mean \"textfile\""),
            std::string::npos);
  EXPECT_NE(firstProblem("metrics: /x.prom\ninterfaces:\n  - name: eth0\n")
                .find("metrics must be a map of metrics settings"),
            std::string::npos);
  EXPECT_NE(firstProblem("metric:\n  textfile: /x.prom\ninterfaces:\n  - name: eth0\n")
                .find("did you mean \"metrics\""),
            std::string::npos);
}

TEST(KeepEmptyFiles, OffByDefaultOnGloballyOrPerInterface) {
  const auto config = parse(
      "interfaces:\n  - name: eth0\n  - name: eth1\n    output:\n      keep_empty_files: true\n"
      "  - name: eth2\n    keep_empty_files: yes\n",
      "test.yaml");
  EXPECT_FALSE(config.interfaces[0].output.keepEmptyFiles);
  EXPECT_TRUE(config.interfaces[1].output.keepEmptyFiles);
  EXPECT_TRUE(config.interfaces[2].output.keepEmptyFiles);
  EXPECT_TRUE(parse("output:\n  keep_empty_files: true\ninterfaces:\n  - name: eth0\n", "t")
                  .interfaces[0]
                  .output.keepEmptyFiles);
  EXPECT_NE(firstProblem("output:\n  keep_empty_files: maybe\ninterfaces:\n  - name: eth0\n")
                .find("test.yaml:2:21: output.keep_empty_files must be"),
            std::string::npos);
}

}  // namespace
}  // namespace pcap_recorder::config
