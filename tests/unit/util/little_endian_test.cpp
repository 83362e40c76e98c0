#include "pcap_recorder/util/little_endian.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

namespace pcap_recorder::util {
namespace {

std::vector<std::byte> bytes(std::initializer_list<unsigned char> values) {
  std::vector<std::byte> out;
  for (const auto value : values) out.push_back(std::byte{value});
  return out;
}

TEST(LittleEndian, AppendsTheLeastSignificantByteFirstInTheNamedWidth) {
  std::vector<std::byte> out;
  appendLittleEndian<std::uint32_t>(out, 0x184D2A5Eu);
  EXPECT_EQ(out, bytes({0x5E, 0x2A, 0x4D, 0x18}));
  appendLittleEndian<std::uint64_t>(out, 0x0102030405060708u);
  EXPECT_EQ(out, bytes({0x5E, 0x2A, 0x4D, 0x18, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}));
  appendLittleEndian<std::uint16_t>(out, 0xBEEF);
  EXPECT_EQ(out.size(), 14u);
  EXPECT_EQ(out[12], std::byte{0xEF});
  EXPECT_EQ(out[13], std::byte{0xBE});
}

TEST(LittleEndian, LoadsFromAnyOffsetWhatAppendWrote) {
  const auto stored =
      bytes({0xFF, 0xB1, 0xEA, 0x92, 0x8F, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(loadLittleEndian<std::uint32_t>(stored.data() + 1), 0x8F92EAB1u);  // unaligned
  EXPECT_EQ(loadLittleEndian<std::uint16_t>(stored.data()), 0xB1FFu);
  EXPECT_EQ(loadLittleEndian<std::uint64_t>(stored.data() + 4), 0x808Fu);
  for (const std::uint64_t value :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{0x8000000000000000u},
        std::uint64_t{0xFFFFFFFFFFFFFFFFu}, std::uint64_t{0x0123456789ABCDEFu}}) {
    std::vector<std::byte> out;
    appendLittleEndian<std::uint64_t>(out, value);
    EXPECT_EQ(loadLittleEndian<std::uint64_t>(out.data()), value);
  }
}

TEST(LittleEndian, LoadsAtCompileTime) {
  constexpr std::array<std::byte, 4> stored{std::byte{0x78}, std::byte{0x56}, std::byte{0x34},
                                            std::byte{0x12}};
  static_assert(loadLittleEndian<std::uint32_t>(stored.data()) == 0x12345678u);
}

}  // namespace
}  // namespace pcap_recorder::util
