#include "pcap_recorder/bpf/filter.hpp"

#include <pcap/pcap.h>
#include <memory>

namespace pcap_recorder::bpf {

namespace {

struct PcapCloser {
  void operator()(pcap_t* handle) const noexcept { pcap_close(handle); }
};

// Why: bpf_insn (libpcap) and sock_filter (kernel) are the same classic BPF instruction.
static_assert(sizeof(bpf_insn) == sizeof(sock_filter));

constexpr int kCompilerRingBytes = 64 << 10;

// The handle decides the code: a live Linux one lets libpcap use the kernel's VLAN extensions.
std::vector<sock_filter> compileWith(pcap_t* handle, const std::string& expression) {
  bpf_program program{};
  if (pcap_compile(handle, &program, expression.c_str(), /*optimize=*/1, PCAP_NETMASK_UNKNOWN) !=
      0) {
    throw FilterError(pcap_geterr(handle));
  }
  std::vector<sock_filter> instructions(program.bf_len);
  for (unsigned i = 0; i < program.bf_len; ++i) {
    const bpf_insn& in = program.bf_insns[i];
    instructions[i] = sock_filter{in.code, in.jt, in.jf, in.k};
  }
  pcap_freecode(&program);
  return instructions;
}

}  // namespace

FilterProgram::FilterProgram(std::vector<sock_filter> instructions)
    : instructions_(std::move(instructions)) {}

FilterProgram FilterProgram::compile(const std::string& expression, std::uint32_t snaplen) {
  std::unique_ptr<pcap_t, PcapCloser> dead(pcap_open_dead(DLT_EN10MB, static_cast<int>(snaplen)));
  if (!dead) throw FilterError("libpcap could not set up a filter compiler");
  return FilterProgram(compileWith(dead.get(), expression));
}

FilterProgram FilterProgram::compileForInterface(const std::string& interface,
                                                 const std::string& expression,
                                                 std::uint32_t snaplen) {
  // Why only then: opening the interface costs 20-30 ms, and only `vlan` compiles differently.
  if (expression.find("vlan") == std::string::npos) return compile(expression, snaplen);
  char error[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, PcapCloser> live(pcap_create(interface.c_str(), error));
  // Opened only to compile: a small ring, closed before any frame is read.
  if (!live || pcap_set_snaplen(live.get(), static_cast<int>(snaplen)) != 0 ||
      pcap_set_buffer_size(live.get(), kCompilerRingBytes) != 0 || pcap_activate(live.get()) < 0 ||
      pcap_datalink(live.get()) != DLT_EN10MB) {
    return compile(expression, snaplen);
  }
  return FilterProgram(compileWith(live.get(), expression));
}

FilterProgram FilterProgram::dropAll() {
  return FilterProgram({sock_filter{BPF_RET | BPF_K, 0, 0, 0}});
}

sock_fprog FilterProgram::socketProgram() const {
  return sock_fprog{static_cast<unsigned short>(instructions_.size()),
                    const_cast<sock_filter*>(instructions_.data())};
}

std::uint32_t FilterProgram::evaluate(std::span<const std::byte> frame,
                                      std::uint32_t wireLength) const {
  std::vector<bpf_insn> program(instructions_.size());
  for (std::size_t i = 0; i < instructions_.size(); ++i) {
    const sock_filter& in = instructions_[i];
    program[i] = bpf_insn{in.code, in.jt, in.jf, in.k};
  }
  return bpf_filter(program.data(), reinterpret_cast<const u_char*>(frame.data()), wireLength,
                    static_cast<u_int>(frame.size()));
}

}  // namespace pcap_recorder::bpf
