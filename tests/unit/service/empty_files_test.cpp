// No empty capture files (output.keep_empty_files): a recorder without traffic, rotating by
// interval and stopped, against a source that never hands out a block.
#include "pcap_recorder/service/empty_files.hpp"

#include <gtest/gtest.h>
#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "pcap_recorder/service/recorder.hpp"
#include "support/pcap_reader.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::service {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class SilentSource final : public capture::PacketSource {
 public:
  std::span<const std::byte> nextBlock(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mutex_);
    woken_.wait_for(lock, std::min<std::chrono::milliseconds>(timeout, 5ms));
    return {};
  }
  void releaseBlock() noexcept override {}
  void wake() noexcept override { woken_.notify_all(); }
  void stopIntake() override {}
  void replaceFilter(const bpf::FilterProgram&) override {}
  capture::KernelCounts takeKernelCounts() noexcept override { return {}; }
  bool seesOwnFramesTwice() const noexcept override { return false; }
  std::chrono::milliseconds blockTimeout() const noexcept override { return 5ms; }
  std::uint64_t socketErrors() const noexcept override { return 0; }

 private:
  std::mutex mutex_;
  std::condition_variable woken_;
};

std::vector<fs::path> captureFilesIn(const fs::path& directory) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory)) {
    const auto extension = entry.path().extension();
    if (extension != ".idx" && extension != ".json")
      files.push_back(entry.path());  // index, sidecar
  }
  std::sort(files.begin(), files.end());
  return files;
}

config::InterfaceSettings silentSettings(const fs::path& directory, bool keepEmptyFiles) {
  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = directory;
  settings.output.keepEmptyFiles = keepEmptyFiles;
  settings.rotate.interval = 50ms;
  return settings;
}

// Waits until the recorder has moved on to a new file `count` times (each interval's rotation).
void waitForRotations(const Recorder& recorder, int count) {
  std::string last = recorder.currentFile();
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (count > 0 && std::chrono::steady_clock::now() < deadline) {
    const auto now = recorder.currentFile();
    if (!now.empty() && now != last) {
      last = now;
      --count;
    }
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(count, 0) << "the recorder did not rotate by interval";
}

TEST(EmptyFiles, OnlyAFileWithoutRecordsThatWroteFineIsRemoved) {
  EXPECT_TRUE(finishesClosedFile(1, false, false));
  EXPECT_TRUE(finishesClosedFile(1, false, true));
  EXPECT_FALSE(finishesClosedFile(0, false, false));
  EXPECT_TRUE(finishesClosedFile(0, false, true)) << "keep_empty_files";
  EXPECT_TRUE(finishesClosedFile(0, true, false)) << "the finisher reports the failed write";
}

TEST(EmptyFiles, IntervalsAndAStopWithoutPacketsLeaveNoFile) {
  testing::TempDir dir;
  FileFinisher finisher({});
  Recorder recorder(silentSettings(dir.path(), false), finisher, std::make_unique<SilentSource>());
  recorder.start();
  waitForRotations(recorder, 3);
  recorder.requestStop();
  recorder.join();
  finisher.stop();
  EXPECT_TRUE(captureFilesIn(dir.path()).empty()) << captureFilesIn(dir.path()).front();
  EXPECT_TRUE(recorder.finishedFiles().empty());
  EXPECT_EQ(recorder.stats().filesWritten, 0u) << "a removed file is not a finished file";
}

TEST(EmptyFiles, KeepEmptyFilesLeavesOneHeaderOnlyFilePerInterval) {
  testing::TempDir dir;
  FileFinisher finisher({});
  Recorder recorder(silentSettings(dir.path(), true), finisher, std::make_unique<SilentSource>());
  recorder.start();
  waitForRotations(recorder, 3);
  recorder.requestStop();
  recorder.join();
  finisher.stop();
  const auto files = captureFilesIn(dir.path());
  ASSERT_GE(files.size(), 4u) << "three intervals and the stop";
  EXPECT_EQ(files.size(), recorder.finishedFiles().size());
  for (const auto& file : files) {
    EXPECT_EQ(file.extension(), ".pcap") << file;
    EXPECT_EQ(fs::file_size(file), 24u) << file;
    EXPECT_TRUE(testing::readPcapFile(file).records.empty()) << file;
  }
}

// A reload stores the file it ends as the settings it was written under say: keep_empty_files,
// on before the reload and off after it, keeps that file though it holds no packets.
TEST(EmptyFiles, AReloadStoresTheFileItEndsAsTheSettingsItWasWrittenUnderSay) {
  testing::TempDir before;
  testing::TempDir after;
  auto settings = silentSettings(before.path(), true);
  settings.rotate.interval = 0ms;
  auto next = silentSettings(after.path(), false);
  next.rotate.interval = 0ms;
  FileFinisher finisher({});
  Recorder recorder(settings, finisher, std::make_unique<SilentSource>());
  recorder.start();
  recorder.applySettings(next);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!recorder.currentFile().starts_with(after.path().string()) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  recorder.requestStop();
  recorder.join();
  finisher.stop();
  const auto files = captureFilesIn(before.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].extension(), ".pcap");
  EXPECT_EQ(fs::file_size(files[0]), 24u);
  EXPECT_TRUE(captureFilesIn(after.path()).empty()) << "keep_empty_files is off there";
}

}  // namespace
}  // namespace pcap_recorder::service
