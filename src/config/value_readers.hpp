// Reading one config value of each kind (string, number, bool, choice, size, duration, mode,
// directory, file-name template). Each reader leaves `out` alone when the value is bad, and reports
// why, naming the key and pointing at the value. Private to the config module.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "diagnostics.hpp"

namespace pcap_recorder::config::detail {

// One value to read, with what a message needs to point at it and to name it.
struct Entry {
  YAML::Node value;
  YAML::Mark mark;    // the value's, or its key's when the value is empty
  std::string label;  // "output.snaplen", "interface eth0: snaplen"
};

Entry makeEntry(const YAML::Node& key, const YAML::Node& value, std::string label);

std::optional<std::string> readString(Diagnostics& diagnostics, const Entry& entry,
                                      bool allowEmpty);

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

void readBool(Diagnostics& diagnostics, const Entry& entry, bool& out);

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
              std::uint64_t& out);

// A duration of at least `min` (or 0, meaning off) and at most kMaxDuration.
void readDuration(Diagnostics& diagnostics, const Entry& entry, std::chrono::milliseconds min,
                  std::chrono::milliseconds& out);

// An octal mode such as "0640". The owner must be able to read and write: the next start reopens
// a file left by a crash to repair it.
void readFileMode(Diagnostics& diagnostics, const Entry& entry, std::uint32_t& out);

void readDirectory(Diagnostics& diagnostics, const Entry& entry, std::filesystem::path& out);

// A file-name template, checked by the file-name grammar the writer and retention use.
void readFileName(Diagnostics& diagnostics, const Entry& entry, std::string& out);

}  // namespace pcap_recorder::config::detail
