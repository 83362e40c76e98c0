// Per-interface totals that outlive the recorders counting them. A reload that restarts an
// interface, or the link monitor re-creating it, makes a new Recorder whose counters start at 0;
// a Prometheus counter that goes back is read as a restart by rate() and increase(). The daemon
// attaches each new recorder's counters here under the interface's name, and reads the sum.
// Main thread only.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pcap_recorder/stats/interface_stats.hpp"

namespace pcap_recorder::metrics {

class InterfaceTotals {
 public:
  // Counts `counters` towards `interface` from now on, including whatever they already hold.
  void attach(const std::string& interface,
              std::shared_ptr<const stats::InterfaceCounters> counters);
  // The sum over every recorder the interface had, never less than the last total returned for
  // any counter. Why the floor: records that reached a file whose directory was then removed
  // move from written to lost; the written counter keeps them rather than going back.
  stats::InterfaceStats total(const std::string& interface);

 private:
  struct Totals {
    // Recorders that are gone and whose finisher callbacks are gone too: their counts are final.
    stats::InterfaceStats retired;
    std::vector<std::shared_ptr<const stats::InterfaceCounters>> live;
    stats::InterfaceStats reported;
  };
  std::map<std::string, Totals> totals_;
};

}  // namespace pcap_recorder::metrics
