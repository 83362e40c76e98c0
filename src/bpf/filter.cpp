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

}  // namespace

FilterProgram::FilterProgram(std::vector<sock_filter> instructions)
    : instructions_(std::move(instructions)) {}

FilterProgram FilterProgram::compile(const std::string& expression, std::uint32_t snaplen) {
  std::unique_ptr<pcap_t, PcapCloser> dead(pcap_open_dead(DLT_EN10MB, static_cast<int>(snaplen)));
  if (!dead) throw FilterError("libpcap could not set up a filter compiler");
  bpf_program program{};
  if (pcap_compile(dead.get(), &program, expression.c_str(), /*optimize=*/1,
                   PCAP_NETMASK_UNKNOWN) != 0) {
    throw FilterError(pcap_geterr(dead.get()));
  }
  std::vector<sock_filter> instructions(program.bf_len);
  for (unsigned i = 0; i < program.bf_len; ++i) {
    const bpf_insn& in = program.bf_insns[i];
    instructions[i] = sock_filter{in.code, in.jt, in.jf, in.k};
  }
  pcap_freecode(&program);
  return FilterProgram(std::move(instructions));
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
