#include "pcap_recorder/bpf/filter.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

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
