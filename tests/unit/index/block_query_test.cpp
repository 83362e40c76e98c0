// The filter → block question: never "no" for a block holding a packet libpcap matches (the
// property test), and "no" where it should be, so the index really skips.
#include "pcap_recorder/index/block_query.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <cstring>
#include <memory>
#include <random>

#include "support/traffic.hpp"

namespace pcap_recorder::index {
namespace {

using testing::PacketSpec;

struct Compiled {
  bpf_program program{};
  bool ok = false;
  explicit Compiled(const std::string& filter) {
    std::unique_ptr<pcap_t, decltype(&pcap_close)> dead(pcap_open_dead(DLT_EN10MB, 262144),
                                                        &pcap_close);
    ok = pcap_compile(dead.get(), &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) == 0;
  }
  ~Compiled() {
    if (ok) pcap_freecode(&program);
  }
  bool matches(const testing::StoredRecord& record) const {
    pcap_pkthdr header{};
    header.caplen = static_cast<bpf_u_int32>(record.data.size());
    header.len = record.originalLength;
    return pcap_offline_filter(&program, &header,
                               reinterpret_cast<const u_char*>(record.data.data())) != 0;
  }
};

BlockSummary summarize(const std::vector<testing::StoredRecord>& records) {
  BlockBuilder builder;
  std::uint64_t offset = 24;
  for (const auto& record : records) {
    builder.add(offset, 16 + record.data.size(), record.timeNs, record.data);
    offset += 16 + record.data.size();
  }
  return builder.finish();
}

PacketSpec ipv4(const char* source, const char* destination, std::uint8_t protocol,
                std::uint16_t port) {
  PacketSpec spec;
  spec.protocol = protocol;
  spec.destinationPort = port;
  in_addr a, b;
  inet_pton(AF_INET, source, &a);
  inet_pton(AF_INET, destination, &b);
  std::memcpy(spec.source.data(), &a, 4);
  std::memcpy(spec.destination.data(), &b, 4);
  return spec;
}

TEST(BlockQueryTest, SkipsABlockWithoutTheHostPortOrProtocol) {
  const auto block = summarize({testing::record(ipv4("10.0.0.1", "10.0.0.2", 6, 443), 1),
                                testing::record(ipv4("10.0.0.3", "10.0.0.2", 17, 53), 2)});
  EXPECT_TRUE(BlockQuery("host 10.0.0.1").mayMatch(block));
  EXPECT_FALSE(BlockQuery("host 10.0.0.9").mayMatch(block));
  EXPECT_TRUE(BlockQuery("net 10.0.0.0/24").mayMatch(block));
  EXPECT_FALSE(BlockQuery("net 10.9.0.0/16").mayMatch(block));
  EXPECT_FALSE(BlockQuery("net 11").mayMatch(block));
  EXPECT_TRUE(BlockQuery("tcp port 443").mayMatch(block));
  EXPECT_FALSE(BlockQuery("port 80").mayMatch(block));
  EXPECT_FALSE(BlockQuery("icmp").mayMatch(block));
  EXPECT_FALSE(BlockQuery("ip6").mayMatch(block));
  EXPECT_FALSE(BlockQuery("not ip").mayMatch(block));
  EXPECT_FALSE(BlockQuery("vlan").mayMatch(block));
  EXPECT_TRUE(BlockQuery("host 10.0.0.9 or port 53").mayMatch(block));
  EXPECT_FALSE(BlockQuery("host 10.0.0.9 or 10.0.0.8").mayMatch(block));
  EXPECT_FALSE(BlockQuery("(port 53 or port 443) and host 10.0.0.7").mayMatch(block));
  // libpcap's and/or bind equally from the left: (a or b) and c.
  EXPECT_FALSE(BlockQuery("port 53 or port 443 and host 10.0.0.7").mayMatch(block));
}

TEST(BlockQueryTest, WhatItCannotNarrowMayMatchEverywhere) {
  const auto block = summarize({testing::record(ipv4("10.0.0.1", "10.0.0.2", 6, 443), 1)});
  for (const char* filter :
       {"not host 10.0.0.1", "ether host 02:01:02:03:04:05", "tcp[13] & 2 != 0", "less 100",
        "host example.com", "port http", "arp", "mpls and host 10.0.0.9", "portrange 1-60000",
        "vlan or host 10.0.0.9"}) {
    EXPECT_TRUE(BlockQuery(filter).mayMatch(block)) << filter;
  }
  EXPECT_FALSE(BlockQuery("tcp[13] & 2 != 0").narrows());
  EXPECT_TRUE(BlockQuery("host 10.0.0.1").narrows());
}

TEST(BlockQueryTest, VlanNarrowsAndTheFilterAfterItLooksInsideTheTag) {
  auto tagged = ipv4("10.0.0.1", "10.0.0.2", 17, 53);
  tagged.vlans = {100};
  const auto block = summarize({testing::record(tagged, 1)});
  EXPECT_TRUE(BlockQuery("vlan 100").mayMatch(block));
  EXPECT_FALSE(BlockQuery("vlan 200").mayMatch(block));
  EXPECT_TRUE(BlockQuery("vlan 100 and host 10.0.0.1").mayMatch(block));
  EXPECT_FALSE(BlockQuery("vlan 100 and host 10.0.0.9").mayMatch(block));
  EXPECT_TRUE(BlockQuery("vlan and ip").mayMatch(block));
  EXPECT_FALSE(BlockQuery("not vlan").mayMatch(block));
}

// libpcap reads a number with a leading zero as octal (`port 0443` is port 291, `vlan 010` is
// vlan 8): the index, reading decimal, skipped the blocks holding what libpcap matches.
TEST(BlockQueryTest, ANumberWithALeadingZeroIsReadAsLibpcapReadsIt) {
  const auto udp = ipv4("10.0.0.1", "192.168.1.5", 17, 291);
  auto tagged = ipv4("10.0.0.3", "10.0.0.4", 6, 80);
  tagged.vlans = {8};
  PacketSpec v6;
  v6.network = PacketSpec::Network::ipv6;
  inet_pton(AF_INET6, "fe80::1", v6.source.data());
  inet_pton(AF_INET6, "2001:db8:abcd::1", v6.destination.data());
  const std::vector<std::pair<const char*, PacketSpec>> cases = {
      {"port 0443", udp},   {"udp port 0443", udp},          {"ip proto 021", udp},
      {"net 012", udp},     {"net 192.168.0.0/027", udp},    {"portrange 0440-0443", udp},
      {"vlan 010", tagged}, {"net 2001:db8:ab00::/050", v6},
  };
  for (const auto& [filter, spec] : cases) {
    const auto record = testing::record(spec, 1);
    const Compiled compiled(filter);
    ASSERT_TRUE(compiled.ok) << filter;
    // portrange's bounds are octal from libpcap 1.10.5 on, decimal before: either way found.
    if (std::string(filter).starts_with("portrange")) {
      EXPECT_TRUE(BlockQuery(filter).mayMatch(summarize({record}))) << filter;
      continue;
    }
    ASSERT_TRUE(compiled.matches(record)) << filter << ": libpcap reads it as octal";
    EXPECT_TRUE(BlockQuery(filter).mayMatch(summarize({record}))) << filter;
  }
}

// A frame cut inside a field libpcap reads only in part still has its key: `net X/32` reads an
// IPv6 address's first 4 bytes, `vlan N` a tag's first 2. Every cut of an IPv6 frame, tagged and
// not, against filters on each field: no block libpcap finds a match in is skipped.
TEST(BlockQueryTest, AFrameCutInsideAFieldIsFoundByWhatLibpcapReadsOfIt) {
  PacketSpec spec;
  spec.network = PacketSpec::Network::ipv6;
  inet_pton(AF_INET6, "fe80::1", spec.source.data());
  inet_pton(AF_INET6, "2001:db8:1:2:3:4:5:6", spec.destination.data());
  const char* filters[] = {"net 2001:db8::/32",
                           "net 2001:db8:1::/48",
                           "net 2001:db8:1::/56",
                           "net 2001:db8:1:2::/64",
                           "net 2001:db8:1:2:3::/80",
                           "host 2001:db8:1:2:3:4:5:6",
                           "src net fe80::/32",
                           "vlan 100",
                           "vlan 100 and net 2001:db8::/32",
                           "ip6 and net 2001:db8::/32"};
  std::uint64_t matches = 0;
  for (const auto& vlans : {std::vector<std::uint16_t>{}, std::vector<std::uint16_t>{100}}) {
    spec.vlans = vlans;
    for (std::uint32_t snaplen = 12; snaplen <= 80; ++snaplen) {
      const auto record = testing::record(spec, 1, snaplen);
      const auto block = summarize({record});
      for (const char* filter : filters) {
        const Compiled compiled(filter);
        ASSERT_TRUE(compiled.ok) << filter;
        if (!compiled.matches(record)) continue;
        ++matches;
        EXPECT_TRUE(BlockQuery(filter).mayMatch(block))
            << "\"" << filter << "\" matches the frame cut to " << snaplen << " bytes"
            << (vlans.empty() ? "" : ", tagged");
      }
    }
  }
  EXPECT_GT(matches, 300u);  // not vacuous
}

// No false negatives: for random traffic (all kinds, VLAN-tagged, cut by small snaplens) and
// random filters of the indexed grammar, every block holding a packet libpcap matches "may match".
TEST(BlockQueryTest, PropertyNeverSkipsABlockHoldingAMatch) {
  std::mt19937_64 random(20261202);
  std::uint64_t matches = 0;
  std::uint64_t skipped = 0;
  std::uint64_t narrowing = 0;
  for (int iteration = 0; iteration < 400; ++iteration) {
    const auto filter = testing::randomFilter(random);
    const Compiled compiled(filter);
    if (!compiled.ok) continue;
    const BlockQuery query(filter);
    narrowing += query.narrows() ? 1 : 0;
    for (int b = 0; b < 30; ++b) {
      std::vector<testing::StoredRecord> records;
      const int count = 1 + static_cast<int>(random() % 12);
      for (int i = 0; i < count; ++i) {
        const std::uint32_t snaplen = random() % 10 == 0 ? 20 + random() % 60 : 262144;
        records.push_back(testing::record(testing::randomPacket(random), i, snaplen));
      }
      const auto block = summarize(records);
      const bool may = query.mayMatch(block);
      skipped += may ? 0 : 1;
      for (const auto& record : records) {
        if (!compiled.matches(record)) continue;
        ++matches;
        ASSERT_TRUE(may) << "filter \"" << filter << "\" matches a packet of a skipped block";
      }
    }
  }
  // Not vacuous: filters narrowed, blocks were skipped and packets matched.
  EXPECT_GT(narrowing, 300u);
  EXPECT_GT(skipped, 1000u);
  EXPECT_GT(matches, 1000u);
}

}  // namespace
}  // namespace pcap_recorder::index
