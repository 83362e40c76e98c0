#include "pcap_recorder/rotation/file_naming.hpp"

#include <ctime>
#include <string>
#include <vector>

namespace pcap_recorder::rotation {

namespace {

// Text substituted for a placeholder must reach strftime as plain text: double every '%'.
std::string escapedForStrftime(std::string_view text) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '%') out += '%';
  }
  return out;
}

std::string replaceAll(std::string text, std::string_view token, const std::string& value) {
  for (auto at = text.find(token); at != std::string::npos;
       at = text.find(token, at + value.size())) {
    text.replace(at, token.size(), value);
  }
  return text;
}

}  // namespace

std::string expandFileName(std::string_view pattern, std::string_view interface,
                           std::uint64_t sequence, std::chrono::system_clock::time_point openedAt) {
  std::string sequenceText = std::to_string(sequence);
  if (sequenceText.size() < kSequenceDigits) {
    sequenceText.insert(0, kSequenceDigits - sequenceText.size(), '0');
  }
  std::string format =
      replaceAll(std::string(pattern), "{interface}", escapedForStrftime(interface));
  format = replaceAll(std::move(format), "{seq}", sequenceText);

  const std::time_t seconds = std::chrono::system_clock::to_time_t(openedAt);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  // strftime gives 0 both for "too small" and for an empty result; grow until it fits.
  std::vector<char> buffer(format.size() * 4 + 64);
  for (;;) {
    const std::size_t length = std::strftime(buffer.data(), buffer.size(), format.c_str(), &utc);
    if (length > 0 || format.empty()) return std::string(buffer.data(), length);
    if (buffer.size() > 65536) return std::string();
    buffer.resize(buffer.size() * 2);
  }
}

}  // namespace pcap_recorder::rotation
