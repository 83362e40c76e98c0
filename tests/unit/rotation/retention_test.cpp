#include "pcap_recorder/rotation/retention.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>
#include <string_view>

#include "pcap_recorder/rotation/file_naming.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::rotation {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using Clock = std::chrono::system_clock;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr std::string_view kDefaultTemplate = "{interface}-%Y%m%dT%H%M%S.pcap";
constexpr std::uint64_t kMiB = 1ull << 20;
constexpr std::uint64_t kGiB = 1ull << 30;

// 2026-11-23T17:58:44Z
const Clock::time_point kNow = Clock::time_point(seconds(1795456724));

OwnFileMatcher matcherFor(std::string_view fileName, std::string_view interface = "eth0") {
  return OwnFileMatcher({{std::string(fileName), std::string(interface)}});
}

// ---------------------------------------------------------------------------------------------
// OwnFileMatcher

TEST(OwnFileMatcher, AcceptsNamesOfTheDefaultTemplate) {
  const OwnFileMatcher matcher = matcherFor(kDefaultTemplate);
  EXPECT_TRUE(matcher.isFinishedFile("eth0-20261123T175844.pcap"));
  EXPECT_TRUE(matcher.isFinishedFile(expandFileName(kDefaultTemplate, "eth0", 1, kNow)));
}

TEST(OwnFileMatcher, AcceptsSequenceNumbersOfSixOrMoreDigits) {
  const OwnFileMatcher matcher = matcherFor("cap-{seq}.pcap");
  EXPECT_TRUE(matcher.isFinishedFile("cap-000001.pcap"));
  EXPECT_TRUE(matcher.isFinishedFile("cap-999999.pcap"));
  EXPECT_TRUE(matcher.isFinishedFile("cap-1234567.pcap"));
  EXPECT_TRUE(matcher.isFinishedFile(expandFileName("cap-{seq}.pcap", "eth0", 42, kNow)));
  EXPECT_FALSE(matcher.isFinishedFile("cap-00001.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("cap-.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("cap-00000a.pcap"));
}

TEST(OwnFileMatcher, AcceptsACollisionCounterBeforeTheLastExtension) {
  const OwnFileMatcher matcher = matcherFor(kDefaultTemplate);
  EXPECT_TRUE(matcher.isFinishedFile("eth0-20261123T175844_001.pcap"));
  EXPECT_TRUE(matcher.isFinishedFile("eth0-20261123T175844_002.pcap"));
  EXPECT_TRUE(matcher.isFinishedFile("eth0-20261123T175844_9999.pcap"));
  EXPECT_TRUE(matcherFor("cap-{seq}.pcap").isFinishedFile("cap-000001_010.pcap"));
}

TEST(OwnFileMatcher, RejectsCountersNameWithSuffixNeverMakes) {
  const OwnFileMatcher matcher = matcherFor(kDefaultTemplate);
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844_1.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844_02.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844_.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844_x.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844.pcap_002"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844_001_002.pcap"));
}

TEST(OwnFileMatcher, PutsTheCounterBeforeOnlyTheLastOfSeveralExtensions) {
  const OwnFileMatcher matcher = matcherFor("cap-{seq}.pcap.gz");
  EXPECT_TRUE(matcher.isFinishedFile("cap-000001.pcap.gz"));
  EXPECT_TRUE(matcher.isFinishedFile("cap-000001.pcap_002.gz"));  // nameWithSuffix's choice
  EXPECT_FALSE(matcher.isFinishedFile("cap-000001_002.pcap.gz"));
}

TEST(OwnFileMatcher, PutsTheCounterAtTheEndOfANameWithoutExtension) {
  const OwnFileMatcher matcher = matcherFor("{interface}-{seq}");
  EXPECT_TRUE(matcher.isFinishedFile("eth0-000001"));
  EXPECT_TRUE(matcher.isFinishedFile("eth0-000001_003"));
  // nameWithSuffix treats a leading dot as no extension.
  const OwnFileMatcher hidden = matcherFor(".{seq}");
  EXPECT_TRUE(hidden.isFinishedFile(".000001"));
  EXPECT_TRUE(hidden.isFinishedFile(".000001_003"));
  EXPECT_FALSE(hidden.isFinishedFile("_003.000001"));
}

TEST(OwnFileMatcher, PutsTheCounterBeforeADotInTheInterfaceNameWhenNoOtherFollows) {
  // nameWithSuffix("eth0.100-000001", 2) is "eth0_002.100-000001".
  const OwnFileMatcher matcher = matcherFor("{interface}-{seq}", "eth0.100");
  EXPECT_TRUE(matcher.isFinishedFile("eth0.100-000001"));
  EXPECT_TRUE(matcher.isFinishedFile("eth0_002.100-000001"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0.100-000001_002"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0X100-000001"));
}

TEST(OwnFileMatcher, RejectsFilesStillBeingWritten) {
  const OwnFileMatcher matcher = matcherFor(kDefaultTemplate);
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844.pcap.part"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844_002.pcap.part"));
  EXPECT_FALSE(matcherFor("{seq}").isFinishedFile("000001.part"));
}

TEST(OwnFileMatcher, RejectsPartFilesEvenWhenTheTemplateEndsInPart) {
  const OwnFileMatcher matcher = matcherFor("{seq}.part");
  EXPECT_FALSE(matcher.isFinishedFile("000001.part"));
}

TEST(OwnFileMatcher, RejectsDamagedFiles) {
  const OwnFileMatcher matcher = matcherFor(kDefaultTemplate);
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844.pcap.damaged"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844.pcap.part.damaged"));
}

TEST(OwnFileMatcher, RejectsFilesOfOtherInterfaces) {
  const OwnFileMatcher matcher = matcherFor(kDefaultTemplate);
  EXPECT_FALSE(matcher.isFinishedFile("eth1-20261123T175844.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("eth00-20261123T175844.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("xeth0-20261123T175844.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("-20261123T175844.pcap"));
}

TEST(OwnFileMatcher, RejectsUnrelatedFiles) {
  const OwnFileMatcher matcher = matcherFor(kDefaultTemplate);
  EXPECT_FALSE(matcher.isFinishedFile("notes.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844.pcapng"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844.pcap.bz2"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844.pcap.json"));  // a sidecar
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844.pcap.zst.json"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844"));
  EXPECT_FALSE(matcher.isFinishedFile("README"));
  EXPECT_FALSE(matcher.isFinishedFile(""));
  EXPECT_FALSE(matcherFor("cap-{seq}.pcap").isFinishedFile("notes.pcap"));
}

// output.compression: the compressed files are finished files too (retention counts and deletes
// them); a compression being written is neither finished nor a pcap `.part` to repair.
TEST(OwnFileMatcher, TakesCompressedFilesAsFinishedAndTheirPartsApart) {
  const OwnFileMatcher matcher = matcherFor(kDefaultTemplate);
  EXPECT_TRUE(matcher.isFinishedFile("eth0-20261123T175844.pcap.zst"));
  EXPECT_TRUE(matcher.isFinishedFile("eth0-20261123T175844_002.pcap.gz"));
  EXPECT_FALSE(matcher.isFinishedFile("eth1-20261123T175844.pcap.zst"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844.pcap.zst.part"));
  EXPECT_FALSE(matcher.isPartFile("eth0-20261123T175844.pcap.zst.part"));
  EXPECT_TRUE(matcher.isCompressionPartFile("eth0-20261123T175844.pcap.zst.part"));
  EXPECT_TRUE(matcher.isCompressionPartFile("eth0-20261123T175844.pcap.gz.part"));
  EXPECT_FALSE(matcher.isCompressionPartFile("eth0-20261123T175844.pcap.part"));
  EXPECT_TRUE(matcher.isPartFile("eth0-20261123T175844.pcap.part"));
}

TEST(OwnFileMatcher, RejectsTimestampsWithTheWrongNumberOfDigits) {
  const OwnFileMatcher matcher = matcherFor(kDefaultTemplate);
  EXPECT_FALSE(matcher.isFinishedFile("eth0-2026112T175844.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-202611231T175844.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T17584.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T1758440.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-2026112xT175844.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123X175844.pcap"));
}

TEST(OwnFileMatcher, TakesADotInTheTemplateLiterally) {
  const OwnFileMatcher matcher = matcherFor("a.b-{seq}.pcap");
  EXPECT_TRUE(matcher.isFinishedFile("a.b-000001.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("aXb-000001.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("a.b-000001Xpcap"));
}

TEST(OwnFileMatcher, TakesOtherRegexCharactersInTheTemplateLiterally) {
  const OwnFileMatcher matcher = matcherFor(R"(c++[1](x)^$|?*\-{seq}.pcap)");
  EXPECT_TRUE(matcher.isFinishedFile(R"(c++[1](x)^$|?*\-000001.pcap)"));
  EXPECT_FALSE(matcher.isFinishedFile(R"(c[1](x)^$|?*\-000001.pcap)"));
  EXPECT_FALSE(matcher.isFinishedFile("c++1x-000001.pcap"));
}

TEST(OwnFileMatcher, TakesRegexCharactersInTheInterfaceNameLiterally) {
  const OwnFileMatcher matcher = matcherFor("{interface}-{seq}.pcap", "br+0");
  EXPECT_TRUE(matcher.isFinishedFile("br+0-000001.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("brr0-000001.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("br0-000001.pcap"));
}

TEST(OwnFileMatcher, TakesADoubledPercentAsOnePercentSign) {
  const OwnFileMatcher matcher = matcherFor("100%%-{seq}.pcap");
  EXPECT_TRUE(matcher.isFinishedFile("100%-000003.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("100%%-000003.pcap"));
}

TEST(OwnFileMatcher, AcceptsWhatStrftimeWritesForEveryAllowedConversion) {
  // The list config.cpp accepts in a file_name.
  constexpr std::string_view kConversions = "aAbBCdFgGhHIjmMpsSuUVwWyYzZ%";
  for (char conversion : kConversions) {
    const std::string fileName = std::string("x-%") + conversion + "-{seq}.pcap";
    const OwnFileMatcher matcher = matcherFor(fileName);
    // Steps of 31h 13min 17s over a year and a bit: every weekday, month and half of the day.
    for (int step = 0; step < 400; ++step) {
      const auto instant = kNow + step * (hours(31) + minutes(13) + seconds(17));
      const std::string name = expandFileName(fileName, "eth0", 7, instant);
      EXPECT_TRUE(matcher.isFinishedFile(name)) << fileName << " -> " << name;
    }
  }
}

TEST(OwnFileMatcher, AcceptsOnlyTheWordsOfNamedConversions) {
  EXPECT_TRUE(matcherFor("%a.pcap").isFinishedFile("Mon.pcap"));
  EXPECT_FALSE(matcherFor("%a.pcap").isFinishedFile("Monday.pcap"));
  EXPECT_FALSE(matcherFor("%a.pcap").isFinishedFile("Foo.pcap"));
  EXPECT_TRUE(matcherFor("%B.pcap").isFinishedFile("November.pcap"));
  EXPECT_FALSE(matcherFor("%B.pcap").isFinishedFile("Nov.pcap"));
  EXPECT_FALSE(matcherFor("%p.pcap").isFinishedFile("XM.pcap"));
}

TEST(OwnFileMatcher, AcceptsTheFilesOfEveryInterfaceSharingTheDirectory) {
  const OwnFileMatcher matcher({{std::string(kDefaultTemplate), "eth0"},
                                {std::string(kDefaultTemplate), "eth1"},
                                {"cap-{seq}.pcap", "eth2"}});
  EXPECT_TRUE(matcher.isFinishedFile("eth0-20261123T175844.pcap"));
  EXPECT_TRUE(matcher.isFinishedFile("eth1-20261123T175844_002.pcap"));
  EXPECT_TRUE(matcher.isFinishedFile("cap-000001.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("eth2-20261123T175844.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("eth3-20261123T175844.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("notes.pcap"));
}

TEST(OwnFileMatcher, WithoutTemplatesOwnsNothing) {
  const OwnFileMatcher matcher({});
  EXPECT_FALSE(matcher.isFinishedFile("eth0-20261123T175844.pcap"));
}

TEST(OwnFileMatcher, RefusesTemplatesConfigWouldRefuse) {
  EXPECT_THROW(matcherFor("{interface}-%T.pcap"), std::invalid_argument);
  EXPECT_THROW(matcherFor("{host}-{seq}.pcap"), std::invalid_argument);
  EXPECT_THROW(matcherFor("cap-{seq}%"), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// combineLimits

TEST(CombineLimits, TakesTheStrictestNonZeroValueOfEachLimit) {
  const std::vector<RetentionLimits> limits = {
      {.maxFiles = 10, .maxTotalBytes = 0, .maxAge = hours(24 * 7), .minFreeBytes = 1 * kGiB},
      {.maxFiles = 0, .maxTotalBytes = 5 * kGiB, .maxAge = hours(24), .minFreeBytes = 2 * kGiB},
      {.maxFiles = 20, .maxTotalBytes = 8 * kGiB, .maxAge = seconds(0), .minFreeBytes = 0},
  };
  const RetentionLimits combined = combineLimits(limits);
  EXPECT_EQ(combined.maxFiles, 10u);
  EXPECT_EQ(combined.maxTotalBytes, 5 * kGiB);
  EXPECT_EQ(combined.maxAge, hours(24));
  EXPECT_EQ(combined.minFreeBytes, 2 * kGiB);
}

TEST(CombineLimits, KeepsALimitOnlyOneInterfaceSets) {
  const std::vector<RetentionLimits> limits = {{}, {.maxFiles = 3}, {}};
  const RetentionLimits combined = combineLimits(limits);
  EXPECT_EQ(combined.maxFiles, 3u);
  EXPECT_EQ(combined.maxTotalBytes, 0u);
  EXPECT_EQ(combined.maxAge, seconds(0));
  EXPECT_EQ(combined.minFreeBytes, 0u);
}

TEST(CombineLimits, OfNoInterfacesIsNoLimit) {
  const RetentionLimits combined = combineLimits({});
  EXPECT_EQ(combined.maxFiles, 0u);
  EXPECT_EQ(combined.maxTotalBytes, 0u);
  EXPECT_EQ(combined.maxAge, seconds(0));
  EXPECT_EQ(combined.minFreeBytes, 0u);
}

// ---------------------------------------------------------------------------------------------
// chooseDeletions

StoredFile file(std::string name, std::uint64_t bytes, Clock::duration age) {
  return {std::move(name), bytes, kNow - age};
}

std::vector<std::string> namesOf(const std::vector<Deletion>& deletions) {
  std::vector<std::string> names;
  for (const Deletion& deletion : deletions) names.push_back(deletion.name);
  return names;
}

std::vector<std::string> reasonsOf(const std::vector<Deletion>& deletions) {
  std::vector<std::string> reasons;
  for (const Deletion& deletion : deletions) reasons.push_back(deletion.reason);
  return reasons;
}

// Five files an hour apart, given newest first so the order must come from the times.
std::vector<StoredFile> fiveHourlyFiles() {
  return {file("e", 100, hours(1)), file("d", 100, hours(2)), file("c", 100, hours(3)),
          file("b", 100, hours(4)), file("a", 100, hours(5))};
}

TEST(ChooseDeletions, WithoutLimitsDeletesNothing) {
  EXPECT_THAT(chooseDeletions(fiveHourlyFiles(), {}, kNow, 0), IsEmpty());
}

TEST(ChooseDeletions, WithoutFilesDeletesNothing) {
  const RetentionLimits limits{
      .maxFiles = 1, .maxTotalBytes = 1, .maxAge = seconds(1), .minFreeBytes = kGiB};
  EXPECT_THAT(chooseDeletions({}, limits, kNow, 0), IsEmpty());
}

TEST(ChooseDeletions, MaxFilesThreeKeepsTheThreeNewest) {
  const std::vector<Deletion> deletions =
      chooseDeletions(fiveHourlyFiles(), {.maxFiles = 3}, kNow, 0);
  EXPECT_THAT(namesOf(deletions), ElementsAre("a", "b"));
  EXPECT_THAT(reasonsOf(deletions),
              ElementsAre("max_files 3 exceeded (5 files)", "max_files 3 exceeded (4 files)"));
  EXPECT_EQ(deletions[0].bytes, 100u);
}

// Free space that could not be read (fstatvfs failed: a network file system's moment) is passed
// as the most there can be; adding a deleted file's bytes to it wrapped round to almost nothing,
// and min_free_space then deleted every file, unshipped ones too.
TEST(ChooseDeletions, FreeSpaceNotKnownNeverWrapsIntoDeletingEverything) {
  const auto deletions =
      chooseDeletions(fiveHourlyFiles(), {.maxFiles = 4, .minFreeBytes = kGiB}, kNow, UINT64_MAX);
  EXPECT_THAT(namesOf(deletions), ElementsAre("a"));
  EXPECT_THAT(
      namesOf(chooseDeletions(fiveHourlyFiles(),
                              {.maxFiles = 4, .minFreeBytes = kGiB, .keepUntilShipped = true}, kNow,
                              UINT64_MAX)),
      IsEmpty())
      << "nothing is shipped: max_files keeps them, and min_free_space has no cause";
}

// A capture's index and sidecar are on the disk too: max_total_size counts them with it.
TEST(ChooseDeletions, MaxTotalSizeCountsTheIndexAndSidecarOfEachFile) {
  auto files = fiveHourlyFiles();
  for (auto& each : files) each.companionBytes = 400;  // 100 B of capture, 400 of index+sidecar
  EXPECT_THAT(namesOf(chooseDeletions(files, {.maxTotalBytes = 1500}, kNow, 0)),
              ElementsAre("a", "b"));
}

TEST(ChooseDeletions, MaxFilesReachedButNotExceededDeletesNothing) {
  EXPECT_THAT(chooseDeletions(fiveHourlyFiles(), {.maxFiles = 5}, kNow, 0), IsEmpty());
}

TEST(ChooseDeletions, MaxTotalSizeDeletesOldestUntilTheRestFits) {
  const std::vector<StoredFile> files = {file("new", 100, hours(1)), file("old", 400, hours(4)),
                                         file("mid", 200, hours(2)), file("older", 300, hours(3))};
  const std::vector<Deletion> deletions = chooseDeletions(files, {.maxTotalBytes = 600}, kNow, 0);
  // 1000 bytes; without "old" 600 are left, which is within the limit.
  EXPECT_THAT(namesOf(deletions), ElementsAre("old"));
  EXPECT_THAT(reasonsOf(deletions), ElementsAre("max_total_size 600 B exceeded (1000 B stored)"));
}

TEST(ChooseDeletions, MaxTotalSizeReasonUsesBinaryUnits) {
  const std::vector<StoredFile> files = {
      file("a", kGiB / 2, hours(3)), file("b", kGiB / 2, hours(2)), file("c", kGiB / 2, hours(1))};
  const std::vector<Deletion> deletions = chooseDeletions(files, {.maxTotalBytes = kGiB}, kNow, 0);
  EXPECT_THAT(reasonsOf(deletions), ElementsAre("max_total_size 1 GiB exceeded (1.5 GiB stored)"));
}

TEST(ChooseDeletions, MaxAgeDeletesOnlyFilesOlderThanTheLimit) {
  const std::vector<StoredFile> files = {file("eight-days", 1, hours(24 * 8)),
                                         file("seven-days", 1, hours(24 * 7)),
                                         file("six-days", 1, hours(24 * 6))};
  const std::vector<Deletion> deletions =
      chooseDeletions(files, {.maxAge = hours(24 * 7)}, kNow, 0);
  EXPECT_THAT(namesOf(deletions), ElementsAre("eight-days"));
  EXPECT_THAT(reasonsOf(deletions), ElementsAre("older than max_age 7d"));
}

TEST(ChooseDeletions, MaxAgeKeepsFilesFromTheFuture) {
  const std::vector<StoredFile> files = {file("skewed", 1, -hours(5)), file("old", 1, hours(5))};
  EXPECT_THAT(namesOf(chooseDeletions(files, {.maxAge = hours(1)}, kNow, 0)), ElementsAre("old"));
}

TEST(ChooseDeletions, MaxAgeBeyondTheNanosecondRangeDeletesNothingRatherThanEverything) {
  // 999999 days in nanoseconds does not fit int64: compared unsaturated it wrapped negative and
  // every file, the one just finished included, was "older" than it.
  const std::vector<StoredFile> files = {file("just-finished", 1, seconds(1)),
                                         file("year-old", 1, hours(24 * 365))};
  EXPECT_THAT(chooseDeletions(files, {.maxAge = hours(24 * 999'999)}, kNow, 0), IsEmpty());
}

TEST(ChooseDeletions, MaxAgeCutOffSaturatesForFarOffModificationTimes) {
  const std::vector<StoredFile> files = {
      {"far-past", 1, Clock::time_point::min()},
      {"far-future", 1, Clock::time_point::max()},
      file("recent", 1, hours(1)),
  };
  EXPECT_THAT(namesOf(chooseDeletions(files, {.maxAge = hours(24 * 3650)}, kNow, 0)),
              ElementsAre("far-past"));
}

// A time in the future (a planted mtime, or the clock set back) is no later than now: such a file
// is not kept over one written now.
TEST(ChooseDeletions, AFutureTimeGivesAFileNoAdvantageOverOneWrittenNow) {
  const std::vector<StoredFile> files = {file("b-real", 1, hours(0)),
                                         file("a-planted", 1, -hours(1000))};
  EXPECT_THAT(namesOf(chooseDeletions(files, {.maxFiles = 1}, kNow, 0)), ElementsAre("a-planted"));
}

TEST(ChooseDeletions, MinFreeSpaceDeletesOldestUntilEnoughIsFree) {
  const std::vector<StoredFile> files = {
      file("a", 500 * kMiB, hours(4)), file("b", 300 * kMiB, hours(3)),
      file("c", 400 * kMiB, hours(2)), file("d", 200 * kMiB, hours(1))};
  const std::vector<Deletion> deletions =
      chooseDeletions(files, {.minFreeBytes = kGiB}, kNow, 120 * kMiB);
  // 120 MiB free, then 620, 920, and 1320 MiB after the third deletion.
  EXPECT_THAT(namesOf(deletions), ElementsAre("a", "b", "c"));
  EXPECT_THAT(reasonsOf(deletions), ElementsAre("free space 120 MiB below min_free_space 1 GiB",
                                                "free space 620 MiB below min_free_space 1 GiB",
                                                "free space 920 MiB below min_free_space 1 GiB"));
}

TEST(ChooseDeletions, MinFreeSpaceReasonShowsADecimalLimitAsConfigured) {
  const std::vector<StoredFile> files = {file("a", kGiB, hours(1))};
  const std::vector<Deletion> deletions =
      chooseDeletions(files, {.minFreeBytes = 2'000'000'000}, kNow, kGiB + kGiB / 2);
  EXPECT_THAT(reasonsOf(deletions), ElementsAre("free space 1.5 GiB below min_free_space 2 GB"));
}

TEST(ChooseDeletions, MinFreeSpaceAlreadyAvailableDeletesNothing) {
  EXPECT_THAT(chooseDeletions(fiveHourlyFiles(), {.minFreeBytes = kGiB}, kNow, kGiB), IsEmpty());
}

TEST(ChooseDeletions, MinFreeSpaceOutOfReachDeletesEveryOwnFileOnce) {
  const std::vector<Deletion> deletions =
      chooseDeletions(fiveHourlyFiles(), {.minFreeBytes = kGiB}, kNow, 0);
  EXPECT_THAT(namesOf(deletions), ElementsAre("a", "b", "c", "d", "e"));
}

TEST(ChooseDeletions, OrdersFilesOfTheSameTimeByName) {
  const std::vector<StoredFile> files = {file("eth0-b.pcap", 1, hours(1)),
                                         file("eth0-c.pcap", 1, hours(1)),
                                         file("eth0-a.pcap", 1, hours(1))};
  EXPECT_THAT(namesOf(chooseDeletions(files, {.maxFiles = 1}, kNow, 0)),
              ElementsAre("eth0-a.pcap", "eth0-b.pcap"));
}

TEST(ChooseDeletions, OrdersByTimeBeforeName) {
  const std::vector<StoredFile> files = {file("a-newest", 1, hours(1)),
                                         file("z-oldest", 1, hours(3)), file("m", 1, hours(2))};
  EXPECT_THAT(namesOf(chooseDeletions(files, {.maxFiles = 1}, kNow, 0)),
              ElementsAre("z-oldest", "m"));
}

TEST(ChooseDeletions, AppliesAgeThenCountThenSizeThenFreeSpace) {
  const std::vector<StoredFile> files = {file("f1", 100, hours(50)), file("f2", 100, hours(40)),
                                         file("f3", 100, hours(30)), file("f4", 300, hours(5)),
                                         file("f5", 300, hours(4)),  file("f6", 100, hours(3)),
                                         file("f7", 100, hours(2)),  file("f8", 100, hours(1))};
  const RetentionLimits limits{.maxFiles = 5,  // f1 goes for its age, f2 and f3 for the count
                               .maxTotalBytes = 700,  // f4..f8 hold 900: f4 goes
                               .maxAge = hours(48),
                               .minFreeBytes = 900};  // 100 + 600 freed so far < 900: f5 goes
  const std::vector<Deletion> deletions = chooseDeletions(files, limits, kNow, 100);
  EXPECT_THAT(namesOf(deletions), ElementsAre("f1", "f2", "f3", "f4", "f5"));
  EXPECT_THAT(
      reasonsOf(deletions),
      ElementsAre("older than max_age 2d", "max_files 5 exceeded (7 files)",
                  "max_files 5 exceeded (6 files)", "max_total_size 700 B exceeded (900 B stored)",
                  "free space 700 B below min_free_space 900 B"));
}

TEST(ChooseDeletions, DeletesAFileOnlyOnceWhenSeveralLimitsWantIt) {
  const std::vector<StoredFile> files = {file("old", 500, hours(10)), file("b", 100, hours(2)),
                                         file("c", 100, hours(1))};
  const RetentionLimits limits{
      .maxFiles = 2, .maxTotalBytes = 300, .maxAge = hours(5), .minFreeBytes = 100};
  const std::vector<Deletion> deletions = chooseDeletions(files, limits, kNow, 0);
  // Age removes "old"; then 2 files, 200 bytes and 500 bytes free: every limit is met.
  EXPECT_THAT(namesOf(deletions), ElementsAre("old"));
  EXPECT_THAT(reasonsOf(deletions), ElementsAre("older than max_age 5h"));
}

TEST(ChooseDeletions, NeverDeletesMoreThanTheStrictestLimitNeeds) {
  const RetentionLimits limits{.maxFiles = 4, .maxTotalBytes = 450};
  // max_files wants one deletion, max_total_size (500 bytes) one too: the same file.
  EXPECT_THAT(namesOf(chooseDeletions(fiveHourlyFiles(), limits, kNow, 0)), ElementsAre("a"));
}

TEST(ChooseDeletions, CombinedLimitsOfSeveralInterfacesApplyToTheSharedFiles) {
  const std::vector<RetentionLimits> perInterface = {{.maxFiles = 4}, {.maxFiles = 2}, {}};
  EXPECT_THAT(namesOf(chooseDeletions(fiveHourlyFiles(), combineLimits(perInterface), kNow, 0)),
              ElementsAre("a", "b", "c"));
}

// ---------------------------------------------------------------------------------------------
// chooseDeletions with keep_until_shipped and delete_after_upload

// fiveHourlyFiles() with `shipped` confirmed uploaded.
std::vector<StoredFile> fiveHourlyFilesShipped(std::initializer_list<std::string_view> shipped) {
  auto files = fiveHourlyFiles();
  for (StoredFile& each : files) {
    each.shipped = std::find(shipped.begin(), shipped.end(), each.name) != shipped.end();
  }
  return files;
}

std::vector<bool> unshippedOf(const std::vector<Deletion>& deletions) {
  std::vector<bool> flags;
  for (const Deletion& deletion : deletions) flags.push_back(deletion.unshipped);
  return flags;
}

TEST(ChooseDeletionsKeepUntilShipped, LimitsPassOverUnshippedFilesButCountThem) {
  // a, c and e are not uploaded yet: max_files 2 may only take b and d, leaving 3 files.
  const auto deletions = chooseDeletions(fiveHourlyFilesShipped({"b", "d"}),
                                         {.maxFiles = 2, .keepUntilShipped = true}, kNow, 0);
  EXPECT_THAT(namesOf(deletions), ElementsAre("b", "d"));
  EXPECT_THAT(unshippedOf(deletions), ElementsAre(false, false));
}

TEST(ChooseDeletionsKeepUntilShipped, NothingShippedKeepsEverythingPastEveryLimit) {
  EXPECT_THAT(
      chooseDeletions(
          fiveHourlyFilesShipped({}),
          {.maxFiles = 1, .maxTotalBytes = 100, .maxAge = seconds(60), .keepUntilShipped = true},
          kNow, 0),
      IsEmpty());
}

TEST(ChooseDeletionsKeepUntilShipped, ConfirmedFilesAreDeletableAsWithoutShipping) {
  const RetentionLimits limits{.maxFiles = 2, .keepUntilShipped = true};
  EXPECT_THAT(
      namesOf(chooseDeletions(fiveHourlyFilesShipped({"a", "b", "c", "d", "e"}), limits, kNow, 0)),
      ElementsAre("a", "b", "c"));
}

TEST(ChooseDeletionsKeepUntilShipped, WithoutItUnshippedFilesGoAsBefore) {
  EXPECT_THAT(namesOf(chooseDeletions(fiveHourlyFilesShipped({}), {.maxFiles = 3}, kNow, 0)),
              ElementsAre("a", "b"));
}

TEST(ChooseDeletionsKeepUntilShipped, MinFreeSpaceTakesConfirmedFilesFirstThenUnshippedWithAFlag) {
  // 250 bytes short: the shipped d and e (200 bytes) first, then the oldest unshipped a.
  const auto deletions =
      chooseDeletions(fiveHourlyFilesShipped({"d", "e"}),
                      {.minFreeBytes = 1000, .keepUntilShipped = true}, kNow, 750);
  EXPECT_THAT(namesOf(deletions), ElementsAre("a", "d", "e"));
  EXPECT_THAT(unshippedOf(deletions), ElementsAre(true, false, false));
  EXPECT_THAT(deletions.front().reason, HasSubstr("not yet shipped"));
}

TEST(ChooseDeletionsKeepUntilShipped, DeleteAfterUploadTakesEveryConfirmedFileOnly) {
  const auto deletions =
      chooseDeletions(fiveHourlyFilesShipped({"b", "e"}),
                      {.keepUntilShipped = true, .deleteShipped = true}, kNow, 0);
  EXPECT_THAT(namesOf(deletions), ElementsAre("b", "e"));
  EXPECT_THAT(reasonsOf(deletions), Each(HasSubstr("delete_after_upload")));
}

TEST(ChooseDeletionsKeepUntilShipped, DeleteAfterUploadThenLimitsOnTheRestWithoutDuplicates) {
  // b, c and e go as uploaded; max_files 1 then finds only the unshipped a and d: both kept.
  const auto deletions =
      chooseDeletions(fiveHourlyFilesShipped({"b", "c", "e"}),
                      {.maxFiles = 1, .keepUntilShipped = true, .deleteShipped = true}, kNow, 0);
  EXPECT_THAT(namesOf(deletions), ElementsAre("b", "c", "e"));
}

TEST(CombineLimits, KeepsUntilShippedWhenAnyInterfaceWantsIt) {
  const std::vector<RetentionLimits> limits = {{}, {.keepUntilShipped = true}};
  EXPECT_TRUE(combineLimits(limits).keepUntilShipped);
  EXPECT_FALSE(combineLimits(std::vector<RetentionLimits>{{}, {}}).keepUntilShipped);
}

// ---------------------------------------------------------------------------------------------
// listOwnFiles

void writeFile(const std::filesystem::path& path, std::string_view contents, seconds mtime) {
  std::ofstream(path, std::ios::binary) << contents;
  const timespec times[2] = {{mtime.count(), 0}, {mtime.count(), 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

// The directory open, as the recorder holds it.
class HeldDirectory {
 public:
  explicit HeldDirectory(const std::filesystem::path& path)
      : fd_(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {}
  ~HeldDirectory() {
    if (fd_ >= 0) ::close(fd_);
  }
  HeldDirectory(const HeldDirectory&) = delete;
  HeldDirectory& operator=(const HeldDirectory&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

TEST(ListOwnFiles, ListsOnlyRegularFilesTheMatcherAccepts) {
  const testing::TempDir directory;
  const seconds mtime(1795456724);
  writeFile(directory / "eth0-20261123T175844.pcap", "0123456789", mtime);
  writeFile(directory / "eth0-20261123T175844_001.pcap", "abc", mtime + seconds(1));
  writeFile(directory / "eth0-20261123T180000.pcap.part", "being written", mtime);
  writeFile(directory / "notes.pcap", "not ours", mtime);
  writeFile(directory / "eth1-20261123T175844.pcap", "other interface", mtime);
  std::filesystem::create_symlink(directory / "eth0-20261123T175844.pcap",
                                  directory / "eth0-20261124T000000.pcap");
  std::filesystem::create_symlink("/etc/hostname", directory / "eth0-20261125T000000.pcap");
  std::filesystem::create_directory(directory / "eth0-20261126T000000.pcap");

  const HeldDirectory held(directory.path());
  const Listing listing = listOwnFiles(held.fd(), matcherFor(kDefaultTemplate), ::geteuid());
  EXPECT_EQ(listing.error, 0);
  const std::vector<StoredFile>& files = listing.files;
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].name, "eth0-20261123T175844.pcap");
  EXPECT_EQ(files[0].bytes, 10u);
  EXPECT_EQ(files[0].modified, Clock::time_point(mtime));
  EXPECT_EQ(files[1].name, "eth0-20261123T175844_001.pcap");
  EXPECT_EQ(files[1].bytes, 3u);
  EXPECT_EQ(files[1].modified, Clock::time_point(mtime + seconds(1)));
}

TEST(ListOwnFiles, CountsTheIndexAndSidecarOfEachFileAsItsCompanions) {
  const testing::TempDir directory;
  const seconds mtime(1795456724);
  writeFile(directory / "eth0-20261123T175844.pcap", "0123456789", mtime);
  writeFile(directory / "eth0-20261123T175844.pcap.idx", std::string(300, 'i'), mtime);
  writeFile(directory / "eth0-20261123T175844.pcap.json", std::string(40, 'j'), mtime);
  writeFile(directory / "eth0-20261123T180000.pcap", "abc", mtime);
  const HeldDirectory held(directory.path());
  static constexpr std::string_view kSuffixes[] = {".idx", ".json"};
  const Listing listing =
      listOwnFiles(held.fd(), matcherFor(kDefaultTemplate), ::geteuid(), kSuffixes);
  ASSERT_EQ(listing.files.size(), 2u);
  EXPECT_EQ(listing.files[0].bytes, 10u);
  EXPECT_EQ(listing.files[0].companionBytes, 340u);
  EXPECT_EQ(listing.files[1].companionBytes, 0u);
}

TEST(ListOwnFiles, OfAnEmptyDirectoryIsEmpty) {
  const testing::TempDir directory;
  const HeldDirectory held(directory.path());
  const Listing listing = listOwnFiles(held.fd(), matcherFor(kDefaultTemplate), ::geteuid());
  EXPECT_EQ(listing.error, 0);
  EXPECT_THAT(listing.files, IsEmpty());
}

// The directory removed while held (rm -rf during a capture): nothing to delete, and no exception
// on the finisher thread (the old listing threw filesystem_error there: SIGABRT).
TEST(ListOwnFiles, OfARemovedDirectoryIsEmptyAndDoesNotThrow) {
  const testing::TempDir directory;
  std::filesystem::create_directory(directory / "out");
  writeFile(directory / "out" / "eth0-20261123T175844.pcap", "x", seconds(1795456724));
  const HeldDirectory held(directory / "out");
  std::filesystem::remove_all(directory / "out");
  Listing listing;
  EXPECT_NO_THROW(listing = listOwnFiles(held.fd(), matcherFor(kDefaultTemplate), ::geteuid()));
  EXPECT_THAT(listing.files, IsEmpty());
}

TEST(ListOwnFiles, SkipsFilesOfOtherOwners) {
  const testing::TempDir directory;
  writeFile(directory / "eth0-20261123T175844.pcap", "x", seconds(1795456724));
  const HeldDirectory held(directory.path());
  // The recorder running as another user than the one who put the file there.
  const Listing listing = listOwnFiles(held.fd(), matcherFor(kDefaultTemplate), ::geteuid() + 4242);
  EXPECT_EQ(listing.error, 0);
  EXPECT_THAT(listing.files, IsEmpty());
}

// A file planted with an mtime far in the future counts as written when it was planted (its
// ctime), so it ages like any other file instead of staying the newest for ever.
TEST(ListOwnFiles, TakesAFutureMtimeAsTheTimeTheFileWasChanged) {
  const testing::TempDir directory;
  const auto before = Clock::now() - seconds(5);
  writeFile(
      directory / "eth0-20261123T175844.pcap", "x",
      std::chrono::duration_cast<seconds>((Clock::now() + hours(24 * 365)).time_since_epoch()));
  const HeldDirectory held(directory.path());
  const Listing listing = listOwnFiles(held.fd(), matcherFor(kDefaultTemplate), ::geteuid());
  ASSERT_EQ(listing.files.size(), 1u);
  EXPECT_GE(listing.files[0].modified, before);
  EXPECT_LE(listing.files[0].modified, Clock::now() + seconds(5));
}

// Listing goes through the held descriptor: the path re-pointed to another directory (a symlink
// changed) does not change which files are listed.
TEST(ListOwnFiles, ReadsTheHeldDirectoryAfterItsPathIsRePointed) {
  const testing::TempDir directory;
  std::filesystem::create_directory(directory / "a");
  std::filesystem::create_directory(directory / "b");
  writeFile(directory / "a" / "eth0-20261123T175844.pcap", "x", seconds(1795456724));
  writeFile(directory / "b" / "eth0-20261123T180000.pcap", "y", seconds(1795456724));
  std::filesystem::create_directory_symlink(directory / "a", directory / "out");
  const HeldDirectory held(directory / "out");
  std::filesystem::remove(directory / "out");
  std::filesystem::create_directory_symlink(directory / "b", directory / "out");
  const Listing listing = listOwnFiles(held.fd(), matcherFor(kDefaultTemplate), ::geteuid());
  ASSERT_EQ(listing.files.size(), 1u);
  EXPECT_EQ(listing.files[0].name, "eth0-20261123T175844.pcap");
}

// A file still being finished (compressed, say) while retention runs beside the finisher.
StoredFile inProgress(std::string name, std::uint64_t bytes, Clock::duration age) {
  StoredFile stored = file(std::move(name), bytes, age);
  stored.inProgress = true;
  return stored;
}

TEST(ChooseDeletions, AFileInProgressCountsTowardsMaxTotalSizeButIsNeverDeleted) {
  // 100 + 100 + 1000 stored: the file in progress (the oldest) alone takes the whole budget, so
  // every other goes, and it stays.
  const std::vector<StoredFile> files = {file("a", 100, hours(3)), file("b", 100, hours(2)),
                                         inProgress("c", 1000, hours(4))};
  const std::vector<Deletion> deletions = chooseDeletions(files, {.maxTotalBytes = 1000}, kNow, 0);
  EXPECT_THAT(namesOf(deletions), ElementsAre("a", "b"));
}

TEST(ChooseDeletions, AFileInProgressCountsAsOneFileTowardsMaxFiles) {
  const std::vector<StoredFile> files = {file("a", 100, hours(3)), file("b", 100, hours(2)),
                                         inProgress("c", 100, hours(1))};
  EXPECT_THAT(namesOf(chooseDeletions(files, {.maxFiles = 2}, kNow, 0)), ElementsAre("a"));
  EXPECT_THAT(chooseDeletions(files, {.maxFiles = 3}, kNow, 0), IsEmpty());
}

TEST(ChooseDeletions, NotEvenMinFreeSpaceOrMaxAgeDeletesAFileInProgress) {
  const std::vector<StoredFile> files = {inProgress("old", 100, hours(48)),
                                         file("new", 100, hours(1))};
  const RetentionLimits limits{.maxAge = hours(24), .minFreeBytes = kGiB, .keepUntilShipped = true};
  EXPECT_THAT(namesOf(chooseDeletions(files, limits, kNow, 0)), ElementsAre("new"));
}

TEST(ChooseDeletions, DeleteAfterUploadLeavesAFileInProgressThatIsAlreadyShipped) {
  StoredFile shipped = inProgress("shipped", 100, hours(1));
  shipped.shipped = true;
  EXPECT_THAT(chooseDeletions({shipped}, {.deleteShipped = true}, kNow, 0), IsEmpty());
}

TEST(RetentionTime, IsTheEarlierOfMtimeAndCtime) {
  EXPECT_EQ(retentionTime(kNow + hours(1000), kNow), kNow);
  EXPECT_EQ(retentionTime(kNow - hours(1), kNow), kNow - hours(1));
}

}  // namespace
}  // namespace pcap_recorder::rotation
