// A tcpdump filter read as a question to block summaries: "may a frame of this block match?".
// Only skipping depends on it; libpcap itself decides for each packet. So it must never say "no"
// for a block holding a match, and says "may" whenever it is unsure:
//
// - Understood: host, net (CIDR, dotted prefix, mask), port, portrange (up to 256 ports),
//   src/dst/src or dst/src and dst, proto/ip proto/ip6 proto (numbers and the common names), tcp,
//   udp, sctp, icmp, icmp6, igmp, ip, ip6, vlan [ID], and/&&, or/||, not/!, parentheses, and a
//   bare value repeating the previous qualifiers (`host a or b`). and/or bind equally, from the
//   left, as in libpcap.
// - Anything else (names to resolve, ether/arp/mpls/pppoes..., byte expressions, lengths) makes
//   the whole filter unnarrowed: every block in the time window is read.
// - `not X` skips a block only when X holds for every frame of it; the summaries know that only
//   for `ip`, `ip6` and `vlan` (frame kinds), so `not host X` reads every block.
// - After a `vlan` keyword libpcap reads the rest of the filter inside the tag. That is followed
//   only when the first `vlan` is a top-level conjunct (`vlan 100 and host X`); otherwise what
//   comes after it is treated as "may".
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "pcap_recorder/index/file_index.hpp"

namespace pcap_recorder::index {

class BlockQuery {
 public:
  // An empty filter, or one the index cannot narrow, gives a query that matches every block.
  explicit BlockQuery(std::string_view filter);

  bool narrows() const noexcept { return root_ >= 0; }
  bool mayMatch(const BlockSummary& block) const;

  struct Node {
    enum class Kind { all, either, negation, anyKey, frameKind, unknown } kind = Kind::unknown;
    int left = -1;
    int right = -1;
    std::vector<std::uint64_t> keys;  // anyKey: one of these is in the block
    std::uint32_t frameMask = 0;      // frameKind: a frame of one of these kinds
    int afterVlan = 0;                // `vlan` keywords before it in the filter
    bool isVlan = false;
  };

 private:
  struct Answer {
    bool may;
    bool every;  // every frame of the block matches
  };
  Answer evaluate(int node, const BlockSummary& block) const;

  std::vector<Node> nodes_;
  int root_ = -1;
};

}  // namespace pcap_recorder::index
