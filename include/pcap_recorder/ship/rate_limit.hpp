// One upload rate shared by every request a client has in flight (ship.max_rate): the request
// bodies draw from it as curl reads them. Why not curl's per-handle MAX_SEND_SPEED with the rate
// split between the parallel requests: a request alone (one small file, a file's last part) then
// got only its share, never the whole rate the operator allowed.
//
// A virtual-schedule limiter (GCRA): each grant books the next slot of the shared schedule, so
// concurrent requests take turns in the order they asked, and after an idle time up to a tenth
// of a second's worth may go at once. Pure: take() is given the time, so the schedule is tested
// without sleeping; acquire() is take() with the clock and the sleep.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace pcap_recorder::ship {

class RateLimit {
 public:
  using Clock = std::chrono::steady_clock;

  struct Grant {
    std::size_t bytes = 0;             // may be sent once `wait` has passed
    std::chrono::nanoseconds wait{0};  // from the `now` it was asked at
  };

  // `bytesPerSecond` > 0.
  explicit RateLimit(std::uint64_t bytesPerSecond);

  std::uint64_t bytesPerSecond() const noexcept { return bytesPerSecond_; }

  // Books up to `wanted` bytes (at most a tenth of a second's worth, at least one byte: other
  // requests get their turn in between) and says when they may go.
  Grant take(std::size_t wanted, Clock::time_point now);
  // take() at the clock's time, then sleeps the wait. Thread-safe.
  std::size_t acquire(std::size_t wanted);

 private:
  const std::uint64_t bytesPerSecond_;
  const std::size_t largestGrant_;
  const std::chrono::nanoseconds burst_;
  std::mutex mutex_;  // guards nextFree_
  // When the schedule is free again: what was booked before this time has been (or is being) sent.
  Clock::time_point nextFree_{};
};

}  // namespace pcap_recorder::ship
