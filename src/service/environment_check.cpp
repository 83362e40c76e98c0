#include "pcap_recorder/service/environment_check.hpp"

#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

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

// Empty when the metrics textfile can be written (or there is none); otherwise why not. Its
// directory is node_exporter's and is never created here.
std::string metricsTextfileProblem(const fs::path& textfile) {
  if (textfile.empty()) return {};
  const fs::path directory = textfile.parent_path();
  std::error_code error;
  if (!fs::is_directory(directory, error)) {
    return "metrics.textfile: " + directory.string() +
           " is not a directory (node_exporter's textfile directory; it is not created)";
  }
  if (::access(directory.c_str(), W_OK | X_OK) != 0) {
    return "metrics.textfile: " + directory.string() + " is not writable: " + std::strerror(errno) +
           " (under systemd: a ReadWritePaths= drop-in and write access for the daemon's user)";
  }
  return {};
}

// A filter in a message: on one line with control characters escaped, and not the whole of a
// pasted 50 kB expression.
std::string quoted(const std::string& filter) {
  constexpr std::size_t kMaxShown = 200;
  std::string out = "\"";  // appended step by step: GCC 12 -O3 warns (-Wrestrict) on "\"" + s
  out += util::printable(std::string_view(filter).substr(0, kMaxShown));
  if (filter.size() > kMaxShown) out += "... (" + std::to_string(filter.size()) + " characters)";
  return out + "\"";
}

}  // namespace

std::vector<config::Problem> checkEnvironment(const config::Config& config,
                                              CompiledFilters* filters) {
  std::vector<config::Problem> problems;
  std::set<fs::path> directoriesChecked;
  // Interfaces with the same filter share one compile; only `vlan` depends on the interface.
  std::map<std::string, std::optional<bpf::FilterProgram>> compiled;
  std::map<std::string, bool> failureMayPass;  // of the filters that did not compile
  const auto deadline = std::chrono::steady_clock::now() + kFilterCompileBudget;
  for (const auto& interface : config.interfaces) {
    const bool perInterface = interface.filter.find("vlan") != std::string::npos;
    const std::string key = std::to_string(interface.output.snaplen) + " " +
                            (perInterface ? interface.name : std::string()) + " " +
                            interface.filter;
    auto [entry, isNew] = compiled.try_emplace(key);
    if (isNew) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      const bool outOfTime = left.count() <= 0;
      try {
        if (outOfTime) {
          throw bpf::FilterError("not compiled: the filters before it took the " +
                                 std::to_string(kFilterCompileBudget.count()) +
                                 " s that all filters of a configuration may take");
        }
        entry->second = bpf::FilterProgram::compileIsolated(interface.name, interface.filter,
                                                            interface.output.snaplen, left);
      } catch (const bpf::FilterError& error) {
        // A host name the resolver could not find (yet: DNS at boot) may be found later.
        const bool mayPass =
            outOfTime || std::string_view(error.what()).find("unknown host") != std::string::npos;
        failureMayPass[key] = mayPass;
        problems.push_back(
            {interface.filterWhere.line > 0 ? interface.filterWhere : interface.where,
             "interface " + util::printable(interface.name) + ": invalid filter " +
                 quoted(interface.filter) + ": " + util::printable(error.what()),
             mayPass});
      }
    } else if (!entry->second) {
      problems.push_back({interface.filterWhere.line > 0 ? interface.filterWhere : interface.where,
                          "interface " + util::printable(interface.name) + ": invalid filter " +
                              quoted(interface.filter) + " (as above)",
                          failureMayPass[key]});
    }
    // A `vlan` filter of an interface that is not there yet was compiled offline; the recorder
    // compiles it for the interface once it appears.
    const bool keep = !perInterface || capture::interfaceExists(interface.name);
    if (filters != nullptr && entry->second && keep) {
      filters->insert_or_assign(interface.name, *entry->second);
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
        problems.push_back({interface.where, "interface " + interface.name + ": " + problem, true});
      }
    }
  }
  if (auto problem = metricsTextfileProblem(config.daemon.metrics.textfile); !problem.empty()) {
    problems.push_back({config.daemon.metrics.textfileWhere, problem, true});
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
