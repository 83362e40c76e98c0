#include "pcap_recorder/ship/rate_limit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <vector>

namespace pcap_recorder::ship {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimit::Clock;

constexpr std::uint64_t kMiBPerSecond = 1 << 20;

// Bytes granted to `requests` taking turns, each asking for `chunk` whenever its last grant may
// go, until `until` after `start`: what the schedule lets through in that time.
std::uint64_t bytesThrough(RateLimit& limit, int requests, std::size_t chunk,
                           Clock::time_point start, Clock::duration until) {
  std::vector<Clock::time_point> readyAt(requests, start);
  std::uint64_t sent = 0;
  for (;;) {
    // The request ready first asks next (as curl's threads would).
    int next = 0;
    for (int i = 1; i < requests; ++i) {
      if (readyAt[i] < readyAt[next]) next = i;
    }
    const Clock::time_point now = readyAt[next];
    const RateLimit::Grant grant = limit.take(chunk, now);
    const Clock::time_point goes = now + grant.wait;
    if (goes - start > until) return sent;
    sent += grant.bytes;
    readyAt[next] = goes;
  }
}

TEST(RateLimit, ARequestAloneGetsTheWholeRate) {
  RateLimit limit(kMiBPerSecond);
  const std::uint64_t sent = bytesThrough(limit, 1, 64 << 10, Clock::time_point(100s), 2s);
  // Two seconds' worth, and the tenth of a second it may send at once when it starts.
  EXPECT_GE(sent, 2 * kMiBPerSecond);
  EXPECT_LE(sent, 2 * kMiBPerSecond + kMiBPerSecond / 10 + (64 << 10));
}

TEST(RateLimit, RequestsInFlightTogetherShareOneRate) {
  RateLimit limit(kMiBPerSecond);
  std::vector<std::unique_ptr<RateLimit::Share>> shares;
  for (int i = 0; i < 8; ++i) shares.push_back(std::make_unique<RateLimit::Share>(limit));
  const std::uint64_t sent = bytesThrough(limit, 8, 64 << 10, Clock::time_point(100s), 2s);
  EXPECT_GE(sent, 2 * kMiBPerSecond);
  EXPECT_LE(sent, 2 * kMiBPerSecond + kMiBPerSecond / 5);
}

TEST(RateLimit, ManyRequestsSharingTheRateEachGetATurnEveryTenthOfASecond) {
  // 1,000 requests at 1 MiB/s: with curl's 64 KiB reads as grants, each would wait 62 s between
  // two of its sends, and a server would take it for hung.
  RateLimit limit(kMiBPerSecond);
  constexpr int kRequests = 1000;
  std::vector<std::unique_ptr<RateLimit::Share>> shares;
  for (int i = 0; i < kRequests; ++i) shares.push_back(std::make_unique<RateLimit::Share>(limit));
  const Clock::time_point start(100s);
  std::vector<Clock::time_point> last(kRequests, start);
  Clock::duration longestQuiet{};
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < kRequests; ++i) {
      const RateLimit::Grant grant = limit.take(64 << 10, last[i]);
      EXPECT_EQ(grant.bytes, kMiBPerSecond / 10 / kRequests);
      const Clock::time_point goes = last[i] + grant.wait;
      if (round > 0) longestQuiet = std::max(longestQuiet, goes - last[i]);
      last[i] = goes;
    }
  }
  EXPECT_LE(longestQuiet, 101ms);
  shares.clear();
  EXPECT_EQ(limit.take(64 << 10, last[0]).bytes, 64u << 10);  // alone again: whole reads
}

TEST(RateLimit, RequestsTakeTurnsInTheOrderTheyAsked) {
  RateLimit limit(1000);  // grants of 100 bytes at most: a tenth of a second each
  const Clock::time_point start(100s);
  const auto first = limit.take(1000, start);
  const auto second = limit.take(1000, start);
  const auto third = limit.take(1000, start);
  EXPECT_EQ(first.bytes, 100u);
  EXPECT_EQ(second.bytes, 100u);
  EXPECT_EQ(first.wait, 0ns);  // the burst a pause left
  EXPECT_EQ(second.wait, 0ns);
  EXPECT_EQ(third.wait, 100ms);
  EXPECT_EQ(limit.take(1000, start).wait, 200ms);
}

TEST(RateLimit, APauseIsNotSavedUpBeyondATenthOfASecond) {
  RateLimit limit(kMiBPerSecond);
  const Clock::time_point start(100s);
  (void)limit.take(1, start);
  // An hour later, what goes at once is the burst, not an hour's worth.
  const Clock::time_point later = start + 1h;
  std::uint64_t atOnce = 0;
  for (;;) {
    const auto grant = limit.take(64 << 10, later);
    if (grant.wait > 0ns) break;
    atOnce += grant.bytes;
  }
  EXPECT_GE(atOnce, kMiBPerSecond / 10);
  EXPECT_LE(atOnce, kMiBPerSecond / 10 + (64 << 10));
}

TEST(RateLimit, AGrantIsATenthOfASecondsWorthOrOneByte) {
  RateLimit slow(10 << 10);  // 10 KiB/s: curl's 64 KiB reads would each take 6 s
  EXPECT_EQ(slow.take(64 << 10, Clock::time_point(100s)).bytes, 1024u);
  RateLimit crawl(5);  // and at least a byte
  EXPECT_EQ(crawl.take(64 << 10, Clock::time_point(100s)).bytes, 1u);
  EXPECT_EQ(crawl.take(0, Clock::time_point(100s)).bytes, 0u);
}

TEST(RateLimit, ARateOfZeroIsRefused) {
  EXPECT_THROW(RateLimit(0), std::invalid_argument);
}

TEST(RateLimit, AcquireSleepsUntilTheBytesMayGo) {
  RateLimit limit(kMiBPerSecond);
  const auto start = Clock::now();
  std::uint64_t sent = 0;
  while (sent < kMiBPerSecond / 2) sent += limit.acquire(64 << 10);
  // Half a MiB at 1 MiB/s in eight grants of 64 KiB, each going at the start of its turn: the
  // last one 7 * 62.5 ms after the first, which went 100 ms early (the burst after a pause).
  EXPECT_GE(Clock::now() - start, 335ms);
}

}  // namespace
}  // namespace pcap_recorder::ship
