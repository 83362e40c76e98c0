// Where a finished file goes in the bucket: the `ship.prefix` template ({host}, {interface} and
// strftime conversions, UTC) expanded for the file, then its name. Also the percent-encoding of a
// key for a request URL, which SigV4 signs as it is sent (S3 does not re-encode the path).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace pcap_recorder::ship {

// The prefix when `ship.prefix` is not set.
inline constexpr std::string_view kDefaultKeyPrefix = "{host}/{interface}/%Y/%m/%d";

struct KeyFields {
  std::string_view host;
  std::string_view interface;
  std::chrono::system_clock::time_point finishedAt;  // the conversions' time, in UTC
};

// `prefix` expanded, '/', then `fileName`; repeated and outer '/' are dropped, so an empty prefix
// or one ending in '/' makes no empty path segment. Throws std::invalid_argument for a template
// the grammar cannot read (an unknown {placeholder}, a lone '%' or one with a letter strftime
// does not define) or a result that is not a usable key (empty, a "." or ".." segment, over 1024
// bytes, control characters).
std::string objectKey(std::string_view prefix, const KeyFields& fields, std::string_view fileName);

// What is wrong with `prefix` as a template, or empty: for config validation.
std::string keyPrefixProblem(std::string_view prefix);

// `key` with every byte but A-Z a-z 0-9 - . _ ~ and '/' as %XX (upper case hex): the form both
// the request line and the SigV4 canonical URI need.
std::string encodeKeyForUrl(std::string_view key);

// `value` percent-encoded for a query string (the same set, '/' encoded too).
std::string encodeQueryValue(std::string_view value);

}  // namespace pcap_recorder::ship
