// When a failed S3 request is tried again, and after how long. Pure: the caller supplies the
// outcome and a uniform random number, so the rules are tested without a network or a clock.
//
// Retried: transport failures (refused, reset, timed out, nothing received), 5xx, 429 and the
// throttling and timeout codes S3 sends with 400/403 (SlowDown, RequestTimeout, ...). Not retried:
// every other 4xx (wrong keys, missing bucket, bad digest): repeating it would give the same
// answer, so it fails at once with the server's code and message.
//
// Delays grow exponentially and carry "full jitter" (uniform in [0, the exponential value]), so
// many shippers that failed together do not come back together.
#pragma once

#include <chrono>
#include <string_view>

namespace pcap_recorder::ship {

struct RequestOutcome {
  bool transportFailed = false;  // no HTTP answer at all (connect, send, receive, timeout)
  long httpStatus = 0;           // the answer's status when there was one
  std::string_view errorCode;    // S3's <Code> from an error body, when there was one
};

enum class RetryDecision { succeeded, retry, fail };

RetryDecision classify(const RequestOutcome& outcome);

struct RetryPolicy {
  int maxAttempts = 6;  // per request, the first included
  std::chrono::milliseconds baseDelay{200};
  std::chrono::milliseconds maxDelay{20'000};

  // The wait before attempt `attempt + 1`, after `attempt` (>= 1) failed attempts: uniform in
  // [0, min(maxDelay, baseDelay * 2^(attempt-1))], `unitRandom` being uniform in [0, 1).
  std::chrono::milliseconds delayAfter(int attempt, double unitRandom) const;
};

}  // namespace pcap_recorder::ship
