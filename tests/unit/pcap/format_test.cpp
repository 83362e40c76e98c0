#include "pcap_recorder/pcap/format.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <cstring>
#include <vector>

namespace pcap_recorder::pcap {
namespace {

std::vector<std::byte> bytesOf(const void* data, std::size_t size) {
  std::vector<std::byte> out(size);
  std::memcpy(out.data(), data, size);
  return out;
}

std::vector<std::byte> hex(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(std::byte(v));
  return out;
}

std::vector<std::byte> sampleFrame(std::size_t size) {
  std::vector<std::byte> frame(size);
  for (std::size_t i = 0; i < size; ++i) frame[i] = std::byte(i);
  return frame;
}

std::vector<std::byte> encode(const Frame& frame, std::uint32_t snaplen, TimestampUnit unit) {
  std::vector<std::byte> out(encodedSize(frame, snaplen));
  std::byte* end = encodeRecord(frame, snaplen, unit, out.data());
  EXPECT_EQ(end, out.data() + out.size());
  return out;
}

// The tests run on little-endian x86_64, where host order is what these golden bytes show.
TEST(PcapFormat, FileHeaderIsByteExactForMicroseconds) {
  const auto header = makeFileHeader(TimestampUnit::microseconds, 262144);
  EXPECT_EQ(bytesOf(&header, sizeof header),
            hex({0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00, 0,    0,    0,    0,
                 0,    0,    0,    0,    0x00, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00}));
}

TEST(PcapFormat, FileHeaderUsesTheNanosecondMagicForNanoseconds) {
  const auto header = makeFileHeader(TimestampUnit::nanoseconds, 128);
  EXPECT_EQ(header.magic, 0xA1B23C4Du);
  EXPECT_EQ(header.snaplen, 128u);
  EXPECT_EQ(header.linkType, 1u);
}

TEST(PcapFormat, RecordIsByteExactWithMicrosecondTimestamp) {
  const auto data = sampleFrame(4);
  const Frame frame{
      .seconds = 0x01020304, .nanoseconds = 5'006'007, .wireLength = 60, .data = data};
  EXPECT_EQ(encode(frame, 262144, TimestampUnit::microseconds),
            hex({0x04, 0x03, 0x02, 0x01,  // seconds
                 0x8e, 0x13, 0x00, 0x00,  // 5006 microseconds
                 0x04, 0x00, 0x00, 0x00,  // incl_len
                 0x3c, 0x00, 0x00, 0x00,  // orig_len 60
                 0x00, 0x01, 0x02, 0x03}));
}

TEST(PcapFormat, RecordKeepsNanosecondsInNanosecondFiles) {
  const auto data = sampleFrame(60);
  const Frame frame{.seconds = 7, .nanoseconds = 999'999'999, .wireLength = 60, .data = data};
  const auto record = encode(frame, 262144, TimestampUnit::nanoseconds);
  RecordHeader header;
  std::memcpy(&header, record.data(), sizeof header);
  EXPECT_EQ(header.fraction, 999'999'999u);
}

TEST(PcapFormat, SnaplenCutsIncludedLengthButKeepsOriginalLength) {
  const auto data = sampleFrame(200);
  const Frame frame{.wireLength = 1500, .data = data};
  const auto record = encode(frame, 64, TimestampUnit::microseconds);
  RecordHeader header;
  std::memcpy(&header, record.data(), sizeof header);
  EXPECT_EQ(header.includedLength, 64u);
  EXPECT_EQ(header.originalLength, 1500u);
  EXPECT_EQ(record.size(), 16u + 64u);
  EXPECT_EQ(std::vector<std::byte>(record.begin() + 16, record.end()),
            std::vector<std::byte>(data.begin(), data.begin() + 64));
}

TEST(PcapFormat, StrippedVlanTagIsPutBackAfterTheMacAddresses) {
  const auto data = sampleFrame(60);
  const Frame frame{.wireLength = 60,
                    .data = data,
                    .hasVlanTag = true,
                    .vlanTag = {.tpid = 0x8100, .tci = 0x2064}};
  const auto record = encode(frame, 262144, TimestampUnit::microseconds);
  RecordHeader header;
  std::memcpy(&header, record.data(), sizeof header);
  EXPECT_EQ(header.includedLength, 64u);
  EXPECT_EQ(header.originalLength, 64u);
  std::vector<std::byte> expected(data.begin(), data.begin() + 12);
  for (auto b : hex({0x81, 0x00, 0x20, 0x64})) expected.push_back(b);
  expected.insert(expected.end(), data.begin() + 12, data.end());
  EXPECT_EQ(std::vector<std::byte>(record.begin() + 16, record.end()), expected);
}

TEST(PcapFormat, SnaplenInsideTheVlanTagCutsTheTagToo) {
  const auto data = sampleFrame(60);
  const Frame frame{
      .wireLength = 60, .data = data, .hasVlanTag = true, .vlanTag = {.tpid = 0x88a8, .tci = 5}};
  const auto record = encode(frame, 14, TimestampUnit::microseconds);
  ASSERT_EQ(record.size(), 16u + 14u);
  EXPECT_EQ(record[16 + 12], std::byte{0x88});
  EXPECT_EQ(record[16 + 13], std::byte{0xa8});
}

// The writer writes large frames as a head it builds and the rest from where the frame is: the
// two together must be exactly the record encodeRecord() builds, tag, snaplen and all.
TEST(PcapFormat, HeadAndRestOfASplitRecordAreTheWholeRecord) {
  for (const std::size_t size : {0, 5, 12, 13, 16, 60, 1514}) {
    const auto data = sampleFrame(size);
    for (const bool tagged : {false, true}) {
      for (const std::uint32_t snaplen : {10u, 14u, 16u, 17u, 64u, 262144u}) {
        const Frame frame{.seconds = 9,
                          .nanoseconds = 1234,
                          .wireLength = static_cast<std::uint32_t>(size),
                          .data = data,
                          .hasVlanTag = tagged,
                          .vlanTag = {.tpid = 0x8100, .tci = 42}};
        std::byte head[kMaxRecordHeadBytes];
        const SplitRecord split =
            encodeRecordHead(frame, snaplen, TimestampUnit::nanoseconds, head);
        ASSERT_LE(split.headBytes, kMaxRecordHeadBytes);
        std::vector<std::byte> joined(head, head + split.headBytes);
        joined.insert(joined.end(), split.rest.begin(), split.rest.end());
        EXPECT_EQ(joined, encode(frame, snaplen, TimestampUnit::nanoseconds))
            << "frame " << size << " B, tagged " << tagged << ", snaplen " << snaplen;
        if (!split.rest.empty()) {
          EXPECT_GE(split.rest.data(), data.data()) << "the rest must be read from the frame";
          EXPECT_LE(split.rest.data() + split.rest.size(), data.data() + data.size());
        }
      }
    }
  }
}

}  // namespace
}  // namespace pcap_recorder::pcap
