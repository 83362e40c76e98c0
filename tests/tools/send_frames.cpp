// send_frames NAMESPACE INTERFACE COUNT [FIRST_SEQUENCE [VLAN_ID]]: sends COUNT test frames (UDP
// to port 5001, TEST-NET addresses, a recognisable payload; 802.1Q-tagged with VLAN_ID if given)
// out of INTERFACE inside network namespace NAMESPACE (made with `ip netns add`). For
// shell-driven tests such as the systemd one.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "../integration/netns.hpp"
#include "support/frames.hpp"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s NAMESPACE INTERFACE COUNT [FIRST_SEQUENCE [VLAN_ID]]\n",
                 argv[0]);
    return 2;
  }
  namespace t = pcap_recorder::testing;
  const std::string ns = argv[1];
  const auto count = std::strtoul(argv[3], nullptr, 10);
  const auto first = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 0;
  const auto vlan =
      argc > 5 ? std::optional<std::uint16_t>(std::strtoul(argv[5], nullptr, 10)) : std::nullopt;
  try {
    t::FrameSender sender(ns, argv[2]);
    for (unsigned long i = 0; i < count; ++i) {
      sender.send(
          t::buildUdpFrame({.sequence = static_cast<std::uint32_t>(first + i), .vlanId = vlan}));
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "send_frames: %s\n", error.what());
    return 1;
  }
  return 0;
}
