#include "value_readers.hpp"

#include "pcap_recorder/config/units.hpp"
#include "pcap_recorder/rotation/file_naming.hpp"
#include "pcap_recorder/util/tidy_path.hpp"

namespace pcap_recorder::config::detail {

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
  std::optional<std::string> text = readString(diagnostics, entry, false);
  if (!text) return;
  // Why: the daemon (under systemd, from /), pcap-recorderctl and the shipper each read it from
  // their own working directory, and "~" is no shell's here.
  if (!text->starts_with('/')) {
    diagnostics.add(entry.mark, entry.label + " must be an absolute path, got " + quote(*text));
    return;
  }
  // One spelling per directory, so that whatever groups or compares directories (retention, the
  // finisher, pcap-recorderctl, the shipper) compares them as they are: "/srv/pcap/" and
  // "/srv//pcap/." are "/srv/pcap". `..` stays (see tidyPath).
  out = util::tidyPath(*text);
}

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

void readPositiveDuration(Diagnostics& diagnostics, const Entry& entry,
                          std::chrono::milliseconds min, std::chrono::milliseconds& out) {
  // Read with the smallest bound so that 0 and values under `min` get this one message.
  std::chrono::milliseconds read{-1};
  readDuration(diagnostics, entry, std::chrono::milliseconds(1), read);
  if (read.count() < 0) return;  // reported
  if (read < min) {
    diagnostics.add(entry.mark, entry.label + " must be at least " + std::to_string(min.count()) +
                                    " ms, got " + describe(entry.value));
    return;
  }
  out = read;
}

void readTextfilePath(Diagnostics& diagnostics, const Entry& entry, std::filesystem::path& out) {
  std::optional<std::string> text = readString(diagnostics, entry, false);
  if (!text) return;
  const std::filesystem::path path = *text;
  if (!path.is_absolute()) {
    diagnostics.add(entry.mark, entry.label + " must be an absolute path, got " + quote(*text));
  } else if (path.extension() != ".prom" || path.stem().empty()) {
    diagnostics.add(entry.mark, entry.label +
                                    " must name a file ending in .prom (the only files "
                                    "node_exporter's textfile collector reads), got " +
                                    quote(*text));
  } else {
    out = path;
  }
}

}  // namespace pcap_recorder::config::detail
