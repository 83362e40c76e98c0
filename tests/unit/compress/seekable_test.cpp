// zstd files as compressFile writes them end in zstd's standard seek table, and SeekableReader
// reads any range of their uncompressed bytes by decompressing only the frames holding it.
#include "pcap_recorder/compress/seekable.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "pcap_recorder/compress/decompressor.hpp"
#include "pcap_recorder/util/little_endian.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/directory.hpp"
#include "support/file_bytes.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::compress {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::uint32_t le32(const std::vector<std::byte>& bytes, std::size_t at) {
  return util::loadLittleEndian<std::uint32_t>(bytes.data() + at);
}

struct Compressed {
  explicit Compressed(std::size_t bytes, Compression compression = Compression::zstd)
      : original(testing::sampleBytes(bytes, 11)) {
    testing::writeFile(dir / "x.pcap", original);
    result = compressFile(dirFd.get(), "x.pcap", compression, 0, 0600);
    path = dir / result.name;
    fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  }
  std::optional<SeekTable> table() {
    std::string problem;
    return readSeekTable(fd.get(), fs::file_size(path), problem);
  }

  TempDir dir;
  util::UniqueFd dirFd = testing::openDirectory(dir.path());
  std::vector<std::byte> original;
  CompressedFile result;
  fs::path path;
  util::UniqueFd fd;
};

TEST(SeekableTest, ZstdFilesEndInTheStandardSeekTableOfTheirOneMebibyteFrames) {
  Compressed file(5 * kFrameBytes + 4321);
  const auto stored = testing::readFile(file.path);
  ASSERT_EQ(stored.size(), file.result.storedBytes);
  // The footer: 6 frames, no checksums, the seekable magic; before it the entries, and before
  // those a skippable frame's header sized to hold exactly them and the footer.
  const std::size_t tableBytes = 8 + 6 * 8 + 9;
  EXPECT_EQ(le32(stored, stored.size() - 4), 0x8F92EAB1u);
  EXPECT_EQ(std::to_integer<int>(stored[stored.size() - 5]), 0);
  EXPECT_EQ(le32(stored, stored.size() - 9), 6u);
  EXPECT_EQ(le32(stored, stored.size() - tableBytes), 0x184D2A5Eu);
  EXPECT_EQ(le32(stored, stored.size() - tableBytes + 4), tableBytes - 8);
  for (std::size_t i = 0; i < 6; ++i) {
    const std::size_t entry = stored.size() - tableBytes + 8 + i * 8;
    const auto next =
        i + 1 < 6 ? file.result.frames[i + 1].storedOffset : stored.size() - tableBytes;
    EXPECT_EQ(le32(stored, entry), next - file.result.frames[i].storedOffset) << i;
    EXPECT_EQ(le32(stored, entry + 4), i < 5 ? kFrameBytes : 4321u) << i;
    // Every frame a zstd frame of its own.
    EXPECT_EQ(le32(stored, file.result.frames[i].storedOffset), 0xFD2FB528u) << i;
  }

  const auto table = file.table();
  ASSERT_TRUE(table);
  EXPECT_EQ(table->frames, file.result.frames);
  EXPECT_EQ(table->uncompressedBytes, file.original.size());
  EXPECT_EQ(table->framesEnd, stored.size() - tableBytes);

  // Readers that know nothing of the table skip it: zstd itself and our streaming reader.
  util::UniqueFd out(::memfd_create("whole", MFD_CLOEXEC));
  EXPECT_EQ(decompressAll(file.fd.get(), Compression::zstd, out.get()), file.original.size());
  EXPECT_EQ(std::system(("zstd -q -t " + file.path.string()).c_str()), 0);
  testing::writeFile(file.dir / "copy", file.original);
  FILE* pipe = ::popen(("zstd -dc " + file.path.string() + " | cmp - " +
                        (file.dir / "copy").string() + " && echo same")
                           .c_str(),
                       "r");
  char answer[16] = {};
  ASSERT_NE(pipe, nullptr);
  ASSERT_NE(std::fgets(answer, sizeof answer, pipe), nullptr);
  ::pclose(pipe);
  EXPECT_STREQ(answer, "same\n");
}

TEST(SeekableTest, AFileOfOneFrameHasNoTable) {
  // Nothing to seek to; and Wireshark 4.0 reads bytes after a first frame of over 128 KiB as raw
  // pcap data.
  Compressed file(kFrameBytes);
  ASSERT_EQ(file.result.frames.size(), 1u);
  EXPECT_FALSE(file.table());
  util::UniqueFd out(::memfd_create("whole", MFD_CLOEXEC));
  EXPECT_EQ(decompressAll(file.fd.get(), Compression::zstd, out.get()), file.original.size());
}

TEST(SeekableTest, AnyRangeIsReadByDecompressingOnlyTheFramesHoldingIt) {
  Compressed file(8 * kFrameBytes + 777);
  auto table = file.table();
  ASSERT_TRUE(table);
  FrameDecoder decoder;
  SeekableReader reader(file.fd.get(), std::move(*table), decoder);
  EXPECT_EQ(reader.size(), file.original.size());

  // A pcap header: the start of frame 0 only.
  std::vector<std::byte> header(24);
  ASSERT_EQ(reader.readAt(header, 0), 24u);
  EXPECT_TRUE(std::equal(header.begin(), header.end(), file.original.begin()));
  EXPECT_EQ(reader.framesDecompressed(), 0u);
  EXPECT_EQ(reader.framesPeeked(), 1u);

  // 100 KiB across the boundary of frames 5 and 6: those two, nothing else.
  const std::uint64_t begin = 6 * kFrameBytes - 50'000;
  std::vector<std::byte> piece(100'000);
  ASSERT_EQ(reader.readAt(piece, begin), piece.size());
  EXPECT_TRUE(std::equal(piece.begin(), piece.end(), file.original.begin() + begin));
  EXPECT_EQ(reader.framesDecompressed(), 2u);
  EXPECT_LT(reader.storedBytesRead(), file.result.storedBytes / 3);

  // Walking on from there decompresses each further frame once.
  std::vector<std::byte> chunk(300'000);
  std::uint64_t at = begin + piece.size();
  while (at < file.original.size()) {
    const auto got = reader.readAt(chunk, at);
    ASSERT_GT(got, 0u);
    ASSERT_TRUE(std::equal(chunk.begin(), chunk.begin() + got, file.original.begin() + at)) << at;
    at += got;
  }
  EXPECT_EQ(reader.framesDecompressed(), 4u);  // 5, 6, 7 and the short last one, 8
  EXPECT_EQ(reader.readAt(chunk, file.original.size()), 0u);

  // A read of the whole file from the start.
  std::vector<std::byte> all(file.original.size() + 10);
  EXPECT_EQ(reader.readAt(all, 0), file.original.size());
  all.resize(file.original.size());
  EXPECT_EQ(all, file.original);
}

TEST(SeekableTest, FilesWithoutAValidTableHaveNone) {
  std::string problem;
  Compressed gzip(kFrameBytes, Compression::gzip);
  EXPECT_FALSE(readSeekTable(gzip.fd.get(), fs::file_size(gzip.path), problem));

  // A .zst written by the zstd tool: one frame, no table.
  Compressed zstd(2 * kFrameBytes);
  testing::writeFile(zstd.dir / "plain", zstd.original);
  ASSERT_EQ(std::system(("zstd -q " + (zstd.dir / "plain").string()).c_str()), 0);
  util::UniqueFd plain(::open((zstd.dir / "plain.zst").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_FALSE(readSeekTable(plain.get(), fs::file_size(zstd.dir / "plain.zst"), problem));

  // A table whose frames do not add up to the file: one byte more in front of the frames.
  auto stored = testing::readFile(zstd.path);
  stored.insert(stored.begin(), std::byte{0});
  testing::writeFile(zstd.dir / "shifted.zst", stored);
  util::UniqueFd shifted(::open((zstd.dir / "shifted.zst").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_FALSE(readSeekTable(shifted.get(), stored.size(), problem));
  EXPECT_EQ(problem, "a seek table that does not describe the file");

  // Cut short: the footer is gone.
  EXPECT_FALSE(readSeekTable(zstd.fd.get(), fs::file_size(zstd.path) - 3, problem));
}

TEST(SeekableTest, ADamagedFrameIsAnErrorNotWrongBytes) {
  Compressed file(3 * kFrameBytes);
  auto stored = testing::readFile(file.path);
  const auto middle = file.result.frames[1].storedOffset + 200;
  stored[middle] ^= std::byte{0x55};
  testing::writeFile(file.dir / "damaged.zst", stored);
  util::UniqueFd fd(::open((file.dir / "damaged.zst").c_str(), O_RDONLY | O_CLOEXEC));
  std::string problem;
  auto table = readSeekTable(fd.get(), stored.size(), problem);
  ASSERT_TRUE(table) << problem;
  FrameDecoder decoder;
  SeekableReader reader(fd.get(), std::move(*table), decoder);
  std::vector<std::byte> bytes(1000);
  EXPECT_EQ(reader.readAt(bytes, 2 * kFrameBytes), bytes.size()) << "other frames are fine";
  EXPECT_THROW(reader.readAt(bytes, kFrameBytes + 500'000), std::runtime_error);
}

}  // namespace
}  // namespace pcap_recorder::compress
