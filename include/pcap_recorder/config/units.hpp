// Human-friendly quantities in the config: sizes ("32MiB", "1GB", "4096") and durations ("1h").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pcap_recorder::config {

// Bytes, or a number followed by B, kB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB (powers of
// 1024); an optional space between. nullopt when unparsable or when it overflows 64 bits.
std::optional<std::uint64_t> parseSize(std::string_view text);

// The shortest exact spelling parseSize() reads back: "32MiB", "1GiB", "1000".
std::string formatSize(std::uint64_t bytes);

// A whole number followed by ms, s, m, h or d; a bare "0" means zero. nullopt when unparsable.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);

// True for a well-formed duration that parseDuration() refuses only for its size (more
// milliseconds than 64 bits hold), so the message can say "too large" rather than "not a duration".
bool isOversizedDuration(std::string_view text);

}  // namespace pcap_recorder::config
