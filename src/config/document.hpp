// Reading a whole config document: syntax, one document only, bounded size, the top-level keys.
// Private to the config module.
#pragma once

#include <string>

#include "diagnostics.hpp"

namespace pcap_recorder::config::detail {

// Reads `yamlText` into `config`, adding every problem found to `diagnostics`.
void readDocument(Diagnostics& diagnostics, const std::string& yamlText, Config& config);

}  // namespace pcap_recorder::config::detail
