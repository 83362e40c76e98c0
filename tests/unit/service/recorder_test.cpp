// The recorder against a scripted packet source: blocks built in memory, no socket, no root.
#include "pcap_recorder/service/recorder.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <numeric>
#include <sstream>
#include <system_error>
#include <thread>

#include "pcap_recorder/compress/sha256.hpp"
#include "pcap_recorder/index/file_index.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/block_builder.hpp"
#include "support/directory.hpp"
#include "support/file_size_limit.hpp"
#include "support/frames.hpp"
#include "support/gate.hpp"
#include "support/pcap_reader.hpp"
#include "support/ramfs_mount.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::service {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Hands out the given blocks in turn, and reuses a block's memory the moment it is released, as
// the kernel does: anything still read from a released block reads 0xEE.
class ScriptedSource final : public capture::PacketSource {
 public:
  explicit ScriptedSource(std::vector<std::vector<std::byte>> blocks)
      : blocks_(std::move(blocks)) {}

  std::span<const std::byte> nextBlock(std::chrono::milliseconds timeout) override {
    // A thread behind the traffic: each block is ready only after `pace`, but there always is one.
    if (pace > 0ms) std::this_thread::sleep_for(pace);
    std::unique_lock lock(mutex_);
    if (next_ < std::min(blocks_.size(), available_)) return blocks_[next_];
    // Nothing more will come: wait as poll() would, a little, so the capture loop does not spin.
    changed_.wait_for(lock, std::min<std::chrono::milliseconds>(timeout, 5ms));
    return {};
  }
  void releaseBlock() noexcept override {
    std::lock_guard lock(mutex_);
    std::fill(blocks_[next_].begin(), blocks_[next_].end(), std::byte{0xEE});
    ++next_;
    changed_.notify_all();
  }
  void wake() noexcept override { changed_.notify_all(); }
  void stopIntake() override {}
  // Refuses programs longer than refuseOver, as the kernel refuses (EINVAL) those over 4096.
  void replaceFilter(const bpf::FilterProgram& filter) override {
    std::lock_guard lock(mutex_);
    ++filterAttempts_;
    changed_.notify_all();
    if (filter.size() > refuseOver) {
      throw std::system_error(EINVAL, std::generic_category(), "replace filter");
    }
    attached_.push_back(filter.size());
  }
  std::size_t refuseOver = SIZE_MAX;
  std::chrono::milliseconds pace{0};
  // Hands out only the first `count` blocks until called again.
  void makeAvailable(std::size_t count) {
    std::lock_guard lock(mutex_);
    available_ = count;
    changed_.notify_all();
  }
  std::vector<std::size_t> attached() {
    std::lock_guard lock(mutex_);
    return attached_;
  }
  void waitForFilterAttempts(std::size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return filterAttempts_ >= count; });
  }
  capture::KernelCounts takeKernelCounts() noexcept override { return {}; }
  bool seesOwnFramesTwice() const noexcept override { return false; }
  std::chrono::milliseconds blockTimeout() const noexcept override { return 5ms; }
  std::uint64_t socketErrors() const noexcept override { return 0; }

  // Blocks until every block was taken and given back.
  void waitUntilAllReleased() { waitUntilReleased(blocks_.size()); }
  // Blocks until the first `count` blocks were taken and given back.
  void waitUntilReleased(std::size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return next_ >= count; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::vector<std::byte>> blocks_;
  std::size_t next_ = 0;
  std::size_t available_ = SIZE_MAX;
  std::size_t filterAttempts_ = 0;
  std::vector<std::size_t> attached_;
};

// Runs a recorder of `settings` until it has taken and given back every block of `source`
// (calling `meanwhile` once it started), then stops it and lets the finisher finish its files.
void recordEveryBlock(std::unique_ptr<ScriptedSource> source,
                      const config::InterfaceSettings& settings,
                      const std::function<void(Recorder&)>& meanwhile = {}) {
  ScriptedSource& scripted = *source;
  FileFinisher finisher({});
  {
    Recorder recorder(settings, finisher, std::move(source));
    recorder.start();
    if (meanwhile) meanwhile(recorder);
    scripted.waitUntilAllReleased();
    recorder.requestStop();
    recorder.join();
  }
  finisher.stop();
}

std::vector<std::byte> withTag(const std::vector<std::byte>& frame, std::uint16_t tci) {
  std::vector<std::byte> out(frame.begin(), frame.begin() + 12);
  for (const int b : {0x81, 0x00, tci >> 8, tci & 0xff}) out.push_back(std::byte(b));
  out.insert(out.end(), frame.begin() + 12, frame.end());
  return out;
}

// Frames written in place are read from the ring block: they must be in the file before the
// block goes back, whatever the block holds afterwards.
// A disk that fails every write gets a new file after 1 s, then 2, 4 ... and at most one a
// minute, not one (and two error lines) every second for as long as it fails.
TEST(Recorder, WritingPausesLongerAfterEachFailedFileInARow) {
  using std::chrono::seconds;
  EXPECT_EQ(reopenBackoff(1), seconds(1));
  EXPECT_EQ(reopenBackoff(2), seconds(2));
  EXPECT_EQ(reopenBackoff(3), seconds(4));
  EXPECT_EQ(reopenBackoff(6), seconds(32));
  EXPECT_EQ(reopenBackoff(7), seconds(60));
  EXPECT_EQ(reopenBackoff(1000), seconds(60));
}

TEST(Recorder, EveryFrameIsInTheFileAsCapturedThoughItsBlockIsReusedAtOnce) {
  testing::TempDir dir;
  std::vector<std::vector<std::byte>> blocks;
  std::vector<std::vector<std::byte>> expected;
  std::uint32_t sequence = 0;
  for (int block = 0; block < 4; ++block) {
    std::vector<testing::BlockFrame> frames;
    for (const std::size_t size : {1514, 64, 300, 1000, 64, 700}) {
      auto data = testing::buildUdpFrame({.sequence = sequence, .frameBytes = size});
      testing::BlockFrame frame{.data = data, .seconds = 1000 + sequence};
      if (sequence % 5 == 4) {
        frame.vlanTci = 100;
        expected.push_back(withTag(data, 100));
      } else {
        expected.push_back(data);
      }
      frames.push_back(std::move(frame));
      ++sequence;
    }
    blocks.push_back(testing::buildBlock(frames));
  }
  auto source = std::make_unique<ScriptedSource>(std::move(blocks));

  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir.path();
  settings.rotate.interval = 0ms;
  recordEveryBlock(std::move(source), settings);

  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    if (entry.path().extension() != ".json") files.push_back(entry.path());  // its sidecar
  }
  std::sort(files.begin(), files.end());
  // The finished file and the index the finisher wrote for it.
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].extension(), ".pcap");
  EXPECT_EQ(files[1], fs::path(files[0].string() + ".idx"));
  std::string problem;
  const auto written = index::readIndex(files[1], problem);
  ASSERT_TRUE(written) << problem;
  EXPECT_EQ(written->header.pcapBytes, fs::file_size(files[0]));
  EXPECT_EQ(written->header.records, expected.size());
  // Built as the file was written, it is the index reading the file back gives.
  {
    util::UniqueFd fd(::open(files[0].c_str(), O_RDONLY | O_CLOEXEC));
    const auto info = index::readPcapHeader(fd.get(), problem);
    ASSERT_TRUE(info) << problem;
    EXPECT_TRUE(index::serialize(*written) ==
                index::serialize(index::buildIndex(fd.get(), *info, fs::file_size(files[0]))));
  }
  const auto file = testing::readPcapFile(files[0]);
  ASSERT_EQ(file.records.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(file.records[i].data, expected[i]) << "record " << i;
    EXPECT_EQ(file.records[i].seconds, 1000 + i);
  }
}

// `output.index: false`: the file is finished as before, and nothing is written beside it.
TEST(Recorder, WithIndexOffTheFinishedFileHasNoIndex) {
  testing::TempDir dir;
  std::vector<testing::BlockFrame> frames;
  for (std::uint32_t sequence = 0; sequence < 5; ++sequence) {
    frames.push_back({.data = testing::buildUdpFrame({.sequence = sequence, .frameBytes = 200}),
                      .seconds = 1000 + sequence});
  }
  std::vector<std::vector<std::byte>> blocks{testing::buildBlock(frames)};
  auto source = std::make_unique<ScriptedSource>(std::move(blocks));
  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir.path();
  settings.output.index = false;
  settings.rotate.interval = 0ms;
  recordEveryBlock(std::move(source), settings);
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    if (entry.path().extension() != ".json") files.push_back(entry.path());  // its sidecar
  }
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].extension(), ".pcap");
  EXPECT_EQ(testing::readPcapFile(files[0]).records.size(), 5u);
}

// Files rotated at a size limit, written with direct I/O or through the page cache: each one's
// sidecar holds the SHA-256 of its bytes as stored (hashed as written, header included).
TEST(Recorder, EveryFileRotatedAtItsSizeLimitHasTheHashOfItsBytesInItsSidecar) {
  for (const auto directIo : {config::DirectIo::automatic, config::DirectIo::off}) {
    testing::TempDir dir;
    std::vector<std::vector<std::byte>> blocks;
    std::uint32_t sequence = 0;
    for (int block = 0; block < 6; ++block) {
      std::vector<testing::BlockFrame> frames;
      for (const std::size_t size : {1514, 64, 300, 1000, 64, 700, 1514, 1514}) {
        frames.push_back(
            {.data = testing::buildUdpFrame({.sequence = sequence, .frameBytes = size}),
             .seconds = 1000 + sequence});
        ++sequence;
      }
      blocks.push_back(testing::buildBlock(frames));
    }
    auto source = std::make_unique<ScriptedSource>(std::move(blocks));
    ScriptedSource& scripted = *source;
    config::InterfaceSettings settings;
    settings.name = "fake0";
    settings.output.directory = dir.path();
    settings.output.directIo = directIo;
    settings.rotate.interval = 0ms;
    settings.rotate.maxFileBytes = 9000;
    FileFinisher finisher({});
    std::uint64_t finishedWithoutSha256 = 0;
    {
      Recorder recorder(settings, finisher, std::move(source));
      recorder.start();
      scripted.waitUntilAllReleased();
      recorder.requestStop();
      recorder.join();
      finisher.stop();
      finishedWithoutSha256 = recorder.stats().filesWithoutSha256;
    }
    std::size_t files = 0;
    std::size_t records = 0;
    for (const auto& entry : fs::directory_iterator(dir.path())) {
      if (entry.path().extension() != ".pcap") continue;
      ++files;
      records += testing::readPcapFile(entry.path()).records.size();
      std::ifstream in(entry.path().string() + ".json");
      std::stringstream json;
      json << in.rdbuf();
      util::UniqueFd fd(::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC));
      EXPECT_NE(json.str().find("\"sha256\": \"" + compress::sha256OfFile(fd.get()) + "\""),
                std::string::npos)
          << entry.path() << ": " << json.str();
    }
    EXPECT_GT(files, 3u);
    EXPECT_EQ(records, sequence);
    EXPECT_EQ(finishedWithoutSha256, 0u) << "hashed as written, or read back";
  }
}

// The capture files in `directory` (`.pcap` and `.part`), without the indexes and sidecars beside
// them.
std::vector<fs::path> filesIn(const fs::path& directory) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory)) {
    const auto extension = entry.path().extension();
    if (extension != ".idx" && extension != ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Test frame `sequence`, stamped `time` (nanoseconds since the epoch).
testing::BlockFrame frameStampedAt(std::uint32_t sequence, rotation::Nanoseconds time) {
  return testing::BlockFrame{.data = testing::buildUdpFrame({.sequence = sequence}),
                             .seconds = static_cast<std::uint32_t>(time / 1'000'000'000),
                             .nanoseconds = static_cast<std::uint32_t>(time % 1'000'000'000)};
}

// The seconds of the records in each capture file of `directory`, file by file in name order.
std::vector<std::vector<std::uint32_t>> secondsOfRecordsIn(const fs::path& directory) {
  std::vector<std::vector<std::uint32_t>> files;
  for (const auto& file : filesIn(directory)) {
    std::vector<std::uint32_t> seconds;
    for (const auto& record : testing::readPcapFile(file).records)
      seconds.push_back(record.seconds);
    files.push_back(std::move(seconds));
  }
  return files;
}

// How far behind recordBehindTheClock() runs, and when it calls `whileBehind`.
struct BehindTheClock {
  std::uint32_t framesOfSlot = 60;
  std::chrono::milliseconds pace{60};
  std::chrono::milliseconds whileBehindAfter{2500};
  config::DirectIo directIo = config::DirectIo::automatic;
};

// A capture thread behind the traffic: a block is always ready (one frame each, handed out
// `pace` apart), and the wall clock passes the end of the frames' one-second slot while frames
// of that slot still wait in the ring; 5 frames of the next slot follow. The slot is the one
// after the clock's at start (the first file, opened by the clock, never gets a frame), so a
// boundary crossed while the recorder starts changes nothing; by default the 3.9 s the blocks
// take cover the slot's end, the recorder's allowance for late frames and three turns at which
// it flushes. `whileBehind` runs `whileBehindAfter` in (by default 2.5 s: past the slot's end,
// with frames of the slot still to come). Returns the seconds of the records, file by file.
std::vector<std::vector<std::uint32_t>> recordBehindTheClock(
    const std::function<void(Recorder&)>& whileBehind, std::uint32_t& slotSecond,
    const BehindTheClock& run = {}) {
  testing::TempDir dir;
  const auto slot = rotation::slotOf(rotation::wallClockNow() + 1'000'000'000, 1s);
  slotSecond = static_cast<std::uint32_t>(slot.start / 1'000'000'000);
  std::vector<std::vector<std::byte>> blocks;
  for (std::uint32_t sequence = 0; sequence < run.framesOfSlot + 5; ++sequence) {
    const auto time = sequence < run.framesOfSlot
                          ? slot.start + sequence * 1'000'000
                          : slot.end + (sequence - run.framesOfSlot) * 1'000'000;
    blocks.push_back(testing::buildBlock({frameStampedAt(sequence, time)}));
  }
  auto source = std::make_unique<ScriptedSource>(std::move(blocks));
  source->pace = run.pace;
  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir.path();
  settings.output.directIo = run.directIo;
  settings.rotate.interval = 1s;
  recordEveryBlock(std::move(source), settings, [&](Recorder& recorder) {
    std::this_thread::sleep_for(run.whileBehindAfter);
    whileBehind(recorder);
  });
  return secondsOfRecordsIn(dir.path());
}

// The clock does not end the file while frames of its slot wait in the ring; the first frame of
// the next slot does.
TEST(Recorder, ABusyRingBehindTheClockNeverLetsAFileSpanABoundary) {
  std::uint32_t second = 0;
  const auto files = recordBehindTheClock([](Recorder&) {}, second);
  EXPECT_EQ(files,
            (std::vector<std::vector<std::uint32_t>>{std::vector<std::uint32_t>(60, second),
                                                     std::vector<std::uint32_t>(5, second + 1)}));
}

// A rotation asked for while behind: the next file is for the frames still in the ring, not for
// the clock's slot, so the first frame of the next slot still ends it.
TEST(Recorder, ARotationAskedForWhileBehindTheClockNeverLetsAFileSpanABoundary) {
  std::uint32_t second = 0;
  const auto files = recordBehindTheClock(
      [](Recorder& recorder) { EXPECT_TRUE(recorder.requestRotation()); }, second);
  ASSERT_EQ(files.size(), 3u) << ::testing::PrintToString(files);
  EXPECT_EQ(files[0].size() + files[1].size(), 60u);
  for (const auto& seconds : {files[0], files[1]}) {
    EXPECT_EQ(seconds, std::vector<std::uint32_t>(seconds.size(), second));
  }
  EXPECT_EQ(files[2], std::vector<std::uint32_t>(5, second + 1));
}

// A reload to another directory while behind: the file opened there is for the frames still in
// the ring too, so the first frame of the next slot still ends it.
TEST(Recorder, AReloadToAnotherDirectoryWhileBehindTheClockNeverLetsAFileSpanABoundary) {
  testing::TempDir other;
  std::uint32_t second = 0;
  const auto before = recordBehindTheClock(
      [&](Recorder& recorder) {
        config::InterfaceSettings next;
        next.name = "fake0";
        next.output.directory = other.path();
        next.rotate.interval = 1s;
        recorder.applySettings(next);
      },
      second);
  const auto after = secondsOfRecordsIn(other.path());
  ASSERT_EQ(before.size(), 1u) << ::testing::PrintToString(before);
  ASSERT_EQ(after.size(), 2u) << ::testing::PrintToString(after);
  EXPECT_EQ(before[0].size() + after[0].size(), 60u);
  EXPECT_EQ(before[0], std::vector<std::uint32_t>(before[0].size(), second));
  EXPECT_EQ(after[0], std::vector<std::uint32_t>(after[0].size(), second));
  EXPECT_EQ(after[1], std::vector<std::uint32_t>(5, second + 1));
}

// Writing resumed after a failed write (a full disk) while behind: the file opened then is for
// the frames still in the ring, so the first frame of the next slot still ends it. The pause
// (a second at least) and the frames of the slot still to come after it (8 s of them in all)
// leave the resume well inside the slot's frames.
TEST(Recorder, WritingResumedAfterAFullDiskWhileBehindTheClockNeverLetsAFileSpanABoundary) {
  std::uint32_t second = 0;
  const auto files = recordBehindTheClock(
      [](Recorder& recorder) {
        // The file cannot grow past its size: its next write fails, as on a full disk.
        const testing::FileSizeLimit full(fs::file_size(recorder.currentFile()));
        for (int turn = 0; turn < 500 && recorder.stats().packetsLostToDisk == 0; ++turn) {
          std::this_thread::sleep_for(10ms);
        }
        ASSERT_GT(recorder.stats().packetsLostToDisk, 0u);
      },
      second,
      {.framesOfSlot = 200,
       .pace = 40ms,
       .whileBehindAfter = 2200ms,
       .directIo = config::DirectIo::off});
  ASSERT_EQ(files.size(), 3u) << ::testing::PrintToString(files);
  for (const auto& seconds : {files[0], files[1]}) {
    EXPECT_EQ(seconds, std::vector<std::uint32_t>(seconds.size(), second));
  }
  EXPECT_FALSE(files[1].empty());
  EXPECT_EQ(files[2], std::vector<std::uint32_t>(5, second + 1));
}

// A reload to a directory that cannot be created (here under a dangling symlink, as under a mount
// point whose disk is not mounted) pauses writing rather than ending capture: frames are counted
// as lost until the directory can be created, then written there.
// A reload whose next file cannot be made (here: direct_io on where O_DIRECT is refused) shows
// writing paused, as a failed write does, rather than "capturing" while every frame is lost.
TEST(Recorder, AReloadWhoseNextFileCannotBeMadeShowsWritingPaused) {
  testing::TempDir dir;
  const testing::RamfsMount ramfs(dir / "ramfs");
  if (!ramfs.mounted()) GTEST_SKIP() << "cannot mount ramfs (not root?)";
  std::vector<std::vector<std::byte>> blocks;
  for (std::uint32_t sequence = 0; sequence < 2; ++sequence) {
    blocks.push_back(testing::buildBlock(
        {{.data = testing::buildUdpFrame({.sequence = sequence}), .seconds = 1000 + sequence}}));
  }
  auto source = std::make_unique<ScriptedSource>(std::move(blocks));
  ScriptedSource& scripted = *source;
  scripted.makeAvailable(1);
  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir / "before";
  settings.rotate.interval = 0ms;
  auto next = settings;
  next.output.directory = dir / "ramfs";
  next.output.directIo = config::DirectIo::on;
  FileFinisher finisher({});
  {
    Recorder recorder(settings, finisher, std::move(source));
    recorder.start();
    scripted.waitUntilReleased(1);
    recorder.applySettings(next);
    scripted.makeAvailable(2);
    scripted.waitUntilReleased(2);
    EXPECT_TRUE(recorder.capturing());
    EXPECT_EQ(recorder.state(), (InterfaceState{CaptureState::paused, PauseReason::writeFailed}));
    recorder.requestStop();
    recorder.join();
    finisher.stop();
    EXPECT_EQ(recorder.stats().packetsLostToDisk, 1u) << "the frame after the reload";
  }
}

TEST(Recorder, AReloadToADirectoryThatCannotBeCreatedPausesWritingUntilItCanBe) {
  testing::TempDir dir;
  fs::create_directory_symlink(dir / "disk", dir / "mnt");
  std::vector<std::vector<std::byte>> blocks;
  for (std::uint32_t sequence = 0; sequence < 3; ++sequence) {
    blocks.push_back(testing::buildBlock(
        {{.data = testing::buildUdpFrame({.sequence = sequence}), .seconds = 1000 + sequence}}));
  }
  auto source = std::make_unique<ScriptedSource>(std::move(blocks));
  ScriptedSource& scripted = *source;
  scripted.makeAvailable(1);
  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir / "before";
  settings.rotate.interval = 0ms;
  auto next = settings;
  next.output.directory = dir / "mnt" / "pcap";
  FileFinisher finisher({});
  stats::InterfaceStats counts;
  {
    Recorder recorder(settings, finisher, std::move(source));
    recorder.start();
    scripted.waitUntilReleased(1);
    recorder.applySettings(next);
    scripted.makeAvailable(2);
    scripted.waitUntilReleased(2);
    EXPECT_TRUE(recorder.capturing());
    EXPECT_EQ(recorder.state(),
              (InterfaceState{CaptureState::paused, PauseReason::noOutputDirectory}));
    fs::create_directory(dir / "disk");  // the disk is mounted
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (recorder.state().state != CaptureState::capturing &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(recorder.state(), InterfaceState{CaptureState::capturing});
    scripted.makeAvailable(3);
    scripted.waitUntilAllReleased();
    recorder.requestStop();
    recorder.join();
    finisher.stop();
    counts = recorder.stats();
  }
  const auto sequencesIn = [](const fs::path& directory) {
    std::vector<std::uint32_t> seconds;
    for (const auto& file : filesIn(directory)) {
      for (const auto& record : testing::readPcapFile(file).records) {
        seconds.push_back(record.seconds - 1000);
      }
    }
    return seconds;
  };
  EXPECT_EQ(sequencesIn(dir / "before"), std::vector<std::uint32_t>{0});
  EXPECT_EQ(sequencesIn(dir / "disk" / "pcap"), std::vector<std::uint32_t>{2});
  EXPECT_EQ(counts.packetsLostToDisk, 1u);
  EXPECT_EQ(counts.packetsWritten, 2u);
}

// The clock set back under traffic (NTP stepping it): frames stamped 3 s before the open file's
// slot end it and go to a file of their own slot, rather than make it span the slot's start.
TEST(Recorder, FramesStampedBeforeTheFilesSlotAfterTheClockWasSetBackGoToAFileOfTheirOwn) {
  testing::TempDir dir;
  const auto later = rotation::slotOf(rotation::wallClockNow() + 5'000'000'000, 1s).start;
  const auto second = static_cast<std::uint32_t>(later / 1'000'000'000);
  std::vector<testing::BlockFrame> frames;
  for (std::uint32_t i = 0; i < 10; ++i) {
    frames.push_back({.data = testing::buildUdpFrame({.sequence = i}),
                      .seconds = i < 5 ? second : second - 3,
                      .nanoseconds = i * 1000});
  }
  auto source = std::make_unique<ScriptedSource>(
      std::vector<std::vector<std::byte>>{testing::buildBlock(frames)});
  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir.path();
  settings.rotate.interval = 1s;
  recordEveryBlock(std::move(source), settings);
  // In name order: the earlier slot first.
  EXPECT_EQ(secondsOfRecordsIn(dir.path()),
            (std::vector<std::vector<std::uint32_t>>{std::vector<std::uint32_t>(5, second - 3),
                                                     std::vector<std::uint32_t>(5, second)}));
}

// The clock set back with no traffic (here: the last frame stamped 5 s ahead of the clock, which
// looks the same to the recorder): the turns with nothing to read end the file, rather than leave
// it open until the clock reaches its slot.
TEST(Recorder, WithNoTrafficAClockSetBackEndsTheOpenFile) {
  testing::TempDir dir;
  const auto ahead = rotation::slotOf(rotation::wallClockNow() + 5'000'000'000, 1s).start;
  auto source = std::make_unique<ScriptedSource>(
      std::vector<std::vector<std::byte>>{testing::buildBlock({frameStampedAt(0, ahead)})});
  ScriptedSource& scripted = *source;
  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir.path();
  settings.rotate.interval = 1s;
  std::vector<std::string> finishedWhileRunning;
  recordEveryBlock(std::move(source), settings, [&](Recorder& recorder) {
    scripted.waitUntilAllReleased();
    const auto deadline = std::chrono::steady_clock::now() + 3s;  // before the clock gets there
    while (recorder.finishedFiles().empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    finishedWhileRunning = recorder.finishedFiles();
  });
  EXPECT_EQ(finishedWhileRunning.size(), 1u) << "the file of the frame, finished while running";
}

// A reload that keeps the file (a new filter) just after a boundary, before the clock or a frame
// ended the file: the file keeps its slot, so the first frame after the boundary still ends it.
// Frames are handed out only once their time has come, as the kernel would. (The clock waits
// 110 ms here before it ends the file; should a loaded machine take longer to get the second
// frame in, the clock ends it first, and the test passes without showing anything.)
TEST(Recorder, AReloadJustAfterABoundaryLeavesTheOpenFileInItsSlot) {
  testing::TempDir dir;
  const auto slot = rotation::slotOf(rotation::wallClockNow() + 1'000'000'000, 1s);
  const auto second = static_cast<std::uint32_t>(slot.start / 1'000'000'000);
  std::vector<std::vector<std::byte>> blocks;
  for (const auto time : {slot.start + 5'000'000, slot.end + 15'000'000}) {
    blocks.push_back(testing::buildBlock({frameStampedAt(0, time)}));
  }
  auto source = std::make_unique<ScriptedSource>(std::move(blocks));
  ScriptedSource& scripted = *source;
  scripted.makeAvailable(0);
  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir.path();
  settings.filter = "udp";
  settings.rotate.interval = 1s;
  FileFinisher finisher({});
  const auto at = [](rotation::Nanoseconds time) {
    std::this_thread::sleep_until(std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(time))));
  };
  {
    Recorder recorder(settings, finisher, std::move(source));
    recorder.start();
    at(slot.start + 10'000'000);
    scripted.makeAvailable(1);
    at(slot.end + 20'000'000);
    auto next = settings;
    next.filter = "udp or tcp";
    recorder.applySettings(next);
    scripted.waitForFilterAttempts(2);
    scripted.makeAvailable(2);
    scripted.waitUntilAllReleased();
    recorder.requestStop();
    recorder.join();
  }
  finisher.stop();
  EXPECT_EQ(secondsOfRecordsIn(dir.path()),
            (std::vector<std::vector<std::uint32_t>>{{second}, {second + 1}}));
}

TEST(Recorder, AFilterTheKernelRefusesOnReloadLeavesTheOldOneCapturing) {
  testing::TempDir dir;
  auto source = std::make_unique<ScriptedSource>(std::vector<std::vector<std::byte>>{});
  ScriptedSource& scripted = *source;
  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir.path();
  settings.filter = "udp";
  FileFinisher finisher({});
  Recorder recorder(settings, finisher, std::move(source));
  recorder.start();
  const std::size_t oldSize = bpf::FilterProgram::compile("udp", settings.output.snaplen).size();
  scripted.refuseOver = oldSize;

  auto next = settings;
  next.filter = "udp or tcp port 80 or tcp port 443";
  recorder.applySettings(next);
  scripted.waitForFilterAttempts(2);
  // The capture thread goes on: its heartbeat still moves after the refusal.
  const auto heartbeat = recorder.heartbeat();
  for (int i = 0; i < 1000 && recorder.heartbeat() <= heartbeat + 2; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(recorder.heartbeat(), heartbeat + 2) << "capture stopped after a refused filter";
  EXPECT_TRUE(recorder.capturing());
  EXPECT_EQ(scripted.attached(), std::vector<std::size_t>{oldSize}) << "only the old one attached";
  recorder.requestStop();
  recorder.join();
  finisher.stop();
}

TEST(Recorder, AThreadStartedButNeverGivenFramesLeavesNoFileBehind) {
  // A reload starts new threads before its point of no return; rolled back, they leave nothing.
  testing::TempDir dir;
  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir.path();
  FileFinisher finisher({});
  {
    Recorder recorder(settings, finisher,
                      std::make_unique<ScriptedSource>(std::vector<std::vector<std::byte>>{}));
    recorder.startThread();
    EXPECT_EQ(filesIn(dir.path()).size(), 1u) << "the first .part is open";
  }
  finisher.stop();
  EXPECT_TRUE(filesIn(dir.path()).empty());
}

// Restores the umask a test changed.
class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : saved_(::umask(mask)) {}
  ~UmaskGuard() { ::umask(saved_); }

 private:
  mode_t saved_;
};

mode_t modeOf(const fs::path& path) {
  struct stat status {};
  ::stat(path.c_str(), &status);
  return status.st_mode & 07777;
}

TEST(OutputDirectory, IsCreated0750WhateverTheUmask) {
  testing::TempDir dir;
  for (const mode_t mask : {mode_t{0}, mode_t{077}, mode_t{022}}) {
    const fs::path top = dir / ("umask" + std::to_string(mask));
    {
      UmaskGuard guard(mask);
      openOutputDirectory(top / "a" / "b");
    }
    for (const fs::path& created : {top, top / "a", top / "a" / "b"}) {
      EXPECT_EQ(modeOf(created), 0750u) << created << " under umask " << mask;
    }
  }
}

TEST(OutputDirectory, AnExistingDirectoryKeepsItsMode) {
  testing::TempDir dir;
  fs::create_directory(dir / "mine");
  ::chmod((dir / "mine").c_str(), 0700);
  openOutputDirectory(dir / "mine");
  EXPECT_EQ(modeOf(dir / "mine"), 0700u);
  const auto file = dir / "file";
  std::FILE* made = std::fopen(file.c_str(), "w");
  ASSERT_NE(made, nullptr);
  std::fclose(made);
  EXPECT_THROW(openOutputDirectory(file), std::system_error) << "not a directory";
}

// READY=1's STATUS= is read right after start(): the recorder must say it captures by then.
TEST(Recorder, IsCapturingFromTheMomentItIsStarted) {
  testing::TempDir dir;
  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir.path();
  FileFinisher finisher({});
  Recorder recorder(settings, finisher,
                    std::make_unique<ScriptedSource>(std::vector<std::vector<std::byte>>{}));
  EXPECT_EQ(recorder.state().state, CaptureState::stopped);
  recorder.start();
  EXPECT_EQ(recorder.state().state, CaptureState::capturing);
  recorder.requestStop();
  recorder.join();
  EXPECT_EQ(recorder.state().state, CaptureState::stopped);
}

// 300 Rotate calls in 0.2 s with max_files: 5 once deleted the only file with packets. A file
// without packets is not rotated: nothing happens and the caller is told.
TEST(Recorder, ARotationOfAFileWithoutPacketsDoesNothing) {
  testing::TempDir dir;
  std::vector<testing::BlockFrame> frames;
  for (std::uint32_t i = 0; i < 5; ++i) {
    frames.push_back({.data = testing::buildUdpFrame({.sequence = i}), .seconds = 1000 + i});
  }
  auto source = std::make_unique<ScriptedSource>(
      std::vector<std::vector<std::byte>>{testing::buildBlock(frames)});
  ScriptedSource& scripted = *source;
  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir.path();
  settings.rotate.interval = 0ms;
  FileFinisher finisher({});
  {
    Recorder recorder(settings, finisher, std::move(source));
    EXPECT_FALSE(recorder.requestRotation()) << "the first file has no packets yet";
    recorder.start();
    scripted.waitUntilAllReleased();
    EXPECT_TRUE(recorder.requestRotation());
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (recorder.finishedFiles().empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(recorder.finishedFiles().size(), 1u);
    for (int i = 0; i < 300; ++i) EXPECT_FALSE(recorder.requestRotation()) << i;
    recorder.requestStop();
    recorder.join();
  }
  finisher.stop();
  const auto files = filesIn(dir.path());
  ASSERT_EQ(files.size(), 1u) << "the file with the frames; the empty one after it is removed";
  EXPECT_EQ(testing::readPcapFile(files[0]).records.size(), 5u);
}

std::size_t openDescriptors() {
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator()));
}

// A rotation storm (max_packets 1, as under 1,000 SIGUSR1/s) against a disk whose fsync does
// not return: the finisher's queue stays within its bound, each queued file holds one
// descriptor, and the frames the recorder cannot rotate for go on into the current file.
TEST(Recorder, ARotationStormOnASlowDiskLosesNoFrameAndHoldsBoundedDescriptors) {
  testing::TempDir dir;
  constexpr std::uint32_t kFrames = 200;
  std::vector<std::vector<std::byte>> blocks;
  for (std::uint32_t first = 0; first < kFrames; first += 20) {
    std::vector<testing::BlockFrame> frames;
    for (std::uint32_t i = first; i < first + 20; ++i) {
      frames.push_back({.data = testing::buildUdpFrame({.sequence = i}), .seconds = 1000 + i});
    }
    blocks.push_back(testing::buildBlock(frames));
  }
  auto source = std::make_unique<ScriptedSource>(std::move(blocks));
  ScriptedSource& scripted = *source;

  std::mutex gateMutex;
  std::condition_variable gateChanged;
  bool diskReady = false;
  const auto openGate = [&] {
    std::lock_guard lock(gateMutex);
    diskReady = true;
    gateChanged.notify_all();
  };
  FinisherOptions options{.maxQueuedFiles = 4};
  options.operations.fsync = [&, real = options.operations.fsync](int fd) {
    std::unique_lock lock(gateMutex);
    gateChanged.wait(lock, [&] { return diskReady; });
    return real(fd);
  };

  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir.path();
  settings.output.fileName = "{interface}-{seq}.pcap";
  settings.rotate.interval = 0ms;
  settings.rotate.maxPackets = 1;
  const std::size_t before = openDescriptors();
  std::size_t during = 0;
  stats::InterfaceStats counts;
  {
    FileFinisher finisher({}, {}, options);
    {
      Recorder recorder(settings, finisher, std::move(source));
      recorder.start();
      scripted.waitUntilAllReleased();
      during = openDescriptors();
      openGate();
      recorder.requestStop();
      recorder.join();
      counts = recorder.stats();
    }
    finisher.stop();
  }
  // The output directory, the current file, and the queue's 4 (+1: asked at the same moment).
  EXPECT_LE(during, before + 1 + 1 + 5);

  const auto files = filesIn(dir.path());
  EXPECT_GE(files.size(), 2u);
  EXPECT_LT(files.size(), std::size_t{kFrames});
  std::vector<std::uint32_t> sequences;
  for (const auto& file : files) {
    EXPECT_EQ(file.extension(), ".pcap") << file;
    for (const auto& record : testing::readPcapFile(file).records) {
      sequences.push_back(testing::sequenceOf(record.data).value_or(UINT32_MAX));
    }
  }
  std::vector<std::uint32_t> expected(kFrames);
  std::iota(expected.begin(), expected.end(), 0u);
  EXPECT_EQ(sequences, expected);
  EXPECT_EQ(counts.packetsLostToDisk, 0u);
  EXPECT_EQ(counts.packetsWritten, kFrames);
}

// A hasher that falls behind (held by the test) gives the file's hash up: the file is finished
// with every record and without a sha256, and the recorder counts it as such (D-Bus
// FilesWithoutSha256, pcap_recorder_files_without_sha256_total).
TEST(Recorder, AFileWhoseHashWasGivenUpIsCountedAsAFileWithoutSha256) {
  testing::TempDir dir;
  if (!testing::takesDirectIo(dir.path())) GTEST_SKIP() << dir.path() << " refuses O_DIRECT";
  // More than a 4 MiB buffer (the writer's) behind at the file's end: the hash goes.
  std::vector<std::vector<std::byte>> blocks;
  std::uint32_t sequence = 0;
  for (int block = 0; block < 6; ++block) {
    std::vector<testing::BlockFrame> frames;
    for (int i = 0; i < 110; ++i) {
      frames.push_back({.data = testing::buildUdpFrame({.sequence = sequence, .frameBytes = 9000}),
                        .seconds = 1000 + sequence});
      ++sequence;
    }
    blocks.push_back(testing::buildBlock(frames, 1 << 20));
  }
  auto source = std::make_unique<ScriptedSource>(std::move(blocks));
  ScriptedSource& scripted = *source;
  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir.path();
  settings.output.directIo = config::DirectIo::on;
  settings.rotate.interval = 0ms;
  testing::Gate hasher;  // holds the hasher: it falls behind
  FileFinisher finisher({});
  stats::InterfaceStats counts;
  {
    Recorder recorder(settings, finisher, std::move(source),
                      pcap::DirectEngineHooks{.beforeHash = [&] { hasher.arrive(); }});
    recorder.start();
    scripted.waitUntilAllReleased();
    recorder.requestStop();
    recorder.join();
    hasher.release();  // before the engine, the recorder's, waits for its hasher
    finisher.stop();
    counts = recorder.stats();
  }
  const auto files = filesIn(dir.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(testing::readPcapFile(files[0]).records.size(), sequence);
  std::ifstream in(files[0].string() + ".json");
  std::stringstream json;
  json << in.rdbuf();
  EXPECT_NE(json.str().find("\"sha256\": \"\""), std::string::npos) << json.str();
  EXPECT_EQ(counts.filesWritten, 1u);
  EXPECT_EQ(counts.filesWithoutSha256, 1u);
}

}  // namespace
}  // namespace pcap_recorder::service
