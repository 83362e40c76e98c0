// Rotation, retention, crash repair and a full disk, end to end: frames sent across a veth,
// recorded by pcap-recorderd with rotation on, the files read back with libpcap and Wireshark.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "daemon_process.hpp"
#include "pcap_recorder/pcap/repair.hpp"
#include "recorder_fixture.hpp"
#include "support/file_bytes.hpp"
#include "support/frames.hpp"

namespace pcap_recorder::testing {
namespace {

using namespace std::chrono_literals;
using RotateTest = RecorderTest;

std::int64_t nanosecondsOf(const ReadRecord& record) {
  return std::int64_t{record.seconds} * 1'000'000'000 + std::int64_t{record.fraction} * 1000;
}

// The number just before the first `suffix` in `text` (0 when there is none).
std::uint64_t numberBefore(const std::string& text, const std::string& suffix) {
  const auto at = text.find(suffix);
  if (at == std::string::npos) return 0;
  auto start = at;
  while (start > 0 && std::isdigit(static_cast<unsigned char>(text[start - 1]))) --start;
  return start == at ? 0 : std::stoull(text.substr(start, at - start));
}

// The daemon's umask, as /proc/PID/status shows it ("0022"); empty when unreadable.
std::string procUmask(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("Umask:")) return line.substr(line.find_first_not_of(" \t", 6));
  }
  return {};
}

// The first line of `text` that contains `needle` (empty when there is none).
std::string lineWith(const std::string& text, const std::string& needle) {
  const auto at = text.find(needle);
  if (at == std::string::npos) return {};
  const auto start = text.rfind('\n', at);
  const auto begin = start == std::string::npos ? 0 : start + 1;
  return text.substr(begin, text.find('\n', at) - begin);
}

// A small tmpfs mounted for one test, always unmounted.
class TmpfsMount {
 public:
  TmpfsMount(const fs::path& where, const std::string& size) : where_(where) {
    fs::create_directories(where);
    mounted_ =
        runCommand("mount -t tmpfs -o size=" + size + " pcap-recorder-test " + where.string()) == 0;
  }
  ~TmpfsMount() {
    if (mounted_) runCommand("umount -l " + where_.string());
  }
  bool mounted() const { return mounted_; }

 private:
  fs::path where_;
  bool mounted_ = false;
};

TEST_F(RotateTest, SizeLimitKeepsEveryFileUnderItAndEveryFrameExactlyOnceInOrder) {
  NamespacePair hosts;
  const auto config =
      writeConfig("  - name: prc0\n", "", "rotate:\n  max_file_size: 64KiB\n  interval: 0\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 5000; ++i) sender.send(buildUdpFrame({.sequence = i}));
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  EXPECT_GE(files.size(), 10u);
  for (const auto& file : files) EXPECT_LE(fs::file_size(file), 64u * 1024) << file;
  EXPECT_EQ(sequencesAcross(files), range(0, 5000));
  expectWiresharkReadsCleanly(files.front(), readPcapFile(files.front()).records.size());
  EXPECT_NE(daemon.log().find("(max_file_size)"), std::string::npos) << daemon.log();
}

TEST_F(RotateTest, PacketLimitOf100Makes11FilesFrom1050Frames) {
  NamespacePair hosts;
  const auto config =
      writeConfig("  - name: prc0\n", "", "rotate:\n  max_packets: 100\n  interval: 0\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 1050; ++i) sender.send(buildUdpFrame({.sequence = i}));
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  ASSERT_EQ(files.size(), 11u);
  for (std::size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(readPcapFile(files[i]).records.size(), i < 10 ? 100u : 50u) << files[i];
  }
  EXPECT_EQ(sequencesAcross(files), range(0, 1050));
}

TEST_F(RotateTest, TimeRotationNeverLetsAFileSpanABoundary) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n", "", "rotate:\n  interval: 2s\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  const auto end = std::chrono::steady_clock::now() + 7s;
  std::uint32_t sent = 0;
  while (std::chrono::steady_clock::now() < end) {
    sender.send(buildUdpFrame({.sequence = sent++}));
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  EXPECT_GE(files.size(), 4u);
  constexpr std::int64_t kTwoSeconds = 2'000'000'000;
  for (const auto& file : files) {
    const auto read = readPcapFile(file);
    if (read.records.empty()) continue;
    EXPECT_EQ(nanosecondsOf(read.records.front()) / kTwoSeconds,
              nanosecondsOf(read.records.back()) / kTwoSeconds)
        << file << " spans a 2 s boundary";
  }
  EXPECT_EQ(sequencesAcross(files), range(0, sent));
}

TEST_F(RotateTest, TheClockFinishesTheFileAtTheBoundaryEvenWhenNoPacketComes) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n", "", "rotate:\n  interval: 1s\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 10; ++i) sender.send(buildUdpFrame({.sequence = i}));
  // While the daemon still runs, with nothing more sent, the frames reach a finished file, not
  // a .part: the clock ends the file after the next boundary (1 s away at most), and the
  // finisher renames it.
  auto framesInFinishedFiles = [&] {
    std::vector<std::uint32_t> finished;
    for (const auto& name : listDirectory(outputDirectory())) {
      if (name.ends_with(".pcap")) {
        const auto sequences = sequencesIn(readPcapFile(outputDirectory() / name));
        finished.insert(finished.end(), sequences.begin(), sequences.end());
      }
    }
    return finished;
  };
  std::vector<std::uint32_t> finished;
  for (const auto deadline = std::chrono::steady_clock::now() + 20s;
       std::chrono::steady_clock::now() < deadline && finished != range(0, 10);
       std::this_thread::sleep_for(100ms)) {
    finished = framesInFinishedFiles();
  }
  EXPECT_EQ(finished, range(0, 10)) << daemon.log();
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();
}

TEST_F(RotateTest, Sigusr1FinishesTheCurrentFileAtOnce) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 10; ++i) sender.send(buildUdpFrame({.sequence = i}));
  // All ten in the file before the request: the block timer may split them over two blocks.
  const auto part = outputDirectory() / fs::path(onlyPartOf("prc0"));
  pcap::ScanResult scan;
  for (const auto deadline = std::chrono::steady_clock::now() + 20s;
       std::chrono::steady_clock::now() < deadline && scan.records < 10;
       std::this_thread::sleep_for(50ms)) {
    scan = pcap::scanPcap(readFile(part));
  }
  ASSERT_EQ(scan.records, 10u) << daemon.log();
  // Should the request still find the file without packets, it does nothing: ask again.
  bool rotated = false;
  for (int attempt = 0; attempt < 100 && !rotated; ++attempt) {
    daemon.signal(SIGUSR1);
    rotated = daemon.waitForLog("(requested)", 200ms);
  }
  ASSERT_TRUE(rotated) << daemon.log();
  for (std::uint32_t i = 10; i < 20; ++i) sender.send(buildUdpFrame({.sequence = i}));
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(sequencesIn(readPcapFile(files[0])), range(0, 10));
  EXPECT_EQ(sequencesIn(readPcapFile(files[1])), range(10, 10));
}

TEST_F(RotateTest, MaxFilesKeepsTheNewestThreeAndLeavesOtherFilesAlone) {
  NamespacePair hosts;
  fs::create_directories(outputDirectory());
  const std::vector<std::string> foreign = {"notes.pcap", "prc1-20260101T000000.pcap",
                                            "prc0-20260101T000000.pcapng", "prc0-backup.pcap"};
  for (const auto& name : foreign) writeTextFile(outputDirectory() / name, "not ours");
  const auto config = writeConfig("  - name: prc0\n", "",
                                  "rotate:\n  max_packets: 10\n  interval: 0\n"
                                  "retention:\n  max_files: 3\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 100; ++i) sender.send(buildUdpFrame({.sequence = i}));
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  std::vector<fs::path> files;
  for (const auto& file : finishedFilesOf(outputDirectory(), "prc0")) {
    if (file.filename() != "prc0-backup.pcap") files.push_back(file);
  }
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(sequencesAcross(files), range(70, 30))
      << "the three newest files are kept, in name order: " << ::testing::PrintToString(files);
  for (const auto& name : foreign) EXPECT_TRUE(fs::exists(outputDirectory() / name)) << name;
  EXPECT_NE(daemon.log().find("max_files 3 exceeded"), std::string::npos) << daemon.log();
}

TEST_F(RotateTest, AfterKill9AndPowerLossTheNextStartLeavesOnlyWholeRecords) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n");
  {
    DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
    ASSERT_TRUE(daemon.waitReady()) << daemon.log();
    auto sender = hosts.senderOn();
    for (std::uint32_t i = 0; i < 30'000; ++i) sender.send(buildUdpFrame({.sequence = i}));
    // Records in the .part before the kill, so a cut leaves some whole: a fixed sleep was too
    // short for the flush on a loaded machine (under ASan).
    pcap::ScanResult scan;
    for (const auto deadline = std::chrono::steady_clock::now() + 20s;
         std::chrono::steady_clock::now() < deadline && scan.completeBytes <= 24u + 1000u;
         std::this_thread::sleep_for(50ms)) {
      for (const auto& name : listDirectory(outputDirectory())) {
        if (name.ends_with(".part")) scan = pcap::scanPcap(readFile(outputDirectory() / name));
      }
    }
    ASSERT_GT(scan.completeBytes, 24u + 1000u) << daemon.log();
    daemon.signal(SIGKILL);
    daemon.wait();
  }
  std::vector<std::string> parts;
  for (const auto& name : listDirectory(outputDirectory())) {
    if (name.ends_with(".part")) parts.push_back(name);
  }
  ASSERT_EQ(parts.size(), 1u) << "kill -9 leaves the file being written";
  // A power loss can also leave a record cut in the middle: cut the file 7 bytes short.
  const auto part = outputDirectory() / parts.front();
  const auto size = fs::file_size(part);
  ASSERT_GT(size, 24u + 1000u);
  fs::resize_file(part, size - 7);

  DaemonProcess restarted(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(restarted.waitReady()) << restarted.log();
  ASSERT_EQ(restarted.stop(), 0) << restarted.log();
  EXPECT_NE(restarted.log().find("left by an earlier run"), std::string::npos) << restarted.log();

  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  ASSERT_EQ(files.size(), 1u) << "the repaired file; the restart's own had no packets";
  const auto repaired = readPcapFile(files.front());
  EXPECT_GT(repaired.records.size(), 0u);
  EXPECT_EQ(sequencesIn(repaired), range(0, static_cast<std::uint32_t>(repaired.records.size())));
  expectWiresharkReadsCleanly(files.front(), repaired.records.size());
}

// With direct I/O several buffers are in flight when the daemon is killed: the `.part` can end
// inside a record, or in the zero padding of a flushed block. The next start keeps whole records.
TEST_F(RotateTest, WithDirectIoAKill9MidWriteLeavesOnlyWholeRecordsAfterRepair) {
  if (onTmpfs(work_.path())) GTEST_SKIP() << work_.path() << " is tmpfs, not a disk";
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n", "  direct_io: on\n");
  std::uint32_t sent = 0;
  {
    DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
    ASSERT_TRUE(daemon.waitReady()) << daemon.log();
    ASSERT_TRUE(daemon.waitForLog("with direct I/O")) << daemon.log();
    auto sender = hosts.senderOn();
    // 1000 + 16 bytes a record: records straddle every 4 KiB block and 2 MiB buffer end.
    for (; sent < 40'000; ++sent)
      sender.send(buildUdpFrame({.sequence = sent, .frameBytes = 1000}));
    daemon.signal(SIGKILL);
    daemon.wait();
  }
  const auto part = outputDirectory() / onlyPartOf("prc0");
  ASSERT_GT(fs::file_size(part), 24u);

  DaemonProcess restarted(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(restarted.waitReady()) << restarted.log();
  ASSERT_EQ(restarted.stop(), 0) << restarted.log();
  EXPECT_NE(restarted.log().find("left by an earlier run"), std::string::npos) << restarted.log();

  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  ASSERT_EQ(files.size(), 1u) << "the repaired file; the restart's own had no packets";
  EXPECT_EQ((fs::file_size(files.front()) - 24) % (16 + 1000), 0u) << "only whole records";
  const auto repaired = readPcapFile(files.front());
  EXPECT_GT(repaired.records.size(), 0u);
  EXPECT_LE(repaired.records.size(), sent);
  // Every record is one of the frames sent, whole, in order; the kernel may have dropped some
  // when the ring overflowed, so gaps are allowed.
  const auto sequences = sequencesIn(repaired);
  EXPECT_EQ(sequences.size(), repaired.records.size());
  EXPECT_TRUE(std::is_sorted(sequences.begin(), sequences.end()));
  EXPECT_EQ(std::adjacent_find(sequences.begin(), sequences.end()), sequences.end());
  for (const auto& record : repaired.records) ASSERT_EQ(record.data.size(), 1000u);
  expectWiresharkReadsCleanly(files.front(), repaired.records.size());
}

TEST_F(RotateTest, AFullDiskIsSurvivedAndWritingResumesWhenSpaceReturns) {
  NamespacePair hosts;
  TmpfsMount tmpfs(outputDirectory(), "1M");
  ASSERT_TRUE(tmpfs.mounted());
  const auto config = writeConfig("  - name: prc0\n", "",
                                  "rotate:\n  max_file_size: 256KiB\n  interval: 0\n"
                                  "retention:\n  min_free_space: 0\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 3000; ++i) {
    sender.send(buildUdpFrame({.sequence = i, .frameBytes = 1000}));
  }
  ASSERT_TRUE(daemon.waitForLog("No space left on device")) << daemon.log();
  ASSERT_TRUE(daemon.running()) << daemon.log();
  // Paused, the recorder holds no file; the finisher thread may still be renaming the last one.
  auto hasPart = [&] {
    const auto names = listDirectory(outputDirectory());
    return std::any_of(names.begin(), names.end(),
                       [](const std::string& name) { return name.ends_with(".part"); });
  };
  for (int wait = 0; wait < 1500 && hasPart(); ++wait) std::this_thread::sleep_for(20ms);
  ASSERT_FALSE(hasPart()) << daemon.log();

  for (const auto& name : listDirectory(outputDirectory())) {
    if (name.ends_with(".pcap")) fs::remove(outputDirectory() / name);
  }
  ASSERT_TRUE(daemon.waitForLog("writing again")) << daemon.log();
  for (std::uint32_t i = 0; i < 100; ++i) {
    sender.send(buildUdpFrame({.sequence = 100'000 + i, .frameBytes = 1000}));
  }
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(sequencesAcross(files), range(100'000, 100)) << daemon.log();
  for (const auto& file : files) {
    expectWiresharkReadsCleanly(file, readPcapFile(file).records.size());
  }
  // Every frame sent is accounted for: written (also into the files the test removed), dropped
  // by the kernel, or lost to the disk.
  const auto log = daemon.log();
  const auto summary = lineWith(log, "prc0: summary: ");
  ASSERT_NE(summary, "") << log;
  const auto written = numberBefore(summary, " packets written,");
  const auto kernelDrops = numberBefore(summary, " kernel drops,");
  const auto lostInSummary = numberBefore(summary, " lost to disk, files:");
  EXPECT_GT(lostInSummary, 0u) << log;
  EXPECT_EQ(written + kernelDrops + lostInSummary, 3000u + 100u) << log;
  // The resume line says the same count: read from it, not from the periodic "still no space"
  // warning, which says "frames lost to the disk so far" too.
  const auto resume = lineWith(log, "writing again into");
  ASSERT_NE(resume, "") << log;
  EXPECT_EQ(numberBefore(resume, " frames lost to the disk"), lostInSummary) << log;
}

TEST_F(RotateTest, PostFinishCommandRunsForEveryFileTheLastTooWithoutCapabilities) {
  NamespacePair hosts;
  const auto hook = work_ / "hook.sh";
  const auto hookLog = work_ / "hook.log";
  writeTextFile(hook, "#!/bin/sh\necho \"$1 $(grep CapEff /proc/self/status | cut -f2)\" >> " +
                          hookLog.string() + "\n");
  fs::permissions(hook, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  const auto config =
      writeConfig("  - name: prc0\n", "  post_finish_command: " + hook.string() + "\n",
                  "rotate:\n  max_packets: 10\n  interval: 0\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 25; ++i) sender.send(buildUdpFrame({.sequence = i}));
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  ASSERT_EQ(files.size(), 3u);
  std::ifstream in(hookLog);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  ASSERT_EQ(lines.size(), 3u) << "one run per file, the last one at stop included";
  for (std::size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(lines[i], files[i].string() + " 0000000000000000");
  }
}

// The daemon runs with NOTIFY_SOCKET (DaemonProcess gives it one), SIGPIPE ignored and its
// control signals blocked: the hook gets none of that, and the file's facts instead.
TEST_F(RotateTest, PostFinishCommandGetsAMinimalEnvironmentAndDefaultSignals) {
  NamespacePair hosts;
  const auto hook = work_ / "hook.sh";
  writeTextFile(hook, "#!/bin/sh\nenv > " + (work_ / "hook.env").string() +
                          "\ngrep -E '^Sig(Ign|Blk)' /proc/self/status > " +
                          (work_ / "hook.signals").string() + "\n");
  fs::permissions(hook, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  const auto config =
      writeConfig("  - name: prc0\n", "  post_finish_command: " + hook.string() + "\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string(), "--bus", "none"},
                       work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 5; ++i) sender.send(buildUdpFrame({.sequence = i}));
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  ASSERT_EQ(files.size(), 1u);
  std::ifstream environment(work_ / "hook.env");
  std::map<std::string, std::string> variables;
  for (std::string line; std::getline(environment, line);) {
    variables[line.substr(0, line.find('='))] = line.substr(line.find('=') + 1);
  }
  EXPECT_FALSE(variables.contains("NOTIFY_SOCKET"));
  EXPECT_EQ(variables["PCAP_RECORDER_FILE"], files[0].string());
  EXPECT_EQ(variables["PCAP_RECORDER_INTERFACE"], "prc0");
  EXPECT_EQ(variables["PCAP_RECORDER_PACKETS"], "5");
  EXPECT_EQ(variables["PCAP_RECORDER_REASON"], "stop");
  EXPECT_TRUE(variables.contains("PATH"));
  for (const auto& [name, value] : variables) {
    EXPECT_TRUE(name == "PATH" || name == "LANG" || name == "PWD" || name == "OLDPWD" ||
                name.starts_with("PCAP_RECORDER_"))
        << name << "=" << value;
  }
  std::ifstream signals(work_ / "hook.signals");
  std::stringstream text;
  text << signals.rdbuf();
  EXPECT_EQ(text.str(), "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

// Under umask 077 a daemon that let the umask apply would make 0600 files: the configured 0644
// can only come from the daemon setting it.
TEST_F(RotateTest, FilesGetTheConfiguredMode) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n", "  file_mode: \"0644\"\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path(),
                       {"sh", "-c", "umask 077 && exec \"$0\" \"$@\""});
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  ASSERT_EQ(procUmask(daemon.pid()), "0077") << "the daemon runs under the test's umask";
  hosts.senderOn().send(buildUdpFrame({.sequence = 0}));  // a file without packets is not kept
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();
  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(fs::status(files.front()).permissions(),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
}

// rm -rf of the output directory while frames flow: retention's listing used to throw on the
// finisher thread (SIGABRT), and a re-created directory was never written again. Now the daemon
// notices, re-creates it, goes on in a new file there, and counts what went with the old one.
TEST_F(RotateTest, OutputDirectoryRemovedWhileRecordingIsReCreatedAndNoFrameIsUnaccounted) {
  NamespacePair hosts;
  // {seq}: names never repeat in a run, so each "finished" line names one file.
  const auto config =
      writeConfig("  - name: prc0\n    filter: udp\n", "  file_name: \"{interface}-{seq}.pcap\"\n",
                  "rotate:\n  max_packets: 50\n  interval: 0\n"
                  "retention:\n  max_files: 100000\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  constexpr std::uint32_t kSent = 2000;
  for (std::uint32_t i = 0; i < kSent; ++i) {
    if (i == kSent / 2) {
      // The daemon may create a file while rm runs; like rm -rf, try again until it is gone.
      std::error_code error;
      for (int attempt = 0; attempt < 100 && fs::exists(outputDirectory()); ++attempt) {
        fs::remove_all(outputDirectory(), error);
      }
      ASSERT_FALSE(fs::exists(outputDirectory())) << error.message();
    }
    sender.send(buildUdpFrame({.sequence = i}));
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(daemon.waitForLog("was removed")) << daemon.log();
  EXPECT_TRUE(daemon.running()) << daemon.log();
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  const auto inFiles = sequencesAcross(files);
  ASSERT_FALSE(inFiles.empty()) << daemon.log();
  EXPECT_TRUE(std::is_sorted(inFiles.begin(), inFiles.end()));
  EXPECT_EQ(std::adjacent_find(inFiles.begin(), inFiles.end()), inFiles.end()) << "duplicates";
  EXPECT_EQ(inFiles.back(), kSent - 1) << "the last frames are in the re-created directory";
  // Files finished before the rm went with it: the test deleted them, not the daemon.
  const auto log = daemon.log();
  std::uint64_t deletedByTheTest = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    const auto at = line.find(": finished ");
    if (at == std::string::npos) continue;
    const auto pathStart = at + std::string_view(": finished ").size();
    const fs::path path = line.substr(pathStart, line.find(" (", pathStart) - pathStart);
    if (!fs::exists(path)) deletedByTheTest += numberBefore(line, " packets,");
  }
  const auto lost = numberBefore(log, " lost to disk, files:");
  EXPECT_GT(deletedByTheTest, 0u);
  EXPECT_EQ(inFiles.size() + deletedByTheTest + lost, kSent) << log;
  EXPECT_EQ(numberBefore(log, " packets written,") + lost, kSent) << log;
}

// A storm of SIGUSR1 (rotation requests) while frames flow: every frame ends up in a finished
// file, once, in order, and the daemon's descriptors stay bounded (the finisher's queue holds at
// most 64 files, each with one descriptor).
TEST_F(RotateTest, ASigusr1StormLosesNoFrameAndKeepsDescriptorsBounded) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n    filter: udp\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  constexpr std::uint32_t kSent = 3000;
  std::size_t mostDescriptors = 0;
  const fs::path descriptors = "/proc/" + std::to_string(daemon.pid()) + "/fd";
  for (std::uint32_t i = 0; i < kSent; ++i) {
    sender.send(buildUdpFrame({.sequence = i}));
    daemon.signal(SIGUSR1);
    // Rotation is coalesced (a file without packets is not rotated): now and then the kernel
    // hands its block over (50 ms), so the requests that follow find packets in the file.
    if (i % 300 == 299) std::this_thread::sleep_for(std::chrono::milliseconds(60));
    if (i % 100 == 0) {
      std::error_code error;
      const auto open = static_cast<std::size_t>(
          std::distance(fs::directory_iterator(descriptors, error), fs::directory_iterator()));
      mostDescriptors = std::max(mostDescriptors, open);
    }
  }
  ASSERT_TRUE(daemon.running()) << daemon.log();
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();
  EXPECT_LE(mostDescriptors, 64u + 32u);
  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  EXPECT_GT(files.size(), 1u);
  EXPECT_EQ(sequencesAcross(files), range(0, kSent));
}

// The output path is a symlink, re-pointed while recording. Files are finished where they were
// written, and every path in the log and given to the hook is where the file really is (the
// hook used to get a path through the re-pointed link, which did not exist).
TEST_F(RotateTest, ASymlinkedOutputDirectoryRePointedKeepsEveryReportedPathReal) {
  NamespacePair hosts;
  const fs::path first = work_ / "first";
  const fs::path second = work_ / "second";
  const fs::path link = work_ / "link";
  fs::create_directories(first);
  fs::create_directories(second);
  fs::create_directory_symlink(first, link);
  const fs::path hookLog = work_ / "hooks.txt";
  const auto path = work_ / "pcap-recorder.yaml";
  writeTextFile(path, "output:\n  directory: " + link.string() +
                          "\n  file_name: \"{interface}-{seq}.pcap\"\n"
                          "  post_finish_command: \"echo >> " +
                          hookLog.string() +
                          "\"\n"
                          "capture:\n  ring_size: 32MiB\nrotate:\n  interval: 0\n"
                          "interfaces:\n  - name: prc0\n    filter: udp\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", path.string()}, work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 10; ++i) sender.send(buildUdpFrame({.sequence = i}));
  // The ten frames written into the first directory before the link moves: they must be in its
  // file, and a fixed sleep past the ring's block timeout can be too short on a loaded machine.
  pcap::ScanResult scan;
  for (const auto deadline = std::chrono::steady_clock::now() + 20s;
       std::chrono::steady_clock::now() < deadline && scan.records < 10;
       std::this_thread::sleep_for(50ms)) {
    for (const auto& name : listDirectory(first)) {
      if (name.ends_with(".part")) scan = pcap::scanPcap(readFile(first / name));
    }
  }
  ASSERT_EQ(scan.records, 10u) << daemon.log();
  fs::remove(link);
  fs::create_directory_symlink(second, link);
  ASSERT_TRUE(daemon.waitForLog("was replaced")) << daemon.log();
  for (std::uint32_t i = 10; i < 20; ++i) sender.send(buildUdpFrame({.sequence = i}));
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto before = finishedFilesOf(first, "prc0");
  const auto after = finishedFilesOf(second, "prc0");
  EXPECT_EQ(sequencesAcross(before), range(0, 10));
  EXPECT_EQ(sequencesAcross(after), range(10, 10));

  std::ifstream hooks(hookLog);
  std::size_t hooked = 0;
  for (std::string line; std::getline(hooks, line); ++hooked) {
    EXPECT_TRUE(fs::exists(line)) << "hook got " << line;
    EXPECT_EQ(fs::path(line), fs::canonical(line)) << "hook got a path through the link";
  }
  EXPECT_EQ(hooked, before.size() + after.size());
  // One "finished" line per file, each with its real path: none would check nothing.
  std::size_t finishedLines = 0;
  std::istringstream lines(daemon.log());
  for (std::string line; std::getline(lines, line);) {
    const auto at = line.find(": finished ");
    if (at == std::string::npos) continue;
    ++finishedLines;
    const auto start = at + std::string_view(": finished ").size();
    const fs::path finished = line.substr(start, line.find(" (", start) - start);
    EXPECT_TRUE(fs::exists(finished)) << line;
    EXPECT_EQ(finished, fs::canonical(finished)) << line;
  }
  EXPECT_EQ(finishedLines, before.size() + after.size()) << daemon.log();
}

}  // namespace
}  // namespace pcap_recorder::testing
