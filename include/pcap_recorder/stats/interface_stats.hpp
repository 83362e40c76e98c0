// Per-interface counters: written by the interface's capture thread, read by anyone through a
// copyable snapshot (the same snapshot feeds the log lines, and later STATUS= and D-Bus).
#pragma once

#include <atomic>
#include <cstdint>

namespace pcap_recorder::stats {

struct InterfaceStats {
  std::uint64_t packetsReceived = 0;  // accepted by the filter and queued by the kernel
  std::uint64_t kernelDrops = 0;      // accepted but dropped because the ring was full
  std::uint64_t packetsWritten = 0;
  std::uint64_t bytesWritten = 0;  // record bytes, headers included
  std::uint64_t packetsLostToDisk = 0;
  std::uint64_t filesWritten = 0;  // finished files
  // Finished files that were to have a SHA-256 in their sidecar (output.sha256) and have none:
  // given up (it fell behind the traffic, or the file was cut by a failed write) or failed.
  std::uint64_t filesWithoutSha256 = 0;
};

// Written by the capture thread once per block, never per packet, and by the finisher thread once
// per file; read by anyone. Relaxed atomics.
class InterfaceCounters {
 public:
  void addKernelStatistics(std::uint64_t received, std::uint64_t drops) noexcept;
  void addWritten(std::uint64_t packets, std::uint64_t bytes) noexcept;
  void addLostToDisk(std::uint64_t packets) noexcept;
  // Records that reached a file which then went with its removed directory: lost after all.
  void moveWrittenToLost(std::uint64_t packets, std::uint64_t bytes) noexcept;
  void addFileWritten() noexcept;
  // Besides addFileWritten(), for a file finished without the SHA-256 it was to have.
  void addFileWithoutSha256() noexcept;
  InterfaceStats snapshot() const noexcept;

 private:
  std::atomic<std::uint64_t> packetsReceived_{0};
  std::atomic<std::uint64_t> kernelDrops_{0};
  std::atomic<std::uint64_t> packetsWritten_{0};
  std::atomic<std::uint64_t> bytesWritten_{0};
  std::atomic<std::uint64_t> packetsLostToDisk_{0};
  std::atomic<std::uint64_t> filesWritten_{0};
  std::atomic<std::uint64_t> filesWithoutSha256_{0};
};

}  // namespace pcap_recorder::stats
