// The index built while a file is written (what the recorder writes as NAME.idx) is the index
// built by reading the finished file back, byte for byte, for any traffic: so it is exact (no
// false negatives) exactly as the read-back one is. When the two could differ (records lost to a
// write error) the file is read back instead.
#include "pcap_recorder/index/live_index.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <random>

#include "pcap_recorder/pcap/file_writer.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::index {
namespace {

namespace fs = std::filesystem;

struct Traffic {
  std::uint32_t flows = 4;    // frames repeat the key fields of this many flows
  std::size_t padding = 100;  // random payload bytes after the headers, at most
  int frames = 12000;
};

// Random frames of a few flows. A flow's key values (addresses, ports, VLAN ids) are its own, so a
// key missed for one frame is missing from its block (no other flow has it); the fields that
// change what libpcap reads (header length, fragment offset, protocol, capture length, tags) vary
// from frame to frame within a flow.
class FrameMaker {
 public:
  FrameMaker(std::uint64_t seed, Traffic traffic) : random_(seed), traffic_(traffic) {}

  // A frame of random kind: IPv4 (any header length, fragments, TCP/UDP/SCTP/ICMP), IPv6 (with a
  // fragment header or not), ARP, other, VLAN tags in the frame at any depth, cut anywhere.
  std::vector<std::byte> frame() {
    flow_.seed(pick(traffic_.flows) * 0x9e3779b97f4a7c15ull + 1);
    std::vector<std::uint8_t> bytes(12, 0x02);
    const int tags = pick(10) < 7 ? 0 : pick(10) < 7 ? 1 : 2 + pick(8);
    for (int i = 0; i < tags; ++i) {
      static constexpr std::uint16_t kTypes[] = {0x8100, 0x88a8, 0x9100};
      put16(bytes, kTypes[pick(3)]);
      put16(bytes, static_cast<std::uint16_t>(flowPick(4096)));
    }
    const auto kind = flowPick(20);
    if (kind < 11) {
      ipv4(bytes);
    } else if (kind < 17) {
      ipv6(bytes);
    } else if (kind < 18) {
      put16(bytes, pick(2) ? 0x0806 : 0x8035);
      for (int i = 0; i < 28; ++i) bytes.push_back(static_cast<std::uint8_t>(pick(256)));
      for (const int at : {14, 24}) {
        const auto address = host();
        for (int k = 0; k < 4; ++k) bytes[bytes.size() - 28 + at + k] = address[k];
      }
    } else {
      put16(bytes, static_cast<std::uint16_t>(flowPick(65536)));
    }
    const auto padding = pick(static_cast<std::uint32_t>(traffic_.padding) + 1);
    for (std::uint32_t i = 0; i < padding; ++i) {
      bytes.push_back(static_cast<std::uint8_t>(pick(256)));
    }
    if (pick(8) == 0) bytes.resize(pick(static_cast<std::uint32_t>(bytes.size()) + 1));
    const auto* start = reinterpret_cast<const std::byte*>(bytes.data());
    return {start, start + bytes.size()};
  }

  std::uint32_t pick(std::uint32_t below) { return static_cast<std::uint32_t>(random_() % below); }

 private:
  std::uint32_t flowPick(std::uint32_t below) {
    return static_cast<std::uint32_t>(flow_() % below);
  }
  static void put16(std::vector<std::uint8_t>& bytes, std::uint32_t value) {
    bytes.push_back(static_cast<std::uint8_t>(value >> 8));
    bytes.push_back(static_cast<std::uint8_t>(value));
  }
  std::array<std::uint8_t, 4> host() {
    const std::uint32_t value = static_cast<std::uint32_t>(flow_());
    return {static_cast<std::uint8_t>(value >> 24), static_cast<std::uint8_t>(value >> 16),
            static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)};
  }
  std::uint16_t port() { return static_cast<std::uint16_t>(flowPick(65536)); }
  std::uint8_t protocol() {
    static constexpr std::uint8_t kProtocols[] = {6, 17, 17, 132, 1, 58, 44, 47};
    return kProtocols[pick(4) == 0 ? pick(8) : flowPick(8)];
  }
  void ports(std::vector<std::uint8_t>& bytes) {
    put16(bytes, port());
    put16(bytes, port());
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<std::uint8_t>(pick(256)));
  }
  void ipv4(std::vector<std::uint8_t>& bytes) {
    put16(bytes, 0x0800);
    const std::size_t at = bytes.size();
    const std::uint32_t headerLength = pick(6) == 0 ? pick(16) : 5;
    bytes.resize(at + std::max<std::uint32_t>(20, 4 * headerLength));
    bytes[at] = static_cast<std::uint8_t>(0x40 | headerLength);
    bytes[at + 4] = static_cast<std::uint8_t>(pick(256));  // identification: differs per frame
    const std::uint32_t fragment = pick(6) == 0 ? pick(65536) : pick(2) * 0x4000;
    bytes[at + 6] = static_cast<std::uint8_t>(fragment >> 8);
    bytes[at + 7] = static_cast<std::uint8_t>(fragment);
    bytes[at + 8] = static_cast<std::uint8_t>(pick(256));  // TTL
    bytes[at + 9] = protocol();
    const auto source = host();
    const auto destination = host();
    for (int k = 0; k < 4; ++k) {
      bytes[at + 12 + k] = source[k];
      bytes[at + 16 + k] = destination[k];
    }
    ports(bytes);
  }
  void ipv6(std::vector<std::uint8_t>& bytes) {
    put16(bytes, 0x86dd);
    const std::size_t at = bytes.size();
    bytes.resize(at + 40);
    bytes[at] = 0x60;
    bytes[at + 6] = protocol();
    for (const int field : {8, 24}) {
      for (int k = 0; k < 16; k += 4) {
        const auto part = host();
        for (int i = 0; i < 4; ++i) bytes[at + field + k + i] = part[i];
      }
    }
    if (bytes[at + 6] == 44) {
      bytes.push_back(protocol());
      for (int i = 0; i < 7; ++i) bytes.push_back(static_cast<std::uint8_t>(pick(256)));
    }
    ports(bytes);
  }

  std::mt19937_64 random_;
  std::mt19937_64 flow_;
  Traffic traffic_;
};

struct Written {
  fs::path path;
  LiveIndex live;
};

// Writes random traffic with the recorder's writer, handing every record to a LiveIndex as the
// recorder does; some frames come with a tag the kernel took out, some with a short capture.
Written writeTraffic(const fs::path& directory, pcap::TimestampUnit unit, std::uint32_t snaplen,
                     Traffic traffic, std::uint64_t seed) {
  util::UniqueFd directoryFd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY));
  pcap::PcapFileWriter writer(directoryFd.get(), "t.pcap",
                              {.timestampUnit = unit, .snaplen = snaplen});
  LiveIndex live(unit, snaplen);
  FrameMaker maker(seed, traffic);
  std::uint32_t seconds = 1'800'000'000;
  for (int i = 0; i < traffic.frames; ++i) {
    const auto data = maker.frame();
    pcap::Frame frame{.seconds = seconds,
                      .nanoseconds = maker.pick(1'000'000'000),
                      .wireLength = static_cast<std::uint32_t>(data.size() + 1 + maker.pick(3)),
                      .data = data};
    // Timestamps mostly rise, now and then step back a little.
    if (maker.pick(10) == 0) {
      --seconds;
    } else {
      seconds += maker.pick(2);
    }
    if (maker.pick(5) == 0) {
      frame.hasVlanTag = true;
      frame.vlanTag = {.tpid = maker.pick(2) ? std::uint16_t{0x8100} : std::uint16_t{0x88a8},
                       .tci = static_cast<std::uint16_t>(100 + maker.pick(3))};
    }
    const std::uint64_t offset = writer.bytes();
    EXPECT_TRUE(writer.append(frame));
    live.add(frame, offset);
  }
  const auto summary = writer.finish();
  return {directory / summary.name, std::move(live)};
}

struct Opened {
  util::UniqueFd fd;
  PcapFileInfo info;
  std::uint64_t bytes;
};

Opened open(const fs::path& path) {
  Opened opened{util::UniqueFd(::open(path.c_str(), O_RDONLY)), {}, fs::file_size(path)};
  std::string problem;
  const auto info = readPcapHeader(opened.fd.get(), problem);
  EXPECT_TRUE(info) << problem;
  if (info) opened.info = *info;
  return opened;
}

struct Case {
  pcap::TimestampUnit unit;
  std::uint32_t snaplen;
  Traffic traffic;
};

std::string nameOf(const Case& param) {
  return std::string(param.unit == pcap::TimestampUnit::nanoseconds ? "nano" : "micro") +
         "_snaplen" + std::to_string(param.snaplen) + "_flows" +
         std::to_string(param.traffic.flows) + "_padding" + std::to_string(param.traffic.padding);
}

// Why: gtest would print the bytes of the struct, padding included, into the test's name.
void PrintTo(const Case& param, std::ostream* out) {
  *out << nameOf(param);
}

class LiveIndexTest : public ::testing::TestWithParam<Case> {};

TEST_P(LiveIndexTest, IsTheIndexBuiltByReadingTheFileBack) {
  const auto& param = GetParam();
  for (const std::uint64_t seed : {1, 2, 3}) {
    testing::TempDir dir;
    auto written = writeTraffic(dir.path(), param.unit, param.snaplen, param.traffic, seed);
    const auto file = open(written.path);
    const auto readBack = buildIndex(file.fd.get(), file.info, file.bytes);
    ASSERT_GT(readBack.blocks.size(), 1u);
    const auto live = std::move(written.live).finish(file.info, file.bytes);
    ASSERT_TRUE(live);
    EXPECT_EQ(live->blocks.size(), readBack.blocks.size());
    EXPECT_EQ(live->header.records, readBack.header.records);
    EXPECT_TRUE(serialize(*live) == serialize(readBack)) << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Traffic, LiveIndexTest,
    ::testing::Values(
        // Few flows (the keys are hashed once per flow and block), many, micro and nano,
        // a snaplen that cuts inside the headers, blocks ended by their bytes (1 MiB).
        Case{pcap::TimestampUnit::microseconds, 262144, {.flows = 4}},
        Case{pcap::TimestampUnit::nanoseconds, 262144, {.flows = 4}},
        Case{pcap::TimestampUnit::microseconds, 262144, {.flows = 20000}},
        Case{pcap::TimestampUnit::nanoseconds, 60, {.flows = 8}},
        Case{pcap::TimestampUnit::microseconds, 90, {.flows = 8}},
        Case{pcap::TimestampUnit::microseconds,
             262144,
             {.flows = 8, .padding = 1500, .frames = 3000}}),
    [](const ::testing::TestParamInfo<Case>& info) { return nameOf(info.param); });

TEST(LiveIndexWriteTest, TheFinishedFileIsIndexedFromTheLiveSummaryWhenItDescribesTheFile) {
  testing::TempDir dir;
  auto written = writeTraffic(dir.path(), pcap::TimestampUnit::microseconds, 262144,
                              {.flows = 50, .frames = 5000}, 9);
  EXPECT_TRUE(writeIndexOf(written.path, std::move(written.live)));
  std::string problem;
  const auto saved = readIndex(indexPathFor(written.path), problem);
  ASSERT_TRUE(saved) << problem;
  const auto file = open(written.path);
  EXPECT_TRUE(describes(saved->header, file.info, file.bytes));
  EXPECT_TRUE(serialize(*saved) == serialize(buildIndex(file.fd.get(), file.info, file.bytes)));
}

// Records the summary holds but the file does not (a write error cut them off), another timestamp
// unit, or no summary at all: the file is read back, and the index still describes it.
TEST(LiveIndexWriteTest, AFileTheLiveSummaryDoesNotDescribeIsReadBack) {
  for (int variant = 0; variant < 3; ++variant) {
    testing::TempDir dir;
    auto written = writeTraffic(dir.path(), pcap::TimestampUnit::microseconds, 262144,
                                {.flows = 50, .frames = 5000}, 11);
    std::optional<LiveIndex> live;
    if (variant == 0) {
      live.emplace(std::move(written.live));
      const std::vector<std::byte> lost(100, std::byte{0x45});
      live->add({.seconds = 1, .wireLength = 100, .data = lost}, fs::file_size(written.path));
    } else if (variant == 1) {
      live.emplace(pcap::TimestampUnit::nanoseconds, 262144);
    }
    EXPECT_FALSE(writeIndexOf(written.path, std::move(live))) << "variant " << variant;
    std::string problem;
    const auto saved = readIndex(indexPathFor(written.path), problem);
    ASSERT_TRUE(saved) << problem;
    const auto file = open(written.path);
    EXPECT_EQ(saved->header.records, 5000u);
    EXPECT_TRUE(serialize(*saved) == serialize(buildIndex(file.fd.get(), file.info, file.bytes)));
  }
}

}  // namespace
}  // namespace pcap_recorder::index
