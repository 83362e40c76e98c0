// One upload rate shared by every request a client has in flight (ship.max_rate): the request
// bodies draw from it as curl reads them. Why not curl's per-handle MAX_SEND_SPEED with the rate
// split between the parallel requests: a request alone (one small file, a file's last part) then
// got only its share, never the whole rate the operator allowed.
//
// A virtual-schedule limiter (GCRA): each grant books the next slot of the shared schedule, so
// concurrent requests take turns in the order they asked, and after an idle time up to a tenth
// of a second's worth may go at once (and one grant). A grant is a tenth of a second's worth
// shared among the requests sending (Share): each gets a turn about every tenth of a second, so
// however many share the rate, none goes quiet for long enough that a server or curl's stall
// timeout takes it for hung. Pure: take() is given the time, so the schedule is tested without
// sleeping; acquire() is take() with the clock and the sleep.
#pragma once

#include <atomic>
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

  // A request sending through the limit while this lives: the grants shrink as more share it.
  class Share {
   public:
    explicit Share(RateLimit& limit) noexcept : limit_(limit) { limit_.sharers_.fetch_add(1); }
    ~Share() { limit_.sharers_.fetch_sub(1); }
    Share(const Share&) = delete;
    Share& operator=(const Share&) = delete;

   private:
    RateLimit& limit_;
  };

  // `bytesPerSecond` > 0.
  explicit RateLimit(std::uint64_t bytesPerSecond);

  std::uint64_t bytesPerSecond() const noexcept { return bytesPerSecond_; }

  // Books up to `wanted` bytes (at most a tenth of a second's worth divided among the Shares,
  // at least one byte: other requests get their turn in between) and says when they may go.
  Grant take(std::size_t wanted, Clock::time_point now);
  // take() at the clock's time, then sleeps the wait. Thread-safe.
  std::size_t acquire(std::size_t wanted);

 private:
  const std::uint64_t bytesPerSecond_;
  const std::chrono::nanoseconds burst_;
  std::atomic<std::uint64_t> sharers_ = 0;
  std::mutex mutex_;  // guards nextFree_
  // When the schedule is free again: what was booked before this time has been (or is being) sent.
  Clock::time_point nextFree_{};
};

}  // namespace pcap_recorder::ship
