// Walking the frames of one retired TPACKET_V3 block: pure code over memory, so it is tested on
// blocks built in memory, without a socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include <linux/if_packet.h>

#include "pcap_recorder/pcap/format.hpp"

namespace pcap_recorder::capture {

inline constexpr std::uint16_t kVlanTpid8021Q = 0x8100;

// Where the kernel puts the sockaddr_ll that describes each frame (direction, interface).
inline constexpr std::size_t kSockaddrOffset = TPACKET_ALIGN(sizeof(tpacket3_hdr));

struct BlockWalk {
  std::uint32_t frames = 0;   // frames handed to onFrame
  std::uint32_t skipped = 0;  // outgoing copies dropped on loopback
};

// Calls onFrame(const pcap::Frame&) for every frame of `block` in order. With `skipOutgoing`
// (loopback) the outgoing copy of each frame is skipped: the kernel shows a loopback frame twice,
// once leaving and once arriving, and tcpdump shows it once.
// Offsets are checked against the block, so a malformed block ends the walk rather than reading
// outside it.
template <typename OnFrame>
BlockWalk forEachFrame(std::span<const std::byte> block, bool skipOutgoing, OnFrame&& onFrame) {
  BlockWalk walk;
  if (block.size() < sizeof(tpacket_block_desc)) return walk;
  tpacket_block_desc descriptor;
  std::memcpy(&descriptor, block.data(), sizeof descriptor);
  const tpacket_hdr_v1& header = descriptor.hdr.bh1;

  std::size_t offset = header.offset_to_first_pkt;
  for (std::uint32_t i = 0; i < header.num_pkts; ++i) {
    if (offset + kSockaddrOffset + sizeof(sockaddr_ll) > block.size()) break;
    const auto* frame = reinterpret_cast<const tpacket3_hdr*>(block.data() + offset);
    if (offset + frame->tp_mac + frame->tp_snaplen > block.size()) break;

    const auto* address =
        reinterpret_cast<const sockaddr_ll*>(block.data() + offset + kSockaddrOffset);
    if (skipOutgoing && address->sll_pkttype == PACKET_OUTGOING) {
      ++walk.skipped;
    } else {
      pcap::Frame out;
      out.seconds = frame->tp_sec;
      out.nanoseconds = frame->tp_nsec;
      out.wireLength = frame->tp_len;
      out.data = block.subspan(offset + frame->tp_mac, frame->tp_snaplen);
      // Why: the kernel moves a VLAN header into metadata; TPID_VALID says tp_vlan_tpid is set.
      if (frame->tp_status & TP_STATUS_VLAN_VALID) {
        out.hasVlanTag = true;
        out.vlanTag.tci = frame->hv1.tp_vlan_tci;
        out.vlanTag.tpid = (frame->tp_status & TP_STATUS_VLAN_TPID_VALID) ? frame->hv1.tp_vlan_tpid
                                                                          : kVlanTpid8021Q;
      }
      onFrame(out);
      ++walk.frames;
    }
    if (frame->tp_next_offset == 0) break;
    offset += frame->tp_next_offset;
  }
  return walk;
}

}  // namespace pcap_recorder::capture
