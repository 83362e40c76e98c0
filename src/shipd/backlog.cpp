#include "backlog.hpp"

#include <algorithm>
#include <system_error>

#include "pcap_recorder/rotation/file_naming.hpp"

namespace pcap_recorder::shipd {

std::vector<FinishedFile> scanFinished(const std::vector<config::InterfaceSettings>& interfaces,
                                       std::vector<std::string>& problems) {
  std::vector<FinishedFile> found;
  for (const auto& interface : interfaces) {
    // One matcher per interface: in a directory shared by several, a name is the interface's
    // whose template makes it.
    const rotation::OwnFileMatcher matcher({{interface.output.fileName, interface.name}});
    std::error_code error;
    std::filesystem::directory_iterator entries(interface.output.directory, error);
    if (error) {
      problems.push_back(interface.output.directory.string() + ": " + error.message());
      continue;
    }
    for (const auto& entry : entries) {
      const std::string name = entry.path().filename().string();
      if (!matcher.isFinishedFile(name) || !entry.is_regular_file(error)) continue;
      // Still being stored by the daemon (indexed, compressed, hashed, its sidecar written):
      // shipped once it is, under the name it is stored as; else a file about to be compressed
      // would go up uncompressed first.
      if (std::filesystem::exists(entry.path().string() + std::string(rotation::kStoringSuffix),
                                  error)) {
        continue;
      }
      const auto size = entry.file_size(error);
      if (error) continue;  // deleted by retention meanwhile
      const auto modified = entry.last_write_time(error);
      if (error) continue;
      const auto finishedAt = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
          std::chrono::file_clock::to_sys(modified));
      found.push_back({entry.path(), interface.name, finishedAt, size});
    }
  }
  std::sort(found.begin(), found.end(), [](const FinishedFile& a, const FinishedFile& b) {
    return std::tie(a.finishedAt, a.path) < std::tie(b.finishedAt, b.path);
  });
  // Two interfaces with the same directory and template would list a file twice.
  found.erase(
      std::unique(found.begin(), found.end(),
                  [](const FinishedFile& a, const FinishedFile& b) { return a.path == b.path; }),
      found.end());
  return found;
}

}  // namespace pcap_recorder::shipd
