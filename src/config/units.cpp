#include "pcap_recorder/config/units.hpp"

#include <array>
#include <charconv>
#include <limits>
#include <string>
#include <system_error>
#include <utility>

namespace pcap_recorder::config {
namespace {

struct Unit {
  std::string_view suffix;
  std::uint64_t factor;
};

constexpr std::uint64_t kKilo = 1000;
constexpr std::uint64_t kKibi = 1024;

// Exact, case-sensitive spellings only: "mb" or "Mb" could mean megabits, and guessing wrong by
// a factor of 8 (or 1000 vs 1024) in a ring size is worse than asking the user to be precise.
constexpr std::array<Unit, 9> kSizeUnits = {{
    {"B", 1},
    {"kB", kKilo},
    {"MB", kKilo* kKilo},
    {"GB", kKilo* kKilo* kKilo},
    {"TB", kKilo* kKilo* kKilo* kKilo},
    {"KiB", kKibi},
    {"MiB", kKibi* kKibi},
    {"GiB", kKibi* kKibi* kKibi},
    {"TiB", kKibi* kKibi* kKibi* kKibi},
}};

constexpr std::array<Unit, 5> kDurationUnits = {{
    {"ms", 1},
    {"s", 1000},
    {"m", 60 * 1000},
    {"h", 60 * 60 * 1000},
    {"d", 24 * 60 * 60 * 1000},
}};

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// Splits "123unit" into its leading decimal number and the rest. Signs, fractions and digit
// separators are rejected here simply by not being digits.
struct Quantity {
  std::uint64_t number = 0;
  std::string_view unit;
};

std::optional<Quantity> splitQuantity(std::string_view text) {
  if (text.empty() || !isDigit(text.front())) return std::nullopt;
  Quantity quantity;
  const char* const end = text.data() + text.size();
  const auto [rest, error] = std::from_chars(text.data(), end, quantity.number);
  if (error != std::errc{}) return std::nullopt;  // out of range: more than 64 bits
  quantity.unit = std::string_view(rest, static_cast<std::size_t>(end - rest));
  return quantity;
}

template <std::size_t N>
std::optional<std::uint64_t> factorOf(std::string_view unit, const std::array<Unit, N>& units) {
  for (const Unit& candidate : units) {
    if (candidate.suffix == unit) return candidate.factor;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> multiply(std::uint64_t number, std::uint64_t factor,
                                      std::uint64_t limit) {
  if (number > limit / factor) return std::nullopt;
  return number * factor;
}

}  // namespace

std::optional<std::uint64_t> parseSize(std::string_view text) {
  const std::optional<Quantity> quantity = splitQuantity(text);
  if (!quantity) return std::nullopt;
  std::string_view unit = quantity->unit;
  if (unit.empty()) return quantity->number;
  if (unit.front() == ' ') unit.remove_prefix(1);
  const std::optional<std::uint64_t> factor = factorOf(unit, kSizeUnits);
  if (!factor) return std::nullopt;  // also catches "32 " and "32  MiB"
  return multiply(quantity->number, *factor, std::numeric_limits<std::uint64_t>::max());
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  const std::optional<Quantity> quantity = splitQuantity(text);
  if (!quantity) return std::nullopt;
  if (quantity->unit.empty()) {
    // Zero is zero in any unit; any other bare number is ambiguous, so it needs one.
    if (quantity->number != 0) return std::nullopt;
    return std::chrono::milliseconds::zero();
  }
  const std::optional<std::uint64_t> factor = factorOf(quantity->unit, kDurationUnits);
  if (!factor) return std::nullopt;
  using Rep = std::chrono::milliseconds::rep;
  const std::optional<std::uint64_t> millis =
      multiply(quantity->number, *factor, std::numeric_limits<Rep>::max());
  if (!millis) return std::nullopt;
  return std::chrono::milliseconds(static_cast<Rep>(*millis));
}

bool isOversizedDuration(std::string_view text) {
  const std::size_t digits = text.find_first_not_of("0123456789");
  if (digits == 0 || digits == std::string_view::npos) return false;
  return factorOf(text.substr(digits), kDurationUnits).has_value() && !parseDuration(text);
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

}  // namespace pcap_recorder::config
