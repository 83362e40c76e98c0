// Walking the maps of a config document: unknown and repeated keys, and the sections of keys
// that may stand at the top level or in an interface item. Private to the config module.
#pragma once

#include <yaml-cpp/yaml.h>

#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "diagnostics.hpp"
#include "schema.hpp"

namespace pcap_recorder::config::detail {

// Where keys are being read, for messages.
struct Scope {
  std::string keyPrefix;  // names a key: keyPrefix + "snaplen" = "output.snaplen"
  std::string where;      // places an unknown key: "in output", "at the top level"
};

void reportUnknownKey(Diagnostics& diagnostics, const YAML::Node& key, const std::string& name,
                      const Scope& scope, std::span<const std::string_view> candidates);

// Calls visit(name, key, value) for each entry of `map` whose key is a plain, first-seen name.
// yaml-cpp keeps both entries of a repeated key; using either one silently would hide a mistake.
template <typename Visit>
void forEachEntry(Diagnostics& diagnostics, const YAML::Node& map, const Scope& scope,
                  Visit&& visit) {
  std::unordered_map<std::string, YAML::Mark> seen;
  for (const auto& entry : map) {
    // Copies: yaml-cpp iterators hand out temporaries, so references into them dangle.
    const YAML::Node key = entry.first;
    const YAML::Node value = entry.second;
    if (!key.IsScalar()) {
      diagnostics.add(key.Mark(),
                      "keys " + scope.where + " must be plain names, got " + describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    const auto [earlier, isNew] = seen.emplace(name, key.Mark());
    if (!isNew) {
      diagnostics.add(key.Mark(), "duplicate key " + quote(name) + " " + scope.where +
                                      " (first given at line " +
                                      std::to_string(lineOf(earlier->second)) + ")");
      continue;
    }
    visit(name, key, value);
  }
}

// An interface may set a key flat and again under its section; that is a mistake, not an order.
struct Overrides {
  std::string owner;  // "interface eth0"
  std::vector<std::pair<const Key*, YAML::Mark>> seen;
};

void applyKey(Diagnostics& diagnostics, const Key& key, const YAML::Node& keyNode,
              const YAML::Node& value, const Scope& scope, InterfaceSettings& target,
              Overrides* overrides);

// Reads one section map (`output: {...}` at the top, or inside the interface `overrides` is for)
// into `target`.
void readSection(Diagnostics& diagnostics, const Section& section, const YAML::Node& keyNode,
                 const YAML::Node& value, InterfaceSettings& target, Overrides* overrides);

}  // namespace pcap_recorder::config::detail
