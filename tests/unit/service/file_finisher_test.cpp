// The file finisher on real temporary directories: what it does when fsync fails, and when the
// output directory is removed under it.
#include "pcap_recorder/service/file_finisher.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "support/frames.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::service {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A job for a file of one record in `output`, with a hook that leaves `hookMarker` behind.
FinishJob jobOfOneRecord(const std::shared_ptr<const OutputDirectory>& output,
                         const fs::path& hookMarker, bool& finishedCalled,
                         std::uint64_t& lostPackets) {
  pcap::PcapFileWriter writer(output->fd(), "eth0-000001.pcap", pcap::WriterOptions{});
  const auto frame = testing::buildUdpFrame({.sequence = 1});
  EXPECT_TRUE(writer.append(pcap::Frame{.seconds = 100,
                                        .nanoseconds = 0,
                                        .wireLength = static_cast<std::uint32_t>(frame.size()),
                                        .data = frame}));
  return FinishJob{
      .interface = "eth0",
      .directory = output->configuredPath(),
      .output = output,
      .file = writer.close(),
      .reason = "test",
      .postFinishCommand = "touch " + hookMarker.string() + " #",
      .postFinishTimeout = 5s,
      .onFinished = [&finishedCalled](const FinishedFile&) { finishedCalled = true; },
      .onLost = [&lostPackets](std::uint64_t packets, std::uint64_t) { lostPackets += packets; },
  };
}

TEST(FileFinisher, AFileWhoseFsyncFailsKeepsItsPartNameAndIsNeitherReportedNorHooked) {
  testing::TempDir dir;
  const auto output = OutputDirectory::open(dir / "out");
  FinisherOptions options;
  options.operations.fsync = [](int) {
    errno = EIO;
    return -1;
  };
  bool observed = false;
  bool finishedCalled = false;
  std::uint64_t lost = 0;
  {
    FileFinisher finisher(
        {}, [&](const FinishedFile&) { observed = true; }, options);
    finisher.submit(jobOfOneRecord(output, dir / "hook-ran", finishedCalled, lost));
    finisher.stop();
  }
  EXPECT_FALSE(observed);
  EXPECT_FALSE(finishedCalled);
  EXPECT_FALSE(fs::exists(dir / "hook-ran"));
  EXPECT_TRUE(fs::exists(dir / "out" / "eth0-000001.pcap.part"));
  EXPECT_FALSE(fs::exists(dir / "out" / "eth0-000001.pcap"));
  EXPECT_FALSE(fs::exists(dir / "out" / "eth0-000001.pcap.storing"))
      << "the .part's repair at the next start needs no marker";
  EXPECT_EQ(lost, 0u);  // still on disk, for the next start to repair
}

// From before its rename until it is announced, a file has its storing marker (file_storage.hpp):
// a run killed meanwhile leaves it for the next start. Then it goes.
TEST(FileFinisher, AFileBeingStoredIsMarkedSoUntilItIsAnnounced) {
  testing::TempDir dir;
  const auto output = OutputDirectory::open(dir / "out");
  const fs::path marker = dir / "out" / "eth0-000001.pcap.storing";
  bool finishedCalled = false;
  std::uint64_t lost = 0;
  std::vector<std::string> stepsWithMarker;
  bool markedWhenAnnounced = true;
  // The first fsync is the file's, just before its rename: a kill there must find the marker.
  std::vector<bool> markedAtFsync;
  FinisherOptions options;
  options.operations.fsync = [&](int fd) {
    markedAtFsync.push_back(fs::exists(marker));
    return ::fsync(fd);
  };
  {
    FileFinisher finisher(
        {}, [&](const FinishedFile&) { markedWhenAnnounced = fs::exists(marker); }, options);
    auto job = jobOfOneRecord(output, dir / "hook-ran", finishedCalled, lost);
    job.storage.compression = compress::Compression::zstd;
    job.storage.operations.afterStep = [&](std::string_view step) {
      if (fs::exists(marker)) stepsWithMarker.emplace_back(step);
    };
    finisher.submit(std::move(job));
    finisher.stop();
  }
  ASSERT_FALSE(markedAtFsync.empty());
  EXPECT_TRUE(markedAtFsync.front()) << "marked before the rename";
  EXPECT_FALSE(stepsWithMarker.empty()) << "marked while it was compressed";
  EXPECT_TRUE(markedWhenAnnounced) << "still marked as FileFinished is sent";
  EXPECT_TRUE(finishedCalled);
  EXPECT_TRUE(fs::exists(dir / "hook-ran"));
  EXPECT_TRUE(fs::exists(dir / "out" / "eth0-000001.pcap.zst.json"));
  EXPECT_FALSE(fs::exists(marker)) << "announced: nothing owed any more";
}

// The name was taken meanwhile (by a file not of this run): the file is stored under the next free
// name, and no marker ever points at the other file, which the next start would take for ours.
TEST(FileFinisher, AFileStoredUnderAnotherNameNeverMarksTheFileThatTookItsName) {
  testing::TempDir dir;
  const auto output = OutputDirectory::open(dir / "out");
  const fs::path taken = dir / "out" / "eth0-000001.pcap";
  bool finishedCalled = false;
  std::uint64_t lost = 0;
  auto job = jobOfOneRecord(output, dir / "hook-ran", finishedCalled, lost);
  { std::ofstream(taken) << "someone else's"; }
  // Where a kill could land: each fsync of the rename (before it, and of the directory after it)
  // and each step of the compression.
  std::size_t looks = 0;
  bool takenMarked = false;
  const auto look = [&] {
    ++looks;
    takenMarked = takenMarked || fs::exists(taken.string() + ".storing");
  };
  FinisherOptions options;
  options.operations.fsync = [&](int fd) {
    look();
    return ::fsync(fd);
  };
  job.storage.compression = compress::Compression::zstd;
  job.storage.operations.afterStep = [&](std::string_view) { look(); };
  {
    FileFinisher finisher({}, {}, options);
    finisher.submit(std::move(job));
    finisher.stop();
  }
  EXPECT_GE(looks, 3u);
  EXPECT_FALSE(takenMarked) << "a kill there would make the next start store the other file";
  EXPECT_TRUE(finishedCalled);
  std::ifstream other(taken);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(other), {}), "someone else's");
}

TEST(FileFinisher, AFileWhoseDirectoryWasRemovedIsCountedLost) {
  testing::TempDir dir;
  const auto output = OutputDirectory::open(dir / "out");
  bool finishedCalled = false;
  std::uint64_t lost = 0;
  auto job = jobOfOneRecord(output, dir / "hook-ran", finishedCalled, lost);
  fs::remove_all(dir / "out");
  EXPECT_EQ(output->state(), OutputDirectory::State::removed);
  {
    FileFinisher finisher({});
    finisher.submit(std::move(job));
    finisher.stop();
  }
  EXPECT_FALSE(finishedCalled);
  EXPECT_EQ(lost, 1u);
  EXPECT_FALSE(fs::exists(dir / "hook-ran"));
}

// The old retention listed the directory by path and threw filesystem_error on the finisher
// thread: std::terminate, the daemon gone. Now it re-creates the directory and goes on.
TEST(FileFinisher, RetentionOverARemovedDirectoryReCreatesItAndKeepsRunning) {
  testing::TempDir dir;
  std::vector<DirectoryRetention> directories;
  directories.push_back({dir / "out", {.maxFiles = 1}, rotation::OwnFileMatcher({})});
  FileFinisher finisher(std::move(directories));
  finisher.requestRetention(dir / "out");
  fs::remove_all(dir / "out");
  finisher.requestRetention(dir / "out");
  finisher.stop();
  EXPECT_TRUE(fs::is_directory(dir / "out"));
}

// min_free_space is looked at every second between passes, not only at the 10 s pass or when a
// file is finished: at 1 Gbit/s ten seconds are 1.25 GB written past it.
TEST(FileFinisher, FreeSpaceBelowMinFreeSpaceIsSeenWithinSecondsWithoutAFileFinished) {
  testing::TempDir dir;
  fs::create_directory(dir / "out");
  const auto capture = dir / "out" / "eth0-20261123T175844.pcap";
  std::ofstream(capture) << "old capture";
  std::vector<DirectoryRetention> directories;
  // More free space than any disk has: below it from the start.
  directories.push_back({dir / "out",
                         {.minFreeBytes = UINT64_MAX / 2},
                         rotation::OwnFileMatcher(std::vector<rotation::OwnFileTemplate>{
                             {"{interface}-%Y%m%dT%H%M%S.pcap", "eth0"}})});
  FileFinisher finisher(std::move(directories));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (fs::exists(capture) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_FALSE(fs::exists(capture)) << "not deleted within 5 s (the periodic pass comes at 10 s)";
  finisher.stop();
}

TEST(OutputDirectory, TellsARemovedDirectoryFromAReplacedOne) {
  testing::TempDir dir;
  const auto removed = OutputDirectory::open(dir / "a");
  EXPECT_EQ(removed->state(), OutputDirectory::State::same);
  fs::remove_all(dir / "a");
  EXPECT_EQ(removed->state(), OutputDirectory::State::removed);

  const auto moved = OutputDirectory::open(dir / "b");
  fs::rename(dir / "b", dir / "b.old");
  fs::create_directory(dir / "b");
  EXPECT_EQ(moved->state(), OutputDirectory::State::replaced);
  EXPECT_EQ(moved->currentPath(), fs::canonical(dir / "b.old"));
}

// A symlink re-pointed: the held directory is where the files are, and its path says so.
TEST(OutputDirectory, ReportsWhereTheHeldDirectoryIsAfterItsSymlinkIsRePointed) {
  testing::TempDir dir;
  fs::create_directory(dir / "first");
  fs::create_directory(dir / "second");
  fs::create_directory_symlink(dir / "first", dir / "out");
  const auto output = OutputDirectory::open(dir / "out");
  fs::remove(dir / "out");
  fs::create_directory_symlink(dir / "second", dir / "out");
  EXPECT_EQ(output->state(), OutputDirectory::State::replaced);
  EXPECT_EQ(output->currentPath(), fs::canonical(dir / "first"));
}

}  // namespace
}  // namespace pcap_recorder::service
