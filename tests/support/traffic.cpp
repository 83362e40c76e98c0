#include "support/traffic.hpp"

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "support/frames.hpp"

namespace pcap_recorder::testing {

namespace {

template <typename T>
const T& pick(std::mt19937_64& random, const std::vector<T>& values) {
  return values[std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(random)];
}

const std::vector<std::string> kIpv4Hosts = {"10.0.0.1", "10.0.0.2",    "10.0.1.7",
                                             "10.1.2.3", "192.168.5.9", "172.16.0.1"};
const std::vector<std::string> kIpv6Hosts = {"2001:db8::1", "2001:db8::2", "2001:db8:1::5",
                                             "fd00::9"};
const std::vector<std::uint16_t> kPorts = {22, 53, 80, 443, 5001, 8080};
const std::vector<std::uint16_t> kVlans = {100, 200, 300};

std::array<std::uint8_t, 16> address(const std::string& text) {
  std::array<std::uint8_t, 16> out{};
  if (text.find(':') == std::string::npos) {
    int a, b, c, d;
    if (std::sscanf(text.c_str(), "%d.%d.%d.%d", &a, &b, &c, &d) != 4) throw std::logic_error(text);
    out = {static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b), static_cast<std::uint8_t>(c),
           static_cast<std::uint8_t>(d)};
    return out;
  }
  // Only the forms of the pool: "P:Q::R" and "P::R" with hex groups.
  const auto gap = text.find("::");
  auto groups = [](const std::string& part) {
    std::vector<std::uint16_t> values;
    std::size_t start = 0;
    while (start < part.size()) {
      const auto colon = part.find(':', start);
      values.push_back(
          static_cast<std::uint16_t>(std::stoul(part.substr(start, colon - start), nullptr, 16)));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    return values;
  };
  const auto head = groups(text.substr(0, gap));
  const auto tail = groups(text.substr(gap + 2));
  for (std::size_t i = 0; i < head.size(); ++i) {
    out[2 * i] = static_cast<std::uint8_t>(head[i] >> 8);
    out[2 * i + 1] = static_cast<std::uint8_t>(head[i]);
  }
  for (std::size_t i = 0; i < tail.size(); ++i) {
    const std::size_t group = 8 - tail.size() + i;
    out[2 * group] = static_cast<std::uint8_t>(tail[i] >> 8);
    out[2 * group + 1] = static_cast<std::uint8_t>(tail[i]);
  }
  return out;
}

}  // namespace

std::vector<std::byte> buildFrame(const PacketSpec& spec) {
  std::vector<std::byte> frame(std::max<std::size_t>(spec.frameBytes, 60) + 4 * spec.vlans.size());
  for (int i = 0; i < 6; ++i) {
    frame[i] = std::byte{static_cast<std::uint8_t>(i == 0 ? 0x02 : i)};
    frame[6 + i] = std::byte{static_cast<std::uint8_t>(i == 0 ? 0x02 : 0x10 + i)};
  }
  std::size_t at = 12;
  for (std::size_t i = 0; i < spec.vlans.size(); ++i) {
    putNetwork16(frame, at, i == 0 && spec.vlans.size() > 1 ? 0x88a8 : 0x8100);
    putNetwork16(frame, at + 2, spec.vlans[i]);
    at += 4;
  }
  const std::size_t payloadStart = at + 2;
  for (std::size_t i = payloadStart; i < frame.size(); ++i) {
    frame[i] = std::byte((i * 13 + spec.salt) & 0xff);
  }
  std::size_t transport = 0;
  bool ports = spec.protocol == 6 || spec.protocol == 17 || spec.protocol == 132;
  switch (spec.network) {
    case PacketSpec::Network::ipv4: {
      putNetwork16(frame, at, 0x0800);
      const std::size_t ip = at + 2;
      frame[ip] = std::byte{0x45};
      frame[ip + 1] = std::byte{0};
      putNetwork16(frame, ip + 2, static_cast<std::uint16_t>(frame.size() - ip));
      putNetwork16(frame, ip + 6, spec.laterFragment ? 0x0010 : 0x4000);
      frame[ip + 8] = std::byte{64};
      frame[ip + 9] = std::byte{spec.protocol};
      std::memcpy(frame.data() + ip + 12, spec.source.data(), 4);
      std::memcpy(frame.data() + ip + 16, spec.destination.data(), 4);
      transport = ip + 20;
      ports = ports && !spec.laterFragment;
      break;
    }
    case PacketSpec::Network::ipv6: {
      putNetwork16(frame, at, 0x86dd);
      const std::size_t ip = at + 2;
      frame[ip] = std::byte{0x60};
      putNetwork16(frame, ip + 4, static_cast<std::uint16_t>(frame.size() - ip - 40));
      frame[ip + 6] = std::byte{spec.protocol};
      frame[ip + 7] = std::byte{64};
      std::memcpy(frame.data() + ip + 8, spec.source.data(), 16);
      std::memcpy(frame.data() + ip + 24, spec.destination.data(), 16);
      transport = ip + 40;
      break;
    }
    case PacketSpec::Network::arp: {
      putNetwork16(frame, at, 0x0806);
      const std::size_t arp = at + 2;
      putNetwork16(frame, arp, 1);
      putNetwork16(frame, arp + 2, 0x0800);
      frame[arp + 4] = std::byte{6};
      frame[arp + 5] = std::byte{4};
      putNetwork16(frame, arp + 6, 1);
      std::memcpy(frame.data() + arp + 14, spec.source.data(), 4);
      std::memcpy(frame.data() + arp + 24, spec.destination.data(), 4);
      ports = false;
      break;
    }
    case PacketSpec::Network::other:
      putNetwork16(frame, at, 0x88cc);
      ports = false;
      break;
  }
  if (ports && transport + 4 <= frame.size()) {
    putNetwork16(frame, transport, spec.sourcePort);
    putNetwork16(frame, transport + 2, spec.destinationPort);
  }
  return frame;
}

StoredRecord record(const PacketSpec& spec, std::uint64_t timeNs, std::uint32_t snaplen) {
  StoredRecord out;
  out.timeNs = timeNs;
  out.data = buildFrame(spec);
  out.originalLength = static_cast<std::uint32_t>(out.data.size());
  if (out.data.size() > snaplen) out.data.resize(snaplen);
  return out;
}

std::vector<std::byte> pcapFileBytes(const std::vector<StoredRecord>& records, bool nanoseconds,
                                     std::uint32_t snaplen) {
  std::vector<std::byte> out;
  const auto put32 = [&out](std::uint32_t value) {
    const auto* bytes = reinterpret_cast<const std::byte*>(&value);
    out.insert(out.end(), bytes, bytes + 4);
  };
  const auto put16host = [&out](std::uint16_t value) {
    const auto* bytes = reinterpret_cast<const std::byte*>(&value);
    out.insert(out.end(), bytes, bytes + 2);
  };
  put32(nanoseconds ? 0xA1B23C4D : 0xA1B2C3D4);
  put16host(2);
  put16host(4);
  put32(0);
  put32(0);
  put32(snaplen);
  put32(1);
  for (const auto& record : records) {
    put32(static_cast<std::uint32_t>(record.timeNs / 1'000'000'000));
    const auto fraction = record.timeNs % 1'000'000'000;
    put32(static_cast<std::uint32_t>(nanoseconds ? fraction : fraction / 1000));
    put32(static_cast<std::uint32_t>(record.data.size()));
    put32(record.originalLength);
    out.insert(out.end(), record.data.begin(), record.data.end());
  }
  return out;
}

PacketSpec randomPacket(std::mt19937_64& random) {
  PacketSpec spec;
  std::uniform_int_distribution<int> percent(0, 99);
  const int kind = percent(random);
  if (kind < 60) {
    spec.network = PacketSpec::Network::ipv4;
    spec.source = address(pick(random, kIpv4Hosts));
    spec.destination = address(pick(random, kIpv4Hosts));
    spec.protocol = pick(random, std::vector<std::uint8_t>{6, 17, 1, 132, 47});
    spec.laterFragment = percent(random) < 5;
  } else if (kind < 85) {
    spec.network = PacketSpec::Network::ipv6;
    spec.source = address(pick(random, kIpv6Hosts));
    spec.destination = address(pick(random, kIpv6Hosts));
    spec.protocol = pick(random, std::vector<std::uint8_t>{6, 17, 58});
  } else if (kind < 93) {
    spec.network = PacketSpec::Network::arp;
    spec.source = address(pick(random, kIpv4Hosts));
    spec.destination = address(pick(random, kIpv4Hosts));
  } else {
    spec.network = PacketSpec::Network::other;
  }
  spec.sourcePort = percent(random) < 50 ? pick(random, kPorts)
                                         : static_cast<std::uint16_t>(30000 + percent(random));
  spec.destinationPort = pick(random, kPorts);
  const int tags = percent(random);
  if (tags < 15) {
    spec.vlans = {pick(random, kVlans)};
  } else if (tags < 18) {
    spec.vlans = {pick(random, kVlans), pick(random, kVlans)};
  }
  spec.frameBytes = percent(random) < 80 ? 60 + percent(random) : 1514;
  spec.salt = static_cast<std::uint32_t>(random());
  return spec;
}

std::string randomFilter(std::mt19937_64& random, int depth) {
  std::uniform_int_distribution<int> percent(0, 99);
  if (depth > 0 && percent(random) < 45) {
    const int form = percent(random);
    const auto left = randomFilter(random, depth - 1);
    const auto right = randomFilter(random, depth - 1);
    if (form < 35) return "(" + left + ") and (" + right + ")";
    if (form < 65) return "(" + left + ") or (" + right + ")";
    if (form < 75) return left + " and " + right;
    if (form < 85) return "not (" + left + ")";
    return "vlan " + std::to_string(pick(random, kVlans)) + " and " + right;
  }
  const auto port = std::to_string(pick(random, kPorts));
  switch (percent(random) % 22) {
    case 0:
      return "host " + pick(random, kIpv4Hosts);
    case 1:
      return "src host " + pick(random, kIpv4Hosts);
    case 2:
      return "dst host " + pick(random, kIpv6Hosts);
    case 3:
      return "host " + pick(random, kIpv6Hosts) + " or " + pick(random, kIpv6Hosts);
    case 4:
      return "net 10.0.0.0/16";
    case 5:
      return "net 10.0.1";
    case 6:
      return "net 2001:db8::/32";
    case 7:
      return "port " + port;
    case 8:
      return "tcp port " + port;
    case 9:
      return "udp dst port " + port + " or " + std::to_string(pick(random, kPorts));
    case 10:
      return "portrange 50-90";
    case 11:
      return "ip proto " + std::to_string(pick(random, std::vector<int>{1, 6, 17, 47, 132}));
    case 12:
      return "ip6 proto 58";
    case 13:
      return "tcp";
    case 14:
      return "udp";
    case 15:
      return "icmp";
    case 16:
      return "icmp6";
    case 17:
      return "ip";
    case 18:
      return "ip6";
    case 19:
      return "vlan";
    case 20:
      return "vlan " + std::to_string(pick(random, kVlans));
    default:
      return "src or dst net 172.16.0.0 mask 255.255.0.0";
  }
}

}  // namespace pcap_recorder::testing
