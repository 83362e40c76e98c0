// A PacketSource on a Linux AF_PACKET socket with a TPACKET_V3 mmap ring, bound to one interface.
// Owns the socket, the ring mapping and a wake-up eventfd. Used by one capture thread; wake() may
// be called from any thread.
#pragma once

#include <string>

#include "pcap_recorder/bpf/filter.hpp"
#include "pcap_recorder/capture/packet_source.hpp"
#include "pcap_recorder/util/mapped_region.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::capture {

struct SourceSettings {
  std::string interface;
  std::uint64_t ringBytes = 32ull << 20;
  std::uint32_t snaplen = 262144;
  bool promiscuous = true;
  std::chrono::milliseconds blockTimeout{50};
};

// The ring's shape: blocks of a power-of-two size that hold the largest frame, as many as fit.
struct RingGeometry {
  std::uint32_t blockBytes = 0;
  std::uint32_t blockCount = 0;
  std::uint32_t frameBytes = 0;
};
RingGeometry ringGeometryFor(std::uint64_t ringBytes, std::uint32_t snaplen);

// Why the interface cannot be captured: it does not exist, or its frames are not Ethernet.
class InterfaceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

bool interfaceExists(const std::string& interface);

// Throws InterfaceError unless `interface` exists and carries Ethernet frames (loopback counts as
// Ethernet, as in tcpdump). Needs no privilege.
void checkInterfaceIsEthernet(const std::string& interface);

class AfPacketSource final : public PacketSource {
 public:
  // Opens the socket and the ring, attaches `filter`, and starts receiving. Throws
  // InterfaceError or std::system_error naming the step that failed.
  AfPacketSource(const SourceSettings& settings, const bpf::FilterProgram& filter);

  std::span<const std::byte> nextBlock(std::chrono::milliseconds timeout) override;
  void releaseBlock() noexcept override;
  void wake() noexcept override;
  void stopIntake() override;
  void replaceFilter(const bpf::FilterProgram& filter) override;
  KernelCounts takeKernelCounts() noexcept override;
  bool seesOwnFramesTwice() const noexcept override { return loopback_; }
  std::chrono::milliseconds blockTimeout() const noexcept override { return blockTimeout_; }
  std::uint64_t socketErrors() const noexcept override { return socketErrors_; }
  int interfaceIndex() const noexcept override { return index_; }

  const RingGeometry& geometry() const noexcept { return geometry_; }

 private:
  std::byte* blockAt(std::uint32_t index) const noexcept;
  bool currentBlockReady() const noexcept;

  util::UniqueFd socket_;
  util::UniqueFd wakeEvent_;
  RingGeometry geometry_;
  util::MappedRegion ring_;
  std::uint32_t current_ = 0;
  bool loopback_ = false;
  int index_ = 0;
  std::chrono::milliseconds blockTimeout_;
  std::uint64_t socketErrors_ = 0;
};

}  // namespace pcap_recorder::capture
