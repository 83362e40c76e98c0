#include "pcap_recorder/ship/digest.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "pcap_recorder/ship/uploader.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::ship {
namespace {

std::span<const char> bytes(std::string_view text) {
  return {text.data(), text.size()};
}

TEST(Digest, KnownValues) {
  EXPECT_EQ(toHex(sha256(bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(toHex(md5(bytes(""))), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(toBase64(md5(bytes(""))), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(fromHex("00ff7A", 3), std::string("\x00\xff\x7a", 3));
  EXPECT_EQ(fromHex("0g", 1), "");
}

TEST(Digest, AFileHashesAsItsBytes) {
  testing::TempDir dir;
  std::string content(3 << 20, 'x');
  content[12345] = 'y';
  std::ofstream(dir / "f", std::ios::binary) << content;
  EXPECT_EQ(sha256OfFile(dir / "f"), sha256(content));
}

TEST(Digest, AMultipartEtagIsTheMd5OfThePartsMd5sAndTheirCount) {
  // As S3 computes it: md5(md5(part1) || md5(part2)) "-2".
  const Md5Digest a = md5(bytes("part one"));
  const Md5Digest b = md5(bytes("part two"));
  std::string joined(a.begin(), a.end());
  joined.append(b.begin(), b.end());
  EXPECT_EQ(multipartEtag({a, b}), toHex(md5(joined)) + "-2");
}

TEST(Digest, PartsGrowOnlyWhereTenThousandWouldNotHoldTheFile) {
  EXPECT_EQ(partSizeFor(1 << 30, 16 << 20), 16u << 20);
  EXPECT_EQ(partSizeFor(200ull << 30, 16 << 20), ((200ull << 30) + 9999) / 10000);
}

}  // namespace
}  // namespace pcap_recorder::ship
