// The index file: blocks cover every record with their time ranges, it reads back as written, a
// damaged, stale or foreign index is refused, and it stays small against the pcap.
#include "pcap_recorder/index/file_index.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <fstream>
#include <random>

#include "pcap_recorder/index/packet_keys.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/file_bytes.hpp"
#include "support/temp_dir.hpp"
#include "support/traffic.hpp"

namespace pcap_recorder::index {
namespace {

namespace fs = std::filesystem;

struct Built {
  FileIndex index;
  std::uint64_t pcapBytes;
};

Built indexOf(const fs::path& path) {
  util::UniqueFd fd(::open(path.c_str(), O_RDONLY));
  std::string problem;
  const auto info = readPcapHeader(fd.get(), problem);
  EXPECT_TRUE(info) << problem;
  const auto bytes = fs::file_size(path);
  return {buildIndex(fd.get(), *info, bytes), bytes};
}

// `count` frames of `frameBytes` between `hosts` IPv4 hosts, 1 ms apart.
std::vector<testing::StoredRecord> traffic(int count, std::size_t frameBytes, std::uint32_t hosts) {
  std::vector<testing::StoredRecord> records;
  std::mt19937_64 random(7);
  for (int i = 0; i < count; ++i) {
    testing::PacketSpec spec;
    spec.protocol = 6;
    const std::uint32_t a = 0x0a000000 + static_cast<std::uint32_t>(random() % hosts);
    const std::uint32_t b = 0x0a000000 + static_cast<std::uint32_t>(random() % hosts);
    for (int k = 0; k < 4; ++k) {
      spec.source[k] = static_cast<std::uint8_t>(a >> (24 - 8 * k));
      spec.destination[k] = static_cast<std::uint8_t>(b >> (24 - 8 * k));
    }
    spec.sourcePort = static_cast<std::uint16_t>(1024 + random() % 60000);
    spec.destinationPort = 443;
    spec.frameBytes = frameBytes;
    records.push_back(testing::record(spec, 1'700'000'000'000'000'000ull + i * 1'000'000ull));
  }
  return records;
}

TEST(FileIndexTest, BlocksCoverEveryRecordInOrderWithTheirTimeRanges) {
  testing::TempDir dir;
  const auto records = traffic(10000, 300, 50);
  testing::writeFile(dir / "a.pcap", testing::pcapFileBytes(records, true));
  const auto [index, bytes] = indexOf(dir / "a.pcap");
  ASSERT_GT(index.blocks.size(), 2u);  // 4096 records per block at most
  EXPECT_EQ(index.header.records, 10000u);
  EXPECT_EQ(index.header.pcapBytes, bytes);
  EXPECT_EQ(index.header.minTimeNs, records.front().timeNs);
  EXPECT_EQ(index.header.maxTimeNs, records.back().timeNs);
  std::uint64_t offset = 24;
  std::uint64_t seen = 0;
  for (const auto& block : index.blocks) {
    EXPECT_EQ(block.offset, offset);
    EXPECT_LE(block.records, kBlockRecords);
    EXPECT_EQ(block.minTimeNs, records[seen].timeNs);
    EXPECT_EQ(block.maxTimeNs, records[seen + block.records - 1].timeNs);
    seen += block.records;
    offset = block.endOffset;
  }
  EXPECT_EQ(seen, 10000u);
  EXPECT_EQ(offset, bytes);
}

// An index of version 1 (before the keys of fields captured in part) still gives the file's time
// range, read from its header alone; its blocks are not used: the whole index reads as stale.
TEST(FileIndexTest, AVersionOneIndexGivesItsTimeRangeButNotItsBlocks) {
  testing::TempDir dir;
  testing::writeFile(dir / "a.pcap", testing::pcapFileBytes(traffic(100, 200, 20), false));
  const auto written = indexFile(dir / "a.pcap");
  auto bytes = serialize(written);
  bytes[8] = std::byte{1};  // the version, little-endian; then the header's CRC again
  const std::uint32_t crc = crc32(std::span(bytes).first(92));
  for (int i = 0; i < 4; ++i) bytes[92 + i] = static_cast<std::byte>(crc >> (8 * i));
  const auto indexPath = indexPathFor(dir / "a.pcap");
  testing::writeFile(indexPath, bytes);
  std::string problem;
  const auto header = readIndexHeader(indexPath, problem);
  ASSERT_TRUE(header) << problem;
  EXPECT_EQ(header->version, 1u);
  EXPECT_EQ(header->minTimeNs, written.header.minTimeNs);
  EXPECT_EQ(header->maxTimeNs, written.header.maxTimeNs);
  EXPECT_FALSE(readIndex(indexPath, problem));
  EXPECT_NE(problem.find("version 1"), std::string::npos) << problem;
  bytes[8] = std::byte{3};
  testing::writeFile(indexPath, bytes);
  problem.clear();
  EXPECT_FALSE(readIndexHeader(indexPath, problem)) << "a version from the future";
}

TEST(FileIndexTest, ReadsBackAsWrittenAndRefusesADamagedOrStaleIndex) {
  testing::TempDir dir;
  testing::writeFile(dir / "a.pcap", testing::pcapFileBytes(traffic(5000, 200, 20), false));
  const auto written = indexFile(dir / "a.pcap");
  const auto indexPath = indexPathFor(dir / "a.pcap");
  EXPECT_EQ(indexPath, dir / "a.pcap.idx");
  std::string problem;
  const auto read = readIndex(indexPath, problem);
  ASSERT_TRUE(read) << problem;
  EXPECT_EQ(serialize(*read), serialize(written));
  ASSERT_EQ(read->blocks.size(), written.blocks.size());
  EXPECT_EQ(read->blocks[1].bloom, written.blocks[1].bloom);

  auto bytes = serialize(written);
  for (const std::size_t at :
       {std::size_t{3}, std::size_t{40}, bytes.size() / 2, bytes.size() - 1}) {
    auto damaged = bytes;
    damaged[at] ^= std::byte{0x40};
    testing::writeFile(indexPath, damaged);
    problem.clear();
    EXPECT_FALSE(readIndex(indexPath, problem)) << "byte " << at;
    EXPECT_FALSE(problem.empty());
  }
  bytes.resize(bytes.size() - 100);
  testing::writeFile(indexPath, bytes);
  problem.clear();
  EXPECT_FALSE(readIndex(indexPath, problem));
  problem.clear();
  EXPECT_FALSE(readIndex(dir / "missing.idx", problem));
  EXPECT_EQ(problem, "missing");

  // The pcap grown (or replaced) since: the index no longer describes it.
  util::UniqueFd fd(::open((dir / "a.pcap").c_str(), O_RDONLY));
  const auto info = readPcapHeader(fd.get(), problem);
  ASSERT_TRUE(info);
  const auto size = fs::file_size(dir / "a.pcap");
  EXPECT_TRUE(describes(written.header, *info, size));
  EXPECT_FALSE(describes(written.header, *info, size + 100));
  auto other = *info;
  other.rawHeader[16] ^= std::byte{1};  // another snaplen
  EXPECT_FALSE(describes(written.header, other, size));
}

TEST(FileIndexTest, BlockSummariesHoldEveryKeyOfTheirFrames) {
  testing::TempDir dir;
  const auto records = traffic(3000, 100, 1000);
  testing::writeFile(dir / "a.pcap", testing::pcapFileBytes(records, false));
  const auto [index, bytes] = indexOf(dir / "a.pcap");
  std::size_t at = 0;
  for (const auto& block : index.blocks) {
    for (std::uint32_t i = 0; i < block.records; ++i, ++at) {
      const auto& data = records[at].data;
      const std::uint32_t source = std::to_integer<std::uint32_t>(data[26]) << 24 |
                                   std::to_integer<std::uint32_t>(data[27]) << 16 |
                                   std::to_integer<std::uint32_t>(data[28]) << 8 |
                                   std::to_integer<std::uint32_t>(data[29]);
      ASSERT_TRUE(block.mayContain(ipv4KeyHash(KeyKind::ipv4, source)));
      ASSERT_TRUE(block.mayContain(numberKeyHash(KeyKind::port, 443)));
      ASSERT_TRUE(block.mayContain(numberKeyHash(KeyKind::protocol, 6)));
    }
  }
  // A key absent from the file is reported present only at the Bloom filter's rate (~1 %).
  int falsePositives = 0;
  for (std::uint32_t host = 0; host < 1000; ++host) {
    falsePositives += index.blocks[0].mayContain(ipv4KeyHash(KeyKind::ipv4, 0x0b000000 + host));
  }
  EXPECT_LT(falsePositives, 30);
}

// docs/index-format.md: at most 2 % of the pcap for 1514-byte frames, few or many hosts.
TEST(FileIndexTest, StaysUnderTwoPercentOfThePcapFor1514ByteFrames) {
  testing::TempDir dir;
  for (const std::uint32_t hosts : {10u, 20000u}) {
    testing::writeFile(dir / "a.pcap", testing::pcapFileBytes(traffic(20000, 1514, hosts), false));
    const auto [index, bytes] = indexOf(dir / "a.pcap");
    const double share = static_cast<double>(serialize(index).size()) / static_cast<double>(bytes);
    EXPECT_LT(share, 0.02) << hosts << " hosts";
    RecordProperty(("index_share_" + std::to_string(hosts) + "_hosts").c_str(),
                   std::to_string(share));
  }
}

}  // namespace
}  // namespace pcap_recorder::index
