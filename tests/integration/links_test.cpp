// Interfaces that come and go while the daemon runs: absent at start, down and up, deleted and
// made again. Followed through rtnetlink events; the daemon is never restarted.
#include <gtest/gtest.h>
#include <thread>

#include "daemon_process.hpp"
#include "recorder_fixture.hpp"
#include "support/frames.hpp"

namespace pcap_recorder::testing {
namespace {

using namespace std::chrono_literals;
using LinksTest = RecorderTest;

void sendRange(FrameSender& sender, std::uint32_t first, std::uint32_t count) {
  for (std::uint32_t i = 0; i < count; ++i) sender.send(buildUdpFrame({.sequence = first + i}));
}

// A veth prs9 (sender side) / prc9 (capture side) made after the daemon started.
void addLateLink(const NamespacePair& hosts) {
  ASSERT_NO_THROW(addVethPair(hosts.senderNamespace(), "prs9", hosts.captureNamespace(), "prc9"));
}

TEST_F(LinksTest, AnInterfaceAbsentAtStartIsRecordedOnceItAppears) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc9\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string(), "--bus", "none"},
                       work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  EXPECT_NE(daemon.log().find("prc9: does not exist; waiting for it to appear"), std::string::npos)
      << daemon.log();

  addLateLink(hosts);
  ASSERT_TRUE(daemon.waitForLog("prc9: appeared; capturing")) << daemon.log();
  FrameSender sender(hosts.senderNamespace(), "prs9");
  sendRange(sender, 0, 20);
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();
  const auto files = finishedFilesOf(outputDirectory(), "prc9");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(sequencesIn(readPcapFile(files.front())), range(0, 20));
}

TEST_F(LinksTest, DownAndUpResumesCaptureInTheSameFile) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string(), "--bus", "none"},
                       work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  sendRange(sender, 0, 10);

  ASSERT_EQ(runCommand("ip -n " + hosts.captureNamespace() + " link set prc0 down"), 0);
  ASSERT_TRUE(daemon.waitForLog("prc0: link down")) << daemon.log();
  ASSERT_EQ(runCommand("ip -n " + hosts.captureNamespace() + " link set prc0 up"), 0);
  ASSERT_TRUE(daemon.waitForLog("prc0: link up")) << daemon.log();
  // The sender's end lost its carrier with prc0; until it is back, its frames are dropped.
  ASSERT_TRUE(waitForCarrier(hosts.senderNamespace(), "prs0"));
  sendRange(sender, 100, 10);
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  ASSERT_EQ(files.size(), 1u) << "the same file goes on after the link comes back";
  auto expected = range(0, 10);
  const auto after = range(100, 10);
  expected.insert(expected.end(), after.begin(), after.end());
  EXPECT_EQ(sequencesIn(readPcapFile(files.front())), expected);
  const auto log = daemon.log();
  EXPECT_EQ(log.find("prc0: link down"), log.rfind("prc0: link down")) << "logged once";
  EXPECT_EQ(log.find("prc0: link up"), log.rfind("prc0: link up")) << "logged once";
}

// The kernel announces changes only: an interface already down at start is said to be down (not
// capturing) from the start, and up once it is.
TEST_F(LinksTest, AnInterfaceDownAtStartIsSaidToBeDownUntilItComesUp) {
  NamespacePair hosts;
  ASSERT_EQ(runCommand("ip -n " + hosts.captureNamespace() + " link set prc0 down"), 0);
  const auto config = writeConfig("  - name: prc0\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string(), "--bus", "none"},
                       work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  EXPECT_NE(daemon.log().find("prc0: link down: waiting for it to come up"), std::string::npos)
      << daemon.log();
  ASSERT_EQ(runCommand("ip -n " + hosts.captureNamespace() + " link set prc0 up"), 0);
  ASSERT_TRUE(daemon.waitForLog("prc0: link up")) << daemon.log();
  ASSERT_TRUE(waitForCarrier(hosts.senderNamespace(), "prs0"));
  auto sender = hosts.senderOn();
  sendRange(sender, 0, 10);
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();
  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(sequencesIn(readPcapFile(files.front())), range(0, 10));
}

TEST_F(LinksTest, ADeletedInterfaceFinishesItsFileAndARecreatedOneIsCapturedAgain) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc9\n");
  addLateLink(hosts);
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string(), "--bus", "none"},
                       work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  {
    FrameSender sender(hosts.senderNamespace(), "prs9");
    sendRange(sender, 0, 10);
  }
  std::this_thread::sleep_for(200ms);
  ASSERT_EQ(runCommand("ip -n " + hosts.captureNamespace() + " link delete prc9"), 0);
  ASSERT_TRUE(daemon.waitForLog("prc9: removed; its file is finished")) << daemon.log();
  ASSERT_TRUE(daemon.waitForLog("prc9: finished")) << daemon.log();
  {
    const auto finished = finishedFilesOf(outputDirectory(), "prc9");
    ASSERT_EQ(finished.size(), 1u) << "finished while the daemon runs";
    EXPECT_EQ(sequencesIn(readPcapFile(finished.front())), range(0, 10));
  }

  addLateLink(hosts);  // same name, new interface index
  ASSERT_TRUE(daemon.waitForLog("prc9: appeared; capturing")) << daemon.log();
  FrameSender sender(hosts.senderNamespace(), "prs9");
  sendRange(sender, 100, 10);
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto files = finishedFilesOf(outputDirectory(), "prc9");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(sequencesIn(readPcapFile(files[0])), range(0, 10));
  EXPECT_EQ(sequencesIn(readPcapFile(files[1])), range(100, 10));
}

}  // namespace
}  // namespace pcap_recorder::testing
