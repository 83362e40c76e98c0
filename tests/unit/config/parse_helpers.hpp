// Parsing a config given as YAML text, for the config tests; the file name is test.yaml.
#pragma once

#include <string>

#include "pcap_recorder/config/config.hpp"

namespace pcap_recorder::config {

// `yaml` parsed; a ConfigError fails the test that called it.
inline Config parsed(const std::string& yaml) {
  return parse(yaml, "test.yaml");
}

// The first problem `yaml` has, as the daemon would print it; "no problem" when it parses.
inline std::string firstProblem(const std::string& yaml) {
  try {
    parse(yaml, "test.yaml");
  } catch (const ConfigError& error) {
    return format(error.problems().front());
  }
  return "no problem";
}

}  // namespace pcap_recorder::config
