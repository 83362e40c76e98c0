// Turning the `file_name` template into a file name: strftime conversions in UTC, plus
// {interface} and {seq}. Pure functions; the clock is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace pcap_recorder::rotation {

// {seq} is written with at least this many digits, so names sort in order.
inline constexpr int kSequenceDigits = 6;

// Expands `pattern` for one file of `interface`: {interface} becomes the name, {seq} the file's
// sequence number within this run (zero-padded), and strftime conversions take `openedAt` in UTC.
std::string expandFileName(std::string_view pattern, std::string_view interface,
                           std::uint64_t sequence, std::chrono::system_clock::time_point openedAt);

}  // namespace pcap_recorder::rotation
