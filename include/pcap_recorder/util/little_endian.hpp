// Unsigned integers stored least significant byte first, as the file formats we write and read
// fix them (zstd's seek table, the .idx index), whatever the host's own byte order.
#pragma once

#include <concepts>
#include <cstddef>
#include <type_traits>
#include <vector>

namespace pcap_recorder::util {

// The T whose sizeof(T) bytes start at `at`, least significant first. `at` need not be aligned.
template <std::unsigned_integral T>
constexpr T loadLittleEndian(const std::byte* at) noexcept {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<T>(static_cast<T>(std::to_integer<unsigned char>(at[i])) << (8 * i));
  }
  return value;
}

// Appends the sizeof(T) bytes of `value` to `out`, least significant first. T is named at each
// call (not deduced), so that the field's width is the format's, never the argument's type.
template <std::unsigned_integral T>
void appendLittleEndian(std::vector<std::byte>& out, std::type_identity_t<T> value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<std::byte>(static_cast<unsigned char>(value >> (8 * i))));
  }
}

}  // namespace pcap_recorder::util
