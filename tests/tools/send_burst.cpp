// send_burst NAMESPACE INTERFACE COUNT SIZE [RATE]: sends COUNT test frames of SIZE bytes (the
// frames of support/frames.hpp, sequence 0 to COUNT-1) out of INTERFACE inside network namespace
// NAMESPACE, as fast as it can or at RATE frames per second, and prints {"sent": N, "seconds": S}
// on stdout. The traffic generator of the benchmark smoke (bench/run-benchmarks --smoke): batches
// of sendmmsg() on an AF_PACKET socket that bypasses the qdisc, paced per batch.
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "pcap_recorder/util/unique_fd.hpp"
#include "support/frames.hpp"

namespace {

namespace t = pcap_recorder::testing;
using pcap_recorder::util::UniqueFd;

constexpr std::size_t kBatch = 64;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

unsigned long number(const char* text, const char* what) {
  char* end = nullptr;
  errno = 0;
  const auto value = std::strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') {
    throw std::runtime_error(std::string(what) + " is not a number: " + text);
  }
  return value;
}

// The whole process moves into the namespace: it has nothing else to do.
void enterNamespace(const std::string& ns) {
  UniqueFd nsFd(::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC));
  if (!nsFd.valid()) fail("namespace " + ns);
  if (::setns(nsFd.get(), CLONE_NEWNET) != 0) fail("setns " + ns);
}

UniqueFd boundSocket(const std::string& interface) {
  UniqueFd socket(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (!socket.valid()) fail("AF_PACKET socket");
  // Straight to the driver: a qdisc would only add a queue to drop from.
  const int on = 1;
  (void)::setsockopt(socket.get(), SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on);
  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_ifindex = static_cast<int>(::if_nametoindex(interface.c_str()));
  if (address.sll_ifindex == 0) fail("interface " + interface);
  if (::bind(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    fail("bind to " + interface);
  }
  return socket;
}

void sleepUntil(const timespec& due) {
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, nullptr) == EINTR) {
  }
}

timespec plus(timespec base, std::uint64_t nanoseconds) {
  const std::uint64_t total = static_cast<std::uint64_t>(base.tv_nsec) + nanoseconds;
  base.tv_sec += static_cast<time_t>(total / 1'000'000'000);
  base.tv_nsec = static_cast<long>(total % 1'000'000'000);
  return base;
}

// Sends frames [0, count) in order; a frame the socket refuses for want of buffer space is sent
// again, so every frame leaves exactly once.
std::uint64_t sendAll(int socket, std::uint64_t count, std::size_t size, std::uint64_t rate) {
  std::vector<std::vector<std::byte>> frames(kBatch);
  std::vector<iovec> vectors(kBatch);
  std::vector<mmsghdr> messages(kBatch);
  timespec start{};
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  std::uint64_t sent = 0;
  while (sent < count) {
    const std::size_t batch =
        static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, count - sent));
    if (rate > 0) sleepUntil(plus(start, sent * 1'000'000'000 / rate));
    for (std::size_t i = 0; i < batch; ++i) {
      frames[i] =
          t::buildUdpFrame({.sequence = static_cast<std::uint32_t>(sent + i), .frameBytes = size});
      vectors[i] = {frames[i].data(), frames[i].size()};
      messages[i] = {};
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    std::size_t done = 0;
    while (done < batch) {
      const int result =
          ::sendmmsg(socket, messages.data() + done, static_cast<unsigned>(batch - done), 0);
      if (result > 0) {
        done += static_cast<std::size_t>(result);
      } else if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
        ::usleep(50);
      } else {
        fail("sendmmsg");
      }
    }
    sent += batch;
  }
  return sent;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || argc > 6) {
    std::fprintf(stderr, "usage: %s NAMESPACE INTERFACE COUNT SIZE [RATE]\n", argv[0]);
    return 2;
  }
  try {
    const auto count = number(argv[3], "COUNT");
    const auto size = number(argv[4], "SIZE");
    const auto rate = argc > 5 ? number(argv[5], "RATE") : 0;
    if (size < 64 || size > 9000) throw std::runtime_error("SIZE must be 64 to 9000 bytes");
    enterNamespace(argv[1]);
    const UniqueFd socket = boundSocket(argv[2]);
    const auto began = std::chrono::steady_clock::now();
    const auto sent = sendAll(socket.get(), count, size, rate);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
    std::printf("{\"sent\": %llu, \"seconds\": %.3f}\n", static_cast<unsigned long long>(sent),
                took.count());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "send_burst: %s\n", error.what());
    return 1;
  }
  return 0;
}
