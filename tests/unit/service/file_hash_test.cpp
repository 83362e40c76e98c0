// The SHA-256 of a finished uncompressed file: taken as the file was written with direct I/O and
// handed to the finisher, which does not read the file back for it; read back when the writer has
// none (a buffered file: the capture thread does not hash), but not when the hash was given up
// because it fell behind the traffic, nor after a failed write. A file that was to have one and
// has none says why (FinishedFile::withoutSha256, counted per interface). The finisher runs below
// the capture threads' priority.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include "pcap_recorder/compress/sha256.hpp"
#include "pcap_recorder/service/file_finisher.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/directory.hpp"
#include "support/file_size_limit.hpp"
#include "support/frames.hpp"
#include "support/gate.hpp"
#include "support/pcap_reader.hpp"
#include "support/sha256_of_path.hpp"
#include "support/temp_dir.hpp"
#include "support/thread_nice.hpp"

namespace pcap_recorder::service {
namespace {

namespace fs = std::filesystem;

// The sidecar's "sha256" value ("" when the key holds an empty string; "?" when it is missing).
std::string sidecarSha256(const fs::path& file) {
  std::ifstream in(file.string() + ".json");
  std::stringstream text;
  text << in.rdbuf();
  std::smatch match;
  const std::string json = text.str();
  if (!std::regex_search(json, match, std::regex(R"re("sha256": "([0-9a-f]*)")re"))) return "?";
  return match[1];
}

// How many of the file's pages the page cache holds.
std::size_t pagesInThePageCache(const fs::path& path) {
  util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  const auto size = static_cast<std::size_t>(fs::file_size(path));
  void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (mapped == MAP_FAILED) {
    ADD_FAILURE() << "mmap " << path;
    return 0;
  }
  const auto pageBytes = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + pageBytes - 1) / pageBytes);
  EXPECT_EQ(::mincore(mapped, size, resident.data()), 0);
  ::munmap(mapped, size);
  return static_cast<std::size_t>(
      std::count_if(resident.begin(), resident.end(), [](unsigned char page) { return page & 1; }));
}

struct Finished {
  fs::path path;
  std::string journalSha256;  // FinishedFile::sha256, what the journal line and D-Bus carry
  WithoutSha256 withoutSha256 = WithoutSha256::no;
  int finisherNice = -100;  // of the thread that finished it
  std::string finisherName;
};

class FileHashTest : public ::testing::Test {
 protected:
  // A closed file of a few records written with `options`, not yet finished.
  pcap::ClosedFile closedFile(const pcap::WriterOptions& options,
                              const std::string& name = "eth0-000001.pcap") {
    pcap::PcapFileWriter writer(output_->fd(), name, options);
    for (std::uint32_t i = 0; i < 50; ++i) {
      const auto frame = testing::buildUdpFrame({.sequence = i, .frameBytes = 64 + 29 * i});
      EXPECT_TRUE(writer.append(pcap::Frame{.seconds = 100 + i,
                                            .nanoseconds = 0,
                                            .wireLength = static_cast<std::uint32_t>(frame.size()),
                                            .data = frame}));
    }
    return writer.close();
  }
  // A closed file cut back to its last whole record by a write that failed (as on a full disk).
  pcap::ClosedFile closedFileCutByAFailedWrite(const pcap::WriterOptions& options) {
    pcap::PcapFileWriter writer(output_->fd(), "eth0-000002.pcap", options);
    {
      testing::FileSizeLimit limit(4 * pcap::kDirectAlignment);
      const auto frame = testing::buildUdpFrame({.frameBytes = 1000});
      for (std::uint32_t i = 0; i < 200 && !writer.failed(); ++i) {
        writer.append(pcap::Frame{.seconds = 100 + i,
                                  .nanoseconds = 0,
                                  .wireLength = static_cast<std::uint32_t>(frame.size()),
                                  .data = frame});
      }
      writer.flush();
    }
    EXPECT_TRUE(writer.failed());
    return writer.close();
  }
  // Changes a byte in the middle of the `.part` behind the writer's back, size unchanged: from
  // now on, a hash of the file read back differs from the hash of what was written.
  void alterOnDisk(const pcap::ClosedFile& file) {
    const auto part = dir_ / "out" / file.partName();
    util::UniqueFd fd(::open(part.c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    std::byte byte{};
    const off_t middle = static_cast<off_t>(fs::file_size(part) / 2);
    ASSERT_EQ(::pread(fd.get(), &byte, 1, middle), 1);
    byte ^= std::byte{0xff};
    ASSERT_EQ(::pwrite(fd.get(), &byte, 1, middle), 1);
  }
  Finished finish(pcap::ClosedFile file, StorageOptions storage = {}) {
    Finished finished;
    FileFinisher finisher({});
    finisher.submit(FinishJob{
        .interface = "eth0",
        .directory = output_->configuredPath(),
        .output = output_,
        .file = std::move(file),
        .reason = "test",
        .postFinishCommand = "",
        .index = false,
        .storage = storage,
        .onFinished =
            [&](const FinishedFile& done) {
              char name[16] = {};
              ::pthread_getname_np(::pthread_self(), name, sizeof name);
              finished = {done.path, done.sha256, done.withoutSha256, testing::niceOfThisThread(),
                          name};
            },
        .onLost = {},
    });
    finisher.stop();
    return finished;
  }

  testing::TempDir dir_;
  std::shared_ptr<const OutputDirectory> output_ = OutputDirectory::open(dir_ / "out");
};

TEST_F(FileHashTest, TheSidecarHasTheHashTakenAsTheFileWasWrittenAndTheFileIsNotReadBack) {
  if (!testing::takesDirectIo(dir_ / "out")) GTEST_SKIP() << "no direct I/O in " << dir_ / "out";
  auto file = closedFile(
      {.directIo = pcap::DirectIoPolicy::required, .sha256 = true, .hashYieldsToCapture = false});
  const auto written = testing::sha256OfPath(dir_ / "out" / file.partName());
  alterOnDisk(file);
  const auto finished = finish(std::move(file));
  ASSERT_FALSE(finished.path.empty());
  const auto now = testing::sha256OfPath(finished.path);
  ASSERT_NE(now, written);
  // Read back, the sidecar would hold `now`.
  EXPECT_EQ(sidecarSha256(finished.path), written);
  EXPECT_EQ(finished.journalSha256, written);
  EXPECT_EQ(finished.withoutSha256, WithoutSha256::no);
}

// Buffered (tmpfs, direct_io off): the capture thread does not hash, the finisher reads the
// file back, and its hash is the final file's (sha256sum NAME).
TEST_F(FileHashTest, ABufferedFileIsHashedByTheFinisherReadingItBack) {
  auto file = closedFile({.directIo = pcap::DirectIoPolicy::never, .sha256 = true});
  alterOnDisk(file);  // after the writer: only a read-back sees it
  const auto finished = finish(std::move(file));
  ASSERT_FALSE(finished.path.empty());
  EXPECT_EQ(finished.withoutSha256, WithoutSha256::no);
  EXPECT_EQ(sidecarSha256(finished.path), testing::sha256OfPath(finished.path));
  EXPECT_EQ(finished.journalSha256, testing::sha256OfPath(finished.path));
}

// Read back past the page cache where the file system takes O_DIRECT: the writer dropped the
// finished file from the cache, and hashing it must not bring it back (through the cache, a 9 GB
// run with `direct_io: off` grew it by 8.7 GB).
TEST_F(FileHashTest, ABufferedFileReadBackForItsHashIsNotLeftInThePageCache) {
  if (!testing::takesDirectIo(dir_ / "out")) GTEST_SKIP() << "no direct I/O in " << dir_ / "out";
  // tmpfs takes O_DIRECT since Linux 6.6, but its pages are the file: always in the cache.
  struct statfs fileSystem {};
  ASSERT_EQ(::statfs((dir_ / "out").c_str(), &fileSystem), 0);
  if (fileSystem.f_type == TMPFS_MAGIC)
    GTEST_SKIP() << dir_ / "out"
                 << " is on tmpfs";
  const auto finished =
      finish(closedFile({.directIo = pcap::DirectIoPolicy::never, .sha256 = true}));
  ASSERT_FALSE(finished.path.empty());
  EXPECT_EQ(pagesInThePageCache(finished.path), 0u);
  EXPECT_EQ(sidecarSha256(finished.path), testing::sha256OfPath(finished.path));
}

// A hash given up because the hasher fell behind (held by the test here): the file is finished
// with every record, its sidecar's sha256 is empty (the shipper hashes it itself then), and it is
// not read back, which would compete with capture at just that moment.
TEST_F(FileHashTest, AFileWhoseHashWasGivenUpIsFinishedWithoutOneAndNotReadBack) {
  if (!testing::takesDirectIo(dir_ / "out")) GTEST_SKIP() << "no direct I/O in " << dir_ / "out";
  testing::Gate hasher;  // holds the hasher: it falls behind
  pcap::WriterOptions options{.directIo = pcap::DirectIoPolicy::required,
                              .directBufferBytes = 2 * pcap::kDirectAlignment,
                              .directBufferCount = 2,
                              .sha256 = true};
  options.directEngine = std::make_shared<pcap::DirectWriteEngine>(
      pcap::DirectEngineHooks{.beforeHash = [&] { hasher.arrive(); }});
  auto file = closedFile(options);
  hasher.release();
  EXPECT_TRUE(file.summary().hashSkipped);
  const auto finished = finish(std::move(file));
  ASSERT_FALSE(finished.path.empty());
  EXPECT_EQ(finished.withoutSha256, WithoutSha256::fellBehind);
  EXPECT_EQ(sidecarSha256(finished.path), "");
  EXPECT_EQ(finished.journalSha256, "");
  EXPECT_EQ(testing::readPcapFile(finished.path).records.size(), 50u);
}

// A file begun in the pause after a hash given up is not hashed at all: finished without one,
// saying so (its own hash was not tried, so not "fell behind"), counted, and not read back.
TEST_F(FileHashTest, AFileBegunInTheHashPauseIsFinishedWithoutOneAndSaysWhy) {
  if (!testing::takesDirectIo(dir_ / "out")) GTEST_SKIP() << "no direct I/O in " << dir_ / "out";
  testing::Gate hasher;  // holds the hasher: the first file's hash falls behind
  pcap::WriterOptions options{.directIo = pcap::DirectIoPolicy::required,
                              .directBufferBytes = 2 * pcap::kDirectAlignment,
                              .directBufferCount = 2,
                              .sha256 = true};
  // A clock that stands still: the second file begins within the pause however slow the machine.
  options.directEngine = std::make_shared<pcap::DirectWriteEngine>(
      pcap::DirectEngineHooks{.beforeHash = [&] { hasher.arrive(); },
                              .now = [] { return std::chrono::steady_clock::time_point{}; }});
  const auto first = closedFile(options);
  hasher.release();
  ASSERT_TRUE(first.summary().hashSkipped);
  EXPECT_FALSE(first.summary().hashPaused);

  auto second = closedFile(options, "eth0-000002.pcap");
  EXPECT_TRUE(second.summary().hashSkipped);
  EXPECT_TRUE(second.summary().hashPaused);
  const auto finished = finish(std::move(second));
  ASSERT_FALSE(finished.path.empty());
  EXPECT_EQ(finished.withoutSha256, WithoutSha256::paused);
  EXPECT_EQ(sidecarSha256(finished.path), "");
  EXPECT_EQ(testing::readPcapFile(finished.path).records.size(), 50u);
}

// Reading back, compressing and hooks take the CPU capture leaves: the finisher runs below the
// thread that starts it (the daemon's main thread, whose priority capture threads have).
TEST_F(FileHashTest, TheFinisherRunsBelowTheCaptureThreadsPriority) {
  const auto finished = finish(closedFile({}));
  ASSERT_FALSE(finished.path.empty());
  EXPECT_EQ(finished.finisherName, "pr-finisher");
  EXPECT_EQ(finished.finisherNice,
            std::min(testing::niceOfThisThread() + pcap::kBackgroundNice, 19));
}

// A file that comes without a streamed hash (OpenSSL failed, or a writer that was not asked): the
// finisher reads it back, as before.
TEST_F(FileHashTest, AFileWithoutAStreamedHashIsHashedByReadingItBack) {
  auto file = closedFile({.sha256 = false});
  alterOnDisk(file);
  const auto finished = finish(std::move(file));
  ASSERT_FALSE(finished.path.empty());
  EXPECT_EQ(sidecarSha256(finished.path), testing::sha256OfPath(finished.path));
  EXPECT_EQ(finished.journalSha256, testing::sha256OfPath(finished.path));
}

// A file cut after a failed write (a full disk) is whole, but it is not read back for its hash:
// capture waits for room, which the retention after it makes, and the disk may be failing. The
// sidecar has no sha256, and the file counts as one without.
TEST_F(FileHashTest, AFileCutByAFailedWriteIsFinishedWithoutAHashAndNotReadBack) {
  for (const auto directIo : {pcap::DirectIoPolicy::never, pcap::DirectIoPolicy::required}) {
    if (directIo == pcap::DirectIoPolicy::required && !testing::takesDirectIo(dir_ / "out"))
      continue;
    auto file = closedFileCutByAFailedWrite({.directIo = directIo,
                                             .directBufferBytes = 2 * pcap::kDirectAlignment,
                                             .directBufferCount = 3,
                                             .sha256 = true,
                                             // Or a busy machine gives the hash up first.
                                             .hashYieldsToCapture = false});
    EXPECT_TRUE(file.summary().writeFailed);
    EXPECT_FALSE(file.summary().hashSkipped);
    const auto finished = finish(std::move(file));
    ASSERT_FALSE(finished.path.empty());
    EXPECT_GT(testing::readPcapFile(finished.path).records.size(), 0u);
    EXPECT_EQ(finished.withoutSha256, WithoutSha256::writeFailed);
    EXPECT_EQ(sidecarSha256(finished.path), "");
    EXPECT_EQ(finished.journalSha256, "");
    fs::remove(finished.path);
    fs::remove(finished.path.string() + ".json");
  }
}

// output.sha256: false: neither hashed as written nor read back, and no file lacks what was not
// asked for, a file cut by a failed write neither.
TEST_F(FileHashTest, WithTheHashOffTheSidecarSaysNoneAndNothingIsReadBack) {
  StorageOptions storage;
  storage.sha256 = false;
  const auto finished = finish(closedFile({.sha256 = false}), storage);
  ASSERT_FALSE(finished.path.empty());
  EXPECT_EQ(sidecarSha256(finished.path), "");
  EXPECT_EQ(finished.journalSha256, "");
  EXPECT_EQ(finished.withoutSha256, WithoutSha256::no);
  const auto cut = finish(closedFileCutByAFailedWrite({.sha256 = false}), storage);
  ASSERT_FALSE(cut.path.empty());
  EXPECT_EQ(cut.withoutSha256, WithoutSha256::no);
}

// Neither given up nor skipped, but failed: a file the storing stage cannot even look at.
TEST_F(FileHashTest, AFileWhoseHashCannotBeComputedIsWithoutOneForAFailure) {
  FinishedFile gone;
  gone.interface = "eth0";
  gone.path = output_->currentPath() / "gone.pcap";
  storeFinishedFile(output_->fd(), gone, StorageOptions{});
  EXPECT_EQ(gone.sha256, "");
  EXPECT_EQ(gone.withoutSha256, WithoutSha256::failed);
}

TEST(HashWhileWriting, OnlyUncompressedFilesWhoseSidecarWantsTheHash) {
  config::OutputSettings output;
  EXPECT_TRUE(hashWhileWriting(output)) << "the default gives the sidecar its sha256";
  output.compression = compress::Compression::zstd;
  EXPECT_FALSE(hashWhileWriting(output)) << "the compressor hashes what it stores";
  output.compression = compress::Compression::none;
  output.sha256 = false;
  EXPECT_FALSE(hashWhileWriting(output));
}

}  // namespace
}  // namespace pcap_recorder::service
