// Whole files as bytes, for tests that write an input file and read what became of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace pcap_recorder::testing {

// Compressible but not trivially: repeated 64-byte records whose first 16 bytes are random (from
// `seed`) and the rest a counter, like captured traffic.
std::vector<std::byte> sampleBytes(std::size_t size, std::uint32_t seed = 7);

// Creates or truncates `path` and writes `bytes` to it.
void writeFile(const std::filesystem::path& path, std::span<const std::byte> bytes);

// Everything in `path` (nothing when it cannot be read).
std::vector<std::byte> readFile(const std::filesystem::path& path);

// Everything in `path` as text (empty when it cannot be read).
std::string readText(const std::filesystem::path& path);

}  // namespace pcap_recorder::testing
