#include "netns.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace pcap_recorder::testing {

namespace {

std::atomic<int> namespaceCounter{0};

void mustRun(const std::string& command) {
  if (runCommand(command) != 0) throw std::runtime_error("command failed: " + command);
}

}  // namespace

int runCommand(const std::string& command) {
  const int status = std::system((command + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool canCreateNamespaces() {
  return ::geteuid() == 0 && runCommand("ip -V >/dev/null") == 0;
}

util::UniqueFd socketInNamespace(const std::string& ns, int domain, int type, int protocol) {
  int fd = -1;
  int error = 0;
  // Why a thread: setns() changes only the calling thread's namespace, and a socket keeps the
  // namespace it was created in.
  std::thread([&] {
    util::UniqueFd nsFd(::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC));
    if (!nsFd.valid() || ::setns(nsFd.get(), CLONE_NEWNET) != 0) {
      error = errno;
      return;
    }
    fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) error = errno;
  }).join();
  if (fd < 0) throw std::runtime_error("socket in namespace " + ns + ": " + std::strerror(error));
  return util::UniqueFd(fd);
}

FrameSender::FrameSender(const std::string& ns, const std::string& interface)
    : socket_(socketInNamespace(ns, AF_PACKET, SOCK_RAW, 0)) {
  unsigned index = 0;
  std::thread([&] {
    util::UniqueFd nsFd(::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC));
    if (nsFd.valid() && ::setns(nsFd.get(), CLONE_NEWNET) == 0) {
      index = ::if_nametoindex(interface.c_str());
    }
  }).join();
  if (index == 0) throw std::runtime_error("no interface " + interface + " in " + ns);
  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_ifindex = static_cast<int>(index);
  if (::bind(socket_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error("bind sender to " + interface + ": " + std::strerror(errno));
  }
}

void FrameSender::send(std::span<const std::byte> frame) {
  for (;;) {
    const ssize_t sent = ::send(socket_.get(), frame.data(), frame.size(), 0);
    if (sent == static_cast<ssize_t>(frame.size())) return;
    if (sent < 0 && (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)) continue;
    ADD_FAILURE() << "send: " << std::strerror(errno);
    return;
  }
}

bool waitForCarrier(const std::string& ns, const std::string& interface,
                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto command = "ip -n " + ns + " -o link show dev " + interface + " | grep -q 'state UP'";
  while (runCommand(command) != 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void addVethPair(const std::string& senderNs, const std::string& senderInterface,
                 const std::string& captureNs, const std::string& captureInterface) {
  mustRun("ip link add " + senderInterface + " netns " + senderNs + " type veth peer name " +
          captureInterface + " netns " + captureNs);
  mustRun("ip -n " + captureNs + " link set " + captureInterface + " up");
  mustRun("ip -n " + senderNs + " link set " + senderInterface + " up");
  if (!waitForCarrier(senderNs, senderInterface)) {
    throw std::runtime_error(senderInterface + " in " + senderNs + " got no carrier in 10 s");
  }
}

NamespacePair::NamespacePair(int links)
    : prefix_("prt" + std::to_string(::getpid()) + "x" + std::to_string(namespaceCounter++)),
      sender_(prefix_ + "s"),
      capture_(prefix_ + "c") {
  // Why the catch: when a constructor throws, its destructor does not run; the namespaces made
  // so far (and the veth ends in them) would outlive the test, one more pair on every failure.
  std::vector<std::string> made;
  try {
    for (const auto& ns : {sender_, capture_}) {
      mustRun("ip netns add " + ns);
      made.push_back(ns);
      // No IPv6: otherwise the kernel sends its own router solicitations into the capture.
      mustRun("ip netns exec " + ns + " sysctl -qw net.ipv6.conf.all.disable_ipv6=1");
      mustRun("ip netns exec " + ns + " sysctl -qw net.ipv6.conf.default.disable_ipv6=1");
      mustRun("ip -n " + ns + " link set lo up");
    }
    for (int link = 0; link < links; ++link) {
      addVethPair(sender_, senderInterface(link), capture_, captureInterface(link));
    }
  } catch (...) {
    for (const auto& ns : made) runCommand("ip netns delete " + ns);
    throw;
  }
}

NamespacePair::~NamespacePair() {
  // Deleting a namespace deletes the veth ends in it.
  runCommand("ip netns delete " + sender_);
  runCommand("ip netns delete " + capture_);
}

std::string NamespacePair::senderInterface(int link) const {
  return "prs" + std::to_string(link);
}
std::string NamespacePair::captureInterface(int link) const {
  return "prc" + std::to_string(link);
}

BackgroundSender::BackgroundSender(FrameSender sender, std::vector<std::byte> frame)
    : sender_(std::move(sender)), frame_(std::move(frame)) {
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      sender_.send(frame_);
      ++sent_;
    }
  });
}

BackgroundSender::~BackgroundSender() {
  stop();
}

std::uint64_t BackgroundSender::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return sent_;
}

}  // namespace pcap_recorder::testing
