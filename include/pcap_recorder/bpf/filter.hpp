// Classic BPF programs for the capture socket, compiled from tcpdump syntax by libpcap: for the
// interface itself when it can be opened (as tcpdump does), otherwise without opening any device
// (pcap_open_dead), so checking a config works unprivileged and offline.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <linux/filter.h>

namespace pcap_recorder::bpf {

// libpcap's own message for an expression it cannot compile.
class FilterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The longest program the kernel attaches to a socket (BPF_MAXINSNS); longer ones are refused
// when compiled, so the config check says so rather than the socket at start.
inline constexpr std::size_t kMaxInstructions = BPF_MAXINSNS;

class FilterProgram {
 public:
  // Compiles `expression` for Ethernet frames. An accepted frame is cut to `snaplen` by the kernel
  // (the program returns snaplen), so no more than that is ever copied into the ring. An empty
  // expression accepts everything. Throws FilterError, also for a program over kMaxInstructions.
  static FilterProgram compile(const std::string& expression, std::uint32_t snaplen);

  // As compile(), but the way libpcap compiles for a live capture on `interface`: `vlan` tests then
  // read the tag the kernel takes out of a frame and reports beside it (a BPF extension) as well
  // as a tag still in the frame, as tcpdump's filters do. Without the interface or CAP_NET_RAW
  // this is compile(), whose `vlan` tests see only tags still in the frame; so is an expression
  // without `vlan`, the only test that compiles differently.
  static FilterProgram compileForInterface(const std::string& interface,
                                           const std::string& expression, std::uint32_t snaplen);

  // As compileForInterface(), in a child process that is given at most `timeout`: libpcap's
  // optimizer takes minutes on some long expressions (700 `host` terms: about 20 s) and its
  // parser overflows the stack on others, and neither may stall or crash the daemon. Throws
  // FilterError for a bad expression, a program over kMaxInstructions, or a compile that runs out
  // of time or crashes. When no child can be started (a process limit), compiles in this one.
  static FilterProgram compileIsolated(const std::string& interface, const std::string& expression,
                                       std::uint32_t snaplen, std::chrono::milliseconds timeout);

  // Accepts nothing: attached while the socket is being set up, and to stop intake at shutdown.
  static FilterProgram dropAll();

  // The form SO_ATTACH_FILTER takes; valid while this object lives and is not modified.
  sock_fprog socketProgram() const;

  // Runs the program over a frame in user space (libpcap's interpreter): the number of bytes the
  // kernel would keep, 0 when it rejects the frame. For tests and diagnostics.
  std::uint32_t evaluate(std::span<const std::byte> frame, std::uint32_t wireLength) const;

  std::size_t size() const noexcept { return instructions_.size(); }

 private:
  explicit FilterProgram(std::vector<sock_filter> instructions);
  std::vector<sock_filter> instructions_;
};

}  // namespace pcap_recorder::bpf
