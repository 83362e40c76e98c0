#include "pcap_recorder/capture/af_packet_source.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bit>
#include <cerrno>
#include <cstring>

#include "pcap_recorder/util/system_error.hpp"

namespace pcap_recorder::capture {

namespace {

constexpr std::uint32_t kPreferredBlockBytes = 1u << 20;
constexpr std::uint32_t kMinBlocks = 8;
constexpr std::uint32_t kFrameBytes = 2048;
// Room the kernel needs in a block besides the frame: block descriptor, tpacket3_hdr,
// sockaddr_ll and alignment.
constexpr std::uint32_t kBlockOverheadBytes = 512;

unsigned indexOf(const std::string& interface) {
  const unsigned index = ::if_nametoindex(interface.c_str());
  if (index == 0) throw InterfaceError("interface " + interface + " does not exist");
  return index;
}

int hardwareType(int fd, const std::string& interface) {
  ifreq request{};
  std::strncpy(request.ifr_name, interface.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd, SIOCGIFHWADDR, &request) != 0) {
    util::throwErrno(interface + ": cannot read the link type (SIOCGIFHWADDR)");
  }
  return request.ifr_hwaddr.sa_family;
}

void requireEthernet(int hardware, const std::string& interface) {
  if (hardware == ARPHRD_ETHER || hardware == ARPHRD_LOOPBACK) return;
  throw InterfaceError("interface " + interface + " has link type " + std::to_string(hardware) +
                       " (ARPHRD), not Ethernet; pcap-recorder writes Ethernet (linktype 1) "
                       "files only");
}

template <typename T>
void setOption(int fd, int level, int option, const T& value, const std::string& what) {
  if (::setsockopt(fd, level, option, &value, sizeof value) != 0) util::throwErrno(what);
}

}  // namespace

RingGeometry ringGeometryFor(std::uint64_t ringBytes, std::uint32_t snaplen) {
  // A block must hold the largest frame the filter lets through (snaplen bytes).
  const std::uint32_t smallestBlock =
      std::max<std::uint32_t>(std::bit_ceil(snaplen + kBlockOverheadBytes), 64u << 10);
  std::uint32_t block = std::max(kPreferredBlockBytes, smallestBlock);
  // Prefer more, smaller blocks in a small ring: a retired block is the unit of hand-over.
  while (block / 2 >= smallestBlock && ringBytes / block < kMinBlocks) block /= 2;
  const auto count = static_cast<std::uint32_t>(std::max<std::uint64_t>(2, ringBytes / block));
  return RingGeometry{block, count, kFrameBytes};
}

bool interfaceExists(const std::string& interface) {
  return ::if_nametoindex(interface.c_str()) != 0;
}

void checkInterfaceIsEthernet(const std::string& interface) {
  indexOf(interface);
  // Why: a datagram socket of any family answers SIOCGIFHWADDR without privilege.
  util::UniqueFd probe(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) util::throwErrno("socket for interface checks");
  requireEthernet(hardwareType(probe.get(), interface), interface);
}

AfPacketSource::AfPacketSource(const SourceSettings& settings, const bpf::FilterProgram& filter)
    // Protocol 0: the socket receives nothing until bind(), so no frame can pass unfiltered.
    : socket_(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)),
      wakeEvent_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      geometry_(ringGeometryFor(settings.ringBytes, settings.snaplen)),
      blockTimeout_(settings.blockTimeout) {
  const std::string& name = settings.interface;
  if (!socket_.valid()) util::throwErrno(name + ": cannot open an AF_PACKET socket");
  if (!wakeEvent_.valid()) util::throwErrno(name + ": eventfd");
  const unsigned index = indexOf(name);
  index_ = static_cast<int>(index);
  const int hardware = hardwareType(socket_.get(), name);
  requireEthernet(hardware, name);
  loopback_ = hardware == ARPHRD_LOOPBACK;

  const sock_fprog program = filter.socketProgram();
  setOption(socket_.get(), SOL_SOCKET, SO_ATTACH_FILTER, program, name + ": cannot attach filter");
  setOption(socket_.get(), SOL_PACKET, PACKET_VERSION, int{TPACKET_V3},
            name + ": TPACKET_V3 not supported");

  tpacket_req3 request{};
  request.tp_block_size = geometry_.blockBytes;
  request.tp_block_nr = geometry_.blockCount;
  request.tp_frame_size = geometry_.frameBytes;
  request.tp_frame_nr = geometry_.blockBytes / geometry_.frameBytes * geometry_.blockCount;
  request.tp_retire_blk_tov = static_cast<unsigned>(blockTimeout_.count());
  setOption(socket_.get(), SOL_PACKET, PACKET_RX_RING, request,
            name + ": cannot set up a " + std::to_string(geometry_.blockCount) + " x " +
                std::to_string(geometry_.blockBytes) + " byte ring");
  ring_ =
      util::MappedRegion(socket_.get(), std::size_t{geometry_.blockBytes} * geometry_.blockCount);

  if (settings.promiscuous) {
    // Why PACKET_ADD_MEMBERSHIP: the kernel drops it when the socket closes, even on a crash,
    // unlike SIOCSIFFLAGS which would leave the interface promiscuous behind us.
    packet_mreq membership{};
    membership.mr_ifindex = static_cast<int>(index);
    membership.mr_type = PACKET_MR_PROMISC;
    setOption(socket_.get(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, membership,
              name + ": cannot enable promiscuous mode");
  }

  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(ETH_P_ALL);
  address.sll_ifindex = static_cast<int>(index);
  if (::bind(socket_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    util::throwErrno(name + ": cannot bind the capture socket");
  }
}

std::byte* AfPacketSource::blockAt(std::uint32_t index) const noexcept {
  return ring_.data() + std::size_t{index} * geometry_.blockBytes;
}

bool AfPacketSource::currentBlockReady() const noexcept {
  const auto* descriptor = reinterpret_cast<tpacket_block_desc*>(blockAt(current_));
  // Why acquire: the kernel fills the block before setting the status; we must see the fill.
  return (__atomic_load_n(&descriptor->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) !=
         0;
}

std::span<const std::byte> AfPacketSource::nextBlock(std::chrono::milliseconds timeout) {
  if (!currentBlockReady()) {
    pollfd waits[2] = {{socket_.get(), POLLIN | POLLERR, 0}, {wakeEvent_.get(), POLLIN, 0}};
    const int ready = ::poll(waits, 2, static_cast<int>(timeout.count()));
    if (ready > 0 && (waits[0].revents & POLLERR)) {
      // Reading SO_ERROR clears it (the interface went down, for instance); count it.
      int error = 0;
      socklen_t length = sizeof error;
      ::getsockopt(socket_.get(), SOL_SOCKET, SO_ERROR, &error, &length);
      ++socketErrors_;
    }
    if (ready > 0 && (waits[1].revents & POLLIN)) {
      std::uint64_t drained;
      [[maybe_unused]] auto ignored = ::read(wakeEvent_.get(), &drained, sizeof drained);
    }
    if (!currentBlockReady()) return {};
  }
  return {blockAt(current_), geometry_.blockBytes};
}

void AfPacketSource::releaseBlock() noexcept {
  auto* descriptor = reinterpret_cast<tpacket_block_desc*>(blockAt(current_));
  __atomic_store_n(&descriptor->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
  current_ = (current_ + 1) % geometry_.blockCount;
}

void AfPacketSource::wake() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto ignored = ::write(wakeEvent_.get(), &one, sizeof one);
}

void AfPacketSource::stopIntake() {
  const auto dropAll = bpf::FilterProgram::dropAll();
  const sock_fprog program = dropAll.socketProgram();
  setOption(socket_.get(), SOL_SOCKET, SO_ATTACH_FILTER, program, "attach drop-all filter");
}

void AfPacketSource::replaceFilter(const bpf::FilterProgram& filter) {
  const sock_fprog program = filter.socketProgram();
  setOption(socket_.get(), SOL_SOCKET, SO_ATTACH_FILTER, program, "replace filter");
}

KernelCounts AfPacketSource::takeKernelCounts() noexcept {
  tpacket_stats_v3 counts{};
  socklen_t length = sizeof counts;
  if (::getsockopt(socket_.get(), SOL_PACKET, PACKET_STATISTICS, &counts, &length) != 0) return {};
  return KernelCounts{counts.tp_packets, counts.tp_drops};
}

}  // namespace pcap_recorder::capture
