// What a reload changes, interface by interface: a pure comparison of the running config with
// the new one, so every case is unit-tested without sockets.
#pragma once

#include <string>
#include <vector>

#include "pcap_recorder/config/config.hpp"

namespace pcap_recorder::service {

enum class InterfaceChange {
  unchanged,  // keeps capturing: same socket, same file, no gap
  inPlace,    // filter, rotation, retention or file settings: applied to the running capture
  restart,    // ring size, promiscuous mode or snaplen: a new socket and ring are needed
};

InterfaceChange changeBetween(const config::InterfaceSettings& running,
                              const config::InterfaceSettings& next);

struct ReloadPlan {
  std::vector<std::string> added;    // in the new config only: start
  std::vector<std::string> removed;  // in the running config only: finish files and stop
  std::vector<std::string> unchanged;
  std::vector<std::string> changedInPlace;
  std::vector<std::string> restarted;
};

ReloadPlan planReload(const config::Config& running, const config::Config& next);

}  // namespace pcap_recorder::service
