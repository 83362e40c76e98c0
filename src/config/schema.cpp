#include "schema.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>

#include "pcap_recorder/config/hook_command.hpp"

namespace pcap_recorder::config::detail {

namespace {

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

constexpr std::array<Choice<compress::Compression>, 3> kCompressionChoices = {{
    {"none", compress::Compression::none},
    {"gzip", compress::Compression::gzip},
    {"zstd", compress::Compression::zstd},
}};

// Kept out of clang-format, which lays out short lambdas differently from long ones.
// clang-format off
constexpr std::array<Key, 15> kOutputKeys = {{
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
       auto text = readString(d, e, true);
       if (!text) return;
       const std::string command = trimHookCommand(*text);
       if (const auto problem = hookCommandProblem(command)) {
         d.add(e.mark, e.label + " " + quote(command) + " " + *problem);
         return;
       }
       s.output.postFinishCommand = command;
     }},
    {"post_finish_timeout",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readPositiveDuration(d, e, std::chrono::seconds(1), s.output.postFinishTimeout);
     }},
    {"keep_empty_files",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readBool(d, e, s.output.keepEmptyFiles);
     }},
    {"sha256",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readBool(d, e, s.output.sha256);
     }},
    {"compression",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       readChoice(d, e, kCompressionChoices, s.output.compression);
     }},
    // The bound of the chosen compression (gzip: 9) is checked once both keys are known.
    {"compression_level",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       const auto before = s.output.compressionLevel;
       readWholeNumber<std::uint32_t>(d, e, compress::kZstdMinLevel, compress::kZstdMaxLevel,
                                      s.output.compressionLevel);
       if (s.output.compressionLevel != before) s.compressionLevelWhere = d.locationOf(e.mark);
     }},
    {"compression_frame_size",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       std::uint64_t bytes = s.output.compressionFrameBytes;
       readSize(d, e, 0, compress::kMaxFrameBytes, bytes);
       if (bytes != 0 && bytes < compress::kMinFrameBytes) {
         d.add(e.mark, e.label + " must be 0 (one frame per file) or at least 64KiB, got " +
                           describe(e.value));
         return;
       }
       s.output.compressionFrameBytes = bytes;
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

constexpr std::array<Key, 5> kRetentionKeys = {{
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
    {"keep_until_shipped",
     [](Diagnostics& d, const Entry& e, InterfaceSettings& s) {
       bool keep = false;
       readBool(d, e, keep);
       s.retention.keepUntilShipped = keep;
     }},
}};
// clang-format on

constexpr std::array<Section, 4> kSections = {{
    {"output", kOutputKeys},
    {"capture", kCaptureKeys},
    {"rotate", kRotateKeys},
    {"retention", kRetentionKeys},
}};

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

constexpr std::array<DaemonKey, 2> kMetricsKeys = {{
    {"textfile",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       readTextfilePath(d, e, s.metrics.textfile);
       s.metrics.textfileWhere = d.locationOf(e.mark);
     }},
    {"interval",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       readPositiveDuration(d, e, std::chrono::seconds(1), s.metrics.interval);
     }},
}};

constexpr std::uint32_t kMaxShipParallel = 64;
// Files in flight at once, each with up to `parallel` parts: 16 x 64 connections is plenty.
constexpr std::uint32_t kMaxShipParallelFiles = 16;

constexpr std::array<DaemonKey, 13> kShipKeys = {{
    {"endpoint",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       if (auto text = readString(d, e, false)) s.ship.endpoint = *text;
     }},
    {"bucket",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       if (auto text = readString(d, e, false)) s.ship.bucket = *text;
     }},
    {"prefix",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       if (auto text = readString(d, e, true)) s.ship.prefix = *text;
     }},
    {"region",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       if (auto text = readString(d, e, false)) s.ship.region = *text;
     }},
    {"path_style",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       readBool(d, e, s.ship.pathStyle);
     }},
    {"parallel",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       readWholeNumber<std::uint32_t>(d, e, 1, kMaxShipParallel, s.ship.parallel);
     }},
    {"parallel_files",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       readWholeNumber<std::uint32_t>(d, e, 1, kMaxShipParallelFiles, s.ship.parallelFiles);
     }},
    {"max_rate",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       readSize(d, e, 0, kNoLimit, s.ship.maxRate);
     }},
    {"ca_file",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       if (auto text = readString(d, e, false)) s.ship.caFile = *text;
     }},
    {"credentials",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       if (auto text = readString(d, e, false)) s.ship.credentials = *text;
     }},
    {"state",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       if (auto text = readString(d, e, false)) s.ship.state = *text;
     }},
    {"delete_after_upload",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       readBool(d, e, s.ship.deleteAfterUpload);
     }},
    {"metrics_textfile",
     [](Diagnostics& d, const Entry& e, DaemonSettings& s) {
       readTextfilePath(d, e, s.ship.metricsTextfile);
     }},
}};

}  // namespace

std::span<const Section> sections() {
  return kSections;
}

std::span<const DaemonKey> logKeys() {
  return kLogKeys;
}

std::span<const DaemonKey> metricsKeys() {
  return kMetricsKeys;
}

std::span<const DaemonKey> shipKeys() {
  return kShipKeys;
}

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

std::vector<std::string_view> topLevelKeyNames() {
  std::vector<std::string_view> names;
  for (const Section& section : kSections) names.push_back(section.name);
  names.push_back(kLogKey);
  names.push_back(kMetricsKey);
  names.push_back(kRunAsKey);
  names.push_back(kShipKey);
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

}  // namespace pcap_recorder::config::detail

namespace pcap_recorder::config {

using detail::Choice;

std::optional<LogLevel> parseLogLevel(std::string_view text) noexcept {
  for (const Choice<LogLevel>& choice : detail::kLogLevelChoices) {
    if (choice.word == text) return choice.value;
  }
  return std::nullopt;
}

std::string logLevelNames() {
  std::array<std::string_view, detail::kLogLevelChoices.size()> words;
  std::transform(detail::kLogLevelChoices.begin(), detail::kLogLevelChoices.end(), words.begin(),
                 [](const Choice<LogLevel>& choice) { return choice.word; });
  return detail::joinWords(words);
}

}  // namespace pcap_recorder::config
