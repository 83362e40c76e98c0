#include "pcap_recorder/rotation/policy.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace pcap_recorder::rotation {
namespace {

using namespace std::chrono_literals;
constexpr Nanoseconds kSecond = 1'000'000'000;
constexpr Nanoseconds kHour = 3600 * kSecond;
// 2026-11-23T17:58:44Z
constexpr Nanoseconds kSomeTime = 1'795'456'724 * kSecond + 123'456'789;
// As the recorder allows with its default block timeout: two of 50 ms, and 100 ms.
constexpr Nanoseconds kLateness = 200'000'000;

TEST(Slot, AnHourlySlotStartsOnTheHourUtc) {
  const auto slot = slotOf(kSomeTime, 1h);
  EXPECT_EQ(slot.start, 1'795'453'200 * kSecond);  // 17:00:00Z
  EXPECT_EQ(slot.end, slot.start + kHour);
}

TEST(Slot, ABoundaryInstantBelongsToTheSlotItStarts) {
  const Nanoseconds boundary = 1'795'453'200 * kSecond;
  EXPECT_EQ(slotOf(boundary, 1h).start, boundary);
  EXPECT_EQ(slotOf(boundary - 1, 1h).end, boundary);
}

TEST(Slot, TwoSecondSlotsAreMultiplesOfTwoSecondsSinceTheEpoch) {
  const auto slot = slotOf(7 * kSecond + 5, 2s);
  EXPECT_EQ(slot.start, 6 * kSecond);
  EXPECT_EQ(slot.end, 8 * kSecond);
}

TEST(Slot, TimesBeforeTheEpochStillFallInTheirOwnSlot) {
  const auto slot = slotOf(-1, 1s);
  EXPECT_EQ(slot.start, -kSecond);
  EXPECT_EQ(slot.end, 0);
}

TEST(Slot, AnIntervalTooLongForNanosecondsIsOneSlotNotAWrappedShortOne) {
  // 288230376151711745 ms is 2^58 + 1 ms: times 10^6 it wraps to about 1 ms in int64.
  const auto slot = slotOf(kSomeTime, std::chrono::milliseconds(288'230'376'151'711'745));
  EXPECT_LE(slot.start, kSomeTime);
  EXPECT_EQ(slot.end, std::numeric_limits<Nanoseconds>::max()) << "saturated, never reached";
  const OpenFile file{.bytes = 24, .packets = 1, .slot = slot};
  EXPECT_EQ(reasonBeforeRecord(file, {}, 100, kSomeTime + kHour), RotationReason::none);
  EXPECT_FALSE(slotOver(file, kSomeTime + 1000 * kHour, kSecond));
}

TEST(Slot, ATenYearIntervalNearTheEndOfTimeSaturates) {
  const Nanoseconds nearEnd = std::numeric_limits<Nanoseconds>::max() - kSecond;
  const auto slot = slotOf(nearEnd, std::chrono::days(3650));
  EXPECT_LE(slot.start, nearEnd);
  EXPECT_EQ(slot.end, std::numeric_limits<Nanoseconds>::max());
  const auto early = slotOf(std::numeric_limits<Nanoseconds>::min() + kSecond, 24h);
  EXPECT_EQ(early.start, std::numeric_limits<Nanoseconds>::min());
  EXPECT_GT(early.end, early.start);
}

TEST(Slot, NoIntervalMeansASlotThatNeverEnds) {
  const auto slot = slotOf(kSomeTime, 0ms);
  EXPECT_LT(slot.start, 0);
  EXPECT_FALSE(slotOver({.slot = slot}, kSomeTime + 1000 * kHour, 0));
}

OpenFile fileWith(std::uint64_t bytes, std::uint64_t packets) {
  return OpenFile{.bytes = bytes, .packets = packets, .slot = slotOf(kSomeTime, 1h)};
}

TEST(ReasonBeforeRecord, NothingWhileEveryLimitHolds) {
  const RotationLimits limits{.maxFileBytes = 1000, .interval = 1h, .maxPackets = 10};
  EXPECT_EQ(reasonBeforeRecord(fileWith(900, 9), limits, 100, kSomeTime), RotationReason::none);
}

TEST(ReasonBeforeRecord, SizeFinishesTheFileBeforeItWouldExceedTheLimit) {
  const RotationLimits limits{.maxFileBytes = 1000};
  EXPECT_EQ(reasonBeforeRecord(fileWith(900, 5), limits, 100, kSomeTime), RotationReason::none);
  EXPECT_EQ(reasonBeforeRecord(fileWith(900, 5), limits, 101, kSomeTime), RotationReason::size);
}

TEST(ReasonBeforeRecord, APacketLargerThanTheLimitStillGetsAFileOfItsOwn) {
  const RotationLimits limits{.maxFileBytes = 100};
  EXPECT_EQ(reasonBeforeRecord(fileWith(24, 0), limits, 5000, kSomeTime), RotationReason::none);
  EXPECT_EQ(reasonBeforeRecord(fileWith(5024, 1), limits, 16, kSomeTime), RotationReason::size);
}

TEST(ReasonBeforeRecord, PacketCountFinishesAfterMaxPackets) {
  const RotationLimits limits{.maxPackets = 100};
  EXPECT_EQ(reasonBeforeRecord(fileWith(5000, 99), limits, 60, kSomeTime), RotationReason::none);
  EXPECT_EQ(reasonBeforeRecord(fileWith(5000, 100), limits, 60, kSomeTime),
            RotationReason::packets);
}

// The clock set back (NTP stepping it, an operator): the file of 17:00 must not go on with
// packets of 16:50, which would make it hold packets from both sides of 17:00. The recorder asks
// this of the packet's timestamp and of the clock.
TEST(BeforeSlot, IsTrueOnlyForTimesBeforeTheSlotByMoreThanTheLateness) {
  const auto file = fileWith(100, 1);
  EXPECT_FALSE(beforeSlot(file, file.slot.start, kLateness));
  EXPECT_FALSE(beforeSlot(file, file.slot.start - kLateness, kLateness))
      << "a little out of order, as frames of several CPUs reach the ring";
  EXPECT_TRUE(beforeSlot(file, file.slot.start - kLateness - 1, kLateness));
  EXPECT_TRUE(beforeSlot(file, file.slot.start - 10 * 60 * kSecond, kLateness));
  EXPECT_FALSE(beforeSlot(file, file.slot.end + kHour, kLateness));
}

TEST(BeforeSlot, WithoutAnIntervalNoTimeIsBeforeTheSlot) {
  const OpenFile file{.bytes = 100, .packets = 1, .slot = slotOf(kSomeTime, 0ms)};
  for (const Nanoseconds time : {Nanoseconds{0}, kSomeTime - kHour, kSomeTime + 1000 * kHour}) {
    EXPECT_FALSE(beforeSlot(file, time, kLateness)) << time;
    EXPECT_EQ(reasonBeforeRecord(file, {}, 60, time), RotationReason::none) << time;
  }
}

TEST(ReasonBeforeRecord, APacketPastTheBoundaryStartsANewFile) {
  const RotationLimits limits{.interval = 1h};
  const auto file = fileWith(100, 1);
  EXPECT_EQ(reasonBeforeRecord(file, limits, 60, file.slot.end - 1), RotationReason::none);
  EXPECT_EQ(reasonBeforeRecord(file, limits, 60, file.slot.end), RotationReason::interval);
}

TEST(ReasonBeforeRecord, ZeroLimitsNeverRotate) {
  const RotationLimits none{};
  OpenFile file{.bytes = 1ull << 40, .packets = 1ull << 40, .slot = slotOf(0, 0ms)};
  EXPECT_EQ(reasonBeforeRecord(file, none, 1 << 20, kSomeTime), RotationReason::none);
}

TEST(SlotOver, TheClockFinishesAFileOnlyOnceLatePacketsCanNoLongerArrive) {
  const auto file = fileWith(24, 0);
  const Nanoseconds lateness = 150'000'000;
  EXPECT_FALSE(slotOver(file, file.slot.end, lateness));
  EXPECT_FALSE(slotOver(file, file.slot.end + lateness - 1, lateness));
  EXPECT_TRUE(slotOver(file, file.slot.end + lateness, lateness));
}

}  // namespace
}  // namespace pcap_recorder::rotation
