#include "sidecar_hash.hpp"

#include <stdexcept>

namespace pcap_recorder::shipd {

std::filesystem::path sidecarPathFor(const std::filesystem::path& file) {
  return file.string() + ".json";
}

std::optional<std::string> sidecarSha256(const std::string& json) {
  // The daemon's sidecar has one key a line in a fixed form ("sha256": "..."), and a hex digest
  // needs no JSON escapes, so a full JSON parser would add nothing here.
  constexpr std::string_view kKey = "\"sha256\":";
  const auto key = json.find(kKey);
  if (key == std::string::npos) return std::nullopt;
  const auto open = json.find_first_not_of(" \t", key + kKey.size());
  if (open == std::string::npos || json[open] != '"') {
    throw std::runtime_error("its sha256 is not a string");
  }
  const auto close = json.find('"', open + 1);
  if (close == std::string::npos) throw std::runtime_error("its sha256 is not a string");
  const std::string value = json.substr(open + 1, close - open - 1);
  if (value.empty()) return std::nullopt;
  if (value.size() != 64 || value.find_first_not_of("0123456789abcdef") != std::string::npos) {
    throw std::runtime_error("its sha256 '" + value + "' is not 64 lower-case hex digits");
  }
  return value;
}

}  // namespace pcap_recorder::shipd
