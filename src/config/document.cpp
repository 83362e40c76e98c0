#include "document.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <span>
#include <sstream>
#include <utility>
#include <vector>

#include "interfaces.hpp"
#include "map_walk.hpp"
#include "pcap_recorder/config/units.hpp"
#include "schema.hpp"
#include "value_readers.hpp"

namespace pcap_recorder::config::detail {

namespace {

// Keys, values and list items in the file: room for tens of thousands of interfaces, while
// keeping the YAML tree (hundreds of bytes a value in yaml-cpp) to a few hundred megabytes.
constexpr std::size_t kMaxValues = 250'000;

// Thrown by DocumentStarts to stop the parse at the value past kMaxValues.
struct TooManyValues {
  YAML::Mark mark;
};

// Records where documents start and counts the values, stopping at kMaxValues: a tree of
// yaml-cpp nodes costs hundreds of bytes each, so YAML::Load only ever sees a bounded number.
class DocumentStarts final : public YAML::EventHandler {
 public:
  const std::vector<YAML::Mark>& marks() const { return marks_; }

  void OnDocumentStart(const YAML::Mark& mark) override { marks_.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { count(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { count(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    count(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    count(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    count(mark);
  }
  void OnMapEnd() override {}

 private:
  void count(const YAML::Mark& mark) {
    if (++values_ > kMaxValues) throw TooManyValues{mark};
  }

  std::vector<YAML::Mark> marks_;
  std::size_t values_ = 0;
};

// Checks the syntax and that there is exactly one document, before YAML::Load builds it (Load
// would silently drop any later documents). Not YAML::LoadAll: in yaml-cpp 0.7 a document that
// starts with ',' is never consumed, and LoadAll keeps collecting empty documents at the same
// spot until memory runs out. Here, reading two documents at most and watching that they
// advance keeps that finite.
bool checkDocuments(Diagnostics& diagnostics, const std::string& yamlText) {
  std::istringstream stream(yamlText);
  YAML::Parser parser(stream);
  DocumentStarts starts;
  try {
    while (starts.marks().size() < 2 && parser.HandleNextDocument(starts)) {
    }
  } catch (const YAML::Exception& error) {
    diagnostics.add(error.mark, "invalid YAML: " + error.msg);
    return false;
  } catch (const TooManyValues& tooMany) {
    diagnostics.add(tooMany.mark, "more than " + std::to_string(kMaxValues) +
                                      " YAML values (keys, values and list items); that is "
                                      "not a configuration file");
    return false;
  }
  const std::vector<YAML::Mark>& marks = starts.marks();
  if (marks.size() == 2 && marks[1].pos == marks[0].pos) {
    diagnostics.add(marks[1], "invalid YAML: nothing can be read from here on (a stray ','?)");
    return false;
  }
  if (marks.size() == 2) {
    diagnostics.add(marks[1],
                    "a second YAML document starts here; the configuration must be a single one");
  }
  return true;
}

// `log:`, `metrics:` and `ship:`: daemon-wide sections, each a map of its own keys.
void readDaemonSection(Diagnostics& diagnostics, const YAML::Node& keyNode, const YAML::Node& value,
                       std::string_view name, std::span<const DaemonKey> keys,
                       DaemonSettings& target) {
  if (value.IsNull()) return;
  const std::string section(name);
  if (!value.IsMap()) {
    diagnostics.add(makeEntry(keyNode, value, section).mark,
                    section + " must be a map of " + section + " settings, got " + describe(value));
    return;
  }
  const Scope scope{section + ".", "in " + section};
  std::vector<std::string_view> candidates;
  for (const DaemonKey& key : keys) candidates.push_back(key.name);
  forEachEntry(diagnostics, value, scope,
               [&](const std::string& keyName, const YAML::Node& key, const YAML::Node& item) {
                 const auto found =
                     std::find_if(keys.begin(), keys.end(),
                                  [&](const DaemonKey& known) { return known.name == keyName; });
                 if (found == keys.end()) {
                   reportUnknownKey(diagnostics, key, keyName, scope, candidates);
                   return;
                 }
                 found->apply(diagnostics, makeEntry(key, item, section + "." + keyName), target);
               });
}

// `ship:` is for pcap-recorder-shipd; a section without where to or how cannot be used.
void readShipSection(Diagnostics& diagnostics, const YAML::Node& keyNode, const YAML::Node& value,
                     DaemonSettings& target) {
  readDaemonSection(diagnostics, keyNode, value, kShipKey, shipKeys(), target);
  ShipSettings& ship = target.ship;
  ship.configured = true;
  for (const auto& [key, missing] :
       {std::pair<std::string_view, bool>{"endpoint", ship.endpoint.empty()},
        {"bucket", ship.bucket.empty()},
        {"credentials", ship.credentials.empty()}}) {
    if (missing) diagnostics.add(keyNode.Mark(), "ship needs " + std::string(key));
  }
  // Why a floor: the shipper gives up on a request that moves less than a byte a second for
  // stall_timeout (a hung server), and max_rate is shared by every request in flight.
  constexpr std::uint64_t kMinRatePerRequest = 1024;
  const std::uint64_t inFlight = std::uint64_t{ship.parallel} * ship.parallelFiles;
  if (ship.maxRate != 0 && ship.maxRate < kMinRatePerRequest * inFlight) {
    const YAML::Node rate = value.IsMap() ? value["max_rate"] : YAML::Node();
    diagnostics.add(
        rate ? rate.Mark() : keyNode.Mark(),
        "ship.max_rate must be 0 (no limit) or at least 1KiB a second for each of the " +
            std::to_string(inFlight) + " requests in flight (parallel " +
            std::to_string(ship.parallel) + " x parallel_files " +
            std::to_string(ship.parallelFiles) + "): " + formatSize(kMinRatePerRequest * inFlight) +
            ", got " + formatSize(ship.maxRate) +
            "; slower, a request cannot be told from a hung one");
  }
}

}  // namespace

void readDocument(Diagnostics& diagnostics, const std::string& yamlText, Config& config,
                  const DirectoryResolver& resolve) {
  if (!checkDocuments(diagnostics, yamlText)) return;
  YAML::Node root;
  try {
    root = YAML::Load(yamlText);
  } catch (const YAML::Exception& error) {  // checkDocuments has seen the same text; just in case
    diagnostics.add(error.mark, "invalid YAML: " + error.msg);
    return;
  }
  const std::vector<std::string_view> topLevelKeys = topLevelKeyNames();
  if (root.IsNull()) {
    diagnostics.add(YAML::Mark::null_mark(),
                    "the configuration is empty; it needs at least an interfaces list");
    return;
  }
  if (!root.IsMap()) {
    diagnostics.add(root.Mark(), "the top level must be a map of " +
                                     joinWords(topLevelKeys, " and ") + ", got " + describe(root));
    return;
  }

  InterfaceSettings globals;
  std::optional<std::pair<YAML::Node, YAML::Node>> interfaces;
  const Scope scope{"", "at the top level"};
  forEachEntry(diagnostics, root, scope,
               [&](const std::string& name, const YAML::Node& key, const YAML::Node& value) {
                 if (name == kInterfacesKey) {
                   interfaces.emplace(key, value);
                 } else if (name == kLogKey) {
                   readDaemonSection(diagnostics, key, value, kLogKey, logKeys(), config.daemon);
                 } else if (name == kMetricsKey) {
                   readDaemonSection(diagnostics, key, value, kMetricsKey, metricsKeys(),
                                     config.daemon);
                 } else if (name == kShipKey) {
                   readShipSection(diagnostics, key, value, config.daemon);
                 } else if (name == kRunAsKey) {
                   const Entry entry = makeEntry(key, value, std::string(kRunAsKey));
                   if (auto user = readString(diagnostics, entry, false))
                     config.daemon.runAs = *user;
                 } else if (const Section* section = findSection(name)) {
                   readSection(diagnostics, *section, key, value, globals, nullptr);
                 } else {
                   reportUnknownKey(diagnostics, key, name, scope, topLevelKeys);
                 }
               });
  // After the loop: interfaces inherit the global sections wherever they appear in the file.
  if (interfaces) {
    readInterfaces(diagnostics, interfaces->first, interfaces->second, globals, config, resolve);
  } else {
    diagnostics.add(root.Mark(), "interfaces is missing; list at least one interface to record");
  }
  // Where files are shipped, deleting one before it left would lose it: keeping is the default.
  for (InterfaceSettings& interface : config.interfaces) {
    if (!interface.retention.keepUntilShipped) {
      interface.retention.keepUntilShipped = config.daemon.ship.configured;
    }
  }
}

}  // namespace pcap_recorder::config::detail
