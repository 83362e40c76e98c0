#include "diagnostics.hpp"

#include <algorithm>
#include <numeric>
#include <utility>

#include "pcap_recorder/util/printable.hpp"

namespace pcap_recorder::config::detail {

void Diagnostics::throwIfAnyProblem() {
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

int lineOf(const YAML::Mark& mark) {
  return mark.is_null() ? 0 : mark.line + 1;
}

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
std::string joinWords(std::span<const std::string_view> words, std::string_view last) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += (i + 1 == words.size()) ? last : ", ";
    out += words[i];
  }
  return out;
}

namespace {

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

}  // namespace

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

}  // namespace pcap_recorder::config::detail
