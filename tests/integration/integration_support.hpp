// Helpers shared by the integration tests: config files, output listings, Wireshark's tools.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "support/pcap_reader.hpp"

namespace pcap_recorder::testing {

void writeTextFile(const std::filesystem::path& path, const std::string& text);

// Names in `directory`, sorted.
std::vector<std::string> listDirectory(const std::filesystem::path& directory);

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};
CommandResult capture(const std::string& command);
// Same, with stdout only (tshark's notices on stderr left out).
CommandResult captureStdout(const std::string& command);

// Sequence numbers of the test frames in `file`, in file order.
std::vector<std::uint32_t> sequencesIn(const ReadFile& file);

}  // namespace pcap_recorder::testing
