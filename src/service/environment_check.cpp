#include "pcap_recorder/service/environment_check.hpp"

#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "pcap_recorder/bpf/filter.hpp"
#include "pcap_recorder/capture/af_packet_source.hpp"
#include "pcap_recorder/util/printable.hpp"

namespace pcap_recorder::service {

namespace {

namespace fs = std::filesystem;

// Empty when `directory` is a writable directory or could be created; otherwise why not.
std::string directoryProblem(const fs::path& directory) {
  std::error_code error;
  fs::path existing = directory;
  while (!fs::exists(existing, error) && existing.has_parent_path() &&
         existing != existing.parent_path()) {
    existing = existing.parent_path();
  }
  if (!fs::is_directory(existing, error)) {
    return existing.string() + " is not a directory";
  }
  if (::access(existing.c_str(), W_OK | X_OK) != 0) {
    const auto reason = std::strerror(errno);
    return existing == directory
               ? "output directory " + directory.string() + " is not writable: " + reason
               : "output directory " + directory.string() +
                     " cannot be created: " + existing.string() + " is not writable: " + reason;
  }
  return {};
}

}  // namespace

std::vector<config::Problem> checkEnvironment(const config::Config& config) {
  std::vector<config::Problem> problems;
  std::set<fs::path> directoriesChecked;
  for (const auto& interface : config.interfaces) {
    try {
      bpf::FilterProgram::compile(interface.filter, interface.output.snaplen);
    } catch (const bpf::FilterError& error) {
      // Escaped: the filter and libpcap's message quoting it go to a terminal as they are.
      problems.push_back({interface.where, "interface " + util::printable(interface.name) +
                                               ": invalid filter \"" +
                                               util::printable(interface.filter) +
                                               "\": " + util::printable(error.what())});
    }
    // An interface that does not exist (yet) is not a problem: the daemon waits for it.
    try {
      if (capture::interfaceExists(interface.name)) {
        capture::checkInterfaceIsEthernet(interface.name);
      }
    } catch (const std::exception& error) {
      problems.push_back({interface.where, error.what()});
    }
    if (directoriesChecked.insert(interface.output.directory).second) {
      if (auto problem = directoryProblem(interface.output.directory); !problem.empty()) {
        problems.push_back({interface.where, "interface " + interface.name + ": " + problem});
      }
    }
  }
  return problems;
}

std::vector<std::string> permissionWarnings(const config::Config& config) {
  std::vector<std::string> warnings;
  struct stat st;
  if (::stat(config.sourceFile.c_str(), &st) == 0 && (st.st_mode & S_IWOTH) != 0) {
    warnings.push_back("config file " + config.sourceFile.string() +
                       " is writable by every user: anyone could change what is recorded");
  }
  std::set<fs::path> seen;
  for (const auto& interface : config.interfaces) {
    const auto& directory = interface.output.directory;
    if (!seen.insert(directory).second || ::stat(directory.c_str(), &st) != 0) continue;
    // A sticky directory (like /tmp) stops others from replacing our files, not from planting.
    if ((st.st_mode & S_IWOTH) != 0) {
      warnings.push_back("output directory " + directory.string() +
                         " is writable by every user: others can plant files in it");
    }
  }
  return warnings;
}

}  // namespace pcap_recorder::service
