#include "pcap_recorder/rotation/policy.hpp"

#include <limits>

#include "pcap_recorder/util/saturating.hpp"

namespace pcap_recorder::rotation {

Slot slotOf(Nanoseconds time, std::chrono::milliseconds interval) noexcept {
  // Saturated: an interval too long for int64 nanoseconds is one slot, never a wrapped 1 ms one.
  const Nanoseconds length = util::saturatingNanoseconds(interval).count();
  if (length <= 0)
    return Slot{std::numeric_limits<Nanoseconds>::min(), std::numeric_limits<Nanoseconds>::max()};
  // Floor division: times before the epoch (a badly set clock) still land in their own slot.
  Nanoseconds start = time / length * length;
  if (start > time) start = util::saturatingAdd(start, -length);
  return Slot{start, util::saturatingAdd(start, length)};
}

std::string_view describe(RotationReason reason) noexcept {
  switch (reason) {
    case RotationReason::none:
      return "none";
    case RotationReason::size:
      return "max_file_size";
    case RotationReason::packets:
      return "max_packets";
    case RotationReason::interval:
      return "interval";
    case RotationReason::signal:
      return "requested";
    case RotationReason::writeError:
      return "write error";
    case RotationReason::stop:
      return "stop";
    case RotationReason::reload:
      return "reload";
    case RotationReason::directoryReplaced:
      return "output directory replaced";
    case RotationReason::clockSetBack:
      return "clock set back";
  }
  return "unknown";
}

Nanoseconds wallClockNow() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace pcap_recorder::rotation
