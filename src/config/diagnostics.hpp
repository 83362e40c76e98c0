// Collecting the problems of one config load, and describing values and near-miss keys in them.
// Private to the config module, like every header in src/config/.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pcap_recorder/config/config.hpp"

namespace pcap_recorder::config::detail {

// The problems listed; the rest are counted in one last line.
constexpr std::size_t kMaxProblemsShown = 100;

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

  // Sorts the problems into file order, caps them at kMaxProblemsShown and throws them.
  [[noreturn]] void throwIfAnyProblem();
  void throwIfAny() {
    if (!problems_.empty()) throwIfAnyProblem();
  }

 private:
  std::string file_;
  std::vector<Problem> problems_;
};

int lineOf(const YAML::Mark& mark);

// A scalar for a message: quoted, cut at 100 characters, on one line, without escape sequences.
std::string quote(std::string_view text);

// A value for a message: its quoted text, or what kind of thing it is ("a list", "nothing").
std::string describe(const YAML::Node& node);

// "a", "a or b", "a, b or c"
std::string joinWords(std::span<const std::string_view> words, std::string_view last = " or ");

// The candidate a mistyped key most likely meant: the same but for case, or at most two edits
// away.
std::optional<std::string_view> nearMiss(std::string_view unknown,
                                         std::span<const std::string_view> candidates);

}  // namespace pcap_recorder::config::detail
