#include "pcap_recorder/pcap/file_writer.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "pcap_recorder/util/unique_fd.hpp"
#include "support/directory.hpp"
#include "support/file_size_limit.hpp"
#include "support/frames.hpp"
#include "support/pcap_reader.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::pcap {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

class PcapFileWriterTest : public ::testing::Test {
 protected:
  static Frame frameOf(const std::vector<std::byte>& data, std::uint32_t seconds) {
    return Frame{.seconds = seconds,
                 .nanoseconds = 123'000,
                 .wireLength = static_cast<std::uint32_t>(data.size()),
                 .data = data};
  }
  TempDir dir_;
  util::UniqueFd directory_ = testing::openDirectory(dir_.path());
};

TEST(NameWithSuffix, PutsTheCounterBeforeTheExtension) {
  EXPECT_EQ(nameWithSuffix("eth0-20260101T000000.pcap", 0), "eth0-20260101T000000.pcap");
  EXPECT_EQ(nameWithSuffix("eth0-20260101T000000.pcap", 2), "eth0-20260101T000000_002.pcap");
  EXPECT_EQ(nameWithSuffix("capture", 1), "capture_001");
  EXPECT_EQ(nameWithSuffix(".hidden", 1), ".hidden_001");
}

TEST_F(PcapFileWriterTest, WritesUnderThePartNameAndRenamesWhenFinished) {
  PcapFileWriter writer(directory_.get(), "a.pcap", WriterOptions{});
  EXPECT_TRUE(fs::exists(dir_ / "a.pcap.part"));
  EXPECT_FALSE(fs::exists(dir_ / "a.pcap"));
  const auto frame = testing::buildUdpFrame({.sequence = 1});
  ASSERT_TRUE(writer.append(frameOf(frame, 100)));
  const auto summary = writer.finish();
  EXPECT_EQ(summary.name, "a.pcap");
  EXPECT_EQ(summary.packets, 1u);
  EXPECT_EQ(summary.bytes, 24u + 16u + frame.size());
  EXPECT_EQ(summary.firstPacket.seconds, 100u);
  EXPECT_FALSE(fs::exists(dir_ / "a.pcap.part"));
  EXPECT_EQ(fs::file_size(dir_ / "a.pcap"), summary.bytes);
}

TEST_F(PcapFileWriterTest, FileReadsBackWithLibpcapRecordForRecord) {
  PcapFileWriter writer(directory_.get(), "b.pcap", WriterOptions{.snaplen = 100});
  std::vector<std::vector<std::byte>> frames;
  for (std::uint32_t i = 0; i < 50; ++i) {
    frames.push_back(testing::buildUdpFrame({.sequence = i, .frameBytes = 64 + i * 3}));
    ASSERT_TRUE(writer.append(frameOf(frames.back(), 1000 + i)));
  }
  writer.finish();
  const auto file = testing::readPcapFile(dir_ / "b.pcap");
  EXPECT_EQ(file.magic, kMagicMicroseconds);
  EXPECT_EQ(file.snaplen, 100u);
  EXPECT_EQ(file.linkType, 1);
  ASSERT_EQ(file.records.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto kept = std::min<std::size_t>(frames[i].size(), 100);
    EXPECT_EQ(file.records[i].seconds, 1000 + i);
    EXPECT_EQ(file.records[i].fraction, 123u);
    EXPECT_EQ(file.records[i].originalLength, frames[i].size());
    EXPECT_EQ(file.records[i].data,
              std::vector<std::byte>(frames[i].begin(), frames[i].begin() + kept));
  }
}

TEST_F(PcapFileWriterTest, FlushMakesRecordsVisibleBeforeTheFileIsFinished) {
  PcapFileWriter writer(directory_.get(), "c.pcap", WriterOptions{});
  const auto frame = testing::buildUdpFrame({});
  writer.append(frameOf(frame, 1));
  EXPECT_EQ(fs::file_size(dir_ / "c.pcap.part"), 24u) << "the header is written at once";
  ASSERT_TRUE(writer.flush());
  EXPECT_EQ(fs::file_size(dir_ / "c.pcap.part"), 24u + 16u + frame.size());
  EXPECT_EQ(writer.packetsInFile(), 1u);
}

TEST_F(PcapFileWriterTest, NeverOverwritesAnExistingFile) {
  { std::ofstream(dir_ / "d.pcap") << "precious"; }
  PcapFileWriter writer(directory_.get(), "d.pcap", WriterOptions{});
  EXPECT_EQ(writer.finalName(), "d_001.pcap");
  writer.finish();
  std::ifstream kept(dir_ / "d.pcap");
  std::string content;
  kept >> content;
  EXPECT_EQ(content, "precious");
  EXPECT_TRUE(fs::exists(dir_ / "d_001.pcap"));
}

// A file of the same name compressed since (x.pcap.zst, after a restart within the same time
// slot): the name is taken too. A new x.pcap beside it would look, at the next start, like the
// original of an interrupted compression, and be deleted.
TEST_F(PcapFileWriterTest, ANameWhoseFileWasCompressedIsTaken) {
  for (const std::string suffix : {".zst", ".gz"}) {
    const std::string name = "z" + suffix.substr(1) + ".pcap";
    { std::ofstream(dir_ / (name + suffix)) << "compressed"; }
    PcapFileWriter writer(directory_.get(), name, WriterOptions{});
    EXPECT_EQ(writer.finalName(), "z" + suffix.substr(1) + "_001.pcap");
    // And when it is compressed while the file is written: the rename takes another name.
    { std::ofstream(dir_ / (writer.finalName() + suffix)) << "compressed"; }
    const auto summary = writer.finish();
    EXPECT_EQ(summary.name, "z" + suffix.substr(1) + "_001_001.pcap");
    EXPECT_FALSE(fs::exists(dir_ / name));
  }
}

TEST_F(PcapFileWriterTest, FinishPicksAFreeNameWhenTheFinalNameAppearedMeanwhile) {
  PcapFileWriter writer(directory_.get(), "e.pcap", WriterOptions{});
  { std::ofstream(dir_ / "e.pcap") << "arrived later"; }
  const auto summary = writer.finish();
  EXPECT_EQ(summary.name, "e_001.pcap");
  EXPECT_EQ(fs::file_size(dir_ / "e.pcap"), 13u);
}

TEST_F(PcapFileWriterTest, DoesNotFollowASymlinkPlantedAtThePartName) {
  const auto target = dir_ / "target";
  { std::ofstream(target) << "do not touch"; }
  fs::create_symlink(target, dir_ / "f.pcap.part");
  PcapFileWriter writer(directory_.get(), "f.pcap", WriterOptions{});
  EXPECT_EQ(writer.finalName(), "f_001.pcap");
  writer.finish();
  EXPECT_EQ(fs::file_size(target), 12u);
}

TEST_F(PcapFileWriterTest, CreatesFilesWithTheConfiguredModeWhateverTheUmask) {
  const mode_t previous = ::umask(077);
  PcapFileWriter writer(directory_.get(), "g.pcap", WriterOptions{.fileMode = 0644});
  ::umask(previous);
  writer.finish();
  EXPECT_EQ(fs::status(dir_ / "g.pcap").permissions(),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
}

TEST_F(PcapFileWriterTest, AFailedWriteLeavesOnlyCompleteRecordsInTheFinishedFile) {
  std::uint64_t offered = 0;
  PcapFileWriter writer(directory_.get(), "h.pcap", WriterOptions{.bufferBytes = 1 << 16});
  {
    testing::FileSizeLimit limit(10'000);
    const auto frame = testing::buildUdpFrame({.frameBytes = 1000});
    for (std::uint32_t i = 0; i < 200 && !writer.failed(); ++i) {
      ++offered;
      writer.append(frameOf(frame, i));
    }
    writer.flush();
  }
  EXPECT_TRUE(writer.failed());
  EXPECT_EQ(writer.lastErrno(), EFBIG);
  const auto summary = writer.finish();
  EXPECT_LE(summary.bytes, 10'000u);
  EXPECT_EQ((summary.bytes - 24) % (16 + 1000), 0u) << "the file must end on a record boundary";
  const auto file = testing::readPcapFile(dir_ / summary.name);
  EXPECT_EQ(file.records.size(), summary.packets);
  EXPECT_EQ(summary.packets + writer.packetsLostToWriteErrors(), offered)
      << "every record offered is either in the file or counted as lost";
  EXPECT_GT(summary.packets, 0u);
}

}  // namespace
}  // namespace pcap_recorder::pcap

namespace pcap_recorder::pcap {
namespace {

// Frames written in place must be in the file once writeInPlaceFrames() returns: the capture
// ring reuses their memory right after.
// Writeback started early (buffered mode) reports a disk's failure to its own call and to no
// later fsync: the writer stops as after a failed write, and the file is never finished as whole.
TEST_F(PcapFileWriterTest, AFailedWritebackStopsTheWriterAndTheFileIsNotFinished) {
  WriterOptions options;
  options.syncFileRange = [](int fd, off_t offset, off_t bytes, unsigned flags) {
    if ((flags & SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
      errno = EIO;
      return -1;
    }
    return ::sync_file_range(fd, offset, bytes, flags);
  };
  PcapFileWriter writer(directory_.get(), "wb.pcap", options);
  const auto frame = testing::buildUdpFrame({.frameBytes = 1500});
  std::uint32_t appended = 0;
  while (appended < 40'000 && writer.append(frameOf(frame, appended + 1))) ++appended;
  ASSERT_TRUE(writer.failed()) << "40,000 frames (60 MB) written over a failing writeback";
  EXPECT_EQ(writer.lastErrno(), EIO);
  auto closed = writer.close();
  EXPECT_EQ(closed.summary().writebackError, EIO);
  EXPECT_EQ(closed.summary().packets + writer.packetsLostToWriteErrors(), appended + 1)
      << "every frame offered is in the file or counted as lost, the one refused included";
  try {
    closed.complete(directory_.get());
    FAIL() << "a file part of which never reached the disk was finished";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code().value(), EIO);
    EXPECT_NE(std::string(error.what()).find("wb.pcap.part"), std::string::npos) << error.what();
  }
  EXPECT_TRUE(fs::exists(dir_ / "wb.pcap.part"));
  EXPECT_FALSE(fs::exists(dir_ / "wb.pcap"));
}

// Where writeback cannot be controlled (a seccomp filter answering EPERM or ENOSYS), nothing was
// lost: the writer goes on and the file is finished as usual.
TEST_F(PcapFileWriterTest, NoControlOfWritebackIsNoFailure) {
  WriterOptions options;
  options.syncFileRange = [](int, off_t, off_t, unsigned) {
    errno = EPERM;
    return -1;
  };
  PcapFileWriter writer(directory_.get(), "nocontrol.pcap", options);
  const auto frame = testing::buildUdpFrame({.frameBytes = 1500});
  for (std::uint32_t i = 0; i < 20'000; ++i) ASSERT_TRUE(writer.append(frameOf(frame, i + 1)));
  const auto summary = writer.finish();
  EXPECT_EQ(summary.packets, 20'000u);
  EXPECT_EQ(fs::file_size(dir_ / "nocontrol.pcap"), summary.bytes);
}

TEST_F(PcapFileWriterTest, FramesWrittenInPlaceReadBackAfterTheirMemoryIsReused) {
  PcapFileWriter writer(directory_.get(), "m.pcap", WriterOptions{});
  std::vector<std::vector<std::byte>> expected;
  std::vector<std::byte> block;  // reused for every "block", like a ring block
  for (std::uint32_t blockNumber = 0; blockNumber < 20; ++blockNumber) {
    std::vector<std::vector<std::byte>> frames;
    for (std::uint32_t i = 0; i < 7; ++i) {
      const std::uint32_t sequence = blockNumber * 7 + i;
      // Small frames are copied, large ones written in place: both kinds, in one file.
      const std::size_t size = i % 3 == 0 ? 64 : 300 + 150 * i;
      frames.push_back(testing::buildUdpFrame({.sequence = sequence, .frameBytes = size}));
    }
    block.clear();
    for (const auto& frame : frames) block.insert(block.end(), frame.begin(), frame.end());
    std::size_t offset = 0;
    for (const auto& frame : frames) {
      const Frame inBlock{.seconds = blockNumber,
                          .wireLength = static_cast<std::uint32_t>(frame.size()),
                          .data = std::span(block).subspan(offset, frame.size())};
      ASSERT_TRUE(writer.appendInPlace(inBlock));
      offset += frame.size();
      expected.push_back(frame);
    }
    ASSERT_TRUE(writer.writeInPlaceFrames());
    EXPECT_EQ(fs::file_size(dir_ / "m.pcap.part"), writer.bytesInFile());
    std::fill(block.begin(), block.end(), std::byte{0xEE});  // the ring takes the block back
  }
  const auto summary = writer.finish();
  EXPECT_EQ(summary.packets, expected.size());
  const auto file = testing::readPcapFile(dir_ / "m.pcap");
  ASSERT_EQ(file.records.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(file.records[i].data, expected[i]) << "record " << i;
  }
}

TEST_F(PcapFileWriterTest, ManyFramesInPlaceAreWrittenInSeveralWrites) {
  // More frames in place than one writev() takes (IOV_MAX segments), with small copied frames
  // between them, so each in-place frame takes three segments at the most.
  PcapFileWriter writer(directory_.get(), "n.pcap", WriterOptions{});
  std::vector<std::vector<std::byte>> frames;
  std::uint64_t expectedBytes = 24;
  for (std::uint32_t i = 0; i < 3000; ++i) {
    const std::size_t size = i % 2 == 0 ? 400 : 64;
    frames.push_back(testing::buildUdpFrame({.sequence = i, .frameBytes = size}));
    expectedBytes += 16 + size;
  }
  for (std::uint32_t i = 0; i < frames.size(); ++i) {
    ASSERT_TRUE(writer.appendInPlace(frameOf(frames[i], i)));
  }
  EXPECT_EQ(writer.bytes(), expectedBytes);
  const auto summary = writer.finish();
  EXPECT_EQ(summary.bytes, expectedBytes);
  const auto file = testing::readPcapFile(dir_ / "n.pcap");
  ASSERT_EQ(file.records.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    ASSERT_EQ(file.records[i].data, frames[i]) << "record " << i;
  }
}

TEST_F(PcapFileWriterTest, AFailedWriteOfFramesInPlaceLeavesOnlyCompleteRecords) {
  std::uint64_t offered = 0;
  PcapFileWriter writer(directory_.get(), "p.pcap", WriterOptions{});
  const auto frame = testing::buildUdpFrame({.frameBytes = 1000});
  {
    testing::FileSizeLimit limit(10'000);
    for (std::uint32_t i = 0; i < 200 && !writer.failed(); ++i) {
      ++offered;
      writer.appendInPlace(frameOf(frame, i));
      if (i % 4 == 3) writer.writeInPlaceFrames();
    }
  }
  EXPECT_TRUE(writer.failed());
  EXPECT_EQ(writer.lastErrno(), EFBIG);
  const auto summary = writer.finish();
  EXPECT_LE(summary.bytes, 10'000u);
  EXPECT_EQ((summary.bytes - 24) % (16 + 1000), 0u) << "the file must end on a record boundary";
  EXPECT_EQ(fs::file_size(dir_ / summary.name), summary.bytes);
  const auto file = testing::readPcapFile(dir_ / summary.name);
  EXPECT_EQ(file.records.size(), summary.packets);
  EXPECT_EQ(summary.packets + writer.packetsLostToWriteErrors(), offered)
      << "every record offered is either in the file or counted as lost";
  EXPECT_GT(summary.packets, 0u);
}

// A snaplen inside the rebuilt VLAN start: the record is shorter than that start, and must not
// write past its own end (ASan watches the buffer's end).
TEST_F(PcapFileWriterTest, TaggedFramesCutInsideTheTagFillTheBufferToTheLastByte) {
  PcapFileWriter writer(directory_.get(), "r.pcap",
                        WriterOptions{.snaplen = 1, .bufferBytes = 24 + 17 * 3});
  const auto data = testing::buildUdpFrame({.frameBytes = 100});
  const Frame tagged{.seconds = 1,
                     .wireLength = 100,
                     .data = data,
                     .hasVlanTag = true,
                     .vlanTag = {.tpid = 0x8100, .tci = 7}};
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(writer.appendInPlace(tagged));
  const auto summary = writer.finish();
  EXPECT_EQ(summary.bytes, 24u + 10u * 17u);
  const auto file = testing::readPcapFile(dir_ / "r.pcap");
  ASSERT_EQ(file.records.size(), 10u);
  EXPECT_EQ(file.records[9].data, std::vector<std::byte>(data.begin(), data.begin() + 1));
}

TEST_F(PcapFileWriterTest, ABufferSmallerThanARecordGrowsToHoldIt) {
  PcapFileWriter writer(directory_.get(), "q.pcap",
                        WriterOptions{.snaplen = 2000, .bufferBytes = 64});
  const auto frame = testing::buildUdpFrame({.frameBytes = 1500});
  ASSERT_TRUE(writer.append(frameOf(frame, 1)));
  ASSERT_TRUE(writer.append(frameOf(frame, 2)));
  writer.finish();
  const auto file = testing::readPcapFile(dir_ / "q.pcap");
  ASSERT_EQ(file.records.size(), 2u);
  EXPECT_EQ(file.records[1].data, frame);
}

TEST_F(PcapFileWriterTest, CountsOnFromTheGivenCounterSoAFreedNameIsNotReused) {
  PcapFileWriter writer(directory_.get(), "k.pcap", WriterOptions{}, 3);
  EXPECT_EQ(writer.finalName(), "k_003.pcap");
  EXPECT_EQ(writer.counter(), 3u);
  writer.finish();
}

}  // namespace
}  // namespace pcap_recorder::pcap
