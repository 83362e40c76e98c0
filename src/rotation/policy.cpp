#include "pcap_recorder/rotation/policy.hpp"

#include <limits>

namespace pcap_recorder::rotation {

Slot slotOf(Nanoseconds time, std::chrono::milliseconds interval) noexcept {
  const Nanoseconds length = std::chrono::nanoseconds(interval).count();
  if (length <= 0)
    return Slot{std::numeric_limits<Nanoseconds>::min(), std::numeric_limits<Nanoseconds>::max()};
  // Floor division: times before the epoch (a badly set clock) still land in their own slot.
  Nanoseconds start = time / length * length;
  if (start > time) start -= length;
  return Slot{start, start + length};
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
  }
  return "unknown";
}

}  // namespace pcap_recorder::rotation
