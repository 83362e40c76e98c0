#include "pcap_recorder/config/units.hpp"

#include <gtest/gtest.h>

#include <string_view>

namespace pcap_recorder::config {
namespace {

using std::chrono::milliseconds;

TEST(ParseSize, ReadsAPlainNumberAsBytes) {
  EXPECT_EQ(parseSize("4096"), 4096u);
  EXPECT_EQ(parseSize("1"), 1u);
  EXPECT_EQ(parseSize("007"), 7u);
}

TEST(ParseSize, ReadsZeroAsZeroWithOrWithoutAUnit) {
  EXPECT_EQ(parseSize("0"), 0u);
  EXPECT_EQ(parseSize("0B"), 0u);
  EXPECT_EQ(parseSize("0GiB"), 0u);
}

TEST(ParseSize, ReadsDecimalSuffixesAsPowersOf1000) {
  EXPECT_EQ(parseSize("512B"), 512u);
  EXPECT_EQ(parseSize("4kB"), 4'000u);
  EXPECT_EQ(parseSize("3MB"), 3'000'000u);
  EXPECT_EQ(parseSize("1GB"), 1'000'000'000u);
  EXPECT_EQ(parseSize("2TB"), 2'000'000'000'000u);
}

TEST(ParseSize, ReadsBinarySuffixesAsPowersOf1024) {
  EXPECT_EQ(parseSize("4KiB"), 4096u);
  EXPECT_EQ(parseSize("32MiB"), 33'554'432u);
  EXPECT_EQ(parseSize("16GiB"), 17'179'869'184u);
  EXPECT_EQ(parseSize("1TiB"), 1'099'511'627'776u);
}

TEST(ParseSize, AcceptsOneSpaceBetweenNumberAndUnit) {
  EXPECT_EQ(parseSize("32 MiB"), 33'554'432u);
  EXPECT_EQ(parseSize("1 GB"), 1'000'000'000u);
}

TEST(ParseSize, AcceptsTheLargestValueThatFitsIn64Bits) {
  EXPECT_EQ(parseSize("18446744073709551615"), 18'446'744'073'709'551'615u);
  EXPECT_EQ(parseSize("16777215TiB"), 16'777'215ull << 40);
}

TEST(ParseSize, RejectsValuesThatOverflow64Bits) {
  EXPECT_EQ(parseSize("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parseSize("16777216TiB"), std::nullopt);
  EXPECT_EQ(parseSize("18446744073709551615kB"), std::nullopt);
  EXPECT_EQ(parseSize("99999999999999999999999999GiB"), std::nullopt);
}

TEST(ParseSize, RejectsEmptyNegativeFractionalAndGarbageText) {
  for (std::string_view text : {"",    " ",    "-1",      "-1MiB",   "+1",     "1.5GiB", "0.5",
                                "1e6", "0x10", "1_000",   "1,000",   "MiB",    "B",      "abc",
                                "32 ", " 32",  "32  MiB", "32\tMiB", "32MiB ", "32MiBs", "1 2"}) {
    EXPECT_EQ(parseSize(text), std::nullopt) << '"' << text << '"';
  }
}

TEST(ParseSize, RejectsUnitsSpelledInAnyOtherWay) {
  // Exact spellings only: "mb" might mean megabits, "K" might mean 1000 or 1024.
  for (std::string_view text : {"32K", "32M", "32G", "32T", "32KB", "32kb", "32mb", "32Mb", "32mib",
                                "32MIB", "32kiB", "32Ki", "32b", "32bytes", "32PiB", "32EB"}) {
    EXPECT_EQ(parseSize(text), std::nullopt) << '"' << text << '"';
  }
}

TEST(ParseDuration, ReadsEachUnit) {
  EXPECT_EQ(parseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(parseDuration("90s"), milliseconds(90'000));
  EXPECT_EQ(parseDuration("5m"), milliseconds(300'000));
  EXPECT_EQ(parseDuration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(parseDuration("1d"), milliseconds(86'400'000));
  EXPECT_EQ(parseDuration("7d"), milliseconds(604'800'000));
}

TEST(ParseDuration, ReadsABareZeroAsZero) {
  EXPECT_EQ(parseDuration("0"), milliseconds::zero());
  EXPECT_EQ(parseDuration("0s"), milliseconds::zero());
  EXPECT_EQ(parseDuration("0ms"), milliseconds::zero());
}

TEST(ParseDuration, RejectsABareNonZeroNumberBecauseItsUnitIsAmbiguous) {
  EXPECT_EQ(parseDuration("5"), std::nullopt);
  EXPECT_EQ(parseDuration("3600"), std::nullopt);
}

TEST(ParseDuration, RejectsEmptyNegativeFractionalAndGarbageText) {
  for (std::string_view text :
       {"",    " ",   "s",     "-1s",  "+1s",  "1.5h", "1e3ms", "1H",  "1S",  "1M",    "1 h",
        "1h ", " 1h", "1hour", "1min", "1sec", "1w",   "1y",    "1us", "1ns", "1h30m", "abc"}) {
    EXPECT_EQ(parseDuration(text), std::nullopt) << '"' << text << '"';
  }
}

TEST(ParseDuration, RejectsValuesThatOverflowMilliseconds) {
  EXPECT_EQ(parseDuration("9223372036854775807ms"), milliseconds(9'223'372'036'854'775'807));
  EXPECT_EQ(parseDuration("9223372036854775808ms"), std::nullopt);
  EXPECT_EQ(parseDuration("9223372036854775807s"), std::nullopt);
  EXPECT_EQ(parseDuration("106751991167d"), milliseconds(106'751'991'167 * 86'400'000));
  EXPECT_EQ(parseDuration("106751991168d"), std::nullopt);
  EXPECT_EQ(parseDuration("99999999999999999999999h"), std::nullopt);
}

}  // namespace
}  // namespace pcap_recorder::config
