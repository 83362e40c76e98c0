#include "pcap_recorder/stats/interface_stats.hpp"

namespace pcap_recorder::stats {

namespace {
// Read-modify-write: the finisher thread also moves counts (moveWrittenToLost). Once per block,
// never per packet, so the cost does not show.
void add(std::atomic<std::uint64_t>& counter, std::uint64_t amount) noexcept {
  counter.fetch_add(amount, std::memory_order_relaxed);
}
}  // namespace

void InterfaceCounters::addKernelStatistics(std::uint64_t received, std::uint64_t drops) noexcept {
  add(packetsReceived_, received);
  add(kernelDrops_, drops);
}

void InterfaceCounters::addWritten(std::uint64_t packets, std::uint64_t bytes) noexcept {
  add(packetsWritten_, packets);
  add(bytesWritten_, bytes);
}

void InterfaceCounters::addLostToDisk(std::uint64_t packets) noexcept {
  add(packetsLostToDisk_, packets);
}

void InterfaceCounters::moveWrittenToLost(std::uint64_t packets, std::uint64_t bytes) noexcept {
  packetsWritten_.fetch_sub(packets, std::memory_order_relaxed);
  bytesWritten_.fetch_sub(bytes, std::memory_order_relaxed);
  add(packetsLostToDisk_, packets);
}

void InterfaceCounters::addFileWritten() noexcept {
  add(filesWritten_, 1);
}

void InterfaceCounters::addFileWithoutSha256() noexcept {
  add(filesWithoutSha256_, 1);
}

InterfaceStats InterfaceCounters::snapshot() const noexcept {
  return InterfaceStats{
      .packetsReceived = packetsReceived_.load(std::memory_order_relaxed),
      .kernelDrops = kernelDrops_.load(std::memory_order_relaxed),
      .packetsWritten = packetsWritten_.load(std::memory_order_relaxed),
      .bytesWritten = bytesWritten_.load(std::memory_order_relaxed),
      .packetsLostToDisk = packetsLostToDisk_.load(std::memory_order_relaxed),
      .filesWritten = filesWritten_.load(std::memory_order_relaxed),
      .filesWithoutSha256 = filesWithoutSha256_.load(std::memory_order_relaxed),
  };
}

}  // namespace pcap_recorder::stats
