// The SHA-256 of a finished uncompressed file: taken as the file was written with direct I/O and
// handed to the finisher, which does not read the file back for it; read back when the writer has
// none (a buffered file: the capture thread does not hash), but not when the hash was given up
// because it fell behind the traffic. The finisher runs below the capture threads' priority.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <latch>
#include <regex>
#include <sstream>

#include "pcap_recorder/compress/sha256.hpp"
#include "pcap_recorder/service/file_finisher.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/directory.hpp"
#include "support/frames.hpp"
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

struct Finished {
  fs::path path;
  std::string journalSha256;  // FinishedFile::sha256, what the journal line and D-Bus carry
  bool hashSkipped = false;
  int finisherNice = -100;  // of the thread that finished it
  std::string finisherName;
};

class FileHashTest : public ::testing::Test {
 protected:
  // A closed file of a few records written with `options`, not yet finished.
  pcap::ClosedFile closedFile(const pcap::WriterOptions& options) {
    pcap::PcapFileWriter writer(output_->fd(), "eth0-000001.pcap", options);
    for (std::uint32_t i = 0; i < 50; ++i) {
      const auto frame = testing::buildUdpFrame({.sequence = i, .frameBytes = 64 + 29 * i});
      EXPECT_TRUE(writer.append(pcap::Frame{.seconds = 100 + i,
                                            .nanoseconds = 0,
                                            .wireLength = static_cast<std::uint32_t>(frame.size()),
                                            .data = frame}));
    }
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
              finished = {done.path, done.sha256, done.hashSkipped, testing::niceOfThisThread(),
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
  auto file = closedFile({.directIo = pcap::DirectIoPolicy::required, .sha256 = true});
  const auto written = testing::sha256OfPath(dir_ / "out" / file.partName());
  alterOnDisk(file);
  const auto finished = finish(std::move(file));
  ASSERT_FALSE(finished.path.empty());
  const auto now = testing::sha256OfPath(finished.path);
  ASSERT_NE(now, written);
  // Read back, the sidecar would hold `now`.
  EXPECT_EQ(sidecarSha256(finished.path), written);
  EXPECT_EQ(finished.journalSha256, written);
}

// Buffered (tmpfs, direct_io off): the capture thread does not hash, the finisher reads the
// file back, and its hash is the final file's (sha256sum NAME).
TEST_F(FileHashTest, ABufferedFileIsHashedByTheFinisherReadingItBack) {
  auto file = closedFile({.directIo = pcap::DirectIoPolicy::never, .sha256 = true});
  alterOnDisk(file);  // after the writer: only a read-back sees it
  const auto finished = finish(std::move(file));
  ASSERT_FALSE(finished.path.empty());
  EXPECT_FALSE(finished.hashSkipped);
  EXPECT_EQ(sidecarSha256(finished.path), testing::sha256OfPath(finished.path));
  EXPECT_EQ(finished.journalSha256, testing::sha256OfPath(finished.path));
}

// A hash given up because the hasher fell behind (held by the test here): the file is finished
// with every record, its sidecar's sha256 is empty (the shipper hashes it itself then), and it is
// not read back, which would compete with capture at just that moment.
TEST_F(FileHashTest, AFileWhoseHashWasGivenUpIsFinishedWithoutOneAndNotReadBack) {
  if (!testing::takesDirectIo(dir_ / "out")) GTEST_SKIP() << "no direct I/O in " << dir_ / "out";
  std::latch hasherMayGoOn(1);
  pcap::WriterOptions options{.directIo = pcap::DirectIoPolicy::required,
                              .directBufferBytes = 2 * pcap::kDirectAlignment,
                              .directBufferCount = 2,
                              .sha256 = true};
  options.directEngine = std::make_shared<pcap::DirectWriteEngine>(
      pcap::DirectEngineHooks{.beforeHash = [&] { hasherMayGoOn.wait(); }});
  auto file = closedFile(options);
  hasherMayGoOn.count_down();
  EXPECT_TRUE(file.summary().hashSkipped);
  const auto finished = finish(std::move(file));
  ASSERT_FALSE(finished.path.empty());
  EXPECT_TRUE(finished.hashSkipped);
  EXPECT_EQ(sidecarSha256(finished.path), "");
  EXPECT_EQ(finished.journalSha256, "");
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

// A file that comes without a streamed hash (a direct write failed, OpenSSL failed, or a writer
// that was not asked): the finisher reads it back, as before.
TEST_F(FileHashTest, AFileWithoutAStreamedHashIsHashedByReadingItBack) {
  auto file = closedFile({.sha256 = false});
  alterOnDisk(file);
  const auto finished = finish(std::move(file));
  ASSERT_FALSE(finished.path.empty());
  EXPECT_EQ(sidecarSha256(finished.path), testing::sha256OfPath(finished.path));
  EXPECT_EQ(finished.journalSha256, testing::sha256OfPath(finished.path));
}

// output.sha256: false: neither hashed as written nor read back.
TEST_F(FileHashTest, WithTheHashOffTheSidecarSaysNoneAndNothingIsReadBack) {
  StorageOptions storage;
  storage.sha256 = false;
  const auto finished = finish(closedFile({.sha256 = false}), storage);
  ASSERT_FALSE(finished.path.empty());
  EXPECT_EQ(sidecarSha256(finished.path), "");
  EXPECT_EQ(finished.journalSha256, "");
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
