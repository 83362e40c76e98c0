// The recorder against a scripted packet source: blocks built in memory, no socket, no root.
#include "pcap_recorder/service/recorder.hpp"

#include <gtest/gtest.h>
#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "pcap_recorder/index/file_index.hpp"
#include "support/block_builder.hpp"
#include "support/frames.hpp"
#include "support/pcap_reader.hpp"
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
    std::unique_lock lock(mutex_);
    if (next_ < blocks_.size()) return blocks_[next_];
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
  void replaceFilter(const bpf::FilterProgram&) override {}
  capture::KernelCounts takeKernelCounts() noexcept override { return {}; }
  bool seesOwnFramesTwice() const noexcept override { return false; }
  std::chrono::milliseconds blockTimeout() const noexcept override { return 5ms; }
  std::uint64_t socketErrors() const noexcept override { return 0; }

  // Blocks until every block was taken and given back.
  void waitUntilAllReleased() {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return next_ == blocks_.size(); });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::vector<std::byte>> blocks_;
  std::size_t next_ = 0;
};

std::vector<std::byte> withTag(const std::vector<std::byte>& frame, std::uint16_t tci) {
  std::vector<std::byte> out(frame.begin(), frame.begin() + 12);
  for (const int b : {0x81, 0x00, tci >> 8, tci & 0xff}) out.push_back(std::byte(b));
  out.insert(out.end(), frame.begin() + 12, frame.end());
  return out;
}

// Frames written in place are read from the ring block: they must be in the file before the
// block goes back, whatever the block holds afterwards.
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
  ScriptedSource& scripted = *source;

  config::InterfaceSettings settings;
  settings.name = "fake0";
  settings.output.directory = dir.path();
  settings.rotate.interval = 0ms;
  FileFinisher finisher({});
  {
    Recorder recorder(settings, finisher, std::move(source));
    recorder.start();
    scripted.waitUntilAllReleased();
    recorder.requestStop();
    recorder.join();
  }
  finisher.stop();

  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir.path())) files.push_back(entry.path());
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
  const auto file = testing::readPcapFile(files[0]);
  ASSERT_EQ(file.records.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(file.records[i].data, expected[i]) << "record " << i;
    EXPECT_EQ(file.records[i].seconds, 1000 + i);
  }
}

}  // namespace
}  // namespace pcap_recorder::service
