// output.compression with a real daemon: the finished file is NAME.pcap.zst / NAME.pcap.gz, read
// back whole by tshark, capinfos and tcpdump, with a sidecar whose sha256 is the file's.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "daemon_process.hpp"
#include "pcap_recorder/util/little_endian.hpp"
#include "recorder_fixture.hpp"
#include "support/file_bytes.hpp"
#include "support/frames.hpp"

namespace pcap_recorder::testing {
namespace {

// The string value of `key` in the sidecar's JSON (the writer puts one key per line).
std::string jsonString(const std::string& json, const std::string& key) {
  const auto at = json.find("\"" + key + "\": \"");
  if (at == std::string::npos) return "<missing>";
  const auto begin = at + key.size() + 5;
  return json.substr(begin, json.find('"', begin) - begin);
}

std::string jsonNumber(const std::string& json, const std::string& key) {
  const auto at = json.find("\"" + key + "\": ");
  if (at == std::string::npos) return "<missing>";
  const auto begin = at + key.size() + 4;
  return json.substr(begin, json.find_first_of(",\n", begin) - begin);
}

using Frames = std::vector<std::vector<std::byte>>;

class CompressTest : public RecorderTest {
 protected:
  void recordsCompressed(const std::string& compression, const std::string& suffix,
                         const std::string& decompressor);
  // prc0 records 3000 frames of random payload with `compressionSettings` (lines of the output
  // section) until SIGTERM: `file` is the one .pcap.zst it finishes, `sent` the frames.
  void recordIncompressibleZstd(const std::string& compressionSettings, fs::path& file,
                                Frames& sent);
};

// `file` through `decompressor` (a command) into `plain`: the frames `sent`, whole and in order.
void expectDecompressesToTheFramesSent(const std::string& decompressor, const fs::path& file,
                                       const fs::path& plain, const Frames& sent) {
  ASSERT_EQ(capture(decompressor + " " + file.string() + " > " + plain.string()).status, 0);
  const auto read = readPcapFile(plain);
  ASSERT_EQ(read.records.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(read.records[i].data, sent[i]) << "record " << i;
  }
}

void CompressTest::recordsCompressed(const std::string& compression, const std::string& suffix,
                                     const std::string& decompressor) {
  CompressTest& test = *this;
  const fs::path work = work_.path();
  NamespacePair hosts;
  auto sender = hosts.senderOn();
  const auto config = test.writeConfig("  - name: prc0\n    filter: \"udp dst port 5001\"\n",
                                       "  compression: " + compression + "\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work);
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  Frames expected;
  for (std::uint32_t i = 0; i < 400; ++i) {
    auto frame = buildUdpFrame({.destinationPort = 5001, .sequence = i, .frameBytes = 64 + i});
    sender.send(frame);
    expected.push_back(std::move(frame));
  }
  ASSERT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();

  const auto file = test.onlyFileOf("prc0");
  ASSERT_TRUE(file.string().ends_with(".pcap" + suffix)) << file;
  EXPECT_FALSE(fs::exists(fs::path(file.string().substr(0, file.string().size() - suffix.size()))))
      << "the uncompressed file is removed";
  EXPECT_TRUE(fs::exists(file.string() + ".idx")) << "the index follows the stored name";
  expectWiresharkReadsCleanly(file, expected.size());

  // The bytes inside are the frames as sent, in order.
  const auto plain = work / "plain.pcap";
  {
    SCOPED_TRACE(daemon.log());
    ASSERT_NO_FATAL_FAILURE(expectDecompressesToTheFramesSent(decompressor, file, plain, expected));
  }
  const auto viaTcpdump =
      capture(decompressor + " " + file.string() + " | tcpdump -n -r - 2>/dev/null | wc -l");
  EXPECT_EQ(std::stoul(viaTcpdump.output), expected.size()) << viaTcpdump.output;

  // The sidecar, beside the file, with the hash of the bytes as stored.
  const auto json = readText(file.string() + ".json");
  const auto sum = capture("sha256sum " + file.string());
  EXPECT_EQ(jsonString(json, "sha256"), sum.output.substr(0, 64)) << json;
  EXPECT_EQ(jsonString(json, "file"), file.filename().string());
  EXPECT_EQ(jsonString(json, "interface"), "prc0");
  EXPECT_EQ(jsonString(json, "compression"), compression);
  EXPECT_EQ(jsonString(json, "filter"), "udp dst port 5001");
  EXPECT_EQ(jsonString(json, "reason"), "stop");
  EXPECT_EQ(jsonNumber(json, "packets"), std::to_string(expected.size()));
  EXPECT_EQ(jsonNumber(json, "bytes"), std::to_string(fs::file_size(plain)));
  EXPECT_EQ(jsonNumber(json, "stored_bytes"), std::to_string(fs::file_size(file)));
  EXPECT_EQ(jsonNumber(json, "kernel_drops"), "0");
  EXPECT_TRUE(jsonString(json, "first_packet").ends_with("Z")) << json;
  EXPECT_NE(daemon.log().find(sum.output.substr(0, 64)), std::string::npos)
      << "the finished line carries SHA256=";
}

TEST_F(CompressTest, ZstdFilesAreReadBackWholeByWiresharkAndZstdcatWithTcpdump) {
  recordsCompressed("zstd", ".zst", "zstdcat");
}

TEST_F(CompressTest, GzipFilesAreReadBackWholeByWiresharkAndZcatWithTcpdump) {
  recordsCompressed("gzip", ".gz", "zcat");
}

// Frames whose payload is random: what real (encrypted) traffic looks like to a compressor, and
// what makes a zstd file of several frames larger than Wireshark's first read.
Frames sendIncompressibleFrames(FrameSender& sender, std::uint32_t count) {
  std::mt19937 random(20261202);
  Frames sent;
  for (std::uint32_t i = 0; i < count; ++i) {
    auto frame = buildUdpFrame({.destinationPort = 5001, .sequence = i, .frameBytes = 1400});
    // After the Ethernet, IPv4 and UDP headers and the marker and sequence the frame builder
    // writes.
    for (std::size_t at = 14 + 20 + 8 + 8; at < frame.size(); ++at) {
      frame[at] = static_cast<std::byte>(random());
    }
    sender.send(frame);
    sent.push_back(std::move(frame));
  }
  return sent;
}

void CompressTest::recordIncompressibleZstd(const std::string& compressionSettings, fs::path& file,
                                            Frames& sent) {
  NamespacePair hosts;
  auto sender = hosts.senderOn();
  const auto config =
      writeConfig("  - name: prc0\n    filter: \"udp dst port 5001\"\n", compressionSettings);
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  sent = sendIncompressibleFrames(sender, 3000);
  ASSERT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();
  file = onlyFileOf("prc0");
  ASSERT_TRUE(file.string().ends_with(".pcap.zst")) << file;
}

// Wireshark 4.0 (Debian 12) opens a .zst only when it is one frame: compression_frame_size: 0.
TEST_F(CompressTest, ALargeZstdFileOfOneFrameIsReadWholeByWireshark) {
  fs::path file;
  Frames sent;
  ASSERT_NO_FATAL_FAILURE(
      recordIncompressibleZstd("  compression: zstd\n  compression_frame_size: 0\n", file, sent));
  ASSERT_GT(fs::file_size(file), 3u << 20) << "incompressible: several of the default frames";
  expectWiresharkReadsCleanly(file, sent.size());
  expectDecompressesToTheFramesSent("zstdcat", file, work_.path() / "plain.pcap", sent);
}

// The default frames of 1 MiB, which extract seeks into: zstdcat (and tshark after it) reads every
// frame of a large file, and extract gives the same packets.
TEST_F(CompressTest, ALargeZstdFileOfDefaultFramesIsReadWholeThroughZstdcat) {
  fs::path file;
  Frames sent;
  ASSERT_NO_FATAL_FAILURE(recordIncompressibleZstd("  compression: zstd\n", file, sent));
  const auto viaTshark = capture("zstdcat " + file.string() +
                                 " | tshark -n -r - -T fields -e frame.number 2>/dev/null | wc -l");
  EXPECT_EQ(std::stoul(viaTshark.output), sent.size()) << viaTshark.output;
  expectDecompressesToTheFramesSent("zstdcat", file, work_.path() / "plain.pcap", sent);
}

TEST_F(CompressTest, UncompressedFilesGetASidecarWithTheirHashToo) {
  NamespacePair hosts;
  auto sender = hosts.senderOn();
  const auto config = writeConfig("  - name: prc0\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  for (std::uint32_t i = 0; i < 50; ++i) sender.send(buildUdpFrame({.sequence = i}));
  ASSERT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();
  const auto file = onlyFileOf("prc0");
  ASSERT_TRUE(file.string().ends_with(".pcap")) << file;
  const auto json = readText(file.string() + ".json");
  EXPECT_EQ(jsonString(json, "sha256"), capture("sha256sum " + file.string()).output.substr(0, 64));
  EXPECT_EQ(jsonString(json, "compression"), "none");
}

std::vector<char> bytesOf(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint32_t le32At(const std::vector<char>& bytes, std::size_t at) {
  return util::loadLittleEndian<std::uint32_t>(
      reinterpret_cast<const std::byte*>(bytes.data() + at));
}

TEST_F(CompressTest, ExtractOverTheDaemonsZstdFilesGivesWhatItGivesOverThemDecompressed) {
  NamespacePair hosts;
  auto sender = hosts.senderOn();
  const auto config = writeConfig("  - name: prc0\n", "  compression: zstd\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  // About 5 MB: five 1 MiB frames and more than one index block.
  for (std::uint32_t i = 0; i < 3600; ++i) {
    sender.send(buildUdpFrame({.sourceIp = {192, 0, 2, static_cast<std::uint8_t>(1 + i % 7)},
                               .destinationPort = static_cast<std::uint16_t>(5001 + i % 5),
                               .sequence = i,
                               .frameBytes = 1200 + i % 300}));
  }
  ASSERT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();
  const auto file = onlyFileOf("prc0");
  ASSERT_TRUE(file.string().ends_with(".pcap.zst")) << file;

  // The file ends in zstd's seek table (the seekable format's footer magic, then one 8-byte entry
  // per frame of at most 1 MiB after the skippable frame's header).
  const auto stored = bytesOf(file);
  ASSERT_GT(stored.size(), 100u);
  EXPECT_EQ(le32At(stored, stored.size() - 4), 0x8F92EAB1u);
  const std::uint32_t frames = le32At(stored, stored.size() - 9);
  EXPECT_GE(frames, 4u);
  const std::size_t table = stored.size() - (8 + frames * 8 + 9);
  EXPECT_EQ(le32At(stored, table), 0x184D2A5Eu);
  for (std::uint32_t i = 0; i + 1 < frames; ++i) {
    EXPECT_EQ(le32At(stored, table + 8 + i * 8 + 4), 1u << 20) << "frame " << i;
  }

  // The same records uncompressed, in a store of their own under the uncompressed name.
  const auto plainDirectory = work_ / "plain";
  fs::create_directories(plainDirectory);
  const auto plainName = file.filename().string().substr(0, file.filename().string().size() - 4);
  ASSERT_EQ(
      capture("zstdcat " + file.string() + " > " + (plainDirectory / plainName).string()).status,
      0);
  const auto plainConfig = work_ / "plain.yaml";
  writeTextFile(plainConfig, "output:\n  directory: " + plainDirectory.string() +
                                 "\ninterfaces:\n  - name: prc0\n");
  const std::string ctl = PCAP_RECORDERCTL_PATH;
  for (const std::string filter :
       {"", "udp dst port 5003", "host 192.0.2.4", "host 192.0.2.6 and port 5005", "port 9"}) {
    const auto fromZstd = work_ / "zstd.pcap";
    const auto fromPlain = work_ / "plain.pcap";
    const auto zstdRun = capture(ctl + " extract --config " + config.string() + " -w " +
                                 fromZstd.string() + " -- '" + filter + "'");
    ASSERT_EQ(zstdRun.status, 0) << zstdRun.output;
    if (!filter.empty() && filter != "port 9") {
      EXPECT_NE(zstdRun.output.find("zstd frames decompressed"), std::string::npos)
          << zstdRun.output;
    }
    const auto plainRun = capture(ctl + " extract --config " + plainConfig.string() + " -w " +
                                  fromPlain.string() + " -- '" + filter + "'");
    ASSERT_EQ(plainRun.status, 0) << plainRun.output;
    EXPECT_EQ(bytesOf(fromZstd), bytesOf(fromPlain)) << filter;
    EXPECT_GT(bytesOf(fromZstd).size(), filter == "port 9" ? 0u : 24u + 100 * 1200) << filter;
  }
}

}  // namespace
}  // namespace pcap_recorder::testing
