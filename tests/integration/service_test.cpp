// The daemon as a service outside systemd: reload under traffic, the notify protocol on a test
// socket, and giving up root.
#include <gtest/gtest.h>
#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>

#include "daemon_process.hpp"
#include "recorder_fixture.hpp"
#include "support/frames.hpp"

namespace pcap_recorder::testing {
namespace {

using namespace std::chrono_literals;
using ServiceTest = RecorderTest;

// The numbers of "Groups:\t1 2 " or of `id -G`, sorted.
std::vector<long> groupsIn(const std::string& text) {
  std::vector<long> groups;
  std::istringstream words(text);
  for (long group; words >> group;) groups.push_back(group);
  std::sort(groups.begin(), groups.end());
  return groups;
}

// The value of a line "Key:\t..." in /proc/PID/status.
std::string procStatus(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(key + ":")) {
      auto value = line.substr(key.size() + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  }
  return {};
}

TEST_F(ServiceTest, ReloadUnderTrafficLosesNoFrameOnAnUnchangedInterface) {
  NamespacePair hosts(2);
  const auto config = writeConfig("  - name: prc0\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string(), "--bus", "none"},
                       work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();

  // Steady traffic on prc0 for the whole test, from its own thread. A jthread, declared after
  // what it uses: a failed ASSERT returns from the test, and the jthread's destructor stops and
  // joins it before the daemon, the namespaces and the work directory go (a joinable std::thread
  // destroyed calls std::terminate, and then none of their destructors runs). What the thread
  // throws is kept for the test to report: escaping the thread, it would terminate too.
  std::atomic<std::uint32_t> sent{0};
  std::string trafficError;
  std::jthread traffic([&](std::stop_token stop) {
    try {
      auto sender = hosts.senderOn(0);
      while (!stop.stop_requested()) {
        sender.send(buildUdpFrame({.sequence = sent}));
        ++sent;
        std::this_thread::sleep_for(200us);
      }
    } catch (const std::exception& error) {
      trafficError = error.what();
    } catch (...) {
      trafficError = "an exception that is not a std::exception";
    }
  });

  std::this_thread::sleep_for(300ms);
  // A broken config: refused, the daemon runs on unchanged.
  writeTextFile(config, "interfaces:\n  - name: prc0\n    snaplenn: 3\n");
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.waitForLog("reload refused")) << daemon.log();
  EXPECT_NE(daemon.log().find("did you mean \"snaplen\""), std::string::npos) << daemon.log();
  std::this_thread::sleep_for(300ms);

  // A valid config with one more interface: prc1 starts, prc0 keeps its socket and its file.
  writeConfig("  - name: prc0\n  - name: prc1\n");
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.waitForLog("reloaded: 1 started")) << daemon.log();
  auto link1 = hosts.senderOn(1);
  std::this_thread::sleep_for(300ms);
  for (std::uint32_t i = 0; i < 50; ++i) link1.send(buildUdpFrame({.sequence = 900'000 + i}));
  std::this_thread::sleep_for(300ms);
  traffic.request_stop();
  traffic.join();
  ASSERT_EQ(trafficError, "") << "the traffic thread failed";
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto prc0 = finishedFilesOf(outputDirectory(), "prc0");
  ASSERT_EQ(prc0.size(), 1u) << "an unchanged interface keeps its file through reloads";
  std::vector<std::uint32_t> expected(sent.load());
  for (std::uint32_t i = 0; i < expected.size(); ++i) expected[i] = i;
  EXPECT_EQ(sequencesAcross(prc0), expected) << "every frame once, in order";
  const auto prc1 = finishedFilesOf(outputDirectory(), "prc1");
  std::vector<std::uint32_t> expected1(50);
  for (std::uint32_t i = 0; i < 50; ++i) expected1[i] = 900'000 + i;
  EXPECT_EQ(sequencesAcross(prc1), expected1);

  // The notify protocol: ready, then each reload wrapped in RELOADING=1 / READY=1, then stopping.
  std::vector<std::string> kinds;
  for (const auto& message : daemon.notifications()) {
    for (const char* kind : {"READY=1", "RELOADING=1", "STOPPING=1"}) {
      if (message.find(kind) != std::string::npos) kinds.push_back(kind);
    }
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"READY=1", "RELOADING=1", "READY=1", "RELOADING=1",
                                             "READY=1", "STOPPING=1"}));
}

TEST_F(ServiceTest, ReloadChangesAFilterInPlaceWithoutANewFile) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n    filter: \"udp dst port 5001\"\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string(), "--bus", "none"},
                       work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 10; ++i) {
    sender.send(buildUdpFrame({.destinationPort = 5001, .sequence = i}));
    sender.send(buildUdpFrame({.destinationPort = 5002, .sequence = 100 + i}));
  }
  std::this_thread::sleep_for(200ms);
  writeConfig("  - name: prc0\n    filter: \"udp dst port 5002\"\n");
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.waitForLog("1 changed in place")) << daemon.log();
  ASSERT_TRUE(daemon.waitForLog("prc0: new settings applied")) << daemon.log();
  for (std::uint32_t i = 0; i < 10; ++i) {
    sender.send(buildUdpFrame({.destinationPort = 5001, .sequence = 200 + i}));
    sender.send(buildUdpFrame({.destinationPort = 5002, .sequence = 300 + i}));
  }
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  ASSERT_EQ(files.size(), 1u);
  std::vector<std::uint32_t> expected;
  for (std::uint32_t i = 0; i < 10; ++i) expected.push_back(i);
  for (std::uint32_t i = 0; i < 10; ++i) expected.push_back(300 + i);
  EXPECT_EQ(sequencesAcross(files), expected);
}

TEST_F(ServiceTest, StartedAsRootItRunsAsTheGivenUserWithOnlyTheTwoCapabilities) {
  if (runCommand("id nobody >/dev/null") != 0) GTEST_SKIP() << "needs the user nobody";
  NamespacePair hosts;
  ASSERT_TRUE(giveOutputDirectoryToNobody());
  const auto config = writeConfig("  - name: prc0\n");
  DaemonProcess daemon(hosts.captureNamespace(),
                       {"--config", config.string(), "--bus", "none", "--user", "nobody"},
                       work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  const pid_t pid = daemon.pid();
  EXPECT_NE(procStatus(pid, "Uid").substr(0, 2), "0\t");
  // CAP_NET_RAW (13) and CAP_NET_ADMIN (12): 0x3000.
  EXPECT_EQ(procStatus(pid, "CapEff"), "0000000000003000");
  EXPECT_EQ(procStatus(pid, "CapPrm"), "0000000000003000");
  EXPECT_EQ(procStatus(pid, "CapBnd"), "0000000000003000");
  // The user's own groups, as systemd's User= gives them: none at all (libcap-ng's
  // CAPNG_DROP_SUPP_GRP) refused a directory the user reaches through a group.
  EXPECT_EQ(groupsIn(procStatus(pid, "Groups")), groupsIn(captureStdout("id -G nobody").output));
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 10; ++i) sender.send(buildUdpFrame({.sequence = i}));
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();
  EXPECT_EQ(sequencesAcross(finishedFilesOf(outputDirectory(), "prc0")).size(), 10u);
}

// Read as root at start, the config is read again as the user at every reload: one the user
// cannot read would only have failed the first reload.
TEST_F(ServiceTest, StartedAsRootWithAUserWhoCannotReadTheConfigItExitsNamingBoth) {
  if (runCommand("id nobody >/dev/null") != 0) GTEST_SKIP() << "needs the user nobody";
  NamespacePair hosts;
  ASSERT_TRUE(giveOutputDirectoryToNobody());
  const auto config = writeConfig("  - name: prc0\n");
  fs::permissions(config, fs::perms::owner_read | fs::perms::owner_write);
  DaemonProcess daemon(hosts.captureNamespace(),
                       {"--config", config.string(), "--bus", "none", "--user", "nobody"},
                       work_.path());
  EXPECT_EQ(daemon.wait(), 78) << daemon.log();
  EXPECT_NE(daemon.log().find(config.string() +
                              ": user nobody cannot read it: Permission denied; every reload "
                              "would fail"),
            std::string::npos)
      << daemon.log();
  EXPECT_TRUE(listDirectory(outputDirectory()).empty()) << "no capture file is made";
}

// Started unprivileged with more than it needs (a launcher's ambient set), it keeps only the two.
TEST_F(ServiceTest, StartedUnprivilegedWithMoreCapabilitiesItKeepsOnlyTheTwo) {
  if (runCommand("command -v setpriv >/dev/null && id nobody >/dev/null") != 0) {
    GTEST_SKIP() << "needs setpriv and the user nobody";
  }
  NamespacePair hosts;
  ASSERT_TRUE(giveOutputDirectoryToNobody());
  const auto config = writeConfig("  - name: prc0\n");
  const std::string more = "-all,+net_raw,+net_admin,+sys_ptrace,+dac_read_search";
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string(), "--bus", "none"},
                       work_.path(),
                       {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        "--inh-caps=" + more, "--ambient-caps=" + more, "--"});
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  const pid_t pid = daemon.pid();
  EXPECT_EQ(procStatus(pid, "CapEff"), "0000000000003000");
  EXPECT_EQ(procStatus(pid, "CapPrm"), "0000000000003000");
  EXPECT_EQ(procStatus(pid, "CapInh"), "0000000000000000");
  EXPECT_EQ(procStatus(pid, "CapAmb"), "0000000000000000");
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 10; ++i) sender.send(buildUdpFrame({.sequence = i}));
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();
  EXPECT_EQ(sequencesAcross(finishedFilesOf(outputDirectory(), "prc0")).size(), 10u);
}

// "ip host 10.0.0.0 or ip host 10.0.0.1 or ...": over the kernel's 4096 instructions at 1200.
std::string manyHosts(int count) {
  std::string expression;
  for (int i = 0; i < count; ++i) {
    expression += (i > 0 ? " or " : "") + std::string("ip host 10.0.") + std::to_string(i / 256) +
                  "." + std::to_string(i % 256);
  }
  return expression;
}

TEST_F(ServiceTest, AReloadToAFilterTheKernelRefusesFailsAndTheOldFilterKeepsCapturing) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n    filter: \"udp dst port 5001\"\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string(), "--bus", "none"},
                       work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 10; ++i) {
    sender.send(buildUdpFrame({.destinationPort = 5001, .sequence = i}));
    sender.send(buildUdpFrame({.destinationPort = 5002, .sequence = 100 + i}));
  }
  writeConfig("  - name: prc0\n    filter: \"" + manyHosts(1200) + "\"\n");
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.waitForLog("reload refused")) << daemon.log();
  EXPECT_NE(daemon.log().find("BPF instructions; the kernel attaches at most 4096"),
            std::string::npos)
      << daemon.log();
  EXPECT_EQ(daemon.log().find("reloaded:"), std::string::npos) << "no success is claimed";
  for (std::uint32_t i = 0; i < 10; ++i) {
    sender.send(buildUdpFrame({.destinationPort = 5001, .sequence = 200 + i}));
    sender.send(buildUdpFrame({.destinationPort = 5002, .sequence = 300 + i}));
  }
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  std::vector<std::uint32_t> expected;
  for (std::uint32_t i = 0; i < 10; ++i) expected.push_back(i);
  for (std::uint32_t i = 0; i < 10; ++i) expected.push_back(200 + i);
  EXPECT_EQ(sequencesAcross(finishedFilesOf(outputDirectory(), "prc0")), expected)
      << "the old filter, on the same socket, before and after the refused reload";
}

TEST_F(ServiceTest, AReloadThatCannotStartAThreadRollsBackAndTheDaemonRunsOn) {
  if (runCommand("id nobody >/dev/null") != 0) GTEST_SKIP() << "needs the user nobody";
  NamespacePair hosts(2);
  ASSERT_TRUE(giveOutputDirectoryToNobody());
  const auto config = writeConfig("  - name: prc0\n");
  const std::vector<std::string> args = {"--config", config.string(), "--bus",
                                         "none",     "--user",        "nobody"};
  // The tasks one recording interface takes, counted on a daemon without limit...
  std::string threads;
  {
    DaemonProcess probe(hosts.captureNamespace(), args, work_.path());
    ASSERT_TRUE(probe.waitReady()) << probe.log();
    threads = procStatus(probe.pid(), "Threads");
    ASSERT_EQ(probe.stop(), 0) << probe.log();
  }
  ASSERT_FALSE(threads.empty());
  ASSERT_TRUE(giveOutputDirectoryToNobody());
  // ...are all the user nobody may have (RLIMIT_NPROC; nobody has no CAP_SYS_RESOURCE): it starts,
  // and a second interface's capture thread cannot.
  DaemonProcess daemon(hosts.captureNamespace(), args, work_.path(),
                       {"prlimit", "--nproc=" + threads});
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn(0);
  for (std::uint32_t i = 0; i < 10; ++i) sender.send(buildUdpFrame({.sequence = i}));

  writeConfig("  - name: prc0\n  - name: prc1\n");
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.waitForLog("reload refused: ")) << daemon.log();
  EXPECT_NE(daemon.log().find("Resource temporarily unavailable; running on unchanged"),
            std::string::npos)
      << daemon.log();
  EXPECT_EQ(daemon.log().find("reloaded:"), std::string::npos) << daemon.log();
  EXPECT_TRUE(daemon.running()) << "a failed reload must not stop the daemon\n" << daemon.log();
  for (std::uint32_t i = 10; i < 20; ++i) sender.send(buildUdpFrame({.sequence = i}));
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  std::vector<std::uint32_t> expected(20);
  for (std::uint32_t i = 0; i < 20; ++i) expected[i] = i;
  EXPECT_EQ(sequencesAcross(finishedFilesOf(outputDirectory(), "prc0")), expected);
  EXPECT_TRUE(finishedFilesOf(outputDirectory(), "prc1").empty())
      << "the rolled-back interface leaves no file";
}

TEST_F(ServiceTest, TheStatusSentWithReadyDescribesTheInterfacesAsCapturing) {
  NamespacePair hosts(2);
  const auto config = writeConfig("  - name: prc0\n  - name: prc1\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string(), "--bus", "none"},
                       work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  std::string ready;
  for (const auto& message : daemon.notifications()) {
    if (message.find("READY=1") != std::string::npos) {
      ready = message;
      break;
    }
  }
  EXPECT_NE(ready.find("STATUS=prc0 capturing: 0 packets, 0 drops; prc1 capturing: 0 packets"),
            std::string::npos)
      << ready;
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();
}

}  // namespace
}  // namespace pcap_recorder::testing
