#include "pcap_recorder/pcap/repair.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "pcap_recorder/pcap/file_writer.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/directory.hpp"
#include "support/file_bytes.hpp"
#include "support/pcap_reader.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::pcap {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::byte>;

// A file as the writer writes it, and where each of its records ends.
struct SampleFile {
  Bytes bytes;
  std::vector<std::uint64_t> boundaries;  // [0] is the end of the header, [i] the end of record i
};

SampleFile buildFile(TimestampUnit unit, const std::vector<std::size_t>& frameSizes,
                     std::uint32_t snaplen = 262144) {
  SampleFile file;
  const FileHeader header = makeFileHeader(unit, snaplen);
  file.bytes.resize(sizeof header);
  std::memcpy(file.bytes.data(), &header, sizeof header);
  file.boundaries.push_back(file.bytes.size());
  std::uint32_t seconds = 1'700'000'000;
  for (const std::size_t size : frameSizes) {
    Bytes data(size);
    for (std::size_t i = 0; i < size; ++i) data[i] = std::byte(i * 7 + size);
    const Frame frame{.seconds = seconds++,
                      .nanoseconds = 999'999'999,
                      .wireLength = static_cast<std::uint32_t>(size),
                      .data = data};
    const std::size_t start = file.bytes.size();
    file.bytes.resize(start + encodedSize(frame, snaplen));
    encodeRecord(frame, snaplen, unit, file.bytes.data() + start);
    file.boundaries.push_back(file.bytes.size());
  }
  return file;
}

const std::vector<std::size_t> kFrameSizes = {60, 1, 300, 14, 1514};

// Reverses the bytes of each field, as a host of the other byte order would have written them.
SampleFile byteSwapped(SampleFile file) {
  const auto reverse = [&](std::size_t offset, std::size_t width) {
    std::reverse(file.bytes.begin() + offset, file.bytes.begin() + offset + width);
  };
  // magic, version major and minor, thiszone, sigfigs, snaplen, link type
  const std::pair<std::size_t, std::size_t> headerFields[] = {{0, 4},  {4, 2},  {6, 2}, {8, 4},
                                                              {12, 4}, {16, 4}, {20, 4}};
  for (const auto& [offset, width] : headerFields) reverse(offset, width);
  for (std::size_t i = 0; i + 1 < file.boundaries.size(); ++i) {
    for (std::size_t word = 0; word < 4; ++word) reverse(file.boundaries[i] + word * 4, 4);
  }
  return file;
}

Bytes cut(const Bytes& bytes, std::size_t size) {
  return Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size));
}

RecordHeader recordHeader(std::uint32_t seconds, std::uint32_t fraction, std::uint32_t included,
                          std::uint32_t original) {
  return RecordHeader{.seconds = seconds,
                      .fraction = fraction,
                      .includedLength = included,
                      .originalLength = original};
}

Bytes withRecordHeader(Bytes bytes, const RecordHeader& header, std::size_t dataBytes) {
  const std::size_t start = bytes.size();
  bytes.resize(start + sizeof header + dataBytes, std::byte{0x5a});
  std::memcpy(bytes.data() + start, &header, sizeof header);
  return bytes;
}

void expectEveryCutEndsAtTheLastBoundaryBeforeIt(const SampleFile& file) {
  for (std::size_t size = 0; size <= file.bytes.size(); ++size) {
    SCOPED_TRACE("file cut to " + std::to_string(size) + " bytes");
    const auto scan = scanPcap(std::span(file.bytes.data(), size));
    if (size < sizeof(FileHeader)) {
      EXPECT_FALSE(scan.headerValid);
      EXPECT_EQ(scan.completeBytes, 0u);
      EXPECT_EQ(scan.records, 0u);
      continue;
    }
    const auto last = std::prev(std::upper_bound(file.boundaries.begin(), file.boundaries.end(),
                                                 static_cast<std::uint64_t>(size)));
    ASSERT_TRUE(scan.headerValid) << scan.headerProblem;
    EXPECT_EQ(scan.completeBytes, *last);
    EXPECT_EQ(scan.records, static_cast<std::uint64_t>(last - file.boundaries.begin()));
    EXPECT_EQ(scan.tailProblem.empty(), *last == size) << scan.tailProblem;
  }
}

TEST(ScanPcap, FindsEveryRecordOfAWholeFile) {
  const auto file = buildFile(TimestampUnit::microseconds, kFrameSizes);
  const auto scan = scanPcap(file.bytes);
  EXPECT_TRUE(scan.headerValid);
  EXPECT_TRUE(scan.headerProblem.empty());
  EXPECT_EQ(scan.unit, TimestampUnit::microseconds);
  EXPECT_FALSE(scan.byteSwapped);
  EXPECT_EQ(scan.snaplen, 262144u);
  EXPECT_EQ(scan.records, kFrameSizes.size());
  EXPECT_EQ(scan.completeBytes, file.bytes.size());
  EXPECT_TRUE(scan.tailProblem.empty()) << scan.tailProblem;
}

TEST(ScanPcap, EndsAtTheLastRecordBoundaryBeforeEveryPossibleCut) {
  expectEveryCutEndsAtTheLastBoundaryBeforeIt(buildFile(TimestampUnit::microseconds, kFrameSizes));
}

TEST(ScanPcap, EndsAtTheLastRecordBoundaryBeforeEveryPossibleCutOfANanosecondFile) {
  expectEveryCutEndsAtTheLastBoundaryBeforeIt(buildFile(TimestampUnit::nanoseconds, kFrameSizes));
}

TEST(ScanPcap, EndsAtTheLastRecordBoundaryBeforeEveryPossibleCutOfAByteSwappedFile) {
  expectEveryCutEndsAtTheLastBoundaryBeforeIt(
      byteSwapped(buildFile(TimestampUnit::microseconds, kFrameSizes)));
}

TEST(ScanPcap, UnderstandsAByteSwappedNanosecondFile) {
  const auto file = byteSwapped(buildFile(TimestampUnit::nanoseconds, kFrameSizes, 1000));
  const auto scan = scanPcap(file.bytes);
  ASSERT_TRUE(scan.headerValid) << scan.headerProblem;
  EXPECT_TRUE(scan.byteSwapped);
  EXPECT_EQ(scan.unit, TimestampUnit::nanoseconds);
  EXPECT_EQ(scan.snaplen, 1000u);
  EXPECT_EQ(scan.records, kFrameSizes.size());
  EXPECT_EQ(scan.completeBytes, file.bytes.size());
}

TEST(ScanPcap, CutsGarbageWhoseIncludedLengthIsAboveTheSnaplen) {
  const auto file = buildFile(TimestampUnit::microseconds, kFrameSizes, 2000);
  const auto bytes = withRecordHeader(file.bytes, recordHeader(1, 0, 2001, 2001), 2001);
  const auto scan = scanPcap(bytes);
  EXPECT_EQ(scan.records, kFrameSizes.size());
  EXPECT_EQ(scan.completeBytes, file.bytes.size());
  EXPECT_NE(scan.tailProblem.find("above snaplen"), std::string::npos) << scan.tailProblem;
}

TEST(ScanPcap, CutsARecordWithMoreBytesThanWereOnTheWire) {
  const auto file = buildFile(TimestampUnit::microseconds, kFrameSizes);
  const auto bytes = withRecordHeader(file.bytes, recordHeader(1, 0, 61, 60), 61);
  EXPECT_EQ(scanPcap(bytes).completeBytes, file.bytes.size());
}

TEST(ScanPcap, CutsAZeroFilledTailAsAPowerLossLeavesIt) {
  auto bytes = buildFile(TimestampUnit::microseconds, kFrameSizes).bytes;
  const std::size_t size = bytes.size();
  bytes.resize(size + 8192);
  const auto scan = scanPcap(bytes);
  EXPECT_EQ(scan.records, kFrameSizes.size());
  EXPECT_EQ(scan.completeBytes, size);
}

TEST(ScanPcap, CutsAMicrosecondRecordWhoseFractionIsAWholeSecond) {
  const auto file = buildFile(TimestampUnit::microseconds, {60});
  auto bytes = withRecordHeader(file.bytes, recordHeader(1, 999'999, 4, 60), 4);
  const auto kept = bytes.size();
  bytes = withRecordHeader(bytes, recordHeader(1, 1'000'000, 4, 60), 4);
  const auto scan = scanPcap(bytes);
  EXPECT_EQ(scan.records, 2u);
  EXPECT_EQ(scan.completeBytes, kept);
}

TEST(ScanPcap, AcceptsNanosecondFractionsBelowOneSecondOnly) {
  const auto file = buildFile(TimestampUnit::nanoseconds, {60});
  auto bytes = withRecordHeader(file.bytes, recordHeader(1, 999'999'999, 4, 60), 4);
  const auto kept = bytes.size();
  bytes = withRecordHeader(bytes, recordHeader(1, 1'000'000'000, 4, 60), 4);
  const auto scan = scanPcap(bytes);
  EXPECT_EQ(scan.records, 2u);
  EXPECT_EQ(scan.completeBytes, kept);
}

TEST(ScanPcap, RejectsFileHeadersThatAreNotOurs) {
  const auto good = makeFileHeader(TimestampUnit::microseconds, 262144);
  struct Case {
    const char* what;
    FileHeader header;
  };
  auto with = [&](auto change) {
    FileHeader header = good;
    change(header);
    return header;
  };
  const Case cases[] = {
      {"unknown magic", with([](FileHeader& h) { h.magic = 0x0A0D0D0A; })},  // pcapng
      {"version 2.3", with([](FileHeader& h) { h.versionMinor = 3; })},
      {"version 1.4", with([](FileHeader& h) { h.versionMajor = 1; })},
      {"snaplen 0", with([](FileHeader& h) { h.snaplen = 0; })},
      {"snaplen 262149", with([](FileHeader& h) { h.snaplen = kMaxSnaplen + 1; })},
      {"link type 113", with([](FileHeader& h) { h.linkType = 113; })},
  };
  for (const auto& c : cases) {
    Bytes bytes(sizeof c.header);
    std::memcpy(bytes.data(), &c.header, sizeof c.header);
    const auto scan = scanPcap(bytes);
    EXPECT_FALSE(scan.headerValid) << c.what;
    EXPECT_NE(scan.headerProblem.find(c.what), std::string::npos) << scan.headerProblem;
    EXPECT_EQ(scan.completeBytes, 0u);
  }
}

TEST(ScanPcap, AcceptsTheLargestSnaplenTheWriterCanUse) {
  const auto file = buildFile(TimestampUnit::microseconds, kFrameSizes, kMaxSnaplen);
  EXPECT_TRUE(scanPcap(file.bytes).headerValid);
}

TEST(ScanPcap, ReadsRecordHeadersWithoutReadingRecordData) {
  const auto file =
      buildFile(TimestampUnit::microseconds, std::vector<std::size_t>(20, 20'000), 65535);
  std::uint64_t bytesRead = 0;
  const ReadAt counting = [&](std::uint64_t offset, std::span<std::byte> into) -> std::size_t {
    const auto n = std::min<std::uint64_t>(into.size(), file.bytes.size() - offset);
    std::memcpy(into.data(), file.bytes.data() + offset, n);
    bytesRead += n;
    return n;
  };
  const auto scan = scanPcap(counting, file.bytes.size());
  EXPECT_EQ(scan.records, 20u);
  EXPECT_LT(bytesRead, file.bytes.size() / 4);
}

TEST(ScanPcap, EndsAtTheLastCompleteRecordWhenTheFileShrinksWhileBeingRead) {
  const auto file = buildFile(TimestampUnit::microseconds, kFrameSizes);
  const std::size_t nowOnly = file.boundaries[2] + 5;
  const ReadAt shrunk = [&](std::uint64_t offset, std::span<std::byte> into) -> std::size_t {
    if (offset >= nowOnly) return 0;
    const auto n = std::min<std::uint64_t>(into.size(), nowOnly - offset);
    std::memcpy(into.data(), file.bytes.data() + offset, n);
    return n;
  };
  const auto scan = scanPcap(shrunk, file.bytes.size());
  EXPECT_EQ(scan.records, 2u);
  EXPECT_EQ(scan.completeBytes, file.boundaries[2]);
}

class RepairPartFileTest : public ::testing::Test {
 protected:
  void write(const std::string& name, const Bytes& bytes) const {
    testing::writeFile(dir_ / name, bytes);
  }
  Bytes read(const std::string& name) const { return testing::readFile(dir_ / name); }
  RepairResult repair(const std::string& partName) const {
    return repairPartFile(directory_.get(), partName);
  }
  testing::TempDir dir_;
  util::UniqueFd directory_ = testing::openDirectory(dir_.path());
};

TEST_F(RepairPartFileTest, CutsEachKindOfTornFileToItsLastCompleteRecordAndRenamesIt) {
  const auto file = buildFile(TimestampUnit::microseconds, kFrameSizes);
  struct Cut {
    const char* where;
    std::size_t size;
    std::size_t records;
  };
  const Cut cuts[] = {
      {"exactly the header", 24, 0},
      {"inside the first record header", 24 + 7, 0},
      {"inside the data of the first record", 24 + 16 + 30, 0},
      {"exactly after the second record", file.boundaries[2], 2},
      {"inside the header of the fourth record", file.boundaries[3] + 15, 3},
      {"inside the data of the last record", file.bytes.size() - 1, kFrameSizes.size() - 1},
      {"exactly the whole file", file.bytes.size(), kFrameSizes.size()},
  };
  for (const auto& c : cuts) {
    SCOPED_TRACE(c.where);
    const std::string name = "cut" + std::to_string(c.size) + ".pcap";
    write(name + ".part", cut(file.bytes, c.size));

    const auto result = repair(name + ".part");

    EXPECT_EQ(result.outcome, RepairOutcome::finished) << result.message;
    EXPECT_EQ(result.finalName, name);
    EXPECT_EQ(result.recordsKept, c.records);
    EXPECT_EQ(result.bytesKept, file.boundaries[c.records]);
    EXPECT_EQ(result.bytesCut, c.size - file.boundaries[c.records]);
    EXPECT_FALSE(fs::exists(dir_ / (name + ".part")));
    EXPECT_EQ(read(name), cut(file.bytes, file.boundaries[c.records]));
    EXPECT_EQ(testing::readPcapFile(dir_ / name).records.size(), c.records);
  }
}

// A direct writer reserves space ahead of its writes (fallocate, KEEP_SIZE); killed just after a
// write that ended on a record, its file is whole but holds that reservation. Repair gives it
// back, or retention and free space would be off by up to the reservation per file.
TEST_F(RepairPartFileTest, AWholeFileGivesBackTheSpaceReservedPastItsEnd) {
  const auto file = buildFile(TimestampUnit::microseconds, kFrameSizes);
  write("reserved.pcap.part", file.bytes);
  {
    const util::UniqueFd fd(::open((dir_ / "reserved.pcap.part").c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    if (::fallocate(fd.get(), FALLOC_FL_KEEP_SIZE, 0, 8 << 20) != 0) {
      GTEST_SKIP() << dir_.path() << ": no fallocate here";
    }
  }
  const auto result = repair("reserved.pcap.part");
  ASSERT_EQ(result.outcome, RepairOutcome::finished) << result.message;
  EXPECT_EQ(result.bytesCut, 0u);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "reserved.pcap").c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), file.bytes.size());
  EXPECT_LT(static_cast<std::uint64_t>(st.st_blocks) * 512, 1u << 20)
      << "8 MiB reserved past the end is still allocated";
}

TEST_F(RepairPartFileTest, SetsAFileTornInsideItsHeaderAsideUntouched) {
  const auto torn = cut(buildFile(TimestampUnit::microseconds, kFrameSizes).bytes, 10);
  write("a.pcap.part", torn);
  const auto result = repair("a.pcap.part");
  EXPECT_EQ(result.outcome, RepairOutcome::setAside);
  EXPECT_EQ(result.finalName, "a.pcap.damaged");
  EXPECT_EQ(result.bytesKept, 10u);
  EXPECT_EQ(result.bytesCut, 0u);
  EXPECT_FALSE(fs::exists(dir_ / "a.pcap.part"));
  EXPECT_FALSE(fs::exists(dir_ / "a.pcap"));
  EXPECT_EQ(read("a.pcap.damaged"), torn);
}

// A run killed between open() and the write of the header leaves such a file: nothing to keep,
// and nothing damaged to show an operator.
TEST_F(RepairPartFileTest, RemovesAFileOfZeroBytesRatherThanSettingItAside) {
  write("b.pcap.part", {});
  const auto result = repair("b.pcap.part");
  EXPECT_EQ(result.outcome, RepairOutcome::removedEmpty);
  EXPECT_EQ(result.finalName, "");
  EXPECT_FALSE(fs::exists(dir_ / "b.pcap.part"));
  EXPECT_FALSE(fs::exists(dir_ / "b.pcap"));
  EXPECT_FALSE(fs::exists(dir_ / "b.pcap.damaged"));
}

TEST_F(RepairPartFileTest, SetsAFileOfOneByteAsideAsDamaged) {
  write("b.pcap.part", {std::byte{0xd4}});
  const auto result = repair("b.pcap.part");
  EXPECT_EQ(result.outcome, RepairOutcome::setAside);
  EXPECT_EQ(result.finalName, "b.pcap.damaged");
  EXPECT_EQ(read("b.pcap.damaged"), std::vector<std::byte>{std::byte{0xd4}});
}

TEST_F(RepairPartFileTest, SetsAFileWithAForeignHeaderAsideByteForByte) {
  auto bytes = buildFile(TimestampUnit::microseconds, kFrameSizes).bytes;
  bytes[20] = std::byte{105};  // link type 802.11: not something this daemon writes
  write("c.pcap.part", bytes);
  const auto result = repair("c.pcap.part");
  EXPECT_EQ(result.outcome, RepairOutcome::setAside);
  EXPECT_NE(result.message.find("link type 105"), std::string::npos) << result.message;
  EXPECT_EQ(read("c.pcap.damaged"), bytes);
  EXPECT_FALSE(fs::exists(dir_ / "c.pcap.part"));
}

TEST_F(RepairPartFileTest, CutsGarbageAfterTheLastRecord) {
  const auto file = buildFile(TimestampUnit::microseconds, kFrameSizes);
  auto bytes = withRecordHeader(file.bytes, recordHeader(1, 0, 0xFFFFFFF0u, 0xFFFFFFF0u), 100);
  write("d.pcap.part", bytes);
  const auto result = repair("d.pcap.part");
  EXPECT_EQ(result.outcome, RepairOutcome::finished);
  EXPECT_EQ(result.recordsKept, kFrameSizes.size());
  EXPECT_EQ(result.bytesCut, 16u + 100u);
  EXPECT_FALSE(result.message.empty());
  EXPECT_EQ(read("d.pcap"), file.bytes);
  EXPECT_EQ(testing::readPcapFile(dir_ / "d.pcap").records.size(), kFrameSizes.size());
}

TEST_F(RepairPartFileTest, GivesTheFileASuffixWhenItsFinalNameIsTakenAndLeavesTheOtherAlone) {
  { std::ofstream(dir_ / "e.pcap") << "precious"; }
  { std::ofstream(dir_ / "e_001.pcap") << "also precious"; }
  const auto file = buildFile(TimestampUnit::microseconds, kFrameSizes);
  write("e.pcap.part", cut(file.bytes, file.bytes.size() - 3));
  const auto result = repair("e.pcap.part");
  EXPECT_EQ(result.outcome, RepairOutcome::finished);
  EXPECT_EQ(result.finalName, "e_002.pcap");
  EXPECT_EQ(fs::file_size(dir_ / "e.pcap"), 8u);
  EXPECT_EQ(fs::file_size(dir_ / "e_001.pcap"), 13u);
  EXPECT_EQ(read("e_002.pcap"), cut(file.bytes, file.boundaries[kFrameSizes.size() - 1]));
}

TEST_F(RepairPartFileTest, GivesASetAsideFileASuffixWhenTheDamagedNameIsTaken) {
  { std::ofstream(dir_ / "f.pcap.damaged") << "earlier"; }
  write("f.pcap.part", Bytes(5, std::byte{1}));
  const auto result = repair("f.pcap.part");
  EXPECT_EQ(result.outcome, RepairOutcome::setAside);
  EXPECT_EQ(result.finalName, "f_001.pcap.damaged");
  EXPECT_EQ(fs::file_size(dir_ / "f.pcap.damaged"), 7u);
  EXPECT_EQ(read("f_001.pcap.damaged"), Bytes(5, std::byte{1}));
}

TEST_F(RepairPartFileTest, RepairsANanosecondFileThatLibpcapThenReadsInNanoseconds) {
  const auto file = buildFile(TimestampUnit::nanoseconds, kFrameSizes);
  write("g.pcap.part", cut(file.bytes, file.boundaries[3] + 20));
  const auto result = repair("g.pcap.part");
  EXPECT_EQ(result.outcome, RepairOutcome::finished);
  EXPECT_EQ(result.recordsKept, 3u);
  const auto libpcap = testing::readPcapFile(dir_ / "g.pcap");
  EXPECT_EQ(libpcap.magic, kMagicNanoseconds);
  ASSERT_EQ(libpcap.records.size(), 3u);
  EXPECT_EQ(libpcap.records[2].fraction, 999'999'999u);
}

TEST_F(RepairPartFileTest, RepairsAByteSwappedFileWithoutChangingItsByteOrder) {
  const auto file = byteSwapped(buildFile(TimestampUnit::microseconds, kFrameSizes));
  write("h.pcap.part", cut(file.bytes, file.boundaries[4] + 3));
  const auto result = repair("h.pcap.part");
  EXPECT_EQ(result.outcome, RepairOutcome::finished) << result.message;
  EXPECT_EQ(result.recordsKept, 4u);
  EXPECT_EQ(read("h.pcap"), cut(file.bytes, file.boundaries[4]));
  const auto libpcap = testing::readPcapFile(dir_ / "h.pcap");
  ASSERT_EQ(libpcap.records.size(), 4u);
  EXPECT_EQ(libpcap.records[3].originalLength, kFrameSizes[3]);
}

TEST_F(RepairPartFileTest, DoesNotFollowASymlinkAtThePartName) {
  const auto file = buildFile(TimestampUnit::microseconds, kFrameSizes);
  write("target", cut(file.bytes, file.bytes.size() - 1));
  fs::create_symlink(dir_ / "target", dir_ / "i.pcap.part");
  const auto result = repair("i.pcap.part");
  EXPECT_EQ(result.outcome, RepairOutcome::failed);
  EXPECT_EQ(result.errnoValue, ELOOP);
  EXPECT_EQ(fs::file_size(dir_ / "target"), file.bytes.size() - 1);
  EXPECT_TRUE(fs::is_symlink(dir_ / "i.pcap.part"));
  EXPECT_FALSE(fs::exists(dir_ / "i.pcap"));
}

TEST_F(RepairPartFileTest, FailsWithTheErrnoForAFileThatIsNotThere) {
  const auto result = repair("missing.pcap.part");
  EXPECT_EQ(result.outcome, RepairOutcome::failed);
  EXPECT_EQ(result.errnoValue, ENOENT);
  EXPECT_NE(result.message.find("missing.pcap.part"), std::string::npos) << result.message;
  EXPECT_TRUE(result.finalName.empty());
}

TEST_F(RepairPartFileTest, RefusesNamesThatAreNotPartFilesOfTheDirectory) {
  write("j.pcap", buildFile(TimestampUnit::microseconds, kFrameSizes).bytes);
  for (const char* name : {"j.pcap", ".part", "sub/k.pcap.part", "../k.pcap.part"}) {
    const auto result = repair(name);
    EXPECT_EQ(result.outcome, RepairOutcome::failed) << name;
    EXPECT_EQ(result.errnoValue, EINVAL) << name;
  }
  EXPECT_TRUE(fs::exists(dir_ / "j.pcap"));
}

TEST_F(RepairPartFileTest, RepairingAFileAgainAfterAnInterruptedRepairKeepsTheSameRecords) {
  const auto file = buildFile(TimestampUnit::microseconds, kFrameSizes);
  write("l.pcap.part", cut(file.bytes, file.boundaries[2] + 9));
  // The daemon died after the cut, before the rename: the next start sees the cut .part file.
  ASSERT_EQ(::truncate((dir_ / "l.pcap.part").c_str(), static_cast<off_t>(file.boundaries[2])), 0);
  const auto result = repair("l.pcap.part");
  EXPECT_EQ(result.outcome, RepairOutcome::finished);
  EXPECT_EQ(result.recordsKept, 2u);
  EXPECT_EQ(result.bytesCut, 0u);
  EXPECT_TRUE(result.message.empty()) << result.message;
  EXPECT_EQ(read("l.pcap"), cut(file.bytes, file.boundaries[2]));
}

}  // namespace
}  // namespace pcap_recorder::pcap
