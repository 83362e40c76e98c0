// Reading a whole config document: syntax, one document only, bounded size, the top-level keys.
// Private to the config module.
#pragma once

#include <string>

#include "diagnostics.hpp"

namespace pcap_recorder::config::detail {

// Reads `yamlText` into `config`, adding every problem found to `diagnostics`; `resolve` as for
// parse().
void readDocument(Diagnostics& diagnostics, const std::string& yamlText, Config& config,
                  const DirectoryResolver& resolve);

}  // namespace pcap_recorder::config::detail
