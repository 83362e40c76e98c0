// pcap-recorderd's FileFinished signal, heard on the bus so a finished file is shipped at once
// rather than at the next rescan. The signal only wakes the shipper: it then scans as always and
// ships what its own scan finds, in finish order. So the match names no sender: a signal from
// anyone else can cause an early scan and nothing more, and a file finished while the shipper or
// the bus was down is found by the scan at start and the slower rescan.
#pragma once

#include <systemd/sd-bus.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <string>

#include "pcap_recorder/dbus/protocol.hpp"

namespace pcap_recorder::shipd {

class FileFinishedWatch {
 public:
  // Connects to the bus and subscribes. Throws std::runtime_error naming the bus.
  explicit FileFinishedWatch(dbus::BusKind kind);

  // Waits up to `timeout` for FileFinished signals; returns how many arrived (0: none).
  // Throws std::runtime_error when the connection is lost.
  std::size_t wait(std::chrono::milliseconds timeout);

 private:
  struct BusUnref {
    void operator()(sd_bus* bus) const noexcept { sd_bus_flush_close_unref(bus); }
  };
  struct SlotUnref {
    void operator()(sd_bus_slot* slot) const noexcept { sd_bus_slot_unref(slot); }
  };
  static int onSignal(sd_bus_message* message, void* self, sd_bus_error* error);

  std::string busName_;
  std::unique_ptr<sd_bus, BusUnref> bus_;
  std::unique_ptr<sd_bus_slot, SlotUnref> match_;
  std::size_t heard_ = 0;
};

// Sleeps until `period` has passed or `stopping` is set; with a `watch`, also until a
// FileFinished arrives when `wakeOnSignal`. Returns true when a signal woke it. A watch whose
// connection is lost is reset (with a warning): the rescan goes on without it.
bool waitForWork(std::unique_ptr<FileFinishedWatch>& watch, std::chrono::milliseconds period,
                 bool wakeOnSignal, const volatile std::sig_atomic_t& stopping);

}  // namespace pcap_recorder::shipd
