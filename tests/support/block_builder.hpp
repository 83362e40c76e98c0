// Builds a TPACKET_V3 block in memory, laid out as the kernel lays it out, so the ring-walking
// code is tested without a socket.
#pragma once

#include <linux/if_packet.h>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "pcap_recorder/capture/tpacket_block.hpp"

namespace pcap_recorder::testing {

struct BlockFrame {
  std::vector<std::byte> data;
  std::uint32_t wireLength = 0;  // 0: data.size()
  std::uint32_t seconds = 0;
  std::uint32_t nanoseconds = 0;
  unsigned char packetType = PACKET_HOST;
  std::optional<std::uint16_t> vlanTci = std::nullopt;
  std::optional<std::uint16_t> vlanTpid = std::nullopt;  // set: TP_STATUS_VLAN_TPID_VALID
};

inline std::vector<std::byte> buildBlock(const std::vector<BlockFrame>& frames,
                                         std::size_t blockBytes = 1 << 16) {
  std::vector<std::byte> block(blockBytes);
  auto* descriptor = reinterpret_cast<tpacket_block_desc*>(block.data());
  descriptor->version = TPACKET_V3;
  descriptor->hdr.bh1.block_status = TP_STATUS_USER;
  descriptor->hdr.bh1.num_pkts = static_cast<std::uint32_t>(frames.size());
  const std::size_t first = TPACKET_ALIGN(sizeof(tpacket_block_desc));
  descriptor->hdr.bh1.offset_to_first_pkt = static_cast<std::uint32_t>(first);
  const std::size_t macOffset = TPACKET_ALIGN(capture::kSockaddrOffset + sizeof(sockaddr_ll));
  std::size_t offset = first;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto& in = frames[i];
    auto* header = reinterpret_cast<tpacket3_hdr*>(block.data() + offset);
    header->tp_sec = in.seconds;
    header->tp_nsec = in.nanoseconds;
    header->tp_snaplen = static_cast<std::uint32_t>(in.data.size());
    header->tp_len = in.wireLength ? in.wireLength : static_cast<std::uint32_t>(in.data.size());
    header->tp_mac = static_cast<std::uint16_t>(macOffset);
    header->tp_status = TP_STATUS_USER;
    if (in.vlanTci) {
      header->tp_status |= TP_STATUS_VLAN_VALID;
      header->hv1.tp_vlan_tci = *in.vlanTci;
    }
    if (in.vlanTpid) {
      header->tp_status |= TP_STATUS_VLAN_TPID_VALID;
      header->hv1.tp_vlan_tpid = *in.vlanTpid;
    }
    auto* address =
        reinterpret_cast<sockaddr_ll*>(block.data() + offset + capture::kSockaddrOffset);
    address->sll_pkttype = in.packetType;
    std::memcpy(block.data() + offset + macOffset, in.data.data(), in.data.size());
    const std::size_t next = TPACKET_ALIGN(macOffset + in.data.size());
    header->tp_next_offset = i + 1 < frames.size() ? static_cast<std::uint32_t>(next) : 0;
    offset += next;
  }
  descriptor->hdr.bh1.blk_len = static_cast<std::uint32_t>(offset);
  return block;
}

}  // namespace pcap_recorder::testing
