// The metrics file as node_exporter reads it, and what is measured of an output directory.
#include "pcap_recorder/metrics/textfile.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cstring>
#include <fstream>

#include "pcap_recorder/pcap/format.hpp"
#include "support/file_bytes.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::metrics {
namespace {

namespace fs = std::filesystem;
using testing::readText;

TEST(Textfile, ReplacesTheFileWholeReadableByOthersAndLeavesNoTemporary) {
  testing::TempDir dir;
  const auto path = dir / "pcap-recorder.prom";
  const mode_t saved = ::umask(077);
  writeTextfile(path, "first 1\n");
  writeTextfile(path, "second 2\n");
  ::umask(saved);
  EXPECT_EQ(readText(path), "second 2\n");
  struct stat status {};
  ASSERT_EQ(::stat(path.c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 07777, 0644u) << "node_exporter runs as another user";
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    names.push_back(entry.path().filename());
  }
  EXPECT_EQ(names, std::vector<std::string>{"pcap-recorder.prom"});
}

TEST(Textfile, AMissingDirectoryIsAnErrorNamingTheFile) {
  testing::TempDir dir;
  try {
    writeTextfile(dir / "missing" / "x.prom", "x 1\n");
    FAIL() << "no error";
  } catch (const std::system_error& error) {
    EXPECT_NE(std::string(error.what()).find("missing/.x.prom.tmp"), std::string::npos)
        << error.what();
  }
}

// A classic pcap file with one record at `seconds`.`fraction`, in either byte order.
void writePcap(const fs::path& path, std::uint32_t magic, std::uint32_t seconds,
               std::uint32_t fraction, bool swap) {
  auto order = [swap](std::uint32_t value) { return swap ? __builtin_bswap32(value) : value; };
  pcap::FileHeader header = pcap::makeFileHeader(pcap::TimestampUnit::microseconds, 65535);
  header.magic = order(magic);
  const pcap::RecordHeader record{order(seconds), order(fraction), order(4), order(4)};
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&header), sizeof header);
  out.write(reinterpret_cast<const char*>(&record), sizeof record);
  out.write("abcd", 4);
}

std::optional<double> firstPacketTimeOf(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  auto time = firstPacketTime(fd);
  ::close(fd);
  return time;
}

TEST(FirstPacketTime, ReadsEitherByteOrderAndEitherUnit) {
  testing::TempDir dir;
  writePcap(dir / "micro", pcap::kMagicMicroseconds, 1700000000, 250000, false);
  writePcap(dir / "nano", pcap::kMagicNanoseconds, 1700000000, 500000000, false);
  writePcap(dir / "swapped", pcap::kMagicMicroseconds, 1700000000, 750000, true);
  EXPECT_DOUBLE_EQ(*firstPacketTimeOf(dir / "micro"), 1700000000.25);
  EXPECT_DOUBLE_EQ(*firstPacketTimeOf(dir / "nano"), 1700000000.5);
  EXPECT_DOUBLE_EQ(*firstPacketTimeOf(dir / "swapped"), 1700000000.75);
  std::ofstream(dir / "header-only").write("\xd4\xc3\xb2\xa1", 4);
  EXPECT_FALSE(firstPacketTimeOf(dir / "header-only"));
  std::ofstream(dir / "text") << "not a pcap file at all, but long enough to read 40 bytes";
  EXPECT_FALSE(firstPacketTimeOf(dir / "text"));
}

rotation::OwnFileMatcher eth0Files() {
  return rotation::OwnFileMatcher(
      std::vector<rotation::OwnFileTemplate>{{"{interface}-%Y%m%dT%H%M%S.pcap", "eth0"}});
}

void setModified(const fs::path& path, std::time_t seconds) {
  const timespec times[2] = {{seconds, 0}, {seconds, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

TEST(SampleDirectory, TheWindowStartsAtTheOldestOwnFilesFirstPacket) {
  testing::TempDir dir;
  const auto ownFiles = eth0Files();
  writePcap(dir / "eth0-20231114T221320.pcap", pcap::kMagicMicroseconds, 1700000000, 0, false);
  setModified(dir / "eth0-20231114T221320.pcap", 1700003600);
  writePcap(dir / "eth0-20231115T000000.pcap", pcap::kMagicMicroseconds, 1700006400, 0, false);
  setModified(dir / "eth0-20231115T000000.pcap", 1700010000);
  // Not ours, older still: never the window's start, as retention never deletes it.
  writePcap(dir / "notes.pcap", pcap::kMagicMicroseconds, 1000, 0, false);
  setModified(dir / "notes.pcap", 1000);
  const auto sample = sampleDirectory(dir.path(), ownFiles);
  EXPECT_EQ(sample.directory, dir.path().string());
  ASSERT_TRUE(sample.freeBytes);
  EXPECT_GT(*sample.freeBytes, 0u);
  ASSERT_TRUE(sample.oldestFileTimestamp);
  EXPECT_DOUBLE_EQ(*sample.oldestFileTimestamp, 1700000000);
}

TEST(SampleDirectory, AFileWithoutRecordsCountsFromItsModifiedTime) {
  testing::TempDir dir;
  const auto ownFiles = eth0Files();
  std::ofstream(dir / "eth0-20231114T221320.pcap") << "compressed, say";
  setModified(dir / "eth0-20231114T221320.pcap", 1600000000);
  const auto sample = sampleDirectory(dir.path(), ownFiles);
  ASSERT_TRUE(sample.oldestFileTimestamp);
  EXPECT_DOUBLE_EQ(*sample.oldestFileTimestamp, 1600000000);
}

TEST(SampleDirectory, AnEmptyOrMissingDirectoryHasNoWindow) {
  testing::TempDir dir;
  const auto ownFiles = eth0Files();
  EXPECT_FALSE(sampleDirectory(dir.path(), ownFiles).oldestFileTimestamp);
  EXPECT_TRUE(sampleDirectory(dir.path(), ownFiles).freeBytes);
  const auto missing = sampleDirectory(dir / "missing", ownFiles);
  EXPECT_FALSE(missing.freeBytes);
  EXPECT_FALSE(missing.oldestFileTimestamp);
}

}  // namespace
}  // namespace pcap_recorder::metrics
