#include "pcap_recorder/ship/object_key.hpp"

#include <ctime>
#include <stdexcept>
#include <string>
#include <vector>

namespace pcap_recorder::ship {
namespace {

// S3's limit on a key, in bytes.
constexpr std::size_t kMaxKeyBytes = 1024;
// strftime conversions whose output has no '/' and no whitespace (see rotation/file_naming.hpp).
constexpr std::string_view kTimeConversions = "aAbBCdFgGhHIjmMpsSuUVwWyYzZ%";

std::string formatTime(char conversion, const std::tm& utc) {
  const char format[] = {'%', conversion, '\0'};
  char buffer[64];
  const std::size_t length = std::strftime(buffer, sizeof buffer, format, &utc);
  return std::string(buffer, length);
}

std::string expand(std::string_view prefix, const KeyFields& fields) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(fields.finishedAt);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::string out;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char c = prefix[i];
    if (c == '%') {
      if (i + 1 >= prefix.size() ||
          kTimeConversions.find(prefix[i + 1]) == std::string_view::npos) {
        throw std::invalid_argument(
            "'%" + std::string(prefix.substr(i + 1, 1)) +
            "' is not an allowed time conversion (allowed: %" +
            std::string(kTimeConversions.substr(0, kTimeConversions.size() - 1)) + ")");
      }
      // Not strftime's %s: glibc computes it with mktime(), which reads the fields as local time.
      const char conversion = prefix[++i];
      out += conversion == 's' ? std::to_string(seconds) : formatTime(conversion, utc);
    } else if (c == '{') {
      const auto close = prefix.find('}', i);
      if (close == std::string_view::npos) throw std::invalid_argument("has an unclosed '{'");
      const std::string_view name = prefix.substr(i, close - i + 1);
      if (name == "{host}") {
        out += fields.host;
      } else if (name == "{interface}") {
        out += fields.interface;
      } else {
        throw std::invalid_argument("uses " + std::string(name) +
                                    ", which is not a placeholder ({host}, {interface})");
      }
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

// Joins the non-empty '/'-separated segments of `parts`, checking each.
std::string joinSegments(const std::vector<std::string_view>& parts) {
  std::string key;
  for (std::string_view part : parts) {
    std::size_t start = 0;
    while (start <= part.size()) {
      const auto slash = std::min(part.find('/', start), part.size());
      const std::string_view segment = part.substr(start, slash - start);
      start = slash + 1;
      if (segment.empty()) continue;
      if (segment == "." || segment == "..") {
        throw std::invalid_argument("makes a key with a '" + std::string(segment) + "' segment");
      }
      for (unsigned char c : segment) {
        if (c < 0x20 || c == 0x7f)
          throw std::invalid_argument("makes a key with control characters");
      }
      if (!key.empty()) key += '/';
      key += segment;
    }
  }
  if (key.empty()) throw std::invalid_argument("makes an empty key");
  if (key.size() > kMaxKeyBytes) {
    throw std::invalid_argument("makes a key of " + std::to_string(key.size()) +
                                " bytes (S3 allows " + std::to_string(kMaxKeyBytes) + ")");
  }
  return key;
}

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string percentEncode(std::string_view text, bool keepSlash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (unreserved(c) || (keepSlash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

}  // namespace

std::string objectKey(std::string_view prefix, const KeyFields& fields, std::string_view fileName) {
  const std::string expanded = expand(prefix, fields);
  return joinSegments({expanded, fileName});
}

std::string keyPrefixProblem(std::string_view prefix) {
  try {
    expand(prefix, KeyFields{"host", "eth0", {}});
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return {};
}

std::string encodeKeyForUrl(std::string_view key) {
  return percentEncode(key, true);
}

std::string encodeQueryValue(std::string_view value) {
  return percentEncode(value, false);
}

}  // namespace pcap_recorder::ship
