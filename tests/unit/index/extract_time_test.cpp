// extract's TIME arguments.
#include "extract_time.hpp"

#include <gtest/gtest.h>

#include "support/time_zone.hpp"

namespace pcap_recorder::ctl {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kNow = 1'800'000'000 * kSecond;

std::optional<std::int64_t> parse(const char* text) {
  std::string error;
  auto value = parseTime(text, kNow, error);
  if (!value) {
    EXPECT_FALSE(error.empty());
  }
  return value;
}

TEST(ExtractTimeTest, Rfc3339WithZoneOrOffset) {
  // 2026-12-01T10:00:00Z = 1796119200
  EXPECT_EQ(parse("2026-12-01T10:00:00Z"), 1796119200 * kSecond);
  EXPECT_EQ(parse("2026-12-01t10:00:00z"), 1796119200 * kSecond);
  EXPECT_EQ(parse("2026-12-01T10:00:00.250+01:00"), (1796119200 - 3600) * kSecond + 250'000'000);
  EXPECT_EQ(parse("2026-12-01T10:00:00.123456789-02:30"),
            (1796119200 + 9000) * kSecond + 123'456'789);
}

TEST(ExtractTimeTest, WithoutZoneIsLocalTime) {
  const testing::TimeZone berlin("Europe/Berlin");
  EXPECT_EQ(parse("2026-12-01T10:00:00"), (1796119200 - 3600) * kSecond);
  EXPECT_EQ(parse("2026-12-01 10:00"), (1796119200 - 3600) * kSecond);
  EXPECT_EQ(parse("2026-07-01 10:00:00.5"), (1782900000 - 7200) * kSecond + kSecond / 2);
}

TEST(ExtractTimeTest, EpochAndRelative) {
  EXPECT_EQ(parse("@1796119200"), 1796119200 * kSecond);
  EXPECT_EQ(parse("@1796119200.000001"), 1796119200 * kSecond + 1000);
  EXPECT_EQ(parse("now"), kNow);
  EXPECT_EQ(parse("-15m"), kNow - 900 * kSecond);
  EXPECT_EQ(parse("-2h"), kNow - 7200 * kSecond);
  EXPECT_EQ(parse("-1.5h"), kNow - 5400 * kSecond);
  EXPECT_EQ(parse("-30s"), kNow - 30 * kSecond);
  EXPECT_EQ(parse("-1d"), kNow - 86400 * kSecond);
  EXPECT_EQ(parse("-5200w"), kNow - 5200 * 7 * 86400LL * kSecond);
}

// Relative times go back at most a century, in any unit: further, the nanoseconds do not fit.
TEST(ExtractTimeTest, RefusesARelativeTimeMoreThanACenturyBack) {
  for (const char* text : {"-20000w", "-40000d", "-900000h", "-53000000m", "-3200000000s"}) {
    EXPECT_FALSE(parse(text)) << text;
  }
}

TEST(ExtractTimeTest, RefusesWhatIsNoTime) {
  for (const char* text : {"", "yesterday", "-15", "-15x", "@", "@12a", "2026-13-01T00:00:00Z",
                           "2026-12-01T10:00:00+0100", "2026-12-01T25:00:00Z", "12:00"}) {
    EXPECT_FALSE(parse(text)) << text;
  }
}

}  // namespace
}  // namespace pcap_recorder::ctl
