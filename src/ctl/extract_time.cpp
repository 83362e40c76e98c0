#include "extract_time.hpp"

#include <cctype>
#include <ctime>

namespace pcap_recorder::ctl {

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool done() const { return at_ == text_.size(); }
  char peek() const { return done() ? '\0' : text_[at_]; }
  bool accept(char c) {
    if (peek() != c) return false;
    ++at_;
    return true;
  }
  // Exactly `digits` decimal digits.
  std::optional<int> fixed(int digits) {
    int value = 0;
    for (int i = 0; i < digits; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(peek()))) return std::nullopt;
      value = value * 10 + (text_[at_++] - '0');
    }
    return value;
  }
  // One or more digits as an integer (bounded), and their count.
  std::optional<std::int64_t> digits(int& count) {
    std::int64_t value = 0;
    count = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      if (value > 1'000'000'000'000'000) return std::nullopt;
      value = value * 10 + (text_[at_++] - '0');
      ++count;
    }
    if (count == 0) return std::nullopt;
    return value;
  }
  // `.fraction` as nanoseconds (digits past the ninth ignored); 0 when absent.
  std::optional<std::int64_t> fraction() {
    if (!accept('.')) return 0;
    std::int64_t value = 0;
    int count = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      if (count < 9) value = value * 10 + (text_[at_] - '0');
      ++at_;
      ++count;
    }
    if (count == 0) return std::nullopt;
    for (int i = count; i < 9; ++i) value *= 10;
    return value;
  }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
};

std::optional<std::int64_t> relative(std::string_view text, std::int64_t nowNs) {
  Cursor cursor(text.substr(1));
  int count;
  const auto whole = cursor.digits(count);
  if (!whole) return std::nullopt;
  const auto fraction = cursor.fraction();
  if (!fraction) return std::nullopt;
  std::int64_t unit;
  switch (cursor.peek()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = 7 * 86400;
      break;
    default:
      return std::nullopt;
  }
  cursor.accept(cursor.peek());
  // At most a century back: beyond that the nanoseconds would not fit.
  if (!cursor.done() || *whole > 100 * 365 * 86400ll / unit) return std::nullopt;
  return nowNs - (*whole * kSecond + *fraction) * unit;
}

std::optional<std::int64_t> epoch(std::string_view text) {
  Cursor cursor(text.substr(1));
  int count;
  const auto seconds = cursor.digits(count);
  if (!seconds || *seconds > 1ll << 34) return std::nullopt;
  const auto fraction = cursor.fraction();
  if (!fraction || !cursor.done()) return std::nullopt;
  return *seconds * kSecond + *fraction;
}

std::optional<std::int64_t> calendar(std::string_view text) {
  Cursor cursor(text);
  std::tm fields{};
  const auto year = cursor.fixed(4);
  if (!year || !cursor.accept('-')) return std::nullopt;
  const auto month = cursor.fixed(2);
  if (!month || !cursor.accept('-')) return std::nullopt;
  const auto day = cursor.fixed(2);
  if (!day || *month < 1 || *month > 12 || *day < 1 || *day > 31) return std::nullopt;
  fields.tm_year = *year - 1900;
  fields.tm_mon = *month - 1;
  fields.tm_mday = *day;
  std::int64_t nanoseconds = 0;
  if (cursor.accept('T') || cursor.accept('t') || cursor.accept(' ')) {
    const auto hour = cursor.fixed(2);
    if (!hour || !cursor.accept(':')) return std::nullopt;
    const auto minute = cursor.fixed(2);
    if (!minute || *hour > 23 || *minute > 59) return std::nullopt;
    fields.tm_hour = *hour;
    fields.tm_min = *minute;
    if (cursor.accept(':')) {
      const auto second = cursor.fixed(2);
      if (!second || *second > 60) return std::nullopt;
      fields.tm_sec = *second;
      const auto fraction = cursor.fraction();
      if (!fraction) return std::nullopt;
      nanoseconds = *fraction;
    }
  }
  std::time_t seconds;
  if (cursor.done()) {
    fields.tm_isdst = -1;  // local time, daylight saving time as it was then
    seconds = std::mktime(&fields);
    if (seconds == -1) return std::nullopt;
  } else {
    int offsetMinutes = 0;
    if (cursor.accept('Z') || cursor.accept('z')) {
    } else if (cursor.peek() == '+' || cursor.peek() == '-') {
      const int sign = cursor.peek() == '-' ? -1 : 1;
      cursor.accept(cursor.peek());
      const auto hours = cursor.fixed(2);
      if (!hours || !cursor.accept(':')) return std::nullopt;
      const auto minutes = cursor.fixed(2);
      if (!minutes || *hours > 23 || *minutes > 59) return std::nullopt;
      offsetMinutes = sign * (*hours * 60 + *minutes);
    } else {
      return std::nullopt;
    }
    if (!cursor.done()) return std::nullopt;
    seconds = ::timegm(&fields) - offsetMinutes * 60;
  }
  return std::int64_t{seconds} * kSecond + nanoseconds;
}

}  // namespace

std::optional<std::int64_t> parseTime(std::string_view text, std::int64_t nowNs,
                                      std::string& error) {
  std::optional<std::int64_t> value;
  if (text == "now") {
    value = nowNs;
  } else if (text.starts_with('-')) {
    value = relative(text, nowNs);
  } else if (text.starts_with('@')) {
    value = epoch(text);
  } else {
    value = calendar(text);
  }
  if (!value) {
    error = "invalid time '" + std::string(text) +
            "': use RFC 3339 (2026-12-01T10:00:00Z), local 2026-12-01 10:00:00, @EPOCH, now or "
            "-15m/-2h/-1d";
  }
  return value;
}

}  // namespace pcap_recorder::ctl
