// What one configured interface is doing, typed: the daemon decides on these values, and they are
// turned into words in one place, stateText(), only where a person or a script reads them (the
// D-Bus Statistics "State" entry, systemd's STATUS= line, the statistics log line).
#pragma once

#include <string_view>

namespace pcap_recorder::service {

enum class CaptureState {
  waitingForInterface,  // configured, but no such interface now: no socket, nothing recorded
  capturing,            // frames are taken and written
  linkDown,             // the socket is kept; nothing arrives until the link is up again
  paused,               // frames are taken but cannot be written: counted as lost to the disk
  stopped,              // the capture thread has ended (stopping, or after an error it logged)
};

// Why writing is paused; `none` in every other state.
enum class PauseReason {
  none,
  writeFailed,        // a write or a new file failed: a full disk, a quota, an I/O error
  noOutputDirectory,  // the output directory was removed and cannot be created again
};

struct InterfaceState {
  CaptureState state = CaptureState::stopped;
  PauseReason pause = PauseReason::none;

  bool operator==(const InterfaceState&) const = default;
};

// The words users see (`pcap-recorderctl status`, D-Bus, STATUS=, the statistics log line) and
// scripts may match; the only place they are spelt:
//   "waiting for the interface", "capturing", "link down", "paused (cannot write)",
//   "paused (no output directory)", "stopped".
// Every paused state starts with "paused (".
constexpr std::string_view stateText(InterfaceState state) noexcept {
  switch (state.state) {
    case CaptureState::waitingForInterface:
      return "waiting for the interface";
    case CaptureState::capturing:
      return "capturing";
    case CaptureState::linkDown:
      return "link down";
    case CaptureState::paused:
      return state.pause == PauseReason::noOutputDirectory ? "paused (no output directory)"
                                                           : "paused (cannot write)";
    case CaptureState::stopped:
      break;
  }
  return "stopped";
}

}  // namespace pcap_recorder::service
