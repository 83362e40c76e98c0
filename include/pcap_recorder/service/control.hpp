// What an operator can ask of the running daemon, whatever the channel (D-Bus, signals, tests):
// the one seam between the daemon and its control surfaces. Implemented by the daemon; the D-Bus
// adaptor translates each call into exactly one of these.
//
// Threading: called only from the daemon's main thread (the one that runs the bus).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pcap_recorder/service/interface_state.hpp"
#include "pcap_recorder/stats/interface_stats.hpp"

namespace pcap_recorder::service {

// One configured interface, as the statistics, `STATUS=` and `pcap-recorderctl status` show it.
struct InterfaceStatus {
  std::string name;
  InterfaceState state;  // in words: stateText(state)
  stats::InterfaceStats stats;
  std::string currentFile;  // full path of the `.part` being written; empty when none
};

// The outcome of a control request, with a message for the operator: why it failed, or what
// was done (may be empty).
struct ControlResult {
  bool ok = true;
  std::string message;
};

class Control {
 public:
  virtual ~Control() = default;

  virtual std::string version() const = 0;
  virtual std::vector<InterfaceStatus> interfaces() const = 0;

  // Finishes the current file of `interface` ("" = every interface) and starts the next; a
  // file without packets is left as it is (coalesced). The message says, per interface, which
  // was done. Fails for an interface that is not configured.
  virtual ControlResult rotate(const std::string& interface) = 0;

  // Re-reads and validates the config file and applies the difference; when it is invalid the
  // daemon runs on unchanged and the message lists the problems.
  virtual ControlResult reload() = 0;
};

}  // namespace pcap_recorder::service
