#include "pcap_recorder/service/reload_plan.hpp"

#include <algorithm>

namespace pcap_recorder::service {

namespace {

const config::InterfaceSettings* find(const config::Config& config, const std::string& name) {
  const auto found = std::find_if(config.interfaces.begin(), config.interfaces.end(),
                                  [&](const auto& interface) { return interface.name == name; });
  return found == config.interfaces.end() ? nullptr : &*found;
}

}  // namespace

InterfaceChange changeBetween(const config::InterfaceSettings& running,
                              const config::InterfaceSettings& next) {
  // Why snaplen restarts: the ring's block size is chosen to hold the largest frame.
  if (running.capture != next.capture || running.output.snaplen != next.output.snaplen) {
    return InterfaceChange::restart;
  }
  // Where in the file the interface was written (`where`) is not a setting.
  if (running.filter != next.filter || running.output != next.output ||
      running.rotate != next.rotate || running.retention != next.retention) {
    return InterfaceChange::inPlace;
  }
  return InterfaceChange::unchanged;
}

ReloadPlan planReload(const config::Config& running, const config::Config& next) {
  ReloadPlan plan;
  for (const auto& interface : running.interfaces) {
    if (find(next, interface.name) == nullptr) plan.removed.push_back(interface.name);
  }
  for (const auto& interface : next.interfaces) {
    const auto* before = find(running, interface.name);
    if (before == nullptr) {
      plan.added.push_back(interface.name);
      continue;
    }
    switch (changeBetween(*before, interface)) {
      case InterfaceChange::unchanged:
        plan.unchanged.push_back(interface.name);
        break;
      case InterfaceChange::inPlace:
        plan.changedInPlace.push_back(interface.name);
        break;
      case InterfaceChange::restart:
        plan.restarted.push_back(interface.name);
        break;
    }
  }
  return plan;
}

}  // namespace pcap_recorder::service
