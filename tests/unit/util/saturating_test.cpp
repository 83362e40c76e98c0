#include "pcap_recorder/util/saturating.hpp"

#include <gtest/gtest.h>

namespace pcap_recorder::util {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using System = std::chrono::system_clock;
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

TEST(SaturatingAdd, AddsWhatFitsAndClampsWhatDoesNot) {
  EXPECT_EQ(saturatingAdd(std::int64_t{40}, 2), 42);
  EXPECT_EQ(saturatingAdd(kMax - 1, 1), kMax);
  EXPECT_EQ(saturatingAdd(kMax - 1, 2), kMax);
  EXPECT_EQ(saturatingAdd(kMin + 1, -2), kMin);
  EXPECT_EQ(saturatingAdd(kMax, kMin), -1);
}

TEST(SaturatingNanoseconds, ConvertsWhatFitsAndClampsTheRest) {
  EXPECT_EQ(saturatingNanoseconds(1500ms), 1'500'000'000ns);
  EXPECT_EQ(saturatingNanoseconds(std::chrono::days(106'751)).count(),
            106'751 * 86'400'000'000'000);
  EXPECT_EQ(saturatingNanoseconds(std::chrono::days(106'752)), std::chrono::nanoseconds::max());
  // 2^58 + 1 ms: plain duration_cast gives 1'000'000 ns after wrapping.
  EXPECT_EQ(saturatingNanoseconds(std::chrono::milliseconds(288'230'376'151'711'745)),
            std::chrono::nanoseconds::max());
  EXPECT_EQ(saturatingNanoseconds(std::chrono::milliseconds::min()),
            std::chrono::nanoseconds::min());
}

TEST(SaturatingClockArithmetic, ADeadlineTooFarAwayIsTheEndOfTheClockNotThePast) {
  const auto now = Steady::now();
  EXPECT_EQ(saturatingAdd(now, 10s), now + 10s);
  EXPECT_EQ(saturatingAdd(now, std::chrono::days(999'999)), Steady::time_point::max());
  EXPECT_EQ(saturatingAdd(now, std::chrono::milliseconds::max()), Steady::time_point::max());
  EXPECT_GT(saturatingAdd(now, std::chrono::days(999'999)), now);
}

TEST(SaturatingClockArithmetic, ACutOffTooLongAgoIsTheStartOfTheClock) {
  const auto now = System::now();
  EXPECT_EQ(saturatingSubtract(now, 1h), now - 1h);
  EXPECT_EQ(saturatingSubtract(now, std::chrono::days(999'999)), System::time_point::min());
  EXPECT_EQ(saturatingSubtract(System::time_point::min(), 1s), System::time_point::min());
  EXPECT_EQ(saturatingSubtract(now, std::chrono::milliseconds::min()), System::time_point::max());
}

}  // namespace
}  // namespace pcap_recorder::util
