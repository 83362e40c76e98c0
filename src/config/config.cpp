#include "pcap_recorder/config/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "pcap_recorder/config/units.hpp"
#include "pcap_recorder/rotation/file_naming.hpp"
#include "pcap_recorder/util/printable.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::config {
namespace {

// ---------------------------------------------------------------------------------------------
// Bounds on what one load may cost, whatever the input (under kMaxFileBytes).

// The problems listed; the rest are counted in one last line.
constexpr std::size_t kMaxProblemsShown = 100;
// Keys, values and list items in the file: room for tens of thousands of interfaces, while
// keeping the YAML tree (hundreds of bytes a value in yaml-cpp) to a few hundred megabytes.
constexpr std::size_t kMaxValues = 250'000;

// ---------------------------------------------------------------------------------------------
// Collecting problems

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  Location locationOf(const YAML::Mark& mark) const {
    // yaml-cpp marks are 0-based, and null for nodes it made up rather than read.
    if (mark.is_null() || mark.line < 0) return {file_, 0, 0};
    return {file_, mark.line + 1, mark.column + 1};
  }

  void add(const Location& where, std::string message) {
    problems_.push_back({where, std::move(message)});
  }
  void add(const YAML::Mark& mark, std::string message) {
    add(locationOf(mark), std::move(message));
  }

  std::size_t count() const { return problems_.size(); }

  void throwIfAny() {
    if (problems_.empty()) return;
    // Checks run section by section, not top to bottom; users read the list against the file.
    std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
      return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
    });
    // A file of a million bad values is one mistake repeated, not a million things to read.
    if (problems_.size() > kMaxProblemsShown) {
      // The summary stands where the first problem it counts is, so the list stays in file order
      // and points the reader at where the omitted ones start.
      const std::size_t rest = problems_.size() - kMaxProblemsShown;
      const Location firstOmitted = problems_[kMaxProblemsShown].where;
      problems_.resize(kMaxProblemsShown);
      std::string summary = "... and ";
      summary += std::to_string(rest);
      summary += rest == 1 ? " more problem from here on" : " more problems from here on";
      problems_.push_back({firstOmitted, std::move(summary)});
    }
    throw ConfigError(std::move(problems_));
  }

 private:
  std::string file_;
  std::vector<Problem> problems_;
};

int lineOf(const YAML::Mark& mark) {
  return mark.is_null() ? 0 : mark.line + 1;
}

// ---------------------------------------------------------------------------------------------
// Describing values in messages

std::string quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 100;  // whole paths, but not a pasted file
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const char c = text[i];
    // Keep every problem on one line of output, however odd the scalar, and send no escape
    // sequence to a terminal.
    out += util::printable(std::string_view(&c, 1));
  }
  if (text.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// "a", "a or b", "a, b or c"
std::string joinWords(std::span<const std::string_view> words, std::string_view last = " or ") {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += (i + 1 == words.size()) ? last : ", ";
    out += words[i];
  }
  return out;
}

std::string formatSize(std::uint64_t bytes) {
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 4> kUnits = {{
      {"TiB", 1ull << 40},
      {"GiB", 1ull << 30},
      {"MiB", 1ull << 20},
      {"KiB", 1ull << 10},
  }};
  for (const auto& [suffix, factor] : kUnits) {
    if (bytes != 0 && bytes % factor == 0) {
      return std::to_string(bytes / factor) + std::string(suffix);
    }
  }
  return std::to_string(bytes);
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string_view> nearMiss(std::string_view unknown,
                                         std::span<const std::string_view> candidates) {
  constexpr std::size_t kMaxDistance = 2;
  for (std::string_view candidate : candidates) {
    if (equalsIgnoringCase(unknown, candidate)) return candidate;
  }
  std::optional<std::string_view> best;
  std::size_t bestDistance = kMaxDistance + 1;
  for (std::string_view candidate : candidates) {
    const std::size_t lengthGap = unknown.size() > candidate.size()
                                      ? unknown.size() - candidate.size()
                                      : candidate.size() - unknown.size();
    if (lengthGap > kMaxDistance) continue;  // cannot be close; skips the quadratic work
    const std::size_t distance = editDistance(unknown, candidate);
    // A two-letter key is two edits away from every other two-letter key; that is no hint.
    if (distance < bestDistance && distance < unknown.size()) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Reading single values. Each reader leaves `out` alone when the value is bad, and reports why.

// One value to read, with what a message needs to point at it and to name it.
struct Entry {
  YAML::Node value;
  YAML::Mark mark;    // the value's, or its key's when the value is empty
  std::string label;  // "output.snaplen", "interface eth0: snaplen"
};

Entry makeEntry(const YAML::Node& key, const YAML::Node& value, std::string label) {
  // yaml-cpp puts an empty value's mark wherever the next token starts, often the next line.
  const YAML::Mark mark = value.IsNull() ? key.Mark() : value.Mark();
  return Entry{value, mark, std::move(label)};
}

std::optional<std::string> readString(Diagnostics& diagnostics, const Entry& entry,
                                      bool allowEmpty) {
  if (entry.value.IsNull()) {
    if (allowEmpty) return std::string();
    diagnostics.add(entry.mark, entry.label + " must not be empty");
    return std::nullopt;
  }
  if (!entry.value.IsScalar()) {
    diagnostics.add(entry.mark, entry.label + " must be a string, got " + describe(entry.value));
    return std::nullopt;
  }
  const std::string& text = entry.value.Scalar();
  if (text.empty() && !allowEmpty) {
    diagnostics.add(entry.mark, entry.label + " must not be empty");
    return std::nullopt;
  }
  if (text.find('\0') != std::string::npos) {
    // A "\0" escape would silently cut a path or filter short at the C APIs below us.
    diagnostics.add(entry.mark, entry.label + " must not contain a NUL character");
    return std::nullopt;
  }
  return text;
}

template <typename T>
void readWholeNumber(Diagnostics& diagnostics, const Entry& entry, T min, T max, T& out) {
  if (!entry.value.IsScalar()) {
    diagnostics.add(entry.mark,
                    entry.label + " must be a whole number, got " + describe(entry.value));
    return;
  }
  std::string_view text = entry.value.Scalar();
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  const bool allDigits = !text.empty() && std::all_of(text.begin(), text.end(),
                                                      [](char c) { return c >= '0' && c <= '9'; });
  if (!allDigits) {
    diagnostics.add(entry.mark,
                    entry.label + " must be a whole number, got " + describe(entry.value));
    return;
  }
  std::uint64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (negative || error != std::errc{} || number < min || number > max) {
    diagnostics.add(entry.mark, entry.label + " must be between " + std::to_string(min) + " and " +
                                    std::to_string(max) + ", got " + describe(entry.value));
    return;
  }
  out = static_cast<T>(number);
}

void readBool(Diagnostics& diagnostics, const Entry& entry, bool& out) {
  // YAML 1.1 spellings too: people write "yes" and "on", and yaml-cpp itself accepts them.
  static constexpr std::array<std::string_view, 9> kTrue = {"true", "True", "TRUE", "yes", "Yes",
                                                            "YES",  "on",   "On",   "ON"};
  static constexpr std::array<std::string_view, 9> kFalse = {"false", "False", "FALSE", "no", "No",
                                                             "NO",    "off",   "Off",   "OFF"};
  if (entry.value.IsScalar()) {
    const std::string& text = entry.value.Scalar();
    if (std::find(kTrue.begin(), kTrue.end(), text) != kTrue.end()) {
      out = true;
      return;
    }
    if (std::find(kFalse.begin(), kFalse.end(), text) != kFalse.end()) {
      out = false;
      return;
    }
  }
  diagnostics.add(entry.mark, entry.label + " must be true or false, got " + describe(entry.value));
}

template <typename T>
struct Choice {
  std::string_view word;
  T value;
};

template <typename T, std::size_t N>
void readChoice(Diagnostics& diagnostics, const Entry& entry,
                const std::array<Choice<T>, N>& choices, T& out) {
  if (entry.value.IsScalar()) {
    for (const Choice<T>& choice : choices) {
      if (choice.word == entry.value.Scalar()) {
        out = choice.value;
        return;
      }
    }
  }
  std::array<std::string_view, N> words;
  std::transform(choices.begin(), choices.end(), words.begin(),
                 [](const Choice<T>& choice) { return choice.word; });
  diagnostics.add(entry.mark,
                  entry.label + " must be " + joinWords(words) + ", got " + describe(entry.value));
}

void readSize(Diagnostics& diagnostics, const Entry& entry, std::uint64_t min, std::uint64_t max,
              std::uint64_t& out) {
  const std::optional<std::uint64_t> bytes =
      entry.value.IsScalar() ? parseSize(entry.value.Scalar()) : std::nullopt;
  if (!bytes) {
    diagnostics.add(entry.mark,
                    entry.label +
                        " must be a size: a number of bytes, or a whole number followed "
                        "by B, kB, MB, GB, TB, KiB, MiB, GiB or TiB; got " +
                        describe(entry.value));
    return;
  }
  if (*bytes < min || *bytes > max) {
    diagnostics.add(entry.mark, entry.label + " must be between " + formatSize(min) + " and " +
                                    formatSize(max) + ", got " + describe(entry.value));
    return;
  }
  out = *bytes;
}

void readDuration(Diagnostics& diagnostics, const Entry& entry, std::chrono::milliseconds min,
                  std::chrono::milliseconds& out) {
  const std::optional<std::chrono::milliseconds> duration =
      entry.value.IsScalar() ? parseDuration(entry.value.Scalar()) : std::nullopt;
  const auto tooLong = [&] {
    diagnostics.add(
        entry.mark,
        entry.label + " must be at most " +
            std::to_string(std::chrono::duration_cast<std::chrono::days>(kMaxDuration).count()) +
            "d (about ten years), got " + describe(entry.value));
  };
  if (!duration && entry.value.IsScalar() && isOversizedDuration(entry.value.Scalar())) {
    tooLong();
    return;
  }
  if (!duration) {
    diagnostics.add(entry.mark, entry.label +
                                    " must be a duration: 0, or a whole number followed by ms, s, "
                                    "m, h or d; got " +
                                    describe(entry.value));
    return;
  }
  if (duration->count() != 0 && *duration < min) {
    diagnostics.add(entry.mark, entry.label + " must be 0 or at least " +
                                    std::to_string(min.count()) + " ms, got " +
                                    describe(entry.value));
    return;
  }
  if (*duration > kMaxDuration) {
    tooLong();
    return;
  }
  out = *duration;
}

// An octal mode such as "0640". The owner must be able to read and write: the next start reopens
// a file left by a crash to repair it.
void readFileMode(Diagnostics& diagnostics, const Entry& entry, std::uint32_t& out) {
  const std::string text = entry.value.IsScalar() ? entry.value.Scalar() : std::string();
  std::uint32_t mode = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), mode, 8);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || mode > 0777) {
    diagnostics.add(entry.mark, entry.label +
                                    " must be an octal mode from 0600 to 0777 such as "
                                    "\"0640\", got " +
                                    describe(entry.value));
    return;
  }
  if ((mode & 0600) != 0600) {
    diagnostics.add(entry.mark, entry.label + " must let the owner read and write (0600), got " +
                                    describe(entry.value));
    return;
  }
  out = mode;
}

void readDirectory(Diagnostics& diagnostics, const Entry& entry, std::filesystem::path& out) {
  if (std::optional<std::string> text = readString(diagnostics, entry, false)) out = *text;
}

// ---------------------------------------------------------------------------------------------
// File name templates

using rotation::kInterfacePlaceholder;

void readFileName(Diagnostics& diagnostics, const Entry& entry, std::string& out) {
  std::optional<std::string> text = readString(diagnostics, entry, false);
  if (!text) return;
  // The grammar and its rules are the file-name module's, which the writer and retention use.
  const std::vector<std::string> problems = rotation::templateProblems(*text);
  for (const std::string& problem : problems) {
    diagnostics.add(entry.mark, entry.label + " " + quote(*text) + " " + problem);
  }
  if (problems.empty()) out = std::move(*text);
}

// The text every file of this template starts with, whatever the time and sequence number.
std::string_view literalPrefix(std::string_view fileName) {
  return fileName.substr(0, std::min(fileName.find_first_of("%{"), fileName.size()));
}

bool hasInterfacePlaceholder(std::string_view fileName) {
  return fileName.find(kInterfacePlaceholder) != std::string_view::npos;
}

std::filesystem::path normalizedDirectory(const std::filesystem::path& directory) {
  std::filesystem::path normal = directory.lexically_normal();
  // "/srv/pcap/" and "/srv/pcap" are the same folder.
  if (!normal.has_filename() && normal.has_relative_path()) normal = normal.parent_path();
  return normal;
}

// ---------------------------------------------------------------------------------------------
// The key tables. Adding a key is one row; adding a per-interface section is a settings struct
// member, a key table and one row in kSections. Every section key is also accepted flat in an
// interface item, which is why the static_assert below keeps key names unique across sections.

using Apply = void (*)(Diagnostics&, const Entry&, InterfaceSettings&);

struct Key {
  std::string_view name;
  Apply apply;
};

struct Section {
  std::string_view name;
  std::span<const Key> keys;
};

constexpr std::uint64_t kMinRingBytes = 1ull << 20;
constexpr std::uint64_t kMaxRingBytes = 16ull << 30;
// Each running hook is a process tree; more than this at once is a mistake, not a need.
constexpr std::uint32_t kMaxPostFinishRunning = 64;

constexpr std::array<Choice<TimestampPrecision>, 2> kTimestampChoices = {{
    {"micro", TimestampPrecision::micro},
    {"nano", TimestampPrecision::nano},
}};

constexpr std::array<Choice<DirectIo>, 3> kDirectIoChoices = {{
    {"auto", DirectIo::automatic},
    {"on", DirectIo::on},
    {"off", DirectIo::off},
}};

// Kept out of clang-format, which lays out short lambdas differently from long ones.
// clang-format off
constexpr std::array<Key, 10> kOutputKeys = {{
    {"directory",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readDirectory(d, e, s.output.directory);
     }},
    {"file_name",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readFileName(d, e, s.output.fileName);
     }},
    {"snaplen",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readWholeNumber<std::uint32_t>(d, e, 1, kMaxSnaplen, s.output.snaplen);
     }},
    {"timestamp",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readChoice(d, e, kTimestampChoices, s.output.timestamp);
     }},
    {"file_mode",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readFileMode(d, e, s.output.fileMode);
     }},
    {"post_finish_max_running",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readWholeNumber<std::uint32_t>(d, e, 1, kMaxPostFinishRunning, s.output.postFinishMaxRunning);
     }},
    {"direct_io",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readChoice(d, e, kDirectIoChoices, s.output.directIo);
     }},
    {"index",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readBool(d, e, s.output.index);
     }},
    {"post_finish_command",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       if (auto text = readString(d, e, true)) s.output.postFinishCommand = *text;
     }},
    {"post_finish_timeout",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readDuration(d, e, std::chrono::seconds(1), s.output.postFinishTimeout);
     }},
}};

constexpr std::array<Key, 2> kCaptureKeys = {{
    {"ring_size",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readSize(d, e, kMinRingBytes, kMaxRingBytes, s.capture.ringBytes);
     }},
    {"promiscuous",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readBool(d, e, s.capture.promiscuous);
     }},
}};

constexpr std::uint64_t kNoLimit = UINT64_MAX;

constexpr std::array<Key, 3> kRotateKeys = {{
    {"max_file_size",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readSize(d, e, 0, kNoLimit, s.rotate.maxFileBytes);
     }},
    {"interval",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readDuration(d, e, std::chrono::seconds(1), s.rotate.interval);
     }},
    {"max_packets",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readWholeNumber<std::uint64_t>(d, e, 0, kNoLimit, s.rotate.maxPackets);
     }},
}};

constexpr std::array<Key, 4> kRetentionKeys = {{
    {"max_files",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readWholeNumber<std::uint64_t>(d, e, 0, kNoLimit, s.retention.maxFiles);
     }},
    {"max_total_size",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readSize(d, e, 0, kNoLimit, s.retention.maxTotalBytes);
     }},
    {"max_age",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readDuration(d, e, std::chrono::seconds(1), s.retention.maxAge);
     }},
    {"min_free_space",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readSize(d, e, 0, kNoLimit, s.retention.minFreeBytes);
     }},
}};
// clang-format on

constexpr std::array<Section, 4> kSections = {{
    {"output", kOutputKeys},
    {"capture", kCaptureKeys},
    {"rotate", kRotateKeys},
    {"retention", kRetentionKeys},
}};

constexpr std::string_view kInterfacesKey = "interfaces";
constexpr std::string_view kNameKey = "name";
constexpr std::string_view kFilterKey = "filter";

constexpr bool keyNamesAreUnambiguous() {
  std::array<std::string_view, 3> reserved = {kInterfacesKey, kNameKey, kFilterKey};
  for (const Section& section : kSections) {
    for (std::string_view name : reserved) {
      if (section.name == name) return false;
    }
    for (const Key& key : section.keys) {
      for (std::string_view name : reserved) {
        if (key.name == name) return false;
      }
      for (const Section& other : kSections) {
        if (other.name == key.name) return false;
        for (const Key& otherKey : other.keys) {
          if (&otherKey != &key && otherKey.name == key.name) return false;
        }
      }
    }
  }
  return true;
}
static_assert(keyNamesAreUnambiguous(),
              "interface items take section keys flat; names must be unique");

const Section* findSection(std::string_view name) {
  for (const Section& section : kSections) {
    if (section.name == name) return &section;
  }
  return nullptr;
}

const Key* findKey(const Section& section, std::string_view name) {
  for (const Key& key : section.keys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

// The section a key belongs to, to tell users who put it in the wrong place.
const Section* homeOf(std::string_view keyName) {
  for (const Section& section : kSections) {
    if (findKey(section, keyName) != nullptr) return &section;
  }
  return nullptr;
}

std::vector<std::string_view> keyNames(const Section& section) {
  std::vector<std::string_view> names;
  for (const Key& key : section.keys) names.push_back(key.name);
  return names;
}

// Daemon-wide settings: `log:` and `run_as`. Not per interface, so outside the section tables.
constexpr std::string_view kLogKey = "log";
constexpr std::string_view kRunAsKey = "run_as";

using ApplyDaemon = void (*)(Diagnostics&, const Entry&, DaemonSettings&);
struct DaemonKey {
  std::string_view name;
  ApplyDaemon apply;
};

constexpr std::array<Choice<LogLevel>, 8> kLogLevelChoices = {{
    {"trace", LogLevel::trace},
    {"debug", LogLevel::debug},
    {"info", LogLevel::info},
    {"warning", LogLevel::warning},
    {"warn", LogLevel::warning},
    {"error", LogLevel::error},
    {"critical", LogLevel::critical},
    {"off", LogLevel::off},
}};

// clang-format off
constexpr std::array<DaemonKey, 2> kLogKeys = {{
    {"level",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       readChoice(d, e, kLogLevelChoices, s.logLevel);
     }},
    {"stats_interval",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       readDuration(d, e, std::chrono::seconds(1), s.statsInterval);
     }},
}};
// clang-format on

std::vector<std::string_view> topLevelKeyNames() {
  std::vector<std::string_view> names;
  for (const Section& section : kSections) names.push_back(section.name);
  names.push_back(kLogKey);
  names.push_back(kRunAsKey);
  names.push_back(kInterfacesKey);
  return names;
}

std::vector<std::string_view> interfaceKeyNames() {
  std::vector<std::string_view> names = {kNameKey, kFilterKey};
  for (const Section& section : kSections) {
    names.push_back(section.name);
    for (const Key& key : section.keys) names.push_back(key.name);
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// Walking maps

// Where keys are being read, for messages.
struct Scope {
  std::string keyPrefix;  // names a key: keyPrefix + "snaplen" = "output.snaplen"
  std::string where;      // places an unknown key: "in output", "at the top level"
};

void reportUnknownKey(Diagnostics& diagnostics, const YAML::Node& key, const std::string& name,
                      const Scope& scope, std::span<const std::string_view> candidates) {
  std::string message = "unknown key " + quote(name) + " " + scope.where;
  if (const Section* home = homeOf(name)) {
    message += " (it belongs in " + std::string(home->name) + ")";
  } else if (std::optional<std::string_view> suggestion = nearMiss(name, candidates)) {
    message += " (did you mean " + quote(*suggestion) + "?)";
  }
  diagnostics.add(key.Mark(), std::move(message));
}

// Calls visit(name, key, value) for each entry of `map` whose key is a plain, first-seen name.
// yaml-cpp keeps both entries of a repeated key; using either one silently would hide a mistake.
template <typename Visit>
void forEachEntry(Diagnostics& diagnostics, const YAML::Node& map, const Scope& scope,
                  Visit&& visit) {
  std::unordered_map<std::string, YAML::Mark> seen;
  for (const auto& entry : map) {
    // Copies: yaml-cpp iterators hand out temporaries, so references into them dangle.
    const YAML::Node key = entry.first;
    const YAML::Node value = entry.second;
    if (!key.IsScalar()) {
      diagnostics.add(key.Mark(),
                      "keys " + scope.where + " must be plain names, got " + describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    const auto [earlier, isNew] = seen.emplace(name, key.Mark());
    if (!isNew) {
      diagnostics.add(key.Mark(), "duplicate key " + quote(name) + " " + scope.where +
                                      " (first given at line " +
                                      std::to_string(lineOf(earlier->second)) + ")");
      continue;
    }
    visit(name, key, value);
  }
}

// An interface may set a key flat and again under its section; that is a mistake, not an order.
struct Overrides {
  std::string owner;  // "interface eth0"
  std::vector<std::pair<const Key*, YAML::Mark>> seen;
};

void applyKey(Diagnostics& diagnostics, const Key& key, const YAML::Node& keyNode,
              const YAML::Node& value, const Scope& scope, InterfaceSettings& target,
              Overrides* overrides) {
  if (overrides != nullptr) {
    const auto earlier = std::find_if(overrides->seen.begin(), overrides->seen.end(),
                                      [&](const auto& entry) { return entry.first == &key; });
    if (earlier != overrides->seen.end()) {
      diagnostics.add(keyNode.Mark(), overrides->owner + " sets " + std::string(key.name) +
                                          " twice (lines " +
                                          std::to_string(lineOf(earlier->second)) + " and " +
                                          std::to_string(lineOf(keyNode.Mark())) + ")");
      return;
    }
    overrides->seen.emplace_back(&key, keyNode.Mark());
  }
  key.apply(diagnostics, makeEntry(keyNode, value, scope.keyPrefix + std::string(key.name)),
            target);
}

// Reads one section map (`output: {...}` at the top, or inside the interface `overrides` is for)
// into `target`.
void readSection(Diagnostics& diagnostics, const Section& section, const YAML::Node& keyNode,
                 const YAML::Node& value, InterfaceSettings& target, Overrides* overrides) {
  if (value.IsNull()) return;  // "capture:" with nothing under it changes nothing
  const std::string name(section.name);
  const std::string label = overrides == nullptr ? name : overrides->owner + ": " + name;
  if (!value.IsMap()) {
    diagnostics.add(makeEntry(keyNode, value, label).mark,
                    label + " must be a map of " + name + " settings, got " + describe(value));
    return;
  }
  const Scope scope{label + ".",
                    overrides == nullptr ? "in " + name : "in " + name + " of " + overrides->owner};
  const std::vector<std::string_view> candidates = keyNames(section);
  forEachEntry(diagnostics, value, scope,
               [&](const std::string& keyName, const YAML::Node& key, const YAML::Node& item) {
                 if (const Key* found = findKey(section, keyName)) {
                   applyKey(diagnostics, *found, key, item, scope, target, overrides);
                 } else {
                   reportUnknownKey(diagnostics, key, keyName, scope, candidates);
                 }
               });
}

// ---------------------------------------------------------------------------------------------
// Interfaces

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

// Reports each interface at most once, against an earlier one it could overwrite: one bad global
// file_name shared by fifty interfaces should give 49 lines, not 1225. O(n log n) in interfaces
// (40,000 with their own directories took 47 s when every pair was compared).
void checkFileNameCollisions(Diagnostics& diagnostics,
                             const std::vector<ReadInterface>& interfaces) {
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
    const std::string directoryName = normalizedDirectory(second.output.directory).string();
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

void readInterfaces(Diagnostics& diagnostics, const YAML::Node& key, const YAML::Node& list,
                    const InterfaceSettings& globals, Config& config) {
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
  checkFileNameCollisions(diagnostics, interfaces);
  for (ReadInterface& read : interfaces) config.interfaces.push_back(std::move(read.settings));
}

// ---------------------------------------------------------------------------------------------
// The document

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

void readLogSection(Diagnostics& diagnostics, const YAML::Node& keyNode, const YAML::Node& value,
                    DaemonSettings& target) {
  if (value.IsNull()) return;
  if (!value.IsMap()) {
    diagnostics.add(makeEntry(keyNode, value, "log").mark,
                    "log must be a map of log settings, got " + describe(value));
    return;
  }
  const Scope scope{"log.", "in log"};
  std::vector<std::string_view> candidates;
  for (const DaemonKey& key : kLogKeys) candidates.push_back(key.name);
  forEachEntry(diagnostics, value, scope,
               [&](const std::string& keyName, const YAML::Node& key, const YAML::Node& item) {
                 const auto found =
                     std::find_if(kLogKeys.begin(), kLogKeys.end(),
                                  [&](const DaemonKey& known) { return known.name == keyName; });
                 if (found == kLogKeys.end()) {
                   reportUnknownKey(diagnostics, key, keyName, scope, candidates);
                   return;
                 }
                 found->apply(diagnostics, makeEntry(key, item, "log." + keyName), target);
               });
}

void readDocument(Diagnostics& diagnostics, const std::string& yamlText, Config& config) {
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
                   readLogSection(diagnostics, key, value, config.daemon);
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
    readInterfaces(diagnostics, interfaces->first, interfaces->second, globals, config);
  } else {
    diagnostics.add(root.Mark(), "interfaces is missing; list at least one interface to record");
  }
}

// ---------------------------------------------------------------------------------------------
// Files

// A config file is a few kilobytes; the cap keeps `--config /dev/zero` from eating all memory.
constexpr std::size_t kMaxFileBytes = 4u << 20;

std::error_code lastError() {
  return {errno != 0 ? errno : EIO, std::generic_category()};
}

std::string_view describeFileType(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// Why the file could not be read, if it could not. Only a regular file is read: opened without
// blocking and checked before the first read, so a FIFO or a device cannot hang --check-config
// or a reload.
std::optional<std::string> readWholeFile(const std::filesystem::path& file, std::string& out) {
  errno = 0;
  const util::UniqueFd fd(::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return lastError().message();
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) return lastError().message();
  if (S_ISDIR(status.st_mode)) return std::generic_category().message(EISDIR);
  if (!S_ISREG(status.st_mode)) {
    return "is " + std::string(describeFileType(status.st_mode)) +
           ", not a regular file; the configuration must be a file";
  }
  std::array<char, 16384> buffer;
  for (;;) {
    const ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return lastError().message();
    if (got == 0) return std::nullopt;
    out.append(buffer.data(), static_cast<std::size_t>(got));
    if (out.size() > kMaxFileBytes) {
      return "larger than " + formatSize(kMaxFileBytes) + "; that is not a configuration file";
    }
  }
}

std::string formatAll(const std::vector<Problem>& problems) {
  std::string out;
  for (const Problem& problem : problems) {
    if (!out.empty()) out += '\n';
    out += format(problem);
  }
  return out;
}

}  // namespace

std::optional<LogLevel> parseLogLevel(std::string_view text) noexcept {
  for (const Choice<LogLevel>& choice : kLogLevelChoices) {
    if (choice.word == text) return choice.value;
  }
  return std::nullopt;
}

std::string logLevelNames() {
  std::array<std::string_view, kLogLevelChoices.size()> words;
  std::transform(kLogLevelChoices.begin(), kLogLevelChoices.end(), words.begin(),
                 [](const Choice<LogLevel>& choice) { return choice.word; });
  return joinWords(words);
}

std::string format(const Problem& problem) {
  std::string out = problem.where.file;
  if (problem.where.line > 0) {
    out += ':' + std::to_string(problem.where.line);
    if (problem.where.column > 0) out += ':' + std::to_string(problem.where.column);
  }
  if (!out.empty()) out += ": ";
  out += problem.message;
  return out;
}

ConfigError::ConfigError(std::vector<Problem> problems)
    : std::runtime_error(formatAll(problems)), problems_(std::move(problems)) {}

Config parse(const std::string& yamlText, const std::string& displayName) {
  Diagnostics diagnostics(displayName);
  Config config;
  config.sourceFile = displayName;
  readDocument(diagnostics, yamlText, config);
  diagnostics.throwIfAny();
  return config;
}

Config load(const std::filesystem::path& file) {
  std::string text;
  if (std::optional<std::string> error = readWholeFile(file, text)) {
    throw ConfigError({Problem{Location{file.string(), 0, 0}, "cannot read: " + *error}});
  }
  Config config = parse(text, file.string());
  config.sourceFile = file;
  return config;
}

}  // namespace pcap_recorder::config
