// Retention runs beside the finisher, never behind it: with a compression held up at one of its
// steps (the test's stand-in for half a minute of gzip), a requested pass and the pass after
// another finished file run and delete old files, while the file being compressed is counted
// (with its compressed copy) and not deleted, and ends up stored once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "pcap_recorder/service/file_finisher.hpp"
#include "support/aged_files.hpp"
#include "support/frames.hpp"
#include "support/gate.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::service {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using testing::Gate;
using testing::kPatience;
using testing::ReleaseOnExit;

template <typename Predicate>
bool eventually(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

bool existsWithIndexAndSidecar(const fs::path& path) {
  return fs::exists(path) && fs::exists(path.string() + ".idx") &&
         fs::exists(path.string() + ".json");
}

bool goneWithIndexAndSidecar(const fs::path& path) {
  return !fs::exists(path) && !fs::exists(path.string() + ".idx") &&
         !fs::exists(path.string() + ".json");
}

std::uint64_t sizeOf(const fs::path& path) {
  return static_cast<std::uint64_t>(fs::file_size(path));
}

class RetentionBesideCompression : public ::testing::Test {
 protected:
  // A closed file of 50 records named `name`, stored with zstd held at `heldAt` by `gate` when
  // there is one, uncompressed otherwise.
  // `spelling`: the directory as the job's interface names it (default: as retention does).
  FinishJob job(const std::string& name, const std::shared_ptr<Gate>& gate = nullptr,
                std::string heldAt = "part written", const fs::path& spelling = {}) {
    pcap::PcapFileWriter writer(output_->fd(), name, pcap::WriterOptions{});
    for (std::uint32_t sequence = 0; sequence < 50; ++sequence) {
      const auto frame = testing::buildUdpFrame({.sequence = sequence});
      EXPECT_TRUE(writer.append(pcap::Frame{.seconds = 100 + sequence,
                                            .nanoseconds = 0,
                                            .wireLength = static_cast<std::uint32_t>(frame.size()),
                                            .data = frame}));
    }
    FinishJob job{
        .interface = "lan0",
        .directory = spelling.empty() ? dir_.path() : spelling,
        .output = output_,
        .file = writer.close(),
        .reason = "test",
        .postFinishCommand = {},
        .onFinished = {},
        .onLost = {},
    };
    if (gate) {
      job.storage.compression = compress::Compression::zstd;
      job.storage.operations.afterStep = [gate, heldAt](std::string_view step) {
        if (step == heldAt) gate->arrive();
      };
    }
    return job;
  }

  std::vector<DirectoryRetention> retention(const rotation::RetentionLimits& limits) const {
    std::vector<DirectoryRetention> directories;
    directories.push_back({dir_.path(), limits, rotation::OwnFileMatcher(templates_)});
    return directories;
  }

  fs::path at(const std::string& name) const { return dir_ / name; }

  testing::TempDir dir_;
  const std::shared_ptr<const OutputDirectory> output_ = OutputDirectory::open(dir_.path());
  const std::vector<rotation::OwnFileTemplate> templates_{
      {"{interface}-%Y%m%dT%H%M%S.pcap", "lan0"}};
  const std::string oldest_ = "lan0-20261201T100000.pcap.zst";
  const std::string older_ = "lan0-20261201T110000.pcap";
  const std::string compressed_ = "lan0-20261202T120000.pcap";
};

TEST_F(RetentionBesideCompression, ARequestedPassDeletesOldFilesButNotTheFileBeingCompressed) {
  testing::storedWithIndexAndSidecar(at(oldest_), 1000, 4h);
  testing::storedWithIndexAndSidecar(at(older_), 1000, 3h);
  // More free space than any disk has: every own file goes, unless it is still being stored.
  const rotation::RetentionLimits limits{.minFreeBytes = std::uint64_t{1} << 62};
  bool storedOnce = false;
  const auto gate = std::make_shared<Gate>();
  FileFinisher finisher(retention(limits), [&](const FinishedFile& file) {
    storedOnce = file.path == at(compressed_ + ".zst") &&
                 existsWithIndexAndSidecar(at(compressed_ + ".zst")) &&
                 !fs::exists(at(compressed_)) && !fs::exists(at(compressed_ + ".zst.part"));
  });
  const ReleaseOnExit releaseOnExit{gate};
  finisher.submit(job(compressed_, gate));
  ASSERT_TRUE(gate->waitForArrival());

  finisher.requestRetention(dir_.path());
  EXPECT_TRUE(eventually([&] {
    return goneWithIndexAndSidecar(at(oldest_)) && goneWithIndexAndSidecar(at(older_));
  })) << "retention waited for the compression";
  EXPECT_TRUE(fs::exists(at(compressed_)));
  EXPECT_TRUE(fs::exists(at(compressed_ + ".idx")));
  EXPECT_TRUE(fs::exists(at(compressed_ + ".zst.part")));

  gate->release();
  finisher.stop();
  EXPECT_TRUE(storedOnce);
  // Once stored it is a file like any other: the pass after it deletes it, all of it.
  EXPECT_TRUE(goneWithIndexAndSidecar(at(compressed_ + ".zst")));
  EXPECT_FALSE(fs::exists(at(compressed_)));
}

TEST_F(RetentionBesideCompression, TheBudgetCountsTheFileBeingCompressedAndItsCompressedCopy) {
  testing::storedWithIndexAndSidecar(at(oldest_), 1000, 4h);
  testing::storedWithIndexAndSidecar(at(older_), 1000, 3h);
  const auto gate = std::make_shared<Gate>();
  FileFinisher finisher(retention({}));
  const ReleaseOnExit releaseOnExit{gate};
  finisher.submit(job(compressed_, gate));
  ASSERT_TRUE(gate->waitForArrival());

  // One byte short of the two old files, the file being compressed and its compressed copy so
  // far: the oldest must go, and only the oldest (the compressed copy left, the rest fits).
  const std::uint64_t inProgress = sizeOf(at(compressed_)) + sizeOf(at(compressed_ + ".zst.part"));
  finisher.setDirectories(retention({.maxTotalBytes = 2000 + inProgress - 1}));
  finisher.requestRetention(dir_.path());
  EXPECT_TRUE(eventually([&] { return goneWithIndexAndSidecar(at(oldest_)); }))
      << "retention waited for the compression, or did not count the file it compresses";
  EXPECT_TRUE(fs::exists(at(compressed_)));

  gate->release();
  finisher.stop();
  EXPECT_TRUE(existsWithIndexAndSidecar(at(older_)));
  EXPECT_TRUE(existsWithIndexAndSidecar(at(compressed_ + ".zst")));
  EXPECT_FALSE(fs::exists(at(compressed_)));
}

TEST_F(RetentionBesideCompression, AFileWithItsUncompressedAndCompressedNamesCountsOnceInMaxFiles) {
  testing::storedWithIndexAndSidecar(at(oldest_), 1000, 4h);
  testing::storedWithIndexAndSidecar(at(older_), 1000, 3h);
  const std::string expired = "lan0-20261130T100000.pcap";  // gone when the pass has run
  const auto gate = std::make_shared<Gate>();
  FileFinisher finisher(retention({.maxFiles = 3, .maxAge = 24h}));
  const ReleaseOnExit releaseOnExit{gate};
  finisher.submit(job(compressed_, gate, "renamed"));
  ASSERT_TRUE(gate->waitForArrival());
  ASSERT_TRUE(fs::exists(at(compressed_)));
  ASSERT_TRUE(fs::exists(at(compressed_ + ".zst")));

  testing::storedWithIndexAndSidecar(at(expired), 1000, 48h);
  finisher.requestRetention(dir_.path());
  EXPECT_TRUE(eventually([&] { return goneWithIndexAndSidecar(at(expired)); }));

  gate->release();
  finisher.stop();
  // Three files after max_age's: counted as four, the oldest would have gone too.
  EXPECT_TRUE(existsWithIndexAndSidecar(at(oldest_)));
  EXPECT_TRUE(existsWithIndexAndSidecar(at(older_)));
  EXPECT_TRUE(existsWithIndexAndSidecar(at(compressed_ + ".zst")));
}

TEST_F(RetentionBesideCompression, ThePassAfterAFinishedFileRunsWhileTheNextIsCompressed) {
  // Holds the first file's first fsync, so that the next two are taken from the queue together:
  // one finished, then one compressed.
  const auto fsyncGate = std::make_shared<Gate>();
  FinisherOptions options;
  options.operations.fsync = [fsyncGate,
                              first = std::make_shared<std::atomic<bool>>(true)](int fd) {
    if (first->exchange(false)) fsyncGate->arrive();
    return ::fsync(fd);
  };
  const std::string expired = "lan0-20261130T100000.pcap";  // planted as the second is finished
  const auto gate = std::make_shared<Gate>();
  FileFinisher finisher(retention({.maxAge = 24h}), {}, options);
  const ReleaseOnExit releaseOnExit{gate};
  const ReleaseOnExit releaseFsyncOnExit{fsyncGate};
  finisher.submit(job("lan0-20261202T100000.pcap"));
  ASSERT_TRUE(fsyncGate->waitForArrival());
  auto finished = job("lan0-20261202T110000.pcap");
  finished.onFinished = [&](const FinishedFile&) {
    testing::storedWithIndexAndSidecar(at(expired), 1000, 48h);
  };
  finisher.submit(std::move(finished));
  finisher.submit(job(compressed_, gate));
  fsyncGate->release();
  ASSERT_TRUE(gate->waitForArrival());

  EXPECT_TRUE(eventually([&] { return goneWithIndexAndSidecar(at(expired)); }))
      << "the retention after a finished file waited for the next file's compression";
  EXPECT_TRUE(fs::exists(at(compressed_)));

  gate->release();
  finisher.stop();
  EXPECT_TRUE(fs::exists(at("lan0-20261202T100000.pcap")));
  EXPECT_TRUE(fs::exists(at("lan0-20261202T110000.pcap")));
  EXPECT_TRUE(existsWithIndexAndSidecar(at(compressed_ + ".zst")));
  EXPECT_FALSE(fs::exists(at(compressed_)));
}

// Another interface names the same directory through a symbolic link: its file being compressed is
// still in progress for the retention that lists the directory under the first spelling, and a
// request made under its spelling runs that retention.
TEST_F(RetentionBesideCompression, AFileInProgressUnderAnotherSpellingOfTheDirectoryIsKept) {
  testing::storedWithIndexAndSidecar(at(oldest_), 1000, 4h);
  testing::storedWithIndexAndSidecar(at(older_), 1000, 3h);
  testing::TempDir links;
  const fs::path alias = links / "alias";
  fs::create_directory_symlink(dir_.path(), alias);
  auto directories = retention({.minFreeBytes = std::uint64_t{1} << 62});
  directories.front().otherSpellings = {alias};
  const auto gate = std::make_shared<Gate>();
  FileFinisher finisher(std::move(directories));
  const ReleaseOnExit releaseOnExit{gate};
  finisher.submit(job(compressed_, gate, "part written", alias));
  ASSERT_TRUE(gate->waitForArrival());

  finisher.requestRetention(alias);
  EXPECT_TRUE(eventually([&] {
    return goneWithIndexAndSidecar(at(oldest_)) && goneWithIndexAndSidecar(at(older_));
  })) << "the request under the other spelling ran no pass";
  EXPECT_TRUE(fs::exists(at(compressed_))) << "the file in progress was deleted";
  EXPECT_TRUE(fs::exists(at(compressed_ + ".idx")));
  EXPECT_TRUE(fs::exists(at(compressed_ + ".zst.part")));
  gate->release();
  finisher.stop();
}

}  // namespace
}  // namespace pcap_recorder::service
