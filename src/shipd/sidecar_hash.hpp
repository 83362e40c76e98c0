// The sidecar NAME.json pcap-recorderd writes beside each finished file (service/sidecar.hpp):
// the SHA-256 of the file's bytes as stored, so the shipper need not read a file twice (once to
// hash it, once to send it). The shipper still hashes what it sends and fails the file when the
// two differ.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace pcap_recorder::shipd {

// "x.pcap" -> "x.pcap.json".
std::filesystem::path sidecarPathFor(const std::filesystem::path& file);

// The `sha256` of the sidecar text: 64 lower-case hex digits, or nothing when the key is missing
// or empty (the daemon could not compute it). Throws std::runtime_error for a value that is not
// a SHA-256.
std::optional<std::string> sidecarSha256(const std::string& json);

}  // namespace pcap_recorder::shipd
