// The keys of rotate:, retention: and the file keys of output: (the Rotate and retain issue).
#include <gtest/gtest.h>

#include "pcap_recorder/config/config.hpp"

namespace pcap_recorder::config {
namespace {

using namespace std::chrono_literals;

Config parsed(const std::string& yaml) {
  return parse(yaml, "test.yaml");
}

std::string firstProblem(const std::string& yaml) {
  try {
    parse(yaml, "test.yaml");
  } catch (const ConfigError& error) {
    return format(error.problems().front());
  }
  return "no problem";
}

TEST(RotateRetentionConfig, DefaultsAreHourlyGibibyteFilesAndAGibibyteKeptFree) {
  const auto config = parsed("interfaces:\n  - name: eth0\n");
  const auto& interface = config.interfaces.front();
  EXPECT_EQ(interface.rotate.maxFileBytes, 1ull << 30);
  EXPECT_EQ(interface.rotate.interval, 1h);
  EXPECT_EQ(interface.rotate.maxPackets, 0u);
  EXPECT_EQ(interface.retention.maxFiles, 0u);
  EXPECT_EQ(interface.retention.maxTotalBytes, 0u);
  EXPECT_EQ(interface.retention.maxAge, 0ms);
  EXPECT_EQ(interface.retention.minFreeBytes, 1ull << 30);
  EXPECT_EQ(interface.output.fileMode, 0640u);
  EXPECT_EQ(interface.output.postFinishCommand, "");
}

TEST(RotateRetentionConfig, ReadsEveryKeyGloballyAndOverriddenPerInterface) {
  const auto config = parsed(
      "output:\n  file_mode: \"0600\"\n  post_finish_command: gzip -9\n"
      "  post_finish_timeout: 2m\n"
      "rotate:\n  max_file_size: 100MiB\n  interval: 15m\n  max_packets: 1000000\n"
      "retention:\n  max_files: 50\n  max_total_size: 50GB\n  max_age: 7d\n"
      "  min_free_space: 0\n"
      "interfaces:\n  - name: eth0\n  - name: eth1\n    interval: 0\n    max_files: 3\n"
      "    retention: {max_age: 1h}\n");
  const auto& eth0 = config.interfaces[0];
  EXPECT_EQ(eth0.output.fileMode, 0600u);
  EXPECT_EQ(eth0.output.postFinishCommand, "gzip -9");
  EXPECT_EQ(eth0.output.postFinishTimeout, 2min);
  EXPECT_EQ(eth0.rotate.maxFileBytes, 100ull << 20);
  EXPECT_EQ(eth0.rotate.interval, 15min);
  EXPECT_EQ(eth0.rotate.maxPackets, 1'000'000u);
  EXPECT_EQ(eth0.retention.maxFiles, 50u);
  EXPECT_EQ(eth0.retention.maxTotalBytes, 50'000'000'000u);
  EXPECT_EQ(eth0.retention.maxAge, 7 * 24h);
  EXPECT_EQ(eth0.retention.minFreeBytes, 0u);
  const auto& eth1 = config.interfaces[1];
  EXPECT_EQ(eth1.rotate.interval, 0ms);
  EXPECT_EQ(eth1.rotate.maxFileBytes, 100ull << 20) << "inherited";
  EXPECT_EQ(eth1.retention.maxFiles, 3u);
  EXPECT_EQ(eth1.retention.maxAge, 1h);
}

TEST(RotateRetentionConfig, RejectsAFileModeThatIsNotOctalOrLocksTheOwnerOut) {
  EXPECT_NE(firstProblem("output:\n  file_mode: \"0999\"\ninterfaces:\n  - name: eth0\n")
                .find("test.yaml:2:14: output.file_mode must be an octal mode"),
            std::string::npos);
  EXPECT_NE(firstProblem("output:\n  file_mode: \"0440\"\ninterfaces:\n  - name: eth0\n")
                .find("must let the owner read and write"),
            std::string::npos);
  EXPECT_NE(firstProblem("output:\n  file_mode: \"4755\"\ninterfaces:\n  - name: eth0\n")
                .find("octal mode"),
            std::string::npos);
}

TEST(RotateRetentionConfig, RejectsUnparsableDurationsAndSizesWithTheirLine) {
  EXPECT_NE(firstProblem("rotate:\n  interval: soon\ninterfaces:\n  - name: eth0\n")
                .find("test.yaml:2:13: rotate.interval must be a duration"),
            std::string::npos);
  EXPECT_NE(firstProblem("rotate:\n  interval: 500ms\ninterfaces:\n  - name: eth0\n")
                .find("must be 0 or at least 1000 ms"),
            std::string::npos);
  EXPECT_NE(firstProblem("retention:\n  max_total_size: lots\ninterfaces:\n  - name: eth0\n")
                .find("test.yaml:2:19: retention.max_total_size must be a size"),
            std::string::npos);
  EXPECT_NE(firstProblem("interfaces:\n  - name: eth0\n    max_packets: -1\n")
                .find("max_packets must be"),
            std::string::npos);
}

TEST(RotateRetentionConfig, SuggestsTheNearKeyOfTheNewSections) {
  EXPECT_NE(firstProblem("rotate:\n  max_filesize: 1GiB\ninterfaces:\n  - name: eth0\n")
                .find("did you mean \"max_file_size\""),
            std::string::npos);
  EXPECT_NE(firstProblem("retention:\n  max_file: 3\ninterfaces:\n  - name: eth0\n")
                .find("did you mean \"max_files\""),
            std::string::npos);
}

}  // namespace
}  // namespace pcap_recorder::config

namespace pcap_recorder::config {
namespace {

TEST(DaemonConfig, ReadsLogLevelStatsIntervalAndRunAs) {
  const auto config = parse(
      "log:\n  level: debug\n  stats_interval: 30s\nrun_as: pcap-recorder\n"
      "interfaces:\n  - name: eth0\n",
      "test.yaml");
  EXPECT_EQ(config.daemon.logLevel, LogLevel::debug);
  EXPECT_EQ(config.daemon.statsInterval, std::chrono::seconds(30));
  EXPECT_EQ(config.daemon.runAs, "pcap-recorder");
}

TEST(DaemonConfig, DefaultsAreInfoEveryFiveMinutesAndNoUserSwitch) {
  const auto config = parse("interfaces:\n  - name: eth0\n", "test.yaml");
  EXPECT_EQ(config.daemon.logLevel, LogLevel::info);
  EXPECT_EQ(config.daemon.statsInterval, std::chrono::minutes(5));
  EXPECT_EQ(config.daemon.runAs, "");
}

TEST(DaemonConfig, RejectsAnUnknownLevelAndSuggestsLogKeys) {
  EXPECT_NE(firstProblem("log:\n  level: loud\ninterfaces:\n  - name: eth0\n")
                .find("test.yaml:2:10: log.level must be"),
            std::string::npos);
  EXPECT_NE(firstProblem("log:\n  levle: info\ninterfaces:\n  - name: eth0\n")
                .find("did you mean \"level\""),
            std::string::npos);
}

TEST(HookConfig, PostFinishMaxRunningIsFourByDefaultAndReadPerInterface) {
  const auto config = parsed(
      "output:\n  post_finish_max_running: 2\n"
      "interfaces:\n  - name: eth0\n  - name: eth1\n    post_finish_max_running: 1\n");
  EXPECT_EQ(config.interfaces[0].output.postFinishMaxRunning, 2u);
  EXPECT_EQ(config.interfaces[1].output.postFinishMaxRunning, 1u);
  EXPECT_EQ(parsed("interfaces:\n  - name: eth0\n").interfaces[0].output.postFinishMaxRunning, 4u);
}

TEST(HookConfig, PostFinishMaxRunningIsBetweenOneAndSixtyFour) {
  for (const char* value : {"0", "65", "-1"}) {
    EXPECT_NE(firstProblem(std::string("output:\n  post_finish_max_running: ") + value +
                           "\ninterfaces:\n  - name: eth0\n")
                  .find("test.yaml:2:28:"),
              std::string::npos)
        << value;
  }
}

}  // namespace
}  // namespace pcap_recorder::config
