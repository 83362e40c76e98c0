#include "pcap_recorder/service/retention_directories.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include "pcap_recorder/rotation/retention.hpp"

namespace pcap_recorder::service {

std::vector<DirectoryRetention> retentionDirectoriesOf(const config::Config& config,
                                                       const config::DirectoryResolver& resolve) {
  struct Group {
    std::filesystem::path key;
    std::vector<std::filesystem::path> spellings{};
    std::vector<rotation::OwnFileTemplate> templates{};
    std::vector<rotation::RetentionLimits> limits{};
  };
  std::vector<Group> groups;
  for (const auto& interface : config.interfaces) {
    const auto& spelling = interface.output.directory;
    std::optional<std::filesystem::path> resolved;
    if (resolve) resolved = resolve(spelling);
    const auto key = resolved.value_or(spelling);
    auto group = std::find_if(groups.begin(), groups.end(),
                              [&](const Group& each) { return each.key == key; });
    if (group == groups.end()) group = groups.insert(groups.end(), Group{.key = key});
    if (std::find(group->spellings.begin(), group->spellings.end(), spelling) ==
        group->spellings.end()) {
      group->spellings.push_back(spelling);
    }
    group->templates.push_back({interface.output.fileName, interface.name});
    const auto& retention = interface.retention;
    group->limits.push_back({
        .maxFiles = retention.maxFiles,
        .maxTotalBytes = retention.maxTotalBytes,
        .maxAge = std::chrono::ceil<std::chrono::seconds>(retention.maxAge),
        .minFreeBytes = retention.minFreeBytes,
        .keepUntilShipped = retention.keepUntilShipped.value_or(false),
        .deleteShipped = config.daemon.ship.configured && config.daemon.ship.deleteAfterUpload,
    });
  }
  std::vector<DirectoryRetention> directories;
  for (auto& group : groups) {
    const auto limits = rotation::combineLimits(group.limits);
    const bool byShipping = limits.keepUntilShipped || limits.deleteShipped;
    directories.push_back({
        .directory = group.spellings.front(),
        .limits = limits,
        .ownFiles = rotation::OwnFileMatcher(group.templates),
        .shipState = byShipping ? config.daemon.ship.state : std::filesystem::path(),
        .otherSpellings = {group.spellings.begin() + 1, group.spellings.end()},
    });
  }
  return directories;
}

}  // namespace pcap_recorder::service
