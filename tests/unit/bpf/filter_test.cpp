#include "pcap_recorder/bpf/filter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>
#include <string>

#include <cerrno>
#include <cstring>

#include "support/frames.hpp"

namespace pcap_recorder::bpf {
namespace {

using testing::buildUdpFrame;

std::uint32_t run(const FilterProgram& program, const std::vector<std::byte>& frame) {
  return program.evaluate(frame, static_cast<std::uint32_t>(frame.size()));
}

TEST(FilterProgram, AcceptsMatchingFramesAndRejectsOthers) {
  const auto program = FilterProgram::compile("udp dst port 5001", 262144);
  EXPECT_GT(run(program, buildUdpFrame({.destinationPort = 5001})), 0u);
  EXPECT_EQ(run(program, buildUdpFrame({.destinationPort = 5002})), 0u);
}

TEST(FilterProgram, AcceptedFramesAreCutToSnaplenByTheKernel) {
  const auto program = FilterProgram::compile("udp", 96);
  EXPECT_EQ(run(program, buildUdpFrame({.frameBytes = 500})), 96u);
}

TEST(FilterProgram, EmptyExpressionAcceptsEverything) {
  const auto program = FilterProgram::compile("", 262144);
  EXPECT_GT(run(program, buildUdpFrame({.destinationPort = 1})), 0u);
  EXPECT_GT(run(program, buildUdpFrame({.vlanId = 7})), 0u);
}

TEST(FilterProgram, InvalidExpressionThrowsLibpcapsMessage) {
  try {
    FilterProgram::compile("tcp port", 262144);
    FAIL() << "expected FilterError";
  } catch (const FilterError& error) {
    EXPECT_NE(std::string(error.what()).find("syntax error"), std::string::npos) << error.what();
  }
  EXPECT_THROW(FilterProgram::compile("udp port 99999999", 262144), FilterError);
}

TEST(FilterProgram, DropAllRejectsEverything) {
  EXPECT_EQ(run(FilterProgram::dropAll(), buildUdpFrame({})), 0u);
}

TEST(FilterProgram, SocketProgramCoversEveryInstruction) {
  const auto program = FilterProgram::compile("tcp port 443 or udp port 53", 262144);
  const auto socketProgram = program.socketProgram();
  EXPECT_EQ(socketProgram.len, program.size());
  EXPECT_GT(program.size(), 3u);
}

// "ip host 10.0.0.0 or ip host 10.0.0.1 or ...": about four instructions a host, compiled fast.
std::string manyHosts(int count, const char* primitive = "ip host") {
  std::string expression;
  for (int i = 0; i < count; ++i) {
    if (i > 0) expression += " or ";
    expression +=
        std::string(primitive) + " 10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
  }
  return expression;
}

// The kernel's own answer, from a socket anyone may open.
int attachErrno(const FilterProgram& program) {
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const sock_fprog code = program.socketProgram();
  const int result = ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &code, sizeof code);
  const int error = result == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

TEST(FilterInstructionLimit, AProgramTheKernelTakesIsAccepted) {
  const auto program = FilterProgram::compile(manyHosts(1000), 262144);
  EXPECT_GT(program.size(), 3000u);
  EXPECT_LE(program.size(), kMaxInstructions);
  EXPECT_EQ(attachErrno(program), 0);
}

TEST(FilterInstructionLimit, AProgramOverBpfMaxInsnsIsRefusedWhenCompiled) {
  EXPECT_EQ(kMaxInstructions, 4096u);
  try {
    FilterProgram::compile(manyHosts(1200), 262144);
    FAIL() << "a program the kernel refuses (EINVAL) must not compile";
  } catch (const FilterError& error) {
    EXPECT_THAT(error.what(), ::testing::MatchesRegex("compiles to 4[0-9]{3} BPF instructions; the "
                                                      "kernel attaches at most 4096 .*"));
  }
  EXPECT_THROW(FilterProgram::compileIsolated("pr-no-such-if", manyHosts(1200), 262144,
                                              std::chrono::seconds(60)),
               FilterError);
}

TEST(CompileIsolated, GivesTheSameProgramAsCompilingHere) {
  const std::string expression = "tcp port 443 or udp port 53";
  const auto isolated =
      FilterProgram::compileIsolated("pr-no-such-if", expression, 262144, std::chrono::seconds(60));
  const auto here = FilterProgram::compile(expression, 262144);
  ASSERT_EQ(isolated.size(), here.size());
  const sock_fprog a = isolated.socketProgram();
  const sock_fprog b = here.socketProgram();
  EXPECT_EQ(std::memcmp(a.filter, b.filter, a.len * sizeof(sock_filter)), 0);
  EXPECT_GT(run(isolated, buildUdpFrame({.destinationPort = 53})), 0u);
  EXPECT_EQ(FilterProgram::compileIsolated("lo", "", 96, std::chrono::seconds(1)).size(), 1u);
}

TEST(CompileIsolated, ReportsLibpcapsMessageForABadExpression) {
  try {
    FilterProgram::compileIsolated("pr-no-such-if", "tcp port", 262144, std::chrono::seconds(60));
    FAIL() << "expected a FilterError";
  } catch (const FilterError& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr("syntax error"));
  }
}

TEST(CompileIsolated, GivesUpOnACompileThatOutrunsItsTime) {
  // libpcap's optimizer needs about a minute for 1,000 `host` terms (each tests IP, ARP and RARP).
  try {
    FilterProgram::compileIsolated("pr-no-such-if", manyHosts(1000, "host"), 262144,
                                   std::chrono::milliseconds(200));
    FAIL() << "expected a FilterError";
  } catch (const FilterError& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr("takes longer than 200 ms to compile"));
  }
}

TEST(CompileIsolated, AnExpressionThatExhaustsTheCompilerFailsWithoutHarmingTheCaller) {
  // 10,000 terms: unoptimized, libpcap crashed on this; optimized, it wanted gigabytes.
  try {
    FilterProgram::compileIsolated("pr-no-such-if", manyHosts(10000, "host"), 262144,
                                   std::chrono::seconds(60));
    FAIL() << "expected a FilterError";
  } catch (const FilterError& error) {
#ifdef __SANITIZE_ADDRESS__
    // AddressSanitizer's allocator ignores the child's memory limit and aborts it itself: the
    // caller still gets an error and runs on, but without the limit's own wording.
    EXPECT_NE(std::string(error.what()), "");
#else
    EXPECT_THAT(error.what(), ::testing::HasSubstr("needs more than 512 MiB to compile"));
#endif
  }
}

}  // namespace
// Loopback is an Ethernet interface every machine has. Opening it needs CAP_NET_RAW (root in CI).
TEST(FilterProgram, ForAnInterfaceVlanTestsReadTheTagTheKernelTookOut) {
  if (::geteuid() != 0) GTEST_SKIP() << "opening an interface needs CAP_NET_RAW";
  const auto live = FilterProgram::compileForInterface("lo", "vlan 100", 262144);
  const auto offline = FilterProgram::compile("vlan 100", 262144);
  const auto readsAncillary = [](const FilterProgram& program) {
    const sock_fprog code = program.socketProgram();
    for (unsigned i = 0; i < code.len; ++i) {
      if (BPF_CLASS(code.filter[i].code) == BPF_LD &&
          code.filter[i].k == static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT)) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(readsAncillary(live)) << "the kernel strips the tag: the filter must ask for it";
  EXPECT_FALSE(readsAncillary(offline));
}

TEST(FilterProgram, ForAMissingInterfaceItCompilesAsOffline) {
  const auto program = FilterProgram::compileForInterface("pr-no-such-if", "vlan 7", 128);
  EXPECT_EQ(program.size(), FilterProgram::compile("vlan 7", 128).size());
  EXPECT_THROW(FilterProgram::compileForInterface("pr-no-such-if", "vlan 7 and udp port", 128),
               FilterError);
  if (::geteuid() == 0) {
    EXPECT_THROW(FilterProgram::compileForInterface("lo", "vlan 7 and udp port", 128), FilterError);
  }
}

}  // namespace pcap_recorder::bpf
