#include "pcap_recorder/ship/retry_policy.hpp"

#include <algorithm>
#include <array>

namespace pcap_recorder::ship {
namespace {

// Codes S3 servers send with a 4xx that mean "not now", not "never".
constexpr std::array<std::string_view, 6> kTransientCodes = {
    "SlowDown",   "RequestTimeout",      "RequestTimeTooSkewed",
    "Throttling", "ThrottlingException", "RequestThrottled"};

}  // namespace

RetryDecision classify(const RequestOutcome& outcome) {
  if (outcome.transportFailed) return RetryDecision::retry;
  const long status = outcome.httpStatus;
  if (status >= 200 && status < 300) return RetryDecision::succeeded;
  if (status >= 500 || status == 429 || status == 408) return RetryDecision::retry;
  if (std::find(kTransientCodes.begin(), kTransientCodes.end(), outcome.errorCode) !=
      kTransientCodes.end()) {
    return RetryDecision::retry;
  }
  return RetryDecision::fail;
}

std::chrono::milliseconds RetryPolicy::delayAfter(int attempt, double unitRandom) const {
  // Doubling stops at the cap, so no shift overflows however many attempts there were.
  std::chrono::milliseconds ceiling = baseDelay;
  for (int i = 1; i < attempt && ceiling < maxDelay; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, maxDelay);
  const double fraction = std::clamp(unitRandom, 0.0, 1.0);
  return std::chrono::milliseconds(
      static_cast<long long>(static_cast<double>(ceiling.count()) * fraction));
}

}  // namespace pcap_recorder::ship
