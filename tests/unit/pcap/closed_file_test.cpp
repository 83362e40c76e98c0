// Finishing a closed file when fsync or the cut to its last record fails: the file keeps its
// `.part` name, and the error names it. Failures come from a test double of the system calls
// (FinishOperations).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "pcap_recorder/pcap/file_writer.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/directory.hpp"
#include "support/frames.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::pcap {
namespace {

namespace fs = std::filesystem;

class ClosedFileTest : public ::testing::Test {
 protected:
  ClosedFile closedFileWithOneRecord() {
    PcapFileWriter writer(directory_.get(), "a.pcap", WriterOptions{});
    const auto frame = testing::buildUdpFrame({.sequence = 1});
    EXPECT_TRUE(writer.append(Frame{.seconds = 100,
                                    .nanoseconds = 0,
                                    .wireLength = static_cast<std::uint32_t>(frame.size()),
                                    .data = frame}));
    return writer.close();
  }

  // The real calls, but fsync fails with EIO for the descriptors `failing` picks.
  FinishOperations fsyncFailingFor(std::function<bool(int fd)> failing) {
    FinishOperations operations = systemFinishOperations();
    operations.fsync = [this, failing, real = operations.fsync](int fd) {
      fsyncCalls_.push_back(fd);
      if (failing(fd)) {
        errno = EIO;
        return -1;
      }
      return real(fd);
    };
    return operations;
  }

  testing::TempDir dir_;
  util::UniqueFd directory_ = testing::openDirectory(dir_.path());
  std::vector<int> fsyncCalls_;
};

TEST_F(ClosedFileTest, FsyncsTheFileAndTheDirectoryAndRenames) {
  auto closed = closedFileWithOneRecord();
  const auto summary =
      closed.complete(directory_.get(), fsyncFailingFor([](int) { return false; }));
  EXPECT_EQ(summary.name, "a.pcap");
  EXPECT_TRUE(fs::exists(dir_ / "a.pcap"));
  EXPECT_FALSE(fs::exists(dir_ / "a.pcap.part"));
  ASSERT_EQ(fsyncCalls_.size(), 2u);
  EXPECT_EQ(fsyncCalls_[1], directory_.get());
}

TEST_F(ClosedFileTest, AFailedFsyncOfTheFileKeepsThePartNameAndNamesTheFile) {
  auto closed = closedFileWithOneRecord();
  const int directory = directory_.get();
  try {
    closed.complete(directory, fsyncFailingFor([directory](int fd) { return fd != directory; }));
    FAIL() << "complete() reported a file whose fsync failed as finished";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code().value(), EIO);
    EXPECT_NE(std::string(error.what()).find("a.pcap.part"), std::string::npos) << error.what();
  }
  EXPECT_TRUE(fs::exists(dir_ / "a.pcap.part"));
  EXPECT_FALSE(fs::exists(dir_ / "a.pcap"));
}

TEST_F(ClosedFileTest, AFailedFsyncOfTheDirectoryPutsThePartNameBack) {
  auto closed = closedFileWithOneRecord();
  const int directory = directory_.get();
  try {
    closed.complete(directory, fsyncFailingFor([directory](int fd) { return fd == directory; }));
    FAIL() << "complete() reported a file whose directory fsync failed as finished";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code().value(), EIO);
    EXPECT_NE(std::string(error.what()).find("a.pcap.part"), std::string::npos) << error.what();
  }
  EXPECT_TRUE(fs::exists(dir_ / "a.pcap.part"));
  EXPECT_FALSE(fs::exists(dir_ / "a.pcap"));
}

// What a cut the writer could not make leaves past the last whole record (zero padding of a
// direct I/O block, part of a record) never reaches a finished file: cut here, or kept as `.part`.
TEST_F(ClosedFileTest, BytesPastTheLastWholeRecordAreCutBeforeTheFileIsFinished) {
  auto closed = closedFileWithOneRecord();
  const auto records = closed.summary().bytes;
  fs::resize_file(dir_ / "a.pcap.part", records + 4000);  // as a failed cut leaves it
  const auto summary =
      closed.complete(directory_.get(), fsyncFailingFor([](int) { return false; }));
  EXPECT_EQ(fs::file_size(dir_ / summary.name), records);
}

TEST_F(ClosedFileTest, AFileThatCannotBeCutToItsLastWholeRecordKeepsThePartName) {
  auto closed = closedFileWithOneRecord();
  const auto records = closed.summary().bytes;
  fs::resize_file(dir_ / "a.pcap.part", records + 4000);
  auto operations = fsyncFailingFor([](int) { return false; });
  operations.truncate = [](int, off_t) {
    errno = EIO;
    return -1;
  };
  try {
    closed.complete(directory_.get(), operations);
    FAIL() << "complete() finished a file ending in 4000 bytes that are no record";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code().value(), EIO);
    EXPECT_NE(std::string(error.what()).find("a.pcap.part"), std::string::npos) << error.what();
  }
  EXPECT_TRUE(fs::exists(dir_ / "a.pcap.part"));
  EXPECT_FALSE(fs::exists(dir_ / "a.pcap"));
}

}  // namespace
}  // namespace pcap_recorder::pcap
