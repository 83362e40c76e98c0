// End to end: frames sent across a veth between two namespaces, recorded by pcap-recorderd, read
// back with libpcap and with Wireshark's capinfos and tshark.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sstream>
#include <thread>

#include "daemon_process.hpp"
#include "integration_support.hpp"
#include "netns.hpp"
#include "pcap_recorder/pcap/repair.hpp"
#include "recorder_fixture.hpp"
#include "support/file_bytes.hpp"
#include "support/frames.hpp"
#include "support/pcap_reader.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::testing {
namespace {

using RecordTest = RecorderTest;

TEST_F(RecordTest, RecordsExactlyTheFramesMatchingTheFilterBitIdenticalAndInOrder) {
  NamespacePair hosts;
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 20; ++i) {  // before the daemon exists: never recorded
    sender.send(buildUdpFrame({.destinationPort = 5001, .sequence = 1'000'000 + i}));
    sender.send(buildUdpFrame({.destinationPort = 5002, .sequence = 1'000'100 + i}));
  }
  const auto config = writeConfig("  - name: prc0\n    filter: \"udp dst port 5001\"\n");

  // Non-matching frames stream in while the daemon sets up its socket: none may slip through.
  BackgroundSender noise(hosts.senderOn(),
                         buildUdpFrame({.destinationPort = 5002, .sequence = 2'000'000}));
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  EXPECT_GT(noise.stop(), 0u);

  std::vector<std::vector<std::byte>> expected;
  for (std::uint32_t i = 0; i < 300; ++i) {
    const std::uint16_t port = i % 3 == 0 ? 5002 : 5001;
    auto frame = buildUdpFrame({.destinationPort = port, .sequence = i, .frameBytes = 64 + i});
    sender.send(frame);
    if (port == 5001) expected.push_back(std::move(frame));
  }
  ASSERT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();

  const auto file = onlyFileOf("prc0");
  const auto read = readPcapFile(file);
  EXPECT_EQ(read.magic, 0xA1B2C3D4u);
  EXPECT_EQ(read.linkType, 1);
  EXPECT_EQ(read.snaplen, 262144u);
  ASSERT_EQ(read.records.size(), expected.size()) << daemon.log();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(read.records[i].data, expected[i]) << "record " << i;
    EXPECT_EQ(read.records[i].originalLength, expected[i].size());
    if (i > 0) {
      const auto& a = read.records[i - 1];
      const auto& b = read.records[i];
      EXPECT_LE(std::pair(a.seconds, a.fraction), std::pair(b.seconds, b.fraction));
    }
  }
  expectWiresharkReadsCleanly(file, expected.size());
  EXPECT_NE(daemon.log().find("prc0: summary: 200 packets written"), std::string::npos)
      << daemon.log();
}

TEST_F(RecordTest, TwoInterfacesEachKeepTheirOwnFilterAndFiles) {
  NamespacePair hosts(2);
  const auto config = writeConfig(
      "  - name: prc0\n    filter: \"udp dst port 5001\"\n"
      "  - name: prc1\n    filter: \"udp dst port 5002\"\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto link0 = hosts.senderOn(0);
  auto link1 = hosts.senderOn(1);
  for (std::uint32_t i = 0; i < 100; ++i) {
    link0.send(buildUdpFrame({.destinationPort = 5001, .sequence = i}));
    link0.send(buildUdpFrame({.destinationPort = 5002, .sequence = 10'000 + i}));
    link1.send(buildUdpFrame({.destinationPort = 5001, .sequence = 20'000 + i}));
    link1.send(buildUdpFrame({.destinationPort = 5002, .sequence = 30'000 + i}));
  }
  ASSERT_EQ(daemon.stop(SIGINT), 0) << daemon.log();

  std::vector<std::uint32_t> expected0, expected1;
  for (std::uint32_t i = 0; i < 100; ++i) {
    expected0.push_back(i);
    expected1.push_back(30'000 + i);
  }
  EXPECT_EQ(sequencesIn(readPcapFile(onlyFileOf("prc0"))), expected0);
  EXPECT_EQ(sequencesIn(readPcapFile(onlyFileOf("prc1"))), expected1);
}

TEST_F(RecordTest, SnaplenCutsEachFrameButKeepsItsLengthOnTheWire) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n    snaplen: 100\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  std::vector<std::vector<std::byte>> sent;
  for (std::uint32_t i = 0; i < 50; ++i) {
    sent.push_back(buildUdpFrame({.sequence = i, .frameBytes = 600 + i}));
    sender.send(sent.back());
  }
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto file = onlyFileOf("prc0");
  const auto read = readPcapFile(file);
  EXPECT_EQ(read.snaplen, 100u);
  ASSERT_EQ(read.records.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(read.records[i].includedLength, 100u);
    EXPECT_EQ(read.records[i].originalLength, sent[i].size());
    EXPECT_EQ(read.records[i].data, std::vector<std::byte>(sent[i].begin(), sent[i].begin() + 100));
  }
  const auto lengths = captureStdout("tshark -n -r " + file.string() +
                                     " -T fields -e frame.len -e frame.cap_len -c 1");
  EXPECT_EQ(lengths.output, "600\t100\n");
  expectWiresharkReadsCleanly(file, sent.size());
}

TEST_F(RecordTest, VlanTaggedFramesKeepTheirTagAsOnTheWire) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n", "  timestamp: nano\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  std::vector<std::vector<std::byte>> sent;
  for (std::uint32_t i = 0; i < 20; ++i) {
    sent.push_back(buildUdpFrame({.sequence = i, .vlanId = static_cast<std::uint16_t>(100 + i)}));
    sender.send(sent.back());
  }
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto file = onlyFileOf("prc0");
  const auto read = readPcapFile(file);
  EXPECT_EQ(read.magic, 0xA1B23C4Du) << "timestamp: nano";
  ASSERT_EQ(read.records.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(read.records[i].data, sent[i]) << "record " << i;
    EXPECT_EQ(read.records[i].originalLength, sent[i].size());
  }
  const auto ids = captureStdout("tshark -n -r " + file.string() + " -T fields -e vlan.id -c 2");
  EXPECT_EQ(ids.output, "100\n101\n");
  expectWiresharkReadsCleanly(file, sent.size());
}

// The kernel takes the tag out of the frame before the socket's filter runs; `vlan 100` must
// still match exactly the frames of VLAN 100, as it does in tcpdump.
TEST_F(RecordTest, AVlanFilterKeepsExactlyThatVlansFrames) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n    filter: \"vlan 100 and udp\"\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  std::vector<std::vector<std::byte>> expected;
  for (std::uint32_t i = 0; i < 30; ++i) {
    const std::optional<std::uint16_t> vlan =
        i % 3 == 0 ? std::optional<std::uint16_t>(100)
                   : (i % 3 == 1 ? std::optional<std::uint16_t>(200) : std::nullopt);
    auto frame = buildUdpFrame({.sequence = i, .frameBytes = 100 + 20 * i, .vlanId = vlan});
    sender.send(frame);
    if (vlan == 100) expected.push_back(std::move(frame));
  }
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto file = onlyFileOf("prc0");
  const auto read = readPcapFile(file);
  ASSERT_EQ(read.records.size(), expected.size()) << daemon.log();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(read.records[i].data, expected[i]) << "record " << i;
  }
  const auto ids = captureStdout("tshark -n -r " + file.string() + " -T fields -e vlan.id");
  std::string everyId;
  for (std::size_t i = 0; i < expected.size(); ++i) everyId += "100\n";
  EXPECT_EQ(ids.output, everyId);
}

TEST_F(RecordTest, ABurstFollowedAtOnceBySigtermIsWrittenWhole) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  constexpr std::uint32_t kBurst = 20'000;
  for (std::uint32_t i = 0; i < kBurst; ++i) sender.send(buildUdpFrame({.sequence = i}));
  ASSERT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();

  const auto file = onlyFileOf("prc0");
  const auto sequences = sequencesIn(readPcapFile(file));
  ASSERT_EQ(sequences.size(), kBurst) << daemon.log();
  for (std::uint32_t i = 0; i < kBurst; ++i) ASSERT_EQ(sequences[i], i) << "out of order";
  expectWiresharkReadsCleanly(file, kBurst);
}

// Direct I/O to a real disk: frames of every length up to the MTU, across several aligned
// buffers; the live `.part` holds whole records within a second, and the file ends exactly
// after its last record.
TEST_F(RecordTest, WithDirectIoOnADiskEveryFrameReadsBackBitIdentical) {
  if (onTmpfs(work_.path())) GTEST_SKIP() << work_.path() << " is tmpfs, not a disk";
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n", "  direct_io: on\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  EXPECT_TRUE(daemon.waitForLog("with direct I/O")) << daemon.log();
  auto sender = hosts.senderOn();
  std::vector<std::vector<std::byte>> expected;
  auto send = [&](std::uint32_t from, std::uint32_t to) {
    for (std::uint32_t i = from; i < to; ++i) {
      expected.push_back(buildUdpFrame({.sequence = i, .frameBytes = 64 + (i * 37) % 1451}));
      sender.send(expected.back());
    }
  };
  send(0, 3000);
  // The live .part is flushed every second; a flush in progress may show zero padding past the
  // last record for a moment, so it is read with the repair's scan, and again until it is whole.
  const auto live = outputDirectory() / fs::path(onlyPartOf("prc0"));
  pcap::ScanResult scan;
  std::size_t liveSize = 0;
  for (const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    const auto bytes = readFile(live);
    liveSize = bytes.size();
    scan = pcap::scanPcap(bytes);
    if (scan.records == 3000 && scan.completeBytes == liveSize) break;
  }
  EXPECT_EQ(scan.records, 3000u) << "the live .part holds every record flushed";
  EXPECT_EQ(scan.completeBytes, liveSize) << "and ends after the last one";
  send(3000, 8000);
  ASSERT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();

  const auto file = onlyFileOf("prc0");
  const auto read = readPcapFile(file);
  ASSERT_EQ(read.records.size(), expected.size()) << daemon.log();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(read.records[i].data, expected[i]) << "record " << i;
  }
  expectWiresharkReadsCleanly(file, expected.size());
}

TEST_F(RecordTest, LoopbackFramesAreRecordedOnceNotOncePerDirection) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: lo\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  FrameSender loopback(hosts.captureNamespace(), "lo");
  std::vector<std::uint32_t> expected;
  for (std::uint32_t i = 0; i < 100; ++i) {
    loopback.send(buildUdpFrame({.sequence = i}));
    expected.push_back(i);
  }
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();
  EXPECT_EQ(sequencesIn(readPcapFile(onlyFileOf("lo"))), expected);
}

TEST_F(RecordTest, RunsAsAnUnprivilegedUserWithOnlyNetRawAndNetAdmin) {
  if (runCommand("command -v setpriv >/dev/null && id nobody >/dev/null") != 0) {
    GTEST_SKIP() << "needs setpriv and the user nobody";
  }
  NamespacePair hosts;
  ASSERT_TRUE(giveOutputDirectoryToNobody());
  const auto config = writeConfig("  - name: prc0\n");
  DaemonProcess daemon(
      hosts.captureNamespace(), {"--config", config.string()}, work_.path(),
      {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
       "--inh-caps=-all,+net_raw,+net_admin", "--ambient-caps=-all,+net_raw,+net_admin", "--"});
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 10; ++i) sender.send(buildUdpFrame({.sequence = i}));
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto file = onlyFileOf("prc0");
  EXPECT_EQ(sequencesIn(readPcapFile(file)).size(), 10u);
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_NE(st.st_uid, 0u) << "the file belongs to the unprivileged user";
}

TEST_F(RecordTest, RefusesAnInterfaceThatIsNotEthernetAndWritesNothing) {
  NamespacePair hosts;
  ASSERT_EQ(runCommand("ip netns exec " + hosts.captureNamespace() +
                       " ip tuntap add dev prtun0 mode tun"),
            0);
  const auto config = writeConfig("  - name: prtun0\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  EXPECT_EQ(daemon.wait(), 78) << "EX_CONFIG: the config needs an edit";
  EXPECT_NE(daemon.log().find("interface prtun0 has link type 65534 (ARPHRD), not Ethernet"),
            std::string::npos)
      << daemon.log();
  EXPECT_FALSE(fs::exists(outputDirectory())) << "no capture file is touched";
}

}  // namespace
}  // namespace pcap_recorder::testing
