// When to finish a file: pure decisions over the open file's state, the limits and a time, so
// every case is unit-tested with made-up times.
//
// Time rotation is decided by packet timestamps (a file never holds packets from both sides of a
// boundary) and, when no packet comes, by the clock once the kernel can no longer hand over a
// packet from before the boundary.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "pcap_recorder/util/saturating.hpp"

namespace pcap_recorder::rotation {

// Nanoseconds since the epoch, UTC: packet timestamps and the clock in one unit.
using Nanoseconds = std::int64_t;

// The wall clock now, in the unit of packet timestamps.
Nanoseconds wallClockNow() noexcept;

struct RotationLimits {
  std::uint64_t maxFileBytes = 0;         // 0: no limit
  std::chrono::milliseconds interval{0};  // 0: never
  std::uint64_t maxPackets = 0;           // 0: no limit
};

// The boundaries around `time`: the interval-long slot since the epoch that holds it.
// With no interval the slot never ends.
struct Slot {
  Nanoseconds start = 0;
  Nanoseconds end = 0;
};
Slot slotOf(Nanoseconds time, std::chrono::milliseconds interval) noexcept;

struct OpenFile {
  std::uint64_t bytes = 0;  // with the file header
  std::uint64_t packets = 0;
  Slot slot;  // the interval the file covers
};

enum class RotationReason {
  none,
  size,
  packets,
  interval,
  signal,
  writeError,
  stop,
  reload,
  directoryReplaced,
  clockSetBack
};
std::string_view describe(RotationReason reason) noexcept;

// Whether `file` must be finished before a record of `recordBytes` with timestamp `packetTime`
// goes in. A file never exceeds maxFileBytes, except one holding a single packet larger than it.
inline RotationReason reasonBeforeRecord(const OpenFile& file, const RotationLimits& limits,
                                         std::uint64_t recordBytes,
                                         Nanoseconds packetTime) noexcept {
  if (packetTime >= file.slot.end) return RotationReason::interval;
  if (limits.maxPackets != 0 && file.packets >= limits.maxPackets) return RotationReason::packets;
  if (limits.maxFileBytes != 0 && file.packets > 0 &&
      file.bytes + recordBytes > limits.maxFileBytes) {
    return RotationReason::size;
  }
  return RotationReason::none;
}

// Whether the clock alone finishes the file: `now` is past its slot by more than `lateness`,
// the longest a packet from before the boundary can still take to reach us.
inline bool slotOver(const OpenFile& file, Nanoseconds now, Nanoseconds lateness) noexcept {
  return now - lateness >= file.slot.end;
}

// Whether `time` lies before the file's slot by more than `lateness`. When both a packet's
// timestamp and the clock do, the clock was set back (an NTP step): the file ends rather than hold
// packets from both sides of its slot's start. Why both: a packet alone may be stamped early by
// a delay on its way to the ring, or the clock may just have been set forward across a boundary.
inline bool beforeSlot(const OpenFile& file, Nanoseconds time, Nanoseconds lateness) noexcept {
  return time < util::saturatingAdd(file.slot.start, -lateness);
}

}  // namespace pcap_recorder::rotation
