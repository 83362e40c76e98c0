#include "format.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace pcap_recorder::ctl {

namespace {

std::size_t displayWidth(std::string_view text) {
  // Counts characters, not bytes: UTF-8 continuation bytes take no column.
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string cell(const InterfaceReport& report, std::string_view key) {
  const FieldValue* value = report.find(key);
  if (value == nullptr) return "-";
  std::string text = textValue(*value);
  return text.empty() ? "-" : text;
}

std::string doubleText(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

}  // namespace

const FieldValue* InterfaceReport::find(std::string_view key) const noexcept {
  for (const auto& field : fields) {
    if (field.key == key) return &field.value;
  }
  return nullptr;
}

std::string jsonString(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
          out += escaped;
        } else {
          out += c;  // UTF-8 passes through: D-Bus strings are valid UTF-8
        }
    }
  }
  out += '"';
  return out;
}

std::string jsonValue(const FieldValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return jsonString(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          return std::isfinite(v) ? doubleText(v) : "null";
        } else {
          return std::to_string(v);
        }
      },
      value);
}

std::string textValue(const FieldValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "yes" : "no";
        } else if constexpr (std::is_same_v<T, double>) {
          return doubleText(v);
        } else {
          return std::to_string(v);
        }
      },
      value);
}

std::string labelOf(std::string_view key) {
  std::string label;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (c >= 'A' && c <= 'Z') {
      if (i > 0) label += ' ';
      label += static_cast<char>(c - 'A' + 'a');
    } else {
      label += c;
    }
  }
  return label;
}

std::string formatTable(const std::vector<std::vector<std::string>>& rows,
                        const std::vector<bool>& rightAligned) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t column = 0; column < row.size(); ++column) {
      widths[column] = std::max(widths[column], displayWidth(row[column]));
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t column = 0; column < row.size(); ++column) {
      const std::string padding(widths[column] - displayWidth(row[column]), ' ');
      const bool right = column < rightAligned.size() && rightAligned[column];
      if (column > 0) line += "  ";
      line += right ? padding + row[column] : row[column] + padding;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  return out;
}

std::string formatStatus(const RecorderSnapshot& snapshot) {
  std::string out = "pcap-recorderd " + snapshot.version + '\n';
  if (snapshot.interfaces.empty()) return out + "no interfaces\n";
  std::vector<std::vector<std::string>> rows{{"INTERFACE", "STATE", "PACKETS WRITTEN",
                                              "KERNEL DROPS", "LOST TO DISK", "FILES",
                                              "CURRENT FILE"}};
  for (const auto& report : snapshot.interfaces) {
    rows.push_back({report.name, cell(report, "State"), cell(report, "PacketsWritten"),
                    cell(report, "KernelDrops"), cell(report, "PacketsLostToDisk"),
                    cell(report, "FilesWritten"), cell(report, "CurrentFile")});
  }
  return out + formatTable(rows, {false, false, true, true, true, true, false});
}

std::string formatStats(const RecorderSnapshot& snapshot) {
  std::string out = "pcap-recorderd " + snapshot.version + '\n';
  if (snapshot.interfaces.empty()) return out + "no interfaces\n";
  for (const auto& report : snapshot.interfaces) {
    out += '\n' + report.name + '\n';
    std::vector<std::vector<std::string>> rows;
    for (const auto& field : report.fields) {
      rows.push_back({"", labelOf(field.key), cell(report, field.key)});
    }
    out += formatTable(rows, {});
  }
  return out;
}

std::string formatStatsJson(const RecorderSnapshot& snapshot) {
  std::string out = "{\"version\":" + jsonString(snapshot.version) + ",\"interfaces\":{";
  bool firstInterface = true;
  for (const auto& report : snapshot.interfaces) {
    if (!firstInterface) out += ',';
    firstInterface = false;
    out += jsonString(report.name) + ":{";
    bool firstField = true;
    for (const auto& field : report.fields) {
      if (!firstField) out += ',';
      firstField = false;
      out += jsonString(field.key) + ':' + jsonValue(field.value);
    }
    out += '}';
  }
  return out + "}}\n";
}

}  // namespace pcap_recorder::ctl
