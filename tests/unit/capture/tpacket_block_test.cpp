#include "pcap_recorder/capture/tpacket_block.hpp"

#include <gtest/gtest.h>

#include "pcap_recorder/capture/af_packet_source.hpp"
#include "support/block_builder.hpp"
#include "support/frames.hpp"

namespace pcap_recorder::capture {
namespace {

using testing::BlockFrame;
using testing::buildBlock;
using testing::buildUdpFrame;

std::vector<pcap::Frame> walkAll(const std::vector<std::byte>& block, bool skipOutgoing,
                                 BlockWalk* walk = nullptr) {
  std::vector<pcap::Frame> frames;
  const auto result =
      forEachFrame(block, skipOutgoing, [&](const pcap::Frame& frame) { frames.push_back(frame); });
  if (walk) *walk = result;
  return frames;
}

TEST(TpacketBlock, YieldsEveryFrameInOrderWithItsTimestampAndLengths) {
  std::vector<BlockFrame> in;
  for (std::uint32_t i = 0; i < 5; ++i) {
    in.push_back({.data = buildUdpFrame({.sequence = i, .frameBytes = 64 + 10 * i}),
                  .wireLength = 1000 + i,
                  .seconds = 50 + i,
                  .nanoseconds = 7 * i});
  }
  const auto block = buildBlock(in);  // the frames point into it
  const auto frames = walkAll(block, false);
  ASSERT_EQ(frames.size(), 5u);
  for (std::uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(frames[i].seconds, 50 + i);
    EXPECT_EQ(frames[i].nanoseconds, 7 * i);
    EXPECT_EQ(frames[i].wireLength, 1000 + i);
    EXPECT_EQ(std::vector<std::byte>(frames[i].data.begin(), frames[i].data.end()), in[i].data);
    EXPECT_FALSE(frames[i].hasVlanTag);
  }
}

TEST(TpacketBlock, SkipsTheOutgoingCopyOnlyWhenAsked) {
  const std::vector<BlockFrame> in = {
      {.data = buildUdpFrame({.sequence = 1}), .packetType = PACKET_OUTGOING},
      {.data = buildUdpFrame({.sequence = 1}), .packetType = PACKET_HOST},
      {.data = buildUdpFrame({.sequence = 2}), .packetType = PACKET_OTHERHOST},
  };
  const auto block = buildBlock(in);
  BlockWalk walk;
  EXPECT_EQ(walkAll(block, true, &walk).size(), 2u);
  EXPECT_EQ(walk.skipped, 1u);
  EXPECT_EQ(walkAll(block, false).size(), 3u);
}

TEST(TpacketBlock, ReportsAVlanTagTheKernelStripped) {
  const std::vector<BlockFrame> in = {
      {.data = buildUdpFrame({}), .vlanTci = 0x0064},
      {.data = buildUdpFrame({}), .vlanTci = 0x0065, .vlanTpid = 0x88a8},
  };
  const auto block = buildBlock(in);
  const auto frames = walkAll(block, false);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(frames[0].hasVlanTag);
  EXPECT_EQ(frames[0].vlanTag.tci, 0x64);
  EXPECT_EQ(frames[0].vlanTag.tpid, 0x8100) << "without TPID_VALID the tag is 802.1Q";
  EXPECT_EQ(frames[1].vlanTag.tpid, 0x88a8);
}

TEST(TpacketBlock, StopsAtTheBlockEndWhenTheCountClaimsMoreFrames) {
  auto block = buildBlock({{.data = buildUdpFrame({})}, {.data = buildUdpFrame({})}});
  auto* descriptor = reinterpret_cast<tpacket_block_desc*>(block.data());
  descriptor->hdr.bh1.num_pkts = 1000;
  // The last frame's next offset is 0, so the walk ends there rather than running on.
  EXPECT_EQ(walkAll(block, false).size(), 2u);
  auto* last =
      reinterpret_cast<tpacket3_hdr*>(block.data() + descriptor->hdr.bh1.offset_to_first_pkt);
  last->tp_snaplen = 1 << 20;  // claims more bytes than the block has
  EXPECT_EQ(walkAll(block, false).size(), 0u);
}

TEST(TpacketBlock, EmptyBlockYieldsNothing) {
  EXPECT_TRUE(walkAll(buildBlock({}), false).empty());
  EXPECT_TRUE(walkAll(std::vector<std::byte>(8), false).empty());
}

TEST(RingGeometry, UsesMegabyteBlocksForTheDefaultRing) {
  const auto ring = ringGeometryFor(32ull << 20, 262144);
  EXPECT_EQ(ring.blockBytes, 1u << 20);
  EXPECT_EQ(ring.blockCount, 32u);
  EXPECT_EQ(ring.blockBytes % ring.frameBytes, 0u);
}

TEST(RingGeometry, SmallRingGetsSmallerBlocksThatStillHoldTheLargestFrame) {
  const auto ring = ringGeometryFor(1u << 20, 262144);
  EXPECT_GE(ring.blockBytes, 262144u + 256u);
  EXPECT_GE(ring.blockCount, 2u);
  const auto small = ringGeometryFor(1u << 20, 128);
  EXPECT_EQ(small.blockBytes, 128u << 10);
  EXPECT_EQ(small.blockCount, 8u);
}

}  // namespace
}  // namespace pcap_recorder::capture
