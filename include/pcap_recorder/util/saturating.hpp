// Time arithmetic that stops at the ends of the clock instead of wrapping: a deadline or cut-off
// computed from a configured duration is "never" (or "always") when the sum does not fit, never a
// time on the other side of the epoch. std::chrono's own operators overflow silently.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

namespace pcap_recorder::util {

// a + b on int64, clamped to its range.
constexpr std::int64_t saturatingAdd(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t sum = 0;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? std::numeric_limits<std::int64_t>::max()
               : std::numeric_limits<std::int64_t>::min();
}

// `duration` in nanoseconds, clamped to what nanoseconds can hold.
template <typename Rep, typename Period>
constexpr std::chrono::nanoseconds saturatingNanoseconds(
    std::chrono::duration<Rep, Period> duration) noexcept {
  using Source = std::chrono::duration<Rep, Period>;
  constexpr Source largest = std::chrono::duration_cast<Source>(std::chrono::nanoseconds::max());
  constexpr Source smallest = std::chrono::duration_cast<Source>(std::chrono::nanoseconds::min());
  if (duration > largest) return std::chrono::nanoseconds::max();
  if (duration < smallest) return std::chrono::nanoseconds::min();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(duration);
}

// time + offset, clamped to the clock's range (steady_clock's and system_clock's time points).
// An offset beyond what nanoseconds hold goes all the way to the clock's end: "never".
template <typename Clock, typename Rep, typename Period>
constexpr std::chrono::time_point<Clock, std::chrono::nanoseconds> saturatingAdd(
    std::chrono::time_point<Clock, std::chrono::nanoseconds> time,
    std::chrono::duration<Rep, Period> offset) noexcept {
  using TimePoint = std::chrono::time_point<Clock, std::chrono::nanoseconds>;
  const std::chrono::nanoseconds nanoseconds = saturatingNanoseconds(offset);
  if (nanoseconds == std::chrono::nanoseconds::max()) return TimePoint::max();
  if (nanoseconds == std::chrono::nanoseconds::min()) return TimePoint::min();
  return TimePoint(std::chrono::nanoseconds(
      saturatingAdd(time.time_since_epoch().count(), nanoseconds.count())));
}

// time - offset, clamped likewise: a cut-off longer ago than the clock reaches is its start.
template <typename Clock, typename Rep, typename Period>
constexpr std::chrono::time_point<Clock, std::chrono::nanoseconds> saturatingSubtract(
    std::chrono::time_point<Clock, std::chrono::nanoseconds> time,
    std::chrono::duration<Rep, Period> offset) noexcept {
  using TimePoint = std::chrono::time_point<Clock, std::chrono::nanoseconds>;
  const std::chrono::nanoseconds nanoseconds = saturatingNanoseconds(offset);
  if (nanoseconds == std::chrono::nanoseconds::max()) return TimePoint::min();
  if (nanoseconds == std::chrono::nanoseconds::min()) return TimePoint::max();
  return TimePoint(std::chrono::nanoseconds(
      saturatingAdd(time.time_since_epoch().count(), -nanoseconds.count())));
}

}  // namespace pcap_recorder::util
