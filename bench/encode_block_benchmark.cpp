// The capture hot path without a network: walk a retired TPACKET_V3 block (built in memory, laid
// out as the kernel lays it out) with capture::forEachFrame and encode every frame as a classic
// pcap record with pcap::encodeRecord into a 2 MiB buffer, as the recorder does.
//
//   encode_block_benchmark [--benchmark_filter=...] [--benchmark_repetitions=5]
//
// Arguments: frame bytes (64, 1514), vlan (0: untagged; 1: the kernel took an 802.1Q tag into
// metadata, which encodeRecord puts back), blocks (1: one 1 MiB block, hot in the cache; 64: a
// 64 MiB ring walked in turn, which the caches cannot hold, closer to what the recorder reads
// after the kernel filled the ring from another CPU). Reported per packet (time_per_packet, in
// seconds with an SI prefix: 85n is 85 ns) and as bytes/s of records written.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "pcap_recorder/capture/tpacket_block.hpp"
#include "pcap_recorder/pcap/format.hpp"
#include "support/block_builder.hpp"

namespace {

namespace pr = pcap_recorder;

constexpr std::size_t kBlockBytes = 1u << 20;   // the recorder's preferred block size
constexpr std::size_t kBufferBytes = 2u << 20;  // the writer's buffer
constexpr std::uint32_t kSnaplen = 262144;

// A frame as bn-gen sends it: Ethernet, IPv4, UDP, payload up to `bytes`.
std::vector<std::byte> frameOf(std::size_t bytes, std::uint32_t sequence) {
  std::vector<std::byte> data(bytes);
  for (std::size_t i = 0; i < bytes; ++i) data[i] = std::byte(static_cast<unsigned char>(i * 7));
  data[12] = std::byte{0x08};  // EtherType IPv4
  data[13] = std::byte{0x00};
  for (std::size_t i = 0; i < 4 && 50 + i < bytes; ++i) {
    data[50 + i] = std::byte(static_cast<unsigned char>(sequence >> (8 * i)));
  }
  return data;
}

// As many frames as a 1 MiB block holds, as the kernel packs them.
std::vector<std::byte> fullBlock(std::size_t frameBytes, bool vlan, std::uint32_t firstSequence) {
  const std::size_t macOffset = TPACKET_ALIGN(pr::capture::kSockaddrOffset + sizeof(sockaddr_ll));
  const std::size_t stride = TPACKET_ALIGN(macOffset + frameBytes);
  const std::size_t first = TPACKET_ALIGN(sizeof(tpacket_block_desc));
  const std::size_t count = (kBlockBytes - first) / stride;
  std::vector<pr::testing::BlockFrame> frames;
  frames.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    pr::testing::BlockFrame frame;
    frame.data = frameOf(frameBytes, firstSequence + static_cast<std::uint32_t>(i));
    frame.seconds = 1'700'000'000;
    frame.nanoseconds = static_cast<std::uint32_t>(i * 1000);
    if (vlan) frame.vlanTci = 100;
    frames.push_back(std::move(frame));
  }
  return pr::testing::buildBlock(frames, kBlockBytes);
}

void encodeBlocks(benchmark::State& state) {
  const auto frameBytes = static_cast<std::size_t>(state.range(0));
  const bool vlan = state.range(1) != 0;
  const auto blockCount = static_cast<std::size_t>(state.range(2));
  std::vector<std::vector<std::byte>> blocks;
  std::uint32_t sequence = 0;
  for (std::size_t i = 0; i < blockCount; ++i) {
    blocks.push_back(fullBlock(frameBytes, vlan, sequence));
    sequence +=
        pr::capture::forEachFrame(blocks.back(), false, [](const pr::pcap::Frame&) {}).frames;
  }
  const auto buffer = std::make_unique<std::byte[]>(kBufferBytes);

  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::size_t next = 0;
  for (auto _ : state) {
    const std::span<const std::byte> block = blocks[next];
    next = next + 1 == blocks.size() ? 0 : next + 1;
    std::byte* out = buffer.get();
    const auto walk = pr::capture::forEachFrame(block, false, [&](const pr::pcap::Frame& frame) {
      out = pr::pcap::encodeRecord(frame, kSnaplen, pr::pcap::TimestampUnit::microseconds, out);
    });
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
    packets += walk.frames;
    bytes += static_cast<std::uint64_t>(out - buffer.get());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(packets));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.counters["time_per_packet"] = benchmark::Counter(
      static_cast<double>(packets), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// The walk alone: what reading the ring costs before any byte is copied.
void walkBlocks(benchmark::State& state) {
  const auto frameBytes = static_cast<std::size_t>(state.range(0));
  const auto blockCount = static_cast<std::size_t>(state.range(2));
  std::vector<std::vector<std::byte>> blocks;
  for (std::size_t i = 0; i < blockCount; ++i) blocks.push_back(fullBlock(frameBytes, false, 0));
  std::uint64_t packets = 0;
  std::size_t next = 0;
  for (auto _ : state) {
    const std::span<const std::byte> block = blocks[next];
    next = next + 1 == blocks.size() ? 0 : next + 1;
    std::uint64_t wire = 0;
    const auto walk = pr::capture::forEachFrame(
        block, false, [&](const pr::pcap::Frame& frame) { wire += frame.wireLength; });
    benchmark::DoNotOptimize(wire);
    packets += walk.frames;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(packets));
  state.counters["time_per_packet"] = benchmark::Counter(
      static_cast<double>(packets), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(encodeBlocks)
    ->ArgNames({"frame", "vlan", "blocks"})
    ->ArgsProduct({{64, 1514}, {0, 1}, {1, 64}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(walkBlocks)
    ->ArgNames({"frame", "vlan", "blocks"})
    ->ArgsProduct({{64, 1514}, {0}, {1, 64}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
