#include "pcap_recorder/bpf/filter.hpp"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <memory>
#include <string_view>

#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::bpf {

namespace {

struct PcapCloser {
  void operator()(pcap_t* handle) const noexcept { pcap_close(handle); }
};

// Why: bpf_insn (libpcap) and sock_filter (kernel) are the same classic BPF instruction.
static_assert(sizeof(bpf_insn) == sizeof(sock_filter));

constexpr int kCompilerRingBytes = 64 << 10;

using Clock = std::chrono::steady_clock;

void writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(written));
  }
}

// What the compiler child may allocate: libpcap's optimizer took 3.8 GB in 10 s on a 10,000-host
// expression; a filter the kernel can take needs a few megabytes.
constexpr std::uint64_t kCompilerMemory = 512ull << 20;

// Caps this process's address space at its present size plus `bytes`; libpcap then fails with
// "out of memory" rather than the machine running out.
void limitAddressSpaceGrowth(std::uint64_t bytes) {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages = 0;
  if (!(statm >> pages)) return;
  const std::uint64_t now = pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const rlimit limit{now + bytes, now + bytes};
  ::setrlimit(RLIMIT_AS, &limit);
}

// Reads `fd` to its end into `out`; false when `deadline` passes first.
bool readAllUntil(int fd, std::string& out, Clock::time_point deadline) {
  std::array<char, 16384> buffer;
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd wait{fd, POLLIN, 0};
    const int ready =
        ::poll(&wait, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) return true;  // cannot wait: take what there is
    if (ready <= 0) continue;
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return true;
    out.append(buffer.data(), static_cast<std::size_t>(got));
  }
}

// The handle decides the code: a live Linux one lets libpcap use the kernel's VLAN extensions.
std::vector<sock_filter> compileWith(pcap_t* handle, const std::string& expression) {
  bpf_program program{};
  if (pcap_compile(handle, &program, expression.c_str(), /*optimize=*/1, PCAP_NETMASK_UNKNOWN) !=
      0) {
    throw FilterError(pcap_geterr(handle));
  }
  if (program.bf_len > kMaxInstructions) {
    const unsigned length = program.bf_len;
    pcap_freecode(&program);
    throw FilterError("compiles to " + std::to_string(length) +
                      " BPF instructions; the kernel attaches at most " +
                      std::to_string(kMaxInstructions) + " (shorten the filter)");
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

FilterProgram FilterProgram::compileIsolated(const std::string& interface,
                                             const std::string& expression, std::uint32_t snaplen,
                                             std::chrono::milliseconds timeout) {
  // Nothing to isolate in an empty expression; and without a child (a process limit reached)
  // compiling here still beats refusing every filter.
  if (expression.empty()) return compileForInterface(interface, expression, snaplen);
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return compileForInterface(interface, expression, snaplen);
  util::UniqueFd reader(ends[0]);
  util::UniqueFd writer(ends[1]);
  const pid_t child = ::fork();
  if (child < 0) return compileForInterface(interface, expression, snaplen);
  if (child == 0) {
    // The child only compiles and writes its answer: a status byte, then the instructions or
    // libpcap's message. glibc's fork leaves malloc usable here; nothing else of the parent's is
    // touched (no logging, no stdio), and _exit skips every destructor and atexit handler.
    reader.reset();
    // Nothing of the parent's outlives it here: not its sockets, files or directory locks
    // (service/directory_locks.hpp), which a child left behind by a killed daemon would hold.
    const auto keep = static_cast<unsigned>(writer.get());
    if (keep > 3) ::close_range(3, keep - 1, 0);
    ::close_range(keep + 1, ~0U, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    limitAddressSpaceGrowth(kCompilerMemory);
    std::string answer;
    try {
      const FilterProgram program = compileForInterface(interface, expression, snaplen);
      answer.push_back('\0');
      answer.append(reinterpret_cast<const char*>(program.instructions_.data()),
                    program.instructions_.size() * sizeof(sock_filter));
    } catch (const std::exception& error) {
      answer.push_back('\1');
      answer.append(error.what());
    }
    writeAll(writer.get(), answer);
    ::_exit(0);
  }
  writer.reset();
  std::string answer;
  const bool finished = readAllUntil(reader.get(), answer, Clock::now() + timeout);
  if (!finished) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!finished) {
    const std::string limit = timeout >= std::chrono::seconds(1)
                                  ? std::to_string((timeout.count() + 999) / 1000) + " s"
                                  : std::to_string(timeout.count()) + " ms";
    throw FilterError("takes longer than " + limit +
                      " to compile (libpcap's optimizer is slow on long expressions); "
                      "shorten the filter");
  }
  if (WIFSIGNALED(status)) {
    throw FilterError("crashed libpcap's compiler (signal " + std::to_string(WTERMSIG(status)) +
                      "); the expression is too long or too deeply nested");
  }
  if (answer.empty() || (answer[0] == '\0' && (answer.size() - 1) % sizeof(sock_filter) != 0)) {
    throw FilterError("the filter compiler gave no answer");
  }
  if (answer[0] != '\0') {
    const std::string message = answer.substr(1);
    // libpcap says only "malloc" (or "out of memory") when the limit above stops its optimizer.
    if (message == "malloc" || message.find("out of memory") != std::string::npos) {
      throw FilterError("needs more than " + std::to_string(kCompilerMemory >> 20) +
                        " MiB to compile (libpcap: " + message + "); shorten the filter");
    }
    throw FilterError(message);
  }
  std::vector<sock_filter> instructions((answer.size() - 1) / sizeof(sock_filter));
  std::memcpy(instructions.data(), answer.data() + 1, answer.size() - 1);
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
