#include "pcap_recorder/ship/rate_limit.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>

namespace pcap_recorder::ship {

namespace {

constexpr std::chrono::nanoseconds kSlice = std::chrono::milliseconds(100);

}  // namespace

RateLimit::RateLimit(std::uint64_t bytesPerSecond)
    : bytesPerSecond_(bytesPerSecond), burst_(kSlice) {
  if (bytesPerSecond == 0) throw std::invalid_argument("RateLimit: a rate of 0 bytes per second");
}

RateLimit::Grant RateLimit::take(std::size_t wanted, Clock::time_point now) {
  if (wanted == 0) return {};
  const std::uint64_t sharers = std::max<std::uint64_t>(1, sharers_.load());
  const std::uint64_t largest = std::max<std::uint64_t>(1, bytesPerSecond_ / 10 / sharers);
  const auto bytes = static_cast<std::size_t>(std::min<std::uint64_t>(wanted, largest));
  const auto duration = std::chrono::nanoseconds(static_cast<std::int64_t>(
      static_cast<long double>(bytes) * 1e9L / static_cast<long double>(bytesPerSecond_)));
  std::lock_guard lock(mutex_);
  // The bytes' slot of the schedule; idle time is saved up to the burst only, so a request after
  // a pause sends at most a tenth of a second's worth (and one grant) at once.
  const Clock::time_point start = std::max(nextFree_, now - burst_);
  nextFree_ = start + duration;
  return {bytes, std::max(std::chrono::nanoseconds(0), start - now)};
}

std::size_t RateLimit::acquire(std::size_t wanted) {
  const Grant grant = take(wanted, Clock::now());
  if (grant.wait > std::chrono::nanoseconds(0)) std::this_thread::sleep_for(grant.wait);
  return grant.bytes;
}

}  // namespace pcap_recorder::ship
