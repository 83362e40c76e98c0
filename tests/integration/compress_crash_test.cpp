// A crash in the middle of compressing: pcap-recorderd is killed (SIGKILL) while a finished file
// is being compressed, and the next start leaves exactly one whole copy of every capture,
// compressed and with its sidecar, no `.part` and no empty file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <set>
#include <thread>

#include "daemon_process.hpp"
#include "pcap_recorder/pcap/repair.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "recorder_fixture.hpp"
#include "support/file_bytes.hpp"
#include "support/frames.hpp"

namespace pcap_recorder::testing {
namespace {

using namespace std::chrono_literals;

// Waits (up to `timeout`) for a name ending in `suffix` to be created in the directory `inotify`
// watches; the name, or empty.
std::string waitForCreated(int inotify, const std::string& suffix,
                           std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  alignas(inotify_event) std::array<char, 4096> buffer;
  while (std::chrono::steady_clock::now() < deadline) {
    const ssize_t got = ::read(inotify, buffer.data(), buffer.size());
    if (got <= 0) {
      std::this_thread::sleep_for(1ms);
      continue;
    }
    for (ssize_t at = 0; at < got;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + at);
      const std::string name = event->len > 0 ? event->name : "";
      if (name.ends_with(suffix)) return name;
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
  return {};
}

// Waits (up to 60 s) until the one `.pcap.part` of `directory` holds `sent` records, or, should
// the kernel have dropped some, until its size has not changed for 5 s: five flushes, longer than
// a capture thread is held up on a loaded machine.
void waitUntilTheOpenFileHoldsAll(const fs::path& directory, std::uint64_t sent) {
  std::uint64_t last = 0;
  auto unchangedSince = std::chrono::steady_clock::now();
  for (const auto deadline = unchangedSince + 60s; std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(100ms)) {
    std::string part;
    for (const auto& name : listDirectory(directory)) {
      if (name.ends_with(".pcap.part")) part = (directory / name).string();
    }
    util::UniqueFd file(::open(part.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat status {};
    if (!file.valid() || ::fstat(file.get(), &status) != 0) continue;
    const auto size = static_cast<std::uint64_t>(status.st_size);
    // Record headers only, as the repair reads them: 20 MB are not read ten times a second.
    if (pcap::scanPcap(pcap::preadAt(file.get(), part), size).records == sent) return;
    const auto now = std::chrono::steady_clock::now();
    if (size != last) {
      last = size;
      unchangedSince = now;
    } else if (size > 24 && now - unchangedSince >= 5s) {
      return;
    }
  }
  ADD_FAILURE() << "the open file in " << directory << " was still growing after 60 s";
}

class CompressCrashTest : public RecorderTest {
 protected:
  void killedWhileCompressingLeavesOneWholeCopy(const std::string& compression,
                                                const std::string& suffix,
                                                const std::string& decompressor, int level);
};

void CompressCrashTest::killedWhileCompressingLeavesOneWholeCopy(const std::string& compression,
                                                                 const std::string& suffix,
                                                                 const std::string& decompressor,
                                                                 int level) {
  NamespacePair hosts;
  // The highest level, so that compressing a file of some 20 MB takes long enough to be killed
  // in the middle of it (and, on a loaded machine, more than 30 s after the restart).
  const auto config = writeConfig(
      "  - name: prc0\n    filter: \"udp dst port 5001\"\n",
      "  compression: " + compression + "\n  compression_level: " + std::to_string(level) + "\n");
  fs::create_directories(outputDirectory());
  util::UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  ASSERT_TRUE(inotify.valid());
  ASSERT_GE(::inotify_add_watch(inotify.get(), outputDirectory().c_str(), IN_CREATE), 0);

  std::string interrupted;  // the uncompressed file whose compression was killed
  std::vector<std::uint32_t> inInterrupted;
  {
    DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
    ASSERT_TRUE(daemon.waitReady()) << daemon.log();
    auto sender = hosts.senderOn();
    for (std::uint32_t i = 0; i < 20'000; ++i) {
      sender.send(buildUdpFrame({.sequence = i, .frameBytes = 1000}));
    }
    // Every frame in this file, none left in the ring for the next one.
    waitUntilTheOpenFileHoldsAll(outputDirectory(), 20'000);
    daemon.signal(SIGUSR1);  // finishes the file: its compression starts
    const auto part = waitForCreated(inotify.get(), suffix + ".part", 20s);
    daemon.signal(SIGKILL);
    daemon.wait();
    ASSERT_FALSE(part.empty()) << "no compression started\n" << daemon.log();
    interrupted = part.substr(0, part.size() - suffix.size() - 5);
    ASSERT_TRUE(fs::exists(outputDirectory() / part)) << "killed in the middle: " << part;
    ASSERT_FALSE(fs::exists(outputDirectory() / (interrupted + suffix)))
        << "killed before the compressed file was complete";
    ASSERT_TRUE(fs::exists(outputDirectory() / interrupted)) << "the uncompressed file is whole";
    inInterrupted = sequencesIn(readPcapFile(outputDirectory() / interrupted));
    ASSERT_GT(inInterrupted.size(), 1000u);
    // The file the rotation opened, without a packet yet: the restart must not keep it. The
    // finisher may begin compressing before the capture thread has created it, so the kill may
    // also come before it exists.
    std::vector<std::string> opened;
    for (const auto& name : listDirectory(outputDirectory())) {
      if (name.starts_with("prc0-") && name.ends_with(".pcap.part")) opened.push_back(name);
    }
    ASSERT_LE(opened.size(), 1u) << ::testing::PrintToString(opened);
    // No record. Nothing at all when the kill fell between the file's creation and the write of
    // its header; else a header, and with direct I/O perhaps zeros after it, when the kill fell
    // between the write of the header's padded block and the cut back to 24 bytes.
    for (const auto& name : opened) {
      const auto openedBytes = readFile(outputDirectory() / name);
      ASSERT_TRUE(openedBytes.empty() || openedBytes.size() >= 24u)
          << name << " holds " << openedBytes.size() << " bytes";
      EXPECT_TRUE(std::all_of(openedBytes.begin() + std::min<std::size_t>(24, openedBytes.size()),
                              openedBytes.end(), [](std::byte b) { return b == std::byte{0}; }))
          << name << " holds " << openedBytes.size() << " bytes, not only a header";
    }
  }

  DaemonProcess restarted(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(restarted.waitReady()) << restarted.log();
  ASSERT_TRUE(restarted.waitForLog(
      "finished " + (outputDirectory() / interrupted).string() + suffix + " (repaired)", 120s))
      << restarted.log();
  ASSERT_EQ(restarted.stop(), 0) << restarted.log();

  // Exactly one copy, compressed, with its index and sidecar; nothing else of prc0: no `.part`,
  // no uncompressed twin, no empty file from the rotation the kill interrupted.
  std::vector<std::string> left;
  for (const auto& name : listDirectory(outputDirectory())) {
    if (name.starts_with("prc0-")) left.push_back(name);
  }
  std::sort(left.begin(), left.end());
  const std::string stored = interrupted + suffix;
  EXPECT_EQ(left, (std::vector<std::string>{stored, stored + ".idx", stored + ".json"}))
      << restarted.log();

  // Whole: every frame read back by Wireshark's tools and by the decompressor, each once.
  expectWiresharkReadsCleanly(outputDirectory() / stored, inInterrupted.size());
  const auto plain = work_ / "plain.pcap";
  ASSERT_EQ(
      capture(decompressor + " " + (outputDirectory() / stored).string() + " > " + plain.string())
          .status,
      0);
  EXPECT_EQ(sequencesIn(readPcapFile(plain)), inInterrupted);
  const auto json = readText(outputDirectory() / (stored + ".json"));
  EXPECT_NE(json.find("\"reason\": \"repaired\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"compression\": \"" + compression + "\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"packets\": " + std::to_string(inInterrupted.size()) + ","),
            std::string::npos)
      << json;
  const auto sum = capture("sha256sum " + (outputDirectory() / stored).string());
  EXPECT_NE(json.find("\"sha256\": \"" + sum.output.substr(0, 64) + "\""), std::string::npos)
      << json;
}

TEST_F(CompressCrashTest, Kill9WhileCompressingZstdLeavesOneWholeCompressedCopyAfterRestart) {
  killedWhileCompressingLeavesOneWholeCopy("zstd", ".zst", "zstdcat", 19);
}

TEST_F(CompressCrashTest, Kill9WhileCompressingGzipLeavesOneWholeCompressedCopyAfterRestart) {
  killedWhileCompressingLeavesOneWholeCopy("gzip", ".gz", "zcat", 9);
}

}  // namespace
}  // namespace pcap_recorder::testing
