#include "interfaces.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "map_walk.hpp"
#include "pcap_recorder/rotation/file_naming.hpp"
#include "schema.hpp"
#include "value_readers.hpp"

namespace pcap_recorder::config::detail {

namespace {

using rotation::kInterfacePlaceholder;

// The text every file of this template starts with, whatever the time and sequence number.
std::string_view literalPrefix(std::string_view fileName) {
  return fileName.substr(0, std::min(fileName.find_first_of("%{"), fileName.size()));
}

bool hasInterfacePlaceholder(std::string_view fileName) {
  return fileName.find(kInterfacePlaceholder) != std::string_view::npos;
}

// One string per directory; a lexical form ("/srv/x/../pcap" is "/srv/pcap") errs on the side of
// a possible collision when x is a symbolic link.
std::string directoryKeyOf(const std::filesystem::path& directory) {
  std::filesystem::path normal = directory.lexically_normal();
  if (!normal.has_filename() && normal.has_relative_path()) normal = normal.parent_path();
  return normal.string();
}

constexpr std::size_t kMaxInterfaceNameLength = 15;  // IFNAMSIZ - 1

// The kernel's dev_valid_name(), so a bad name fails here rather than at capture start.
std::optional<std::string> interfaceNameProblem(std::string_view name) {
  if (name.size() > kMaxInterfaceNameLength) {
    return "is too long (" + std::to_string(name.size()) + " characters; Linux allows at most " +
           std::to_string(kMaxInterfaceNameLength) + ")";
  }
  if (name == "." || name == "..") return "is not a valid interface name";
  const bool hasBadCharacter = std::any_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r');
  });
  if (hasBadCharacter) return "must not contain '/', ':' or whitespace";
  return std::nullopt;
}

// Reads `name:` first so messages about the item's other keys can say which interface they are.
std::optional<std::string> readInterfaceName(Diagnostics& diagnostics, const YAML::Node& item,
                                             const std::string& label) {
  for (const auto& pair : item) {
    const YAML::Node key = pair.first;
    if (!key.IsScalar() || key.Scalar() != kNameKey) continue;
    const Entry entry = makeEntry(key, pair.second, label + "." + std::string(kNameKey));
    std::optional<std::string> name = readString(diagnostics, entry, false);
    if (!name) return std::nullopt;
    if (std::optional<std::string> problem = interfaceNameProblem(*name)) {
      diagnostics.add(entry.mark, "interface name " + quote(*name) + " " + *problem);
      return std::nullopt;
    }
    return name;
  }
  diagnostics.add(item.Mark(),
                  label + " has no name; every interface needs one, like `- name: eth0`");
  return std::nullopt;
}

std::optional<InterfaceSettings> readInterface(Diagnostics& diagnostics, const YAML::Node& item,
                                               const YAML::Mark& listMark, std::size_t index,
                                               const InterfaceSettings& globals) {
  const std::string indexLabel = std::string(kInterfacesKey) + "[" + std::to_string(index) + "]";
  if (!item.IsMap()) {
    diagnostics.add(item.IsNull() ? listMark : item.Mark(),
                    indexLabel + " must be a map with at least a name, like `- name: eth0`, got " +
                        describe(item));
    return std::nullopt;
  }
  InterfaceSettings settings = globals;
  settings.where = diagnostics.locationOf(item.Mark());
  const std::optional<std::string> name = readInterfaceName(diagnostics, item, indexLabel);
  if (name) settings.name = *name;

  const std::string owner = name ? "interface " + *name : indexLabel;
  const Scope scope{owner + ": ", "in " + owner};
  Overrides overrides{owner, {}};
  const std::vector<std::string_view> candidates = interfaceKeyNames();
  forEachEntry(diagnostics, item, scope,
               [&](const std::string& keyName, const YAML::Node& key, const YAML::Node& value) {
                 if (keyName == kNameKey) return;
                 if (keyName == kFilterKey) {
                   const Entry entry = makeEntry(key, value, scope.keyPrefix + keyName);
                   if (auto filter = readString(diagnostics, entry, true)) {
                     settings.filter = *filter;
                     settings.filterWhere = diagnostics.locationOf(entry.mark);
                   }
                 } else if (const Section* section = findSection(keyName)) {
                   readSection(diagnostics, *section, key, value, settings, &overrides);
                 } else if (const Section* home = homeOf(keyName)) {
                   applyKey(diagnostics, *findKey(*home, keyName), key, value, scope, settings,
                            &overrides);
                 } else {
                   reportUnknownKey(diagnostics, key, keyName, scope, candidates);
                 }
               });
  return settings;
}

struct ReadInterface {
  InterfaceSettings settings;
  bool clean;  // no problems of its own; only clean ones take part in the collision check
};

// Marks repeats as not clean, so they stay out of the collision check.
void checkDuplicateNames(Diagnostics& diagnostics, std::vector<ReadInterface>& interfaces) {
  std::unordered_map<std::string_view, const InterfaceSettings*> byName;
  for (ReadInterface& interface : interfaces) {
    const InterfaceSettings& settings = interface.settings;
    if (settings.name.empty()) continue;  // its bad name is reported already
    const auto [first, isNew] = byName.emplace(settings.name, &settings);
    if (isNew) continue;
    diagnostics.add(settings.where, "interface " + settings.name + " is listed twice, at lines " +
                                        std::to_string(first->second->where.line) + " and " +
                                        std::to_string(settings.where.line));
    interface.clean = false;
  }
}

// compression_level within the bounds of the compression it applies to (zstd 1-19, gzip 1-9),
// pointed at where the level was given.
void checkCompressionLevels(Diagnostics& diagnostics,
                            const std::vector<ReadInterface>& interfaces) {
  for (const ReadInterface& interface : interfaces) {
    const OutputSettings& output = interface.settings.output;
    if (output.compressionLevel == 0 || output.compression == compress::Compression::none) continue;
    const auto max = static_cast<std::uint32_t>(compress::maxLevel(output.compression));
    if (output.compressionLevel <= max) continue;
    diagnostics.add(interface.settings.compressionLevelWhere,
                    "interface " + quote(interface.settings.name) + ": compression_level " +
                        std::to_string(output.compressionLevel) + " is above " +
                        std::to_string(max) + ", the highest level of " +
                        std::string(compress::nameOf(output.compression)));
  }
}

// What would fail only at run time: names too long for the file system, or ending in `.part`,
// for this interface's name; control characters in the interface name. Marks such interfaces
// not clean, as the collision check reads only clean ones.
void checkFileNames(Diagnostics& diagnostics, std::vector<ReadInterface>& interfaces) {
  for (ReadInterface& interface : interfaces) {
    const InterfaceSettings& settings = interface.settings;
    if (!interface.clean || settings.name.empty()) continue;
    for (const std::string& problem :
         rotation::namingProblems(settings.output.fileName, settings.name)) {
      diagnostics.add(settings.where, "interface " + quote(settings.name) + ": file_name " +
                                          quote(settings.output.fileName) + " " + problem);
      interface.clean = false;
    }
  }
}

// The literal prefixes of earlier interfaces' templates in one directory, to find one that could
// collide with a new template without comparing every pair: two templates could collide when one
// prefix starts the other (unless both name the interface), and a sorted map answers both ways.
class EarlierPrefixes {
 public:
  // The earlier interface whose prefix starts `prefix` or is started by it, if any.
  std::optional<std::size_t> collidingWith(std::string_view prefix) const {
    std::optional<std::size_t> found;
    const auto take = [&](std::size_t index) { found = std::min(found.value_or(index), index); };
    // Earlier prefixes that `prefix` starts sort right from it.
    if (const auto after = byPrefix_.lower_bound(prefix);
        after != byPrefix_.end() && std::string_view(after->first).starts_with(prefix)) {
      take(after->second);
    }
    // Earlier prefixes that start `prefix`: one lookup per length in use, not per interface.
    for (const std::size_t length : lengths_) {
      if (length > prefix.size()) break;
      if (const auto same = byPrefix_.find(prefix.substr(0, length)); same != byPrefix_.end()) {
        take(same->second);
      }
    }
    return found;
  }

  void add(std::string_view prefix, std::size_t index) {
    byPrefix_.emplace(std::string(prefix), index);  // the first interface of each prefix stays
    lengths_.insert(prefix.size());
  }

 private:
  std::map<std::string, std::size_t, std::less<>> byPrefix_;
  std::set<std::size_t> lengths_;
};

// Each interface's directory as one key for all its spellings, for the collision check: what
// `resolve` makes of it, or its lexical form where there is no answer. Why the directories keep
// their own spellings: the daemon and the shipper (another user) resolve at other times, and a
// link may be re-pointed; each writes and names its files as configured.
std::vector<std::string> directoryKeysOf(const std::vector<ReadInterface>& interfaces,
                                         const DirectoryResolver& resolve) {
  std::vector<std::string> keys;
  keys.reserve(interfaces.size());
  for (const ReadInterface& read : interfaces) {
    const std::filesystem::path& directory = read.settings.output.directory;
    const std::optional<std::filesystem::path> resolved =
        resolve ? resolve(directory) : std::nullopt;
    keys.push_back(directoryKeyOf(resolved ? *resolved : directory));
  }
  return keys;
}

// Reports each interface at most once, against an earlier one it could overwrite: one bad global
// file_name shared by fifty interfaces should give 49 lines, not 1225. O(n log n) in interfaces
// (40,000 with their own directories took 47 s when every pair was compared).
void checkFileNameCollisions(Diagnostics& diagnostics, const std::vector<ReadInterface>& interfaces,
                             const std::vector<std::string>& directoryKeys) {
  struct Directory {
    EarlierPrefixes all;
    // Two templates that both name the interface never collide, so a template that does is
    // checked only against earlier ones that do not.
    EarlierPrefixes withoutInterface;
  };
  std::unordered_map<std::string, Directory> directories;
  for (std::size_t i = 0; i < interfaces.size(); ++i) {
    if (!interfaces[i].clean) continue;
    const InterfaceSettings& second = interfaces[i].settings;
    const std::string& directoryName = directoryKeys[i];
    Directory& directory = directories[directoryName];
    const bool namesInterface = hasInterfacePlaceholder(second.output.fileName);
    const std::string_view prefix = literalPrefix(second.output.fileName);
    const EarlierPrefixes& candidates = namesInterface ? directory.withoutInterface : directory.all;
    if (const std::optional<std::size_t> j = candidates.collidingWith(prefix)) {
      const InterfaceSettings& first = interfaces[*j].settings;
      diagnostics.add(second.where,
                      "interfaces " + first.name + " (line " + std::to_string(first.where.line) +
                          ") and " + second.name + " both write to " + quote(directoryName) +
                          " and their file names could collide; put {interface} in both "
                          "file_name templates, or start them with different text");
    }
    directory.all.add(prefix, i);
    if (!namesInterface) directory.withoutInterface.add(prefix, i);
  }
}

}  // namespace

void readInterfaces(Diagnostics& diagnostics, const YAML::Node& key, const YAML::Node& list,
                    const InterfaceSettings& globals, Config& config,
                    const DirectoryResolver& resolve) {
  const YAML::Mark mark = makeEntry(key, list, std::string(kInterfacesKey)).mark;
  if (list.IsNull() || (list.IsSequence() && list.size() == 0)) {
    diagnostics.add(mark, "interfaces must list at least one interface to record");
    return;
  }
  if (!list.IsSequence()) {
    diagnostics.add(mark, "interfaces must be a list, each item starting with `- name:`, got " +
                              describe(list));
    return;
  }
  std::vector<ReadInterface> interfaces;
  std::size_t index = 0;
  for (const YAML::Node& item : list) {
    const std::size_t before = diagnostics.count();
    if (std::optional<InterfaceSettings> settings =
            readInterface(diagnostics, item, mark, index, globals)) {
      interfaces.push_back({std::move(*settings), diagnostics.count() == before});
    }
    ++index;
  }
  checkDuplicateNames(diagnostics, interfaces);
  checkFileNames(diagnostics, interfaces);
  checkCompressionLevels(diagnostics, interfaces);
  const std::vector<std::string> directoryKeys = directoryKeysOf(interfaces, resolve);
  checkFileNameCollisions(diagnostics, interfaces, directoryKeys);
  for (ReadInterface& read : interfaces) config.interfaces.push_back(std::move(read.settings));
}

}  // namespace pcap_recorder::config::detail
