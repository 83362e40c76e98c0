#include "pcap_recorder/compress/file_compressor.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "pcap_recorder/compress/decompressor.hpp"
#include "pcap_recorder/compress/sha256.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/directory.hpp"
#include "support/file_bytes.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::compress {
namespace {

namespace fs = std::filesystem;
using testing::readFile;
using testing::sampleBytes;
using testing::TempDir;
using testing::writeFile;

std::string commandOutput(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[65536];
  std::size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, got);
  ::pclose(pipe);
  return output;
}

std::vector<std::byte> decompressed(const fs::path& path, Compression compression) {
  util::UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  util::UniqueFd out(::memfd_create("decompressed", MFD_CLOEXEC));
  const auto bytes = decompressAll(in.get(), compression, out.get());
  std::vector<std::byte> copy(bytes);
  EXPECT_EQ(::pread(out.get(), copy.data(), copy.size(), 0), static_cast<ssize_t>(bytes));
  return copy;
}

struct Directory {
  TempDir dir;
  util::UniqueFd fd = testing::openDirectory(dir.path());
};

TEST(FileCompressorTest, ZstdReplacesTheFileWithIndependentFramesOfOneMebibyte) {
  Directory d;
  const auto original = sampleBytes(3 * kFrameBytes + 12345);
  writeFile(d.dir / "eth0.pcap", original);
  const auto result = compressFile(d.fd.get(), "eth0.pcap", Compression::zstd, 0, 0640);
  EXPECT_EQ(result.name, "eth0.pcap.zst");
  EXPECT_FALSE(fs::exists(d.dir / "eth0.pcap"));
  EXPECT_FALSE(fs::exists(d.dir / "eth0.pcap.zst.part"));
  ASSERT_TRUE(fs::exists(d.dir / "eth0.pcap.zst"));
  EXPECT_EQ(fs::status(d.dir / "eth0.pcap.zst").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  EXPECT_EQ(result.inputBytes, original.size());
  EXPECT_EQ(result.storedBytes, fs::file_size(d.dir / "eth0.pcap.zst"));
  EXPECT_LT(result.storedBytes, original.size() / 2);
  ASSERT_EQ(result.frames.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_EQ(result.frames[i].uncompressedOffset, i * kFrameBytes);
  EXPECT_EQ(result.frames[0].storedOffset, 0u);
  EXPECT_EQ(decompressed(d.dir / "eth0.pcap.zst", Compression::zstd), original);

  util::UniqueFd stored(::open((d.dir / "eth0.pcap.zst").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(result.sha256, sha256OfFile(stored.get()));
  // What sha256sum says of the file, not only what our own hash says.
  EXPECT_EQ(commandOutput("sha256sum " + (d.dir / "eth0.pcap.zst").string()).substr(0, 64),
            result.sha256);
  // An ordinary .zst for the zstd tool.
  const auto viaTool = commandOutput("zstd -dc " + (d.dir / "eth0.pcap.zst").string());
  ASSERT_EQ(viaTool.size(), original.size());
  EXPECT_EQ(std::memcmp(viaTool.data(), original.data(), original.size()), 0);
}

TEST(FileCompressorTest, ZstdWithFrameSizeZeroWritesTheWholeFileAsOneFrameWithoutATable) {
  Directory d;
  const auto original = sampleBytes(3 * kFrameBytes + 4321);
  writeFile(d.dir / "eth0.pcap", original);
  const auto result =
      compressFile(d.fd.get(), "eth0.pcap", Compression::zstd, 0, 0640, /*frameBytes=*/0);
  ASSERT_EQ(result.frames.size(), 1u);
  EXPECT_EQ(result.inputBytes, original.size());
  EXPECT_EQ(decompressed(d.dir / "eth0.pcap.zst", Compression::zstd), original);
  // One frame and no seek table: the zstd tool counts the frames.
  const auto listing = commandOutput("zstd -lv " + (d.dir / "eth0.pcap.zst").string());
  EXPECT_NE(listing.find("# Zstandard Frames: 1\n"), std::string::npos) << listing;
  EXPECT_EQ(listing.find("Skippable"), std::string::npos) << listing;
  EXPECT_NE(listing.find("Decompressed Size:"), std::string::npos)
      << "the content size in the header, as the framed files have it: " << listing;
}

TEST(FileCompressorTest, ZstdFramesFollowTheConfiguredSize) {
  Directory d;
  const auto original = sampleBytes(kFrameBytes + 7);
  writeFile(d.dir / "eth0.pcap", original);
  const auto result =
      compressFile(d.fd.get(), "eth0.pcap", Compression::zstd, 0, 0640, kMinFrameBytes);
  ASSERT_EQ(result.frames.size(), kFrameBytes / kMinFrameBytes + 1);
  EXPECT_EQ(result.frames.back().uncompressedOffset, kFrameBytes);
  EXPECT_EQ(decompressed(d.dir / "eth0.pcap.zst", Compression::zstd), original);
}

TEST(FileCompressorTest, AReaderStartsAtAnyFrame) {
  Directory d;
  const auto original = sampleBytes(3 * kFrameBytes + 99);
  writeFile(d.dir / "a.pcap", original);
  const auto result = compressFile(d.fd.get(), "a.pcap", Compression::zstd, 1, 0600);
  util::UniqueFd in(::open((d.dir / result.name).c_str(), O_RDONLY | O_CLOEXEC));
  util::UniqueFd out(::memfd_create("sparse", MFD_CLOEXEC));
  ASSERT_EQ(::ftruncate(out.get(), static_cast<off_t>(original.size())), 0);
  const std::uint64_t begin = 2 * kFrameBytes + 500;
  const std::uint64_t end = 2 * kFrameBytes + 900;
  decompressRange(in.get(), result.frames, result.inputBytes, begin, end, out.get());
  std::vector<std::byte> piece(end - begin);
  ASSERT_EQ(::pread(out.get(), piece.data(), piece.size(), static_cast<off_t>(begin)),
            static_cast<ssize_t>(piece.size()));
  EXPECT_TRUE(std::equal(piece.begin(), piece.end(), original.begin() + begin));
  // Only the frame holding the range was decompressed: the first frame is still a hole.
  std::byte first{};
  ASSERT_EQ(::pread(out.get(), &first, 1, 0), 1);
  EXPECT_EQ(first, std::byte{0});
  EXPECT_NE(original[0], std::byte{0});
}

TEST(FileCompressorTest, GzipIsReadByGunzipAndHashedAsStored) {
  Directory d;
  const auto original = sampleBytes(2 * kFrameBytes + 7);
  writeFile(d.dir / "b.pcap", original);
  const auto result = compressFile(d.fd.get(), "b.pcap", Compression::gzip, 0, 0640);
  EXPECT_EQ(result.name, "b.pcap.gz");
  EXPECT_TRUE(result.frames.empty());
  EXPECT_FALSE(fs::exists(d.dir / "b.pcap"));
  EXPECT_EQ(decompressed(d.dir / "b.pcap.gz", Compression::gzip), original);
  const auto viaTool = commandOutput("gzip -dc " + (d.dir / "b.pcap.gz").string());
  ASSERT_EQ(viaTool.size(), original.size());
  EXPECT_EQ(std::memcmp(viaTool.data(), original.data(), original.size()), 0);
  EXPECT_EQ(commandOutput("sha256sum " + (d.dir / "b.pcap.gz").string()).substr(0, 64),
            result.sha256);
}

TEST(FileCompressorTest, ATruncatedFileIsAnErrorNotAShortRead) {
  Directory d;
  writeFile(d.dir / "c.pcap", sampleBytes(kFrameBytes + 5000));
  const auto result = compressFile(d.fd.get(), "c.pcap", Compression::zstd, 0, 0640);
  // Cut inside the last data frame (the seek table after it is 8 + 2 * 8 + 9 bytes).
  ASSERT_EQ(result.frames.size(), 2u);
  fs::resize_file(d.dir / result.name, result.storedBytes - 33 - 10);
  util::UniqueFd in(::open((d.dir / result.name).c_str(), O_RDONLY | O_CLOEXEC));
  util::UniqueFd out(::memfd_create("out", MFD_CLOEXEC));
  EXPECT_THROW(decompressAll(in.get(), Compression::zstd, out.get()), std::runtime_error);
}

TEST(FileCompressorTest, AFailureBeforeTheRenameLeavesTheOriginalAndNoPart) {
  Directory d;
  const auto original = sampleBytes(100000);
  writeFile(d.dir / "d.pcap", original);
  auto operations = systemCompressOperations();
  operations.fsync = [](int) {
    errno = EIO;
    return -1;
  };
  EXPECT_THROW(
      compressFile(d.fd.get(), "d.pcap", Compression::zstd, 0, 0640, kFrameBytes, operations),
      std::system_error);
  EXPECT_EQ(readFile(d.dir / "d.pcap"), original);
  EXPECT_FALSE(fs::exists(d.dir / "d.pcap.zst.part"));
  EXPECT_FALSE(fs::exists(d.dir / "d.pcap.zst"));
}

// The compressed file in place, the directory's fsync fails: that file is the one to store and
// announce (the next start removes the original beside it), so it is returned, with a warning.
TEST(FileCompressorTest, AFailureAfterTheRenameReturnsTheCompressedFileWithAWarning) {
  Directory d;
  const auto original = sampleBytes(100000);
  writeFile(d.dir / "f.pcap", original);
  auto operations = systemCompressOperations();
  int calls = 0;
  operations.fsync = [&calls](int fd) {
    if (++calls == 1) return ::fsync(fd);  // the compressed file's own
    errno = EIO;
    return -1;
  };
  const auto result =
      compressFile(d.fd.get(), "f.pcap", Compression::zstd, 0, 0640, kFrameBytes, operations);
  EXPECT_EQ(result.name, "f.pcap.zst");
  EXPECT_NE(result.warning.find("cannot fsync the directory"), std::string::npos) << result.warning;
  EXPECT_TRUE(fs::exists(d.dir / "f.pcap.zst"));
  EXPECT_EQ(readFile(d.dir / "f.pcap"), original);
  EXPECT_FALSE(fs::exists(d.dir / "f.pcap.zst.part"));
}

TEST(FileCompressorTest, AnExistingCompressedNameIsNeverReplaced) {
  Directory d;
  writeFile(d.dir / "e.pcap", sampleBytes(1000));
  writeFile(d.dir / "e.pcap.zst", sampleBytes(10));
  EXPECT_THROW(compressFile(d.fd.get(), "e.pcap", Compression::zstd, 0, 0640), std::runtime_error);
  EXPECT_EQ(fs::file_size(d.dir / "e.pcap.zst"), 10u);
  EXPECT_TRUE(fs::exists(d.dir / "e.pcap"));
}

std::vector<std::string> namesIn(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

const auto kOwn = [](std::string_view name) { return name.ends_with(".pcap"); };

TEST(CompressionRepairTest, ACrashAfterTheRenameKeepsTheCompressedCopyOnly) {
  Directory d;
  const auto original = sampleBytes(kFrameBytes + 3);
  writeFile(d.dir / "f.pcap", original);
  auto operations = systemCompressOperations();
  operations.afterStep = [](std::string_view step) {
    if (step == "renamed") throw std::runtime_error("killed");
  };
  EXPECT_THROW(
      compressFile(d.fd.get(), "f.pcap", Compression::zstd, 0, 0640, kFrameBytes, operations),
      std::runtime_error);
  ASSERT_EQ(namesIn(d.dir.path()), (std::vector<std::string>{"f.pcap", "f.pcap.zst"}));
  const auto repairs = repairInterruptedCompression(d.fd.get(), namesIn(d.dir.path()), kOwn);
  ASSERT_EQ(repairs.size(), 1u);
  EXPECT_EQ(repairs[0].name, "f.pcap");
  EXPECT_EQ(repairs[0].action, CompressionRepair::Action::removedUncompressed);
  ASSERT_EQ(namesIn(d.dir.path()), (std::vector<std::string>{"f.pcap.zst"}));
  EXPECT_EQ(decompressed(d.dir / "f.pcap.zst", Compression::zstd), original);
}

TEST(CompressionRepairTest, ACrashWhileWritingKeepsTheUncompressedCopyOnly) {
  Directory d;
  const auto original = sampleBytes(kFrameBytes + 3);
  writeFile(d.dir / "g.pcap", original);
  // What a kill during compression leaves: the whole original and part of the compressed file.
  writeFile(d.dir / "g.pcap.gz.part", sampleBytes(5000));
  writeFile(d.dir / "other.pcap.zst.part", sampleBytes(10));  // not ours: left alone
  const auto repairs = repairInterruptedCompression(
      d.fd.get(), namesIn(d.dir.path()),
      [](auto name) { return name.starts_with("g") && name.ends_with(".pcap"); });
  ASSERT_EQ(repairs.size(), 1u);
  EXPECT_EQ(repairs[0].action, CompressionRepair::Action::removedPart);
  EXPECT_EQ(namesIn(d.dir.path()), (std::vector<std::string>{"g.pcap", "other.pcap.zst.part"}));
  EXPECT_EQ(readFile(d.dir / "g.pcap"), original);
}

TEST(CompressionRepairTest, APartWithoutItsOriginalIsKept) {
  Directory d;
  writeFile(d.dir / "h.pcap.zst.part", sampleBytes(10));
  writeFile(d.dir / "i.pcap.zst", sampleBytes(10));
  const auto repairs = repairInterruptedCompression(d.fd.get(), namesIn(d.dir.path()), kOwn);
  ASSERT_EQ(repairs.size(), 1u);
  EXPECT_EQ(repairs[0].action, CompressionRepair::Action::keptPart);
  EXPECT_EQ(namesIn(d.dir.path()), (std::vector<std::string>{"h.pcap.zst.part", "i.pcap.zst"}));
}

TEST(CompressionNamesTest, SuffixesAndLevels) {
  EXPECT_EQ(compressionOfName("a.pcap.zst"), Compression::zstd);
  EXPECT_EQ(compressionOfName("a.pcap.gz"), Compression::gzip);
  EXPECT_EQ(compressionOfName("a.pcap"), Compression::none);
  EXPECT_EQ(withoutCompressionSuffix("a.pcap.zst"), "a.pcap");
  EXPECT_TRUE(isCompressionPart("a.pcap.zst.part"));
  EXPECT_FALSE(isCompressionPart("a.pcap.part"));
  EXPECT_EQ(effectiveLevel(Compression::zstd, 0), kZstdDefaultLevel);
  EXPECT_EQ(effectiveLevel(Compression::gzip, 9), 9);
  EXPECT_EQ(parseCompression("zstd"), Compression::zstd);
  EXPECT_FALSE(parseCompression("lz4"));
}

}  // namespace
}  // namespace pcap_recorder::compress
