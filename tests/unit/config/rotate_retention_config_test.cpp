// The keys of rotate:, retention: and the file keys of output: (the Rotate and retain issue).
#include <gtest/gtest.h>

#include <optional>
#include <string_view>

#include "pcap_recorder/config/config.hpp"
#include "pcap_recorder/config/hook_command.hpp"
#include "unit/config/parse_helpers.hpp"

namespace pcap_recorder::config {
namespace {

using namespace std::chrono_literals;

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

// The file's path is added at the end of post_finish_command: a block scalar's line end is
// dropped, and a command the path would not reach as its argument is refused where it is written.
TEST(RotateRetentionConfig, APostFinishCommandIsOneCommandTheFilesPathEnds) {
  EXPECT_EQ(parsed("output:\n  post_finish_command: |\n    /usr/local/bin/upload --bucket x\n"
                   "interfaces:\n  - name: eth0\n")
                .interfaces[0]
                .output.postFinishCommand,
            "/usr/local/bin/upload --bucket x");
  EXPECT_EQ(parsed("output:\n  post_finish_command: >\n    gzip\n    -9\n"
                   "interfaces:\n  - name: eth0\n")
                .interfaces[0]
                .output.postFinishCommand,
            "gzip -9");
  EXPECT_NE(firstProblem("output:\n  post_finish_command: |\n    gzip -9\n    logger done\n"
                         "interfaces:\n  - name: eth0\n")
                .find("test.yaml:2:24: output.post_finish_command \"gzip -9\\nlogger done\" has "
                      "more than one line"),
            std::string::npos)
      << firstProblem(
             "output:\n  post_finish_command: |\n    gzip -9\n    logger done\n"
             "interfaces:\n  - name: eth0\n");
  for (const std::string command : {"\"gzip -9 &\"", "\"gzip -9;\"", "\"gzip -9 # the file\"",
                                    "\"cat >> '/var/log/x\"", "\"sort |\""}) {
    EXPECT_NE(
        firstProblem("interfaces:\n  - name: eth0\n    post_finish_command: " + command + "\n")
            .find("post_finish_command"),
        std::string::npos)
        << command;
  }
  EXPECT_EQ(firstProblem("interfaces:\n  - name: eth0\n    post_finish_command: \"echo '#1' >> "
                         "/tmp/x; :\"\n"),
            "no problem");
}

// What sh reads as one command whose last argument comes next is kept; what it would not is not.
TEST(RotateRetentionConfig, APostFinishCommandIsCheckedAsShReadsIt) {
  for (const std::string_view command :
       {R"(gzip -9)", R"(echo '#1' >> /tmp/x; :)", R"(mv -t /srv/done/ --)",
        R"(ln -t "/srv/a b" --)", R"(echo a\\)", R"(echo 'a;')", R"(echo "it's" a#b)",
        R"(/opt/bin/done)", R"x(echo "(x)")x"}) {
    EXPECT_EQ(hookCommandProblem(command), std::nullopt) << command;
  }
  for (const std::string_view command :
       {R"(gzip -9 &)", R"(gzip -9;)", R"(gzip -9 # the file)", R"(gzip;#x)", R"(sort |)",
        R"(cat >)", R"(cat >#x)", R"(cat >> '/var/log/x)", R"(echo "a)", R"(echo a\)",
        "gzip\nlogger", "gzip\r", R"((cd /srv/up && ./upload))", R"({ upload; })",
        R"(for f in a; do up; done)", R"(if true; then up; fi)"}) {
    EXPECT_NE(hookCommandProblem(command), std::nullopt) << command;
  }
  EXPECT_EQ(trimHookCommand("gzip -9 \n\t\n"), "gzip -9");
  EXPECT_EQ(trimHookCommand(" \n"), "");
  EXPECT_EQ(hookScript("gzip -9"), "gzip -9 \"$1\"");
}

// 0 is "off" for the other durations; for a hook's time it would terminate every hook at once.
TEST(RotateRetentionConfig, APostFinishTimeoutOfZeroIsRefused) {
  EXPECT_EQ(firstProblem("output:\n  post_finish_timeout: 0\ninterfaces:\n  - name: eth0\n"),
            "test.yaml:2:24: output.post_finish_timeout must be at least 1000 ms, got \"0\"");
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

// Every duration key, as it appears in the file (the value starts at column 3 + key + 2).
struct DurationKey {
  const char* section;
  const char* key;
};
constexpr DurationKey kDurationKeys[] = {{"rotate", "interval"},
                                         {"retention", "max_age"},
                                         {"output", "post_finish_timeout"},
                                         {"log", "stats_interval"}};

std::string withDuration(const DurationKey& key, const std::string& value) {
  return std::string(key.section) + ":\n  " + key.key + ": " + value +
         "\ninterfaces:\n  - name: eth0\n";
}

TEST(DurationLimits, EveryDurationKeyAcceptsExactlyTenYears) {
  for (const auto& key : kDurationKeys) {
    for (const char* value : {"3650d", "87600h", "5256000m", "315360000s", "315360000000ms"}) {
      EXPECT_NO_THROW(parse(withDuration(key, value), "test.yaml")) << key.key << ": " << value;
    }
  }
  EXPECT_EQ(parsed(withDuration(kDurationKeys[1], "3650d")).interfaces[0].retention.maxAge,
            kMaxDuration);
}

TEST(DurationLimits, OneMillisecondMoreIsRefusedWithItsPosition) {
  for (const auto& key : kDurationKeys) {
    const std::string where = "test.yaml:2:" + std::to_string(std::string(key.key).size() + 5) +
                              ": " + key.section + "." + key.key + " must be at most 3650d";
    for (const char* value : {"3651d", "87601h", "315360000001ms"}) {
      EXPECT_NE(firstProblem(withDuration(key, value)).find(where), std::string::npos)
          << key.key << ": " << value << ": " << firstProblem(withDuration(key, value));
    }
  }
}

TEST(DurationLimits, HugeValuesAreRefusedAsTooLongNotWrapped) {
  // 999999d is past the int64-nanosecond limit (106752 d); 288230376151711745 ms times 10^6
  // wraps to 1 ms in 64 bits; the last one does not even fit 64 bits as milliseconds.
  for (const auto& key : kDurationKeys) {
    for (const char* value :
         {"999999d", "106752d", "288230376151711745ms", "99999999999999999999999h"}) {
      const std::string problem = firstProblem(withDuration(key, value));
      EXPECT_NE(problem.find(" must be at most 3650d (about ten years), got \"" +
                             std::string(value) + "\""),
                std::string::npos)
          << key.key << ": " << problem;
    }
  }
  // Still a syntax error when it is not a duration at all, however long.
  EXPECT_NE(firstProblem(withDuration(kDurationKeys[0], "99999999999999999999999 hours"))
                .find("must be a duration"),
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

TEST(LogLevelNames, OneVocabularyForTheConfigAndTheCommandLine) {
  EXPECT_EQ(parseLogLevel("trace"), LogLevel::trace);
  EXPECT_EQ(parseLogLevel("debug"), LogLevel::debug);
  EXPECT_EQ(parseLogLevel("info"), LogLevel::info);
  EXPECT_EQ(parseLogLevel("warning"), LogLevel::warning);
  EXPECT_EQ(parseLogLevel("warn"), LogLevel::warning);
  EXPECT_EQ(parseLogLevel("error"), LogLevel::error);
  EXPECT_EQ(parseLogLevel("critical"), LogLevel::critical);
  EXPECT_EQ(parseLogLevel("off"), LogLevel::off);
  for (const char* other : {"", "INFO", "err", "crit", "verbose", "info "}) {
    EXPECT_EQ(parseLogLevel(other), std::nullopt) << other;
  }
  EXPECT_EQ(logLevelNames(), "trace, debug, info, warning, warn, error, critical or off");
  // log.level takes exactly the same words.
  EXPECT_NE(
      firstProblem("log:\n  level: err\ninterfaces:\n  - name: eth0\n")
          .find("log.level must be trace, debug, info, warning, warn, error, critical or off"),
      std::string::npos);
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
