// Reading the `interfaces:` list: each item's name and keys over the global sections, then the
// checks across items (repeated names, file names too long, templates that could collide).
// Private to the config module.
#pragma once

#include <yaml-cpp/yaml.h>

#include "diagnostics.hpp"

namespace pcap_recorder::config::detail {

// Appends every interface read to config.interfaces; `globals` holds the top-level sections.
// `resolve` as for parse(): the collision check compares directories as it finds them.
void readInterfaces(Diagnostics& diagnostics, const YAML::Node& key, const YAML::Node& list,
                    const InterfaceSettings& globals, Config& config,
                    const DirectoryResolver& resolve);

}  // namespace pcap_recorder::config::detail
