// Frames of many kinds for the index and extract tests (IPv4/IPv6 TCP, UDP, SCTP, ICMP, ARP,
// fragments, other ethertypes, VLAN tags at any depth, cut by a snaplen), random traffic over a
// small address pool, random filters from the grammar the index narrows, and pcap files written
// straight from them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace pcap_recorder::testing {

struct PacketSpec {
  enum class Network { ipv4, ipv6, arp, other } network = Network::ipv4;
  std::vector<std::uint16_t> vlans;       // outermost first
  std::array<std::uint8_t, 16> source{};  // IPv4: the first 4 bytes
  std::array<std::uint8_t, 16> destination{};
  std::uint8_t protocol = 17;
  std::uint16_t sourcePort = 40000;
  std::uint16_t destinationPort = 80;
  bool laterFragment = false;  // IPv4: fragment offset > 0
  std::size_t frameBytes = 128;
  std::uint32_t salt = 0;  // varies the payload
};

std::vector<std::byte> buildFrame(const PacketSpec& spec);

struct StoredRecord {
  std::uint64_t timeNs = 0;
  std::uint32_t originalLength = 0;
  std::vector<std::byte> data;  // what was captured
};

// Header with `snaplen` and the records in order; micro files get timeNs / 1000.
std::vector<std::byte> pcapFileBytes(const std::vector<StoredRecord>& records, bool nanoseconds,
                                     std::uint32_t snaplen = 262144);

// A record of `spec` at `timeNs`, cut to `snaplen`.
StoredRecord record(const PacketSpec& spec, std::uint64_t timeNs, std::uint32_t snaplen = 262144);

// Random traffic over a pool of a few IPv4/IPv6 hosts, ports and VLANs.
PacketSpec randomPacket(std::mt19937_64& random);
// A random filter of the grammar the index narrows (host, net, port, portrange, proto, tcp, udp,
// icmp, icmp6, ip, ip6, vlan, and/or/not, parentheses), over the same pool.
std::string randomFilter(std::mt19937_64& random, int depth = 3);

}  // namespace pcap_recorder::testing
