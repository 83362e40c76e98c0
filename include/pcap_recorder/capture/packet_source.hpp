// Where captured frames come from, one TPACKET_V3 block at a time. The recorder is written
// against this interface; AfPacketSource is the real one, tests may provide others.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "pcap_recorder/bpf/filter.hpp"

namespace pcap_recorder::capture {

// Counts the kernel reported since the previous call (the kernel resets them when read).
struct KernelCounts {
  std::uint64_t packets = 0;  // accepted by the filter, drops included
  std::uint64_t drops = 0;    // accepted but lost because the ring was full
};

class PacketSource {
 public:
  virtual ~PacketSource() = default;

  // The next filled block, waiting up to `timeout`; empty on timeout, on wake() or on a socket
  // error (see socketErrors()). The block stays ours until releaseBlock().
  virtual std::span<const std::byte> nextBlock(std::chrono::milliseconds timeout) = 0;
  virtual void releaseBlock() noexcept = 0;

  // Makes a waiting nextBlock() return; callable from any thread.
  virtual void wake() noexcept = 0;

  // Stops the kernel from queueing more frames; those already queued are still delivered.
  virtual void stopIntake() = 0;

  // Swaps the socket's filter at once: frames already in the ring passed the old one.
  virtual void replaceFilter(const bpf::FilterProgram& filter) = 0;

  virtual KernelCounts takeKernelCounts() noexcept = 0;

  // True where every frame shows up twice (leaving and arriving), as on loopback.
  virtual bool seesOwnFramesTwice() const noexcept = 0;

  // The longest a frame can sit in a block before the kernel hands the block over.
  virtual std::chrono::milliseconds blockTimeout() const noexcept = 0;

  virtual std::uint64_t socketErrors() const noexcept = 0;

  // The kernel's index of the interface (a re-created interface gets a new one); 0 if none.
  virtual int interfaceIndex() const noexcept { return 0; }
};

}  // namespace pcap_recorder::capture
