#include "integration_support.hpp"

#include <sys/wait.h>
#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <memory>

#include "support/frames.hpp"

namespace pcap_recorder::testing {

void writeTextFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::vector<std::string> listDirectory(const std::filesystem::path& directory) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

namespace {
CommandResult run(const std::string& command) {
  CommandResult result;
  std::unique_ptr<FILE, decltype(&pclose)> pipe(::popen(command.c_str(), "r"), &pclose);
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  while (std::fgets(buffer.data(), buffer.size(), pipe.get())) result.output += buffer.data();
  const int status = pclose(pipe.release());
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}
}  // namespace

CommandResult capture(const std::string& command) {
  return run(command + " 2>&1");
}

CommandResult captureStdout(const std::string& command) {
  return run(command + " 2>/dev/null");
}

std::vector<std::uint32_t> sequencesIn(const ReadFile& file) {
  std::vector<std::uint32_t> sequences;
  for (const auto& record : file.records) {
    if (auto sequence = sequenceOf(record.data)) sequences.push_back(*sequence);
  }
  return sequences;
}

}  // namespace pcap_recorder::testing
