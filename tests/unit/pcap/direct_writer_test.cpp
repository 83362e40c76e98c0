// Direct I/O: records assembled in aligned buffers and written past the page cache. Needs a file
// system that takes O_DIRECT ($TMPDIR on a disk); skipped on one that refuses it (tmpfs).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "pcap_recorder/pcap/direct_stream.hpp"
#include "pcap_recorder/pcap/file_writer.hpp"
#include "pcap_recorder/pcap/repair.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/directory.hpp"
#include "support/file_size_limit.hpp"
#include "support/frames.hpp"
#include "support/pcap_reader.hpp"
#include "support/ramfs_mount.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::pcap {
namespace {

namespace fs = std::filesystem;
using testing::openDirectory;
using testing::takesDirectIo;
using testing::TempDir;

constexpr std::size_t kSmallBuffer = 2 * kDirectAlignment;

Frame frameOf(const std::vector<std::byte>& data, std::uint32_t seconds) {
  return Frame{.seconds = seconds,
               .nanoseconds = 7'000,
               .wireLength = static_cast<std::uint32_t>(data.size()),
               .data = data};
}

class DirectWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!takesDirectIo(dir_.path())) GTEST_SKIP() << dir_.path() << " refuses O_DIRECT";
  }
  static WriterOptions direct(std::size_t bufferBytes = kSmallBuffer, std::size_t count = 2) {
    return WriterOptions{.directIo = DirectIoPolicy::required,
                         .directBufferBytes = bufferBytes,
                         .directBufferCount = count};
  }
  // Appends frames of the given sizes, flushing every `flushEvery` frames (0: never), finishes,
  // and checks the file against what went in, record for record and byte for byte.
  void writeAndReadBack(const std::string& name, const std::vector<std::size_t>& sizes,
                        std::size_t flushEvery, std::size_t bufferCount = 2) {
    PcapFileWriter writer(directory_.get(), name, direct(kSmallBuffer, bufferCount));
    ASSERT_TRUE(writer.directIo());
    std::vector<std::vector<std::byte>> frames;
    std::uint64_t expectedBytes = sizeof(FileHeader);
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      frames.push_back(testing::buildUdpFrame(
          {.sequence = static_cast<std::uint32_t>(i), .frameBytes = sizes[i]}));
      ASSERT_TRUE(writer.append(frameOf(frames.back(), static_cast<std::uint32_t>(i + 1))));
      expectedBytes += sizeof(RecordHeader) + sizes[i];
      if (flushEvery != 0 && (i + 1) % flushEvery == 0) {
        ASSERT_TRUE(writer.flush());
        EXPECT_EQ(fs::file_size(dir_ / (name + ".part")), expectedBytes)
            << "a flushed .part ends exactly after its last record, without padding";
        EXPECT_EQ(writer.packetsInFile(), i + 1);
      }
    }
    const auto summary = writer.finish();
    EXPECT_EQ(summary.packets, sizes.size());
    EXPECT_EQ(summary.bytes, expectedBytes);
    EXPECT_EQ(summary.lastPacket.seconds, sizes.size());
    ASSERT_EQ(fs::file_size(dir_ / name), expectedBytes) << "the file ends after its last record";
    const auto file = testing::readPcapFile(dir_ / name);
    ASSERT_EQ(file.records.size(), frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) {
      ASSERT_EQ(file.records[i].data, frames[i]) << name << " record " << i;
      ASSERT_EQ(file.records[i].seconds, i + 1);
    }
  }

  TempDir dir_;
  util::UniqueFd directory_ = openDirectory(dir_.path());
};

// Records of every size from 64 to 4200 bytes (with their 16-byte headers: every remainder
// modulo the 4096-byte block), each size filling several 8 KiB buffers: records end just before,
// on and just after every block and buffer boundary, and straddle them. 64 sizes to a file, one
// after another: a file per size spent 17 s creating and syncing 4,137 files.
TEST_F(DirectWriterTest, EveryRecordSizeReadsBackAcrossBlockAndBufferBoundaries) {
  constexpr std::size_t kLargest = 4200;
  for (std::size_t first = 64; first <= kLargest; first += 64) {
    std::vector<std::size_t> sizes;
    for (std::size_t size = first; size < first + 64 && size <= kLargest; ++size) {
      sizes.insert(sizes.end(), 3 * kSmallBuffer / (size + 16) + 2, size);
    }
    writeAndReadBack("s" + std::to_string(first) + ".pcap", sizes, 0);
    if (HasFatalFailure()) return;
  }
}

// Mixed sizes with a flush after each record: the padded block is written, cut, then rewritten
// with the records that follow.
TEST_F(DirectWriterTest, FlushesBetweenAnyTwoRecordsLeaveOnlyWholeRecords) {
  std::vector<std::size_t> sizes;
  for (std::size_t i = 0; i < 200; ++i) sizes.push_back(64 + (i * 977) % 1451);
  for (const std::size_t flushEvery : {1u, 2u, 7u, 50u}) {
    writeAndReadBack("f" + std::to_string(flushEvery) + ".pcap", sizes, flushEvery, 3);
  }
}

// A record ending exactly at a buffer's end, and one that is larger than a whole buffer.
TEST_F(DirectWriterTest, RecordsEndingOnABufferEndAndRecordsLargerThanABuffer) {
  // 24 + 16 + 8152 = 8192: the first record ends exactly at the end of the first buffer.
  writeAndReadBack("exact.pcap", {8152, 100, 9000, 64, 20000, 1514}, 0);
  writeAndReadBack("exact-flushed.pcap", {8152, 100, 9000, 64, 20000, 1514}, 1);
}

TEST_F(DirectWriterTest, FinishGivesBackTheSpaceReservedAhead) {
  PcapFileWriter writer(directory_.get(), "r.pcap", direct(1u << 20, 4));
  const auto frame = testing::buildUdpFrame({.frameBytes = 1500});
  for (std::uint32_t i = 0; i < 3000; ++i) ASSERT_TRUE(writer.append(frameOf(frame, i)));
  const auto summary = writer.finish();
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "r.pcap").c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), summary.bytes);
  EXPECT_LE(static_cast<std::uint64_t>(st.st_blocks) * 512, alignUp(summary.bytes) + (1u << 20))
      << "no 64 MiB reservation is left behind the last record";
}

// A quiet link flushes after nearly every block the kernel hands over: each flush writes the
// blocks its new records are in, not the buffer again from its start (which wrote megabytes a
// second to disk to store a few kilobytes), and the full buffer's write skips what flushes wrote.
TEST_F(DirectWriterTest, AFlushWritesOnlyTheBlocksItsNewRecordsAreIn) {
  struct Write {
    std::uint64_t offset;
    std::size_t length;
  };
  auto writes = std::make_shared<std::vector<Write>>();
  auto writesMutex = std::make_shared<std::mutex>();
  WriterOptions options = direct(16 * kDirectAlignment, 2);
  options.directEngine = std::make_shared<DirectWriteEngine>(DirectEngineHooks{
      .beforeWrite = [writes, writesMutex](std::uint64_t offset, std::size_t length) {
        std::lock_guard lock(*writesMutex);
        writes->push_back({offset, length});
      }});
  const auto frame = testing::buildUdpFrame({.frameBytes = 100});
  PcapFileWriter writer(directory_.get(), "quiet.pcap", options);
  ASSERT_TRUE(writer.directIo());
  ASSERT_TRUE(writer.flush());
  std::uint64_t inFile = fs::file_size(dir_ / "quiet.pcap.part");
  std::uint64_t written = 0;
  constexpr std::uint32_t kFrames = 2000;  // 232 KB: several buffers, each flushed 140 times
  for (std::uint32_t i = 0; i < kFrames; ++i) {
    ASSERT_TRUE(writer.append(frameOf(frame, i + 1)));
    ASSERT_TRUE(writer.flush());
    const std::uint64_t now = fs::file_size(dir_ / "quiet.pcap.part");
    std::lock_guard lock(*writesMutex);
    for (const Write& write : *writes) {
      EXPECT_GE(write.offset, alignDown(inFile))
          << "frame " << i << ": a block the file held whole before was written again";
      EXPECT_LE(write.offset + write.length, alignUp(now)) << "frame " << i;
      written += write.length;
    }
    writes->clear();
    inFile = now;
  }
  EXPECT_LE(written, std::uint64_t{kFrames} * 2 * kDirectAlignment);
  const auto summary = writer.finish();
  EXPECT_EQ(summary.packets, kFrames);
  const auto file = testing::readPcapFile(dir_ / "quiet.pcap");
  ASSERT_EQ(file.records.size(), kFrames);
  for (std::uint32_t i = 0; i < kFrames; ++i) {
    ASSERT_EQ(file.records[i].data, frame) << "record " << i;
    ASSERT_EQ(file.records[i].seconds, i + 1) << "record " << i;
  }
}

TEST_F(DirectWriterTest, TheHeaderIsInTheFileAtOnce) {
  PcapFileWriter writer(directory_.get(), "h.pcap", direct());
  EXPECT_EQ(fs::file_size(dir_ / "h.pcap.part"), 24u);
  EXPECT_EQ(testing::readPcapFile(dir_ / "h.pcap.part").records.size(), 0u);
}

using testing::RamfsMount;

TEST_F(DirectWriterTest, RequiredDirectIoFailsWhereTheFileSystemRefusesItAndAutoFallsBack) {
  const RamfsMount ramfs(dir_ / "ramfs");
  if (!ramfs.mounted()) GTEST_SKIP() << "cannot mount ramfs (not root?)";
  ASSERT_FALSE(takesDirectIo(dir_ / "ramfs"));
  util::UniqueFd directory = openDirectory(dir_ / "ramfs");
  EXPECT_THROW(PcapFileWriter(directory.get(), "x.pcap", direct()), std::system_error);
  EXPECT_FALSE(fs::exists(dir_ / "ramfs" / "x.pcap.part")) << "no file left behind";
  WriterOptions automatic = direct();
  automatic.directIo = DirectIoPolicy::automatic;
  PcapFileWriter writer(directory.get(), "x.pcap", automatic);
  EXPECT_FALSE(writer.directIo()) << "auto falls back to the page cache";
  const auto frame = testing::buildUdpFrame({});
  EXPECT_TRUE(writer.append(frameOf(frame, 1)));
  writer.finish();
  EXPECT_EQ(testing::readPcapFile(dir_ / "ramfs" / "x.pcap").records.size(), 1u);
}

TEST_F(DirectWriterTest, AFailedWriteLeavesOnlyCompleteRecordsAndCountsTheRest) {
  std::uint64_t offered = 0;
  PcapFileWriter writer(directory_.get(), "e.pcap", direct(kSmallBuffer, 3));
  {
    // Four blocks: the writes of the third buffer on fail.
    testing::FileSizeLimit limit(4 * kDirectAlignment);
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
  EXPECT_LE(summary.bytes, 4 * kDirectAlignment);
  EXPECT_EQ((summary.bytes - 24) % (16 + 1000), 0u) << "the file must end on a record boundary";
  EXPECT_EQ(fs::file_size(dir_ / summary.name), summary.bytes);
  const auto file = testing::readPcapFile(dir_ / summary.name);
  EXPECT_EQ(file.records.size(), summary.packets);
  EXPECT_GT(summary.packets, 0u);
  EXPECT_EQ(summary.packets + writer.packetsLostToWriteErrors(), offered)
      << "every record offered is either in the file or counted as lost";
}

// A recorder's files share one engine: the buffers and the writer thread are made once, and a
// file whose writes failed leaves the next one unharmed.
TEST_F(DirectWriterTest, FilesWrittenOneAfterAnotherShareTheBuffersAndWriterThread) {
  auto engine = std::make_shared<DirectWriteEngine>();
  WriterOptions options = direct(kSmallBuffer, 3);
  options.snaplen = 2000;
  options.directEngine = engine;
  const auto frame = testing::buildUdpFrame({.frameBytes = 1000});
  {
    PcapFileWriter failing(directory_.get(), "a.pcap", options);
    {
      testing::FileSizeLimit limit(4 * kDirectAlignment);
      for (std::uint32_t i = 0; i < 200 && !failing.failed(); ++i) {
        failing.append(frameOf(frame, i));
      }
      failing.flush();
    }
    EXPECT_TRUE(failing.failed());
    failing.finish();
  }
  for (const std::string name : {"b.pcap", "c.pcap"}) {
    PcapFileWriter writer(directory_.get(), name, options);
    ASSERT_TRUE(writer.directIo());
    for (std::uint32_t i = 0; i < 100; ++i) ASSERT_TRUE(writer.append(frameOf(frame, i + 1)));
    if (name == "b.pcap") {
      ASSERT_TRUE(writer.flush());  // a padded block, cut, then rewritten
    }
    for (std::uint32_t i = 100; i < 150; ++i) ASSERT_TRUE(writer.append(frameOf(frame, i + 1)));
    const auto summary = writer.finish();
    EXPECT_EQ(summary.packets, 150u);
    const auto file = testing::readPcapFile(dir_ / name);
    ASSERT_EQ(file.records.size(), 150u) << name;
    for (std::uint32_t i = 0; i < 150; ++i) {
      ASSERT_EQ(file.records[i].data, frame) << name << " record " << i;
      ASSERT_EQ(file.records[i].seconds, i + 1) << name << " record " << i;
    }
  }
  EXPECT_EQ(engine->buffersMade(), 1u) << "the second and third file reuse the buffers";
  // A larger snaplen needs room for a larger record: the buffers are made anew.
  options.snaplen = 3 * kSmallBuffer;
  PcapFileWriter larger(directory_.get(), "d.pcap", options);
  const auto big = testing::buildUdpFrame({.frameBytes = 2 * kSmallBuffer + 100});
  ASSERT_TRUE(larger.append(frameOf(big, 1)));
  ASSERT_TRUE(larger.append(frameOf(frame, 2)));
  larger.finish();
  EXPECT_EQ(engine->buffersMade(), 2u);
  const auto file = testing::readPcapFile(dir_ / "d.pcap");
  ASSERT_EQ(file.records.size(), 2u);
  EXPECT_EQ(file.records[0].data, big);
  EXPECT_EQ(file.records[1].data, frame);
}

// What a killed daemon leaves: full buffers only (the last record may go on past the last one),
// or a flushed block still padded with zeros. Repair keeps the whole records.
class DirectRepairTest : public DirectWriterTest {
 protected:
  // Writes records of `size` through a DirectStream that is dropped without a flush, as a crash
  // leaves it; returns how many records lie wholly within the file.
  std::uint64_t crashAfter(const std::string& part, std::size_t size, std::size_t records,
                           bool flushedThenPadded) {
    util::UniqueFd fd(::openat(directory_.get(), part.c_str(),
                               O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_DIRECT, 0600));
    EXPECT_TRUE(fd.valid());
    const auto frame = testing::buildUdpFrame({.frameBytes = size});
    std::uint64_t whole = 0;
    {
      DirectStream stream(
          fd.get(),
          {.bufferBytes = kSmallBuffer, .bufferCount = 2, .largestRecord = 24 + 16 + size});
      const auto header = makeFileHeader(TimestampUnit::microseconds, 262144);
      std::memcpy(stream.recordSpace(), &header, sizeof header);
      stream.endRecord(sizeof header, 0);
      for (std::uint32_t i = 0; i < records; ++i) {
        encodeRecord(frameOf(frame, i + 1), 262144, TimestampUnit::microseconds,
                     stream.recordSpace());
        stream.endRecord(16 + size, i);
      }
      if (flushedThenPadded) {
        EXPECT_TRUE(stream.flush());
        whole = records;
      } else {
        // Only full buffers reach the file: the records that end within them.
        const std::uint64_t fileBytes = stream.appendedBytes() / kSmallBuffer * kSmallBuffer;
        whole = fileBytes < 24 ? 0 : (fileBytes - 24) / (16 + size);
      }
    }
    if (flushedThenPadded) {
      // Killed after the padded write, before the cut: the zeros reach the block's end.
      const auto size = fs::file_size(dir_ / part);
      EXPECT_EQ(::ftruncate(fd.get(), static_cast<off_t>(alignUp(size))), 0);
      EXPECT_NE(fs::file_size(dir_ / part), size);
    }
    return whole;
  }
};

TEST_F(DirectRepairTest, APartEndingInsideARecordAtABufferEndIsCutToTheLastWholeRecord) {
  for (const std::size_t size : {64u, 1000u, 1514u, 4081u, 9000u}) {
    const std::string part = "c" + std::to_string(size) + ".pcap.part";
    const auto whole = crashAfter(part, size, 3 * kSmallBuffer / (16 + size) + 1, false);
    ASSERT_GT(whole, 0u);
    const auto result = repairPartFile(directory_.get(), part);
    ASSERT_EQ(result.outcome, RepairOutcome::finished) << result.message;
    EXPECT_EQ(result.recordsKept, whole) << size;
    EXPECT_EQ(result.bytesKept, 24 + whole * (16 + size));
    EXPECT_EQ(testing::readPcapFile(dir_ / result.finalName).records.size(), whole);
  }
}

TEST_F(DirectRepairTest, APartEndingInZeroPaddingIsCutToTheLastWholeRecord) {
  for (const std::size_t size : {64u, 1000u, 1514u, 4081u}) {
    const std::string part = "p" + std::to_string(size) + ".pcap.part";
    const auto whole = crashAfter(part, size, 7, true);
    const auto result = repairPartFile(directory_.get(), part);
    ASSERT_EQ(result.outcome, RepairOutcome::finished) << result.message;
    EXPECT_EQ(result.recordsKept, whole) << size;
    EXPECT_EQ(result.bytesKept, 24 + whole * (16 + size));
    EXPECT_GT(result.bytesCut, 0u);
    EXPECT_EQ(testing::readPcapFile(dir_ / result.finalName).records.size(), whole);
  }
}

}  // namespace
}  // namespace pcap_recorder::pcap
