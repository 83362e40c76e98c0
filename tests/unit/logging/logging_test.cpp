#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "pcap_recorder/logging/journal_sink.hpp"
#include "pcap_recorder/logging/log.hpp"

namespace pcap_recorder::logging {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using Entries = std::vector<std::vector<std::string>>;
using spdlog::level::level_enum;

// A JournalSink whose writer keeps every entry instead of sending it.
std::shared_ptr<JournalSink> recordingSink(Entries& entries, int result = 0) {
  return std::make_shared<JournalSink>([&entries, result](const std::vector<std::string>& fields) {
    entries.push_back(fields);
    return result;
  });
}

// Installs a default logger for one test and puts the previous one back afterwards.
class DefaultLogger : public ::testing::Test {
 protected:
  void install(std::vector<spdlog::sink_ptr> sinks) {
    auto logger = std::make_shared<spdlog::logger>("pcap-recorderd", sinks.begin(), sinks.end());
    logger->set_level(level_enum::trace);
    spdlog::set_default_logger(logger);
  }
  void TearDown() override { spdlog::set_default_logger(previous_); }

  std::shared_ptr<spdlog::logger> previous_ = spdlog::default_logger();
  Entries entries_;
  std::ostringstream text_;
  spdlog::sink_ptr textSink_ = [this] {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(text_);
    sink->set_pattern("%l %v");
    return sink;
  }();
};

TEST(SyslogPriority, LevelsMapToSyslogPriorities) {
  EXPECT_EQ(syslogPriority(level_enum::trace), 7);
  EXPECT_EQ(syslogPriority(level_enum::debug), 7);
  EXPECT_EQ(syslogPriority(level_enum::info), 6);
  EXPECT_EQ(syslogPriority(level_enum::warn), 4);
  EXPECT_EQ(syslogPriority(level_enum::err), 3);
  EXPECT_EQ(syslogPriority(level_enum::critical), 2);
}

TEST(JournalSink, APlainMessageSendsMessagePriorityAndIdentifier) {
  Entries entries;
  spdlog::logger logger("pcap-recorderd", recordingSink(entries));
  logger.warn("eth0: {} kernel drops", 12);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_THAT(entries[0], ElementsAre("MESSAGE=eth0: 12 kernel drops", "PRIORITY=4",
                                      "SYSLOG_IDENTIFIER=pcap-recorderd"));
}

TEST(JournalSink, EachLevelSendsItsPriority) {
  Entries entries;
  spdlog::logger logger("pcap-recorderd", recordingSink(entries));
  logger.set_level(level_enum::trace);
  logger.trace("t");
  logger.debug("d");
  logger.info("i");
  logger.warn("w");
  logger.error("e");
  logger.critical("c");
  std::vector<std::string> priorities;
  for (const auto& entry : entries) priorities.push_back(entry.at(1));
  EXPECT_THAT(priorities, ElementsAre("PRIORITY=7", "PRIORITY=7", "PRIORITY=6", "PRIORITY=4",
                                      "PRIORITY=3", "PRIORITY=2"));
}

TEST(JournalSink, TheMessageIsSentUnformattedAndMayHoldNewlines) {
  Entries entries;
  spdlog::logger logger("pcap-recorderd", recordingSink(entries));
  logger.set_pattern("%Y %l %v");  // the journal has its own time and priority
  logger.error("line one\nline two");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0][0], "MESSAGE=line one\nline two");
}

TEST(JournalSink, TheIdentifierCanBeChosen) {
  Entries entries;
  auto sink = std::make_shared<JournalSink>(
      [&entries](const std::vector<std::string>& fields) {
        entries.push_back(fields);
        return 0;
      },
      "pcap-recorderctl");
  spdlog::logger("x", sink).info("hello");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0][2], "SYSLOG_IDENTIFIER=pcap-recorderctl");
}

TEST(JournalSink, AFailingWriterIsReportedAsAnSpdlogError) {
  Entries entries;
  auto sink = recordingSink(entries, -EAGAIN);
  const spdlog::details::log_msg entry("pcap-recorderd", level_enum::info, "hello");
  EXPECT_THROW(sink->logWithFields(entry, {}), spdlog::spdlog_ex);
}

TEST(FieldNames, OnlyWhatJournaldAcceptsFromAClientIsValid) {
  EXPECT_TRUE(validFieldName("INTERFACE"));
  EXPECT_TRUE(validFieldName("PCAP_FILE"));
  EXPECT_TRUE(validFieldName("A1"));
  EXPECT_TRUE(validFieldName(std::string(64, 'A')));
  EXPECT_FALSE(validFieldName(""));
  EXPECT_FALSE(validFieldName(std::string(65, 'A')));
  EXPECT_FALSE(validFieldName("interface"));
  EXPECT_FALSE(validFieldName("_PID"));  // set by journald only
  EXPECT_FALSE(validFieldName("1ST"));
  EXPECT_FALSE(validFieldName("PCAP-FILE"));
  EXPECT_FALSE(validFieldName("A=B"));
}

TEST(Field, NumbersPathsAndTextBecomeValues) {
  const std::uint64_t packets = 81234;
  EXPECT_EQ(Field("PACKETS", packets).value, "81234");
  EXPECT_EQ(Field("DROPS", 0).value, "0");
  EXPECT_EQ(Field("PCAP_FILE", std::filesystem::path("/var/lib/x.pcap")).value, "/var/lib/x.pcap");
  EXPECT_EQ(Field("INTERFACE", std::string("eth0")).value, "eth0");
  EXPECT_EQ(Field("REASON", std::string_view("size")).value, "size");
  EXPECT_EQ(Field("REASON", "interval").value, "interval");
}

TEST_F(DefaultLogger, AnEventSendsItsFieldsToTheJournal) {
  install({recordingSink(entries_)});
  logEvent(level_enum::info,
           {{"INTERFACE", "eth0"},
            {"PCAP_FILE", std::filesystem::path("/var/lib/pcap-recorder/eth0.pcap")},
            {"PACKETS", std::uint64_t{81234}},
            {"BYTES", 123456789},
            {"DROPS", 0}},
           "eth0: finished /var/lib/pcap-recorder/eth0.pcap");
  ASSERT_EQ(entries_.size(), 1u);
  EXPECT_THAT(entries_[0],
              ElementsAre("MESSAGE=eth0: finished /var/lib/pcap-recorder/eth0.pcap", "PRIORITY=6",
                          "SYSLOG_IDENTIFIER=pcap-recorderd", "INTERFACE=eth0",
                          "PCAP_FILE=/var/lib/pcap-recorder/eth0.pcap", "PACKETS=81234",
                          "BYTES=123456789", "DROPS=0"));
}

TEST_F(DefaultLogger, AnEventFormatsItsMessage) {
  install({recordingSink(entries_)});
  logEvent(level_enum::warn, {{"INTERFACE", "eth0"}, {"DROPS", 17}}, "{}: {} kernel drops", "eth0",
           17);
  ASSERT_EQ(entries_.size(), 1u);
  EXPECT_THAT(entries_[0],
              ElementsAre("MESSAGE=eth0: 17 kernel drops", "PRIORITY=4",
                          "SYSLOG_IDENTIFIER=pcap-recorderd", "INTERFACE=eth0", "DROPS=17"));
}

TEST_F(DefaultLogger, FieldValuesKeepNewlinesAndEqualsSigns) {
  install({recordingSink(entries_)});
  logEvent(level_enum::err, {{"REASON", "a=b\nc"}}, "x");
  ASSERT_EQ(entries_.size(), 1u);
  EXPECT_EQ(entries_[0].back(), "REASON=a=b\nc");
}

TEST_F(DefaultLogger, InvalidAndReservedFieldNamesAreLeftOut) {
  install({recordingSink(entries_)});
  logEvent(level_enum::info,
           {{"interface", "eth0"},
            {"_PID", "1"},
            {"MESSAGE", "other"},
            {"PRIORITY", "0"},
            {"SYSLOG_IDENTIFIER", "evil"},
            {"INTERFACE", "eth0"}},
           "hello");
  ASSERT_EQ(entries_.size(), 1u);
  EXPECT_THAT(entries_[0], ElementsAre("MESSAGE=hello", "PRIORITY=6",
                                       "SYSLOG_IDENTIFIER=pcap-recorderd", "INTERFACE=eth0"));
}

TEST_F(DefaultLogger, OtherSinksGetThePlainMessageOnceAndTheJournalOnce) {
  install({recordingSink(entries_), textSink_});
  logEvent(level_enum::warn, {{"INTERFACE", "eth0"}}, "eth0: something");
  EXPECT_EQ(entries_.size(), 1u);
  EXPECT_EQ(text_.str(), "warning eth0: something\n");
}

TEST_F(DefaultLogger, WithoutAJournalSinkTheEventIsAPlainLogLine) {
  install({textSink_});
  logEvent(level_enum::info, {{"INTERFACE", "lo"}, {"PACKETS", 3}}, "lo: started");
  EXPECT_EQ(text_.str(), "info lo: started\n");
}

TEST_F(DefaultLogger, AnEventBelowTheLoggerLevelGoesNowhere) {
  install({recordingSink(entries_), textSink_});
  spdlog::default_logger()->set_level(level_enum::warn);
  logEvent(level_enum::info, {{"INTERFACE", "eth0"}}, "quiet");
  logEvent(level_enum::debug, {{"INTERFACE", "eth0"}}, "{}", "quiet");
  EXPECT_TRUE(entries_.empty());
  EXPECT_EQ(text_.str(), "");
}

TEST_F(DefaultLogger, EachSinkKeepsItsOwnLevel) {
  auto journal = recordingSink(entries_);
  journal->set_level(level_enum::err);
  install({journal, textSink_});
  logEvent(level_enum::warn, {{"INTERFACE", "eth0"}}, "only text");
  EXPECT_TRUE(entries_.empty());
  EXPECT_EQ(text_.str(), "warning only text\n");
}

TEST_F(DefaultLogger, ASinkThatFailsDoesNotStopTheOthersNorThrow) {
  install({recordingSink(entries_, -EIO), textSink_});
  EXPECT_NO_THROW(logEvent(level_enum::err, {{"INTERFACE", "eth0"}}, "still written"));
  EXPECT_EQ(entries_.size(), 1u);
  EXPECT_EQ(text_.str(), "error still written\n");
}

TEST_F(DefaultLogger, PlainSpdlogCallsReachTheJournalWithoutFields) {
  install({recordingSink(entries_)});
  spdlog::info("{}: plain", "eth0");
  ASSERT_EQ(entries_.size(), 1u);
  EXPECT_THAT(entries_[0],
              ElementsAre("MESSAGE=eth0: plain", "PRIORITY=6", "SYSLOG_IDENTIFIER=pcap-recorderd"));
}

TEST(RateLimiter, TheFirstEventIsAllowedWithNothingSuppressed) {
  RateLimiter limiter(10s);
  EXPECT_EQ(limiter.allow(RateLimiter::Clock::time_point{}), 0u);
}

TEST(RateLimiter, EventsWithinTheIntervalAreSuppressedAndCounted) {
  RateLimiter limiter(10s);
  const RateLimiter::Clock::time_point start{100s};
  ASSERT_EQ(limiter.allow(start), 0u);
  EXPECT_EQ(limiter.allow(start + 1s), std::nullopt);
  EXPECT_EQ(limiter.allow(start + 5s), std::nullopt);
  EXPECT_EQ(limiter.allow(start + 9999ms), std::nullopt);
  EXPECT_EQ(limiter.suppressed(), 3u);
  EXPECT_EQ(limiter.allow(start + 10s), 3u);  // the interval has passed: reports the three
  EXPECT_EQ(limiter.suppressed(), 0u);
}

TEST(RateLimiter, TheIntervalCountsFromTheLastAllowedEvent) {
  RateLimiter limiter(10s);
  const RateLimiter::Clock::time_point start{100s};
  ASSERT_EQ(limiter.allow(start), 0u);
  EXPECT_EQ(limiter.allow(start + 25s), 0u);
  EXPECT_EQ(limiter.allow(start + 34s), std::nullopt);
  EXPECT_EQ(limiter.allow(start + 35s), 1u);
}

TEST(RateLimiter, AZeroIntervalAllowsEverything) {
  RateLimiter limiter(0s);
  const RateLimiter::Clock::time_point start{100s};
  EXPECT_EQ(limiter.allow(start), 0u);
  EXPECT_EQ(limiter.allow(start), 0u);
}

// A temporary file: its device and inode stand in for the journal's stream.
class JournalStream : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(file_, nullptr);
    struct stat status {};
    ASSERT_EQ(fstat(fileno(file_), &status), 0);
    device_ = status.st_dev;
    inode_ = status.st_ino;
  }
  void TearDown() override { std::fclose(file_); }

  std::FILE* file_ = std::tmpfile();
  dev_t device_ = 0;
  ino_t inode_ = 0;
};

TEST_F(JournalStream, TheStreamNamedByJournalStreamIsTheJournal) {
  const auto value = std::to_string(device_) + ":" + std::to_string(inode_);
  EXPECT_TRUE(isJournalStream(value.c_str(), fileno(file_)));
}

TEST_F(JournalStream, AnotherInodeIsNot) {
  const auto value = std::to_string(device_) + ":" + std::to_string(inode_ + 1);
  EXPECT_FALSE(isJournalStream(value.c_str(), fileno(file_)));
}

TEST_F(JournalStream, AMissingOrMalformedValueIsNot) {
  const auto device = std::to_string(device_);
  const auto inode = std::to_string(inode_);
  EXPECT_FALSE(isJournalStream(nullptr, fileno(file_)));
  EXPECT_FALSE(isJournalStream("", fileno(file_)));
  EXPECT_FALSE(isJournalStream((device + inode).c_str(), fileno(file_)));
  EXPECT_FALSE(isJournalStream((device + ":").c_str(), fileno(file_)));
  EXPECT_FALSE(isJournalStream((":" + inode).c_str(), fileno(file_)));
  EXPECT_FALSE(isJournalStream((device + ":" + inode + "x").c_str(), fileno(file_)));
  EXPECT_FALSE(isJournalStream((device + ":-" + inode).c_str(), fileno(file_)));
}

TEST_F(JournalStream, AClosedDescriptorIsNot) {
  const auto value = std::to_string(device_) + ":" + std::to_string(inode_);
  EXPECT_FALSE(isJournalStream(value.c_str(), -1));
}

TEST(MakeLogger, UnderSystemdItWritesToTheJournal) {
  const auto logger = makeLogger(true);
  EXPECT_EQ(logger->name(), "pcap-recorderd");
  ASSERT_EQ(logger->sinks().size(), 1u);
  EXPECT_NE(std::dynamic_pointer_cast<JournalSink>(logger->sinks()[0]), nullptr);
  EXPECT_EQ(logger->flush_level(), level_enum::info);
}

TEST(MakeLogger, OtherwiseItWritesToStderr) {
  const auto logger = makeLogger(false);
  EXPECT_EQ(logger->name(), "pcap-recorderd");
  ASSERT_EQ(logger->sinks().size(), 1u);
  EXPECT_NE(std::dynamic_pointer_cast<spdlog::sinks::stderr_sink_mt>(logger->sinks()[0]), nullptr);
  EXPECT_EQ(logger->flush_level(), level_enum::info);
}

TEST(MakeLogger, TheLoggerIsNotRegistered) {
  makeLogger(false);
  EXPECT_EQ(spdlog::get("pcap-recorderd"), nullptr);
}

// The real sd_journal_sendv, wherever the tests run: with no journald (CI, containers) it must
// neither crash nor hang; with one, it must succeed.
TEST(RealJournal, SendingWorksOrFailsCleanlyWithoutJournald) {
  const int result = sendToJournal({"MESSAGE=pcap-recorder logging_tests smoke test", "PRIORITY=7",
                                    "SYSLOG_IDENTIFIER=pcap-recorder-tests", "INTERFACE=lo"});
  EXPECT_LE(result, 0);
  EXPECT_NO_THROW(makeLogger(true)->debug("pcap-recorder logging_tests smoke test"));
}

}  // namespace
}  // namespace pcap_recorder::logging
