// The config's schema: every key, the section it belongs to and how its value is read. Private
// to the config module.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "pcap_recorder/config/config.hpp"
#include "value_readers.hpp"

namespace pcap_recorder::config::detail {

// The key tables live in schema.cpp. Adding a key is one row there; adding a per-interface
// section is a settings struct member, a key table and one row in kSections. Every section key is
// also accepted flat in an interface item, which is why a static_assert there keeps key names
// unique across sections.

using Apply = void (*)(Diagnostics&, const Entry&, InterfaceSettings&);

struct Key {
  std::string_view name;
  Apply apply;
};

struct Section {
  std::string_view name;
  std::span<const Key> keys;
};

// The per-interface sections (output, capture, rotate, retention), in the order they are
// documented.
std::span<const Section> sections();

constexpr std::string_view kInterfacesKey = "interfaces";
constexpr std::string_view kNameKey = "name";
constexpr std::string_view kFilterKey = "filter";

const Section* findSection(std::string_view name);
const Key* findKey(const Section& section, std::string_view name);
// The section a key belongs to, to tell users who put it in the wrong place.
const Section* homeOf(std::string_view keyName);
std::vector<std::string_view> keyNames(const Section& section);

// Daemon-wide settings: `log:` and `run_as`. Not per interface, so outside the section tables.
constexpr std::string_view kLogKey = "log";
constexpr std::string_view kRunAsKey = "run_as";

using ApplyDaemon = void (*)(Diagnostics&, const Entry&, DaemonSettings&);
struct DaemonKey {
  std::string_view name;
  ApplyDaemon apply;
};

// The keys of `log:`.
std::span<const DaemonKey> logKeys();

// What may stand at the top level, and in an interface item: for hints on unknown keys.
std::vector<std::string_view> topLevelKeyNames();
std::vector<std::string_view> interfaceKeyNames();

}  // namespace pcap_recorder::config::detail
