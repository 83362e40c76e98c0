#include "pcap_recorder/ship/retry_policy.hpp"

#include <gtest/gtest.h>

namespace pcap_recorder::ship {
namespace {

using std::chrono::milliseconds;

TEST(RetryPolicy, NetworkFailures5xxAndThrottlingAreRetried) {
  EXPECT_EQ(classify({true, 0, ""}), RetryDecision::retry);
  EXPECT_EQ(classify({false, 500, "InternalError"}), RetryDecision::retry);
  EXPECT_EQ(classify({false, 503, "SlowDown"}), RetryDecision::retry);
  EXPECT_EQ(classify({false, 502, ""}), RetryDecision::retry);
  EXPECT_EQ(classify({false, 429, ""}), RetryDecision::retry);
  EXPECT_EQ(classify({false, 400, "RequestTimeout"}), RetryDecision::retry);
  EXPECT_EQ(classify({false, 403, "RequestTimeTooSkewed"}), RetryDecision::retry);
}

TEST(RetryPolicy, ClientErrorsFailAtOnce) {
  EXPECT_EQ(classify({false, 403, "InvalidAccessKeyId"}), RetryDecision::fail);
  EXPECT_EQ(classify({false, 403, "SignatureDoesNotMatch"}), RetryDecision::fail);
  EXPECT_EQ(classify({false, 404, "NoSuchBucket"}), RetryDecision::fail);
  EXPECT_EQ(classify({false, 400, "BadDigest"}), RetryDecision::fail);
  EXPECT_EQ(classify({false, 403, ""}), RetryDecision::fail);
}

TEST(RetryPolicy, TwoHundredsSucceed) {
  EXPECT_EQ(classify({false, 200, ""}), RetryDecision::succeeded);
  EXPECT_EQ(classify({false, 204, ""}), RetryDecision::succeeded);
}

TEST(RetryPolicy, DelaysDoubleUpToTheCapWithFullJitter) {
  const RetryPolicy policy{10, milliseconds(100), milliseconds(1000)};
  // unitRandom just below 1: the ceiling itself (to the millisecond).
  EXPECT_EQ(policy.delayAfter(1, 0.99999), milliseconds(99));
  EXPECT_EQ(policy.delayAfter(2, 0.99999), milliseconds(199));
  EXPECT_EQ(policy.delayAfter(3, 0.99999), milliseconds(399));
  EXPECT_EQ(policy.delayAfter(4, 0.99999), milliseconds(799));
  EXPECT_EQ(policy.delayAfter(5, 0.99999), milliseconds(999));
  EXPECT_EQ(policy.delayAfter(1000, 0.99999), milliseconds(999));
  EXPECT_EQ(policy.delayAfter(4, 0.5), milliseconds(400));
  EXPECT_EQ(policy.delayAfter(4, 0.0), milliseconds(0));
}

}  // namespace
}  // namespace pcap_recorder::ship
