// What pcap-recorderctl prints, as pure functions over what it read from the bus: the status
// table, the stats listing, the stats JSON, and their pieces (JSON strings, aligned tables).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pcap_recorder::ctl {

// One value of an interface's statistics dictionary (a{sv}); the daemon sends strings and
// unsigned counters, the rest is accepted so that a newer daemon's additions still print.
using FieldValue = std::variant<std::string, std::uint64_t, std::int64_t, bool, double>;

struct Field {
  std::string key;  // as on the bus: "PacketsWritten"
  FieldValue value;
};

struct InterfaceReport {
  std::string name;
  std::vector<Field> fields;  // in the daemon's order

  const FieldValue* find(std::string_view key) const noexcept;
};

struct RecorderSnapshot {
  std::string version;
  std::vector<InterfaceReport> interfaces;  // in the daemon's order
};

// `text` as a JSON string literal, quotes included; control characters escaped.
std::string jsonString(std::string_view text);

// A value as JSON: numbers bare, strings quoted, true/false; non-finite doubles are null.
std::string jsonValue(const FieldValue& value);

// A value as text for people.
std::string textValue(const FieldValue& value);

// "PacketsLostToDisk" -> "packets lost to disk".
std::string labelOf(std::string_view key);

// Columns as wide as their widest cell (counted in UTF-8 characters), two spaces apart; the
// columns flagged in `rightAligned` are aligned right. No trailing blanks.
std::string formatTable(const std::vector<std::vector<std::string>>& rows,
                        const std::vector<bool>& rightAligned);

// `pcap-recorderctl status`: the version, then one row per interface.
std::string formatStatus(const RecorderSnapshot& snapshot);

// `pcap-recorderctl stats`: every counter of every interface, one per line.
std::string formatStats(const RecorderSnapshot& snapshot);

// `pcap-recorderctl stats --json`: one object, one line:
// {"version":"0.1.0","interfaces":{"eth0":{"State":"capturing","PacketsReceived":12,...}}}
std::string formatStatsJson(const RecorderSnapshot& snapshot);

}  // namespace pcap_recorder::ctl
