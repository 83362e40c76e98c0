#include "map_walk.hpp"

#include <algorithm>
#include <optional>

namespace pcap_recorder::config::detail {

void reportUnknownKey(Diagnostics& diagnostics, const YAML::Node& key, const std::string& name,
                      const Scope& scope, std::span<const std::string_view> candidates) {
  std::string message = "unknown key " + quote(name) + " " + scope.where;
  if (const Section* home = homeOf(name)) {
    message += " (it belongs in " + std::string(home->name) + ")";
  } else if (std::optional<std::string_view> suggestion = nearMiss(name, candidates)) {
    message += " (did you mean " + quote(*suggestion) + "?)";
  }
  diagnostics.add(key.Mark(), std::move(message));
}

void applyKey(Diagnostics& diagnostics, const Key& key, const YAML::Node& keyNode,
              const YAML::Node& value, const Scope& scope, InterfaceSettings& target,
              Overrides* overrides) {
  if (overrides != nullptr) {
    const auto earlier = std::find_if(overrides->seen.begin(), overrides->seen.end(),
                                      [&](const auto& entry) { return entry.first == &key; });
    if (earlier != overrides->seen.end()) {
      diagnostics.add(keyNode.Mark(), overrides->owner + " sets " + std::string(key.name) +
                                          " twice (lines " +
                                          std::to_string(lineOf(earlier->second)) + " and " +
                                          std::to_string(lineOf(keyNode.Mark())) + ")");
      return;
    }
    overrides->seen.emplace_back(&key, keyNode.Mark());
  }
  key.apply(diagnostics, makeEntry(keyNode, value, scope.keyPrefix + std::string(key.name)),
            target);
}

void readSection(Diagnostics& diagnostics, const Section& section, const YAML::Node& keyNode,
                 const YAML::Node& value, InterfaceSettings& target, Overrides* overrides) {
  if (value.IsNull()) return;  // "capture:" with nothing under it changes nothing
  const std::string name(section.name);
  const std::string label = overrides == nullptr ? name : overrides->owner + ": " + name;
  if (!value.IsMap()) {
    diagnostics.add(makeEntry(keyNode, value, label).mark,
                    label + " must be a map of " + name + " settings, got " + describe(value));
    return;
  }
  const Scope scope{label + ".",
                    overrides == nullptr ? "in " + name : "in " + name + " of " + overrides->owner};
  const std::vector<std::string_view> candidates = keyNames(section);
  forEachEntry(diagnostics, value, scope,
               [&](const std::string& keyName, const YAML::Node& key, const YAML::Node& item) {
                 if (const Key* found = findKey(section, keyName)) {
                   applyKey(diagnostics, *found, key, item, scope, target, overrides);
                 } else {
                   reportUnknownKey(diagnostics, key, keyName, scope, candidates);
                 }
               });
}

}  // namespace pcap_recorder::config::detail
