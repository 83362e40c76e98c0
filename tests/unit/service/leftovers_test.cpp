// Start-up repair of what a killed run left (service/leftovers.hpp) on real temporary
// directories: a repaired `.part`, a file whose compression was undone and a file renamed but not
// yet stored (its storing marker) are stored as any finished file (compressed, sidecar with reason
// "repaired"); a header-only `.part` is removed unless empty files are kept; one of zero bytes is
// removed.
#include "pcap_recorder/service/leftovers.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "pcap_recorder/compress/decompressor.hpp"
#include "pcap_recorder/compress/sha256.hpp"
#include "pcap_recorder/pcap/format.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/file_bytes.hpp"
#include "support/frames.hpp"
#include "support/pcap_reader.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::service {
namespace {

namespace fs = std::filesystem;
using testing::readText;

constexpr const char* kFinal = "eth0-20261202T010203.pcap";

void append(std::string& bytes, const void* data, std::size_t size) {
  bytes.append(static_cast<const char*>(data), size);
}

// A pcap (microseconds) whose records are frames 0..records-1, one second apart from 1000.
std::string pcapBytes(std::uint32_t records) {
  std::string bytes;
  const auto header = pcap::makeFileHeader(pcap::TimestampUnit::microseconds, 65535);
  append(bytes, &header, sizeof header);
  for (std::uint32_t i = 0; i < records; ++i) {
    const auto frame = testing::buildUdpFrame({.sequence = i});
    const pcap::RecordHeader record{1000 + i, 250, static_cast<std::uint32_t>(frame.size()),
                                    static_cast<std::uint32_t>(frame.size())};
    append(bytes, &record, sizeof record);
    append(bytes, frame.data(), frame.size());
  }
  return bytes;
}

// `read` holds frames 0..count-1 as pcapBytes() wrote them.
void expectFrames(const testing::ReadFile& read, std::uint32_t count) {
  ASSERT_EQ(read.records.size(), count);
  for (std::uint32_t i = 0; i < count; ++i) {
    EXPECT_EQ(read.records[i].data, testing::buildUdpFrame({.sequence = i})) << "record " << i;
  }
}

void writeFile(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

class Leftovers : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(out_);
    settings_.name = "eth0";
    settings_.output.directory = out_;
  }

  // Repairs `out_` as the daemon does at start, and runs the jobs through a finisher.
  std::size_t repairAndFinish() {
    const rotation::OwnFileMatcher own({{settings_.output.fileName, settings_.name}});
    auto jobs = repairLeftovers(out_, own, {settings_});
    const std::size_t count = jobs.size();
    FileFinisher finisher({}, [this](const FinishedFile& file) { announced_.push_back(file); });
    for (auto& job : jobs) finisher.submit(std::move(job));
    finisher.stop();
    return count;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> all;
    for (const auto& entry : fs::directory_iterator(out_)) {
      all.push_back(entry.path().filename().string());
    }
    std::sort(all.begin(), all.end());
    return all;
  }

  // The records in the zstd file `name`.
  testing::ReadFile decompressed(const std::string& name) {
    util::UniqueFd in(::open((out_ / name).c_str(), O_RDONLY | O_CLOEXEC));
    const auto plain = dir_ / "plain.pcap";
    util::UniqueFd out(::open(plain.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    compress::decompressAll(in.get(), compress::Compression::zstd, out.get());
    return testing::readPcapFile(plain);
  }

  testing::TempDir dir_;
  fs::path out_ = dir_ / "out";
  config::InterfaceSettings settings_;
  std::vector<FinishedFile> announced_;
};

TEST_F(Leftovers, AHeaderOnlyPartIsRemovedWhenEmptyFilesAreNotKept) {
  writeFile(out_ / (std::string(kFinal) + ".part"), pcapBytes(0));
  EXPECT_EQ(repairAndFinish(), 0u);
  EXPECT_EQ(names(), std::vector<std::string>{}) << "no 24-byte file is left";
  EXPECT_TRUE(announced_.empty());
}

// What a kill leaves when it falls between a direct write of the header's block and the cut
// back to the header.
TEST_F(Leftovers, AHeaderPaddedWithZerosToABlockIsRemovedWhenEmptyFilesAreNotKept) {
  auto bytes = pcapBytes(0);
  bytes.resize(4096, '\0');
  writeFile(out_ / (std::string(kFinal) + ".part"), bytes);
  EXPECT_EQ(repairAndFinish(), 0u);
  EXPECT_EQ(names(), std::vector<std::string>{}) << "no header-only file is left";
  EXPECT_TRUE(announced_.empty());
}

// What a kill leaves when it falls between the creation of the file and the write of its header;
// as CompressCrashTest once met it. Removed whether empty files are kept or not: it is no file an
// operator could open, and it held nothing.
TEST_F(Leftovers, APartOfZeroBytesIsRemovedAndNotSetAsideAsDamaged) {
  for (const bool keepEmpty : {false, true}) {
    settings_.output.keepEmptyFiles = keepEmpty;
    writeFile(out_ / (std::string(kFinal) + ".part"), "");
    EXPECT_EQ(repairAndFinish(), 0u);
    EXPECT_EQ(names(), std::vector<std::string>{}) << "keep_empty_files " << keepEmpty;
    EXPECT_TRUE(announced_.empty());
  }
}

TEST_F(Leftovers, AHeaderOnlyPartIsFinishedWithASidecarWhenEmptyFilesAreKept) {
  settings_.output.keepEmptyFiles = true;
  writeFile(out_ / (std::string(kFinal) + ".part"), pcapBytes(0));
  EXPECT_EQ(repairAndFinish(), 1u);
  const std::string idx = std::string(kFinal) + ".idx";
  const std::string json = std::string(kFinal) + ".json";
  EXPECT_EQ(names(), (std::vector<std::string>{kFinal, idx, json}));
  EXPECT_EQ(fs::file_size(out_ / kFinal), 24u);
  const auto sidecar = readText(out_ / json);
  EXPECT_NE(sidecar.find("\"packets\": 0,"), std::string::npos) << sidecar;
  EXPECT_NE(sidecar.find("\"reason\": \"repaired\""), std::string::npos) << sidecar;
}

TEST_F(Leftovers, ARepairedPartIsCompressedAndGetsASidecarLikeAnyFinishedFile) {
  settings_.output.compression = compress::Compression::zstd;
  settings_.filter = "udp";
  // Killed in the middle of a record: the tail is cut, the rest stored.
  const auto whole = pcapBytes(3);
  writeFile(out_ / (std::string(kFinal) + ".part"), whole + whole.substr(24, 20));
  EXPECT_EQ(repairAndFinish(), 1u);

  const std::string stored = std::string(kFinal) + ".zst";
  EXPECT_EQ(names(), (std::vector<std::string>{stored, stored + ".idx", stored + ".json"}));
  const auto read = decompressed(stored);
  expectFrames(read, 3);

  const auto sidecar = readText(out_ / (stored + ".json"));
  util::UniqueFd fd(::open((out_ / stored).c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_NE(sidecar.find("\"sha256\": \"" + compress::sha256OfFile(fd.get()) + "\""),
            std::string::npos)
      << sidecar;
  EXPECT_NE(sidecar.find("\"reason\": \"repaired\""), std::string::npos) << sidecar;
  EXPECT_NE(sidecar.find("\"compression\": \"zstd\""), std::string::npos) << sidecar;
  EXPECT_NE(sidecar.find("\"packets\": 3,"), std::string::npos) << sidecar;
  EXPECT_NE(sidecar.find("\"bytes\": " + std::to_string(whole.size()) + ","), std::string::npos)
      << sidecar;
  EXPECT_NE(sidecar.find("\"first_packet\": \"1970-01-01T00:16:40.000250Z\""), std::string::npos)
      << sidecar;
  EXPECT_NE(sidecar.find("\"last_packet\": \"1970-01-01T00:16:42.000250Z\""), std::string::npos)
      << sidecar;
  EXPECT_NE(sidecar.find("\"filter\": \"udp\""), std::string::npos) << sidecar;
  ASSERT_EQ(announced_.size(), 1u) << "announced (FileFinished, hook) like any finished file";
  EXPECT_EQ(announced_.front().path, out_ / stored);
  EXPECT_EQ(announced_.front().reason, "repaired");
}

TEST_F(Leftovers, AFileWhoseCompressionWasInterruptedIsCompressedAgain) {
  settings_.output.compression = compress::Compression::zstd;
  const auto whole = pcapBytes(5);
  writeFile(out_ / kFinal, whole);
  // What a kill in the middle of compressFile() leaves: a `.part` of the compressed file.
  writeFile(out_ / (std::string(kFinal) + ".zst.part"), "\x28\xb5\x2f\xfd half a frame");
  EXPECT_EQ(repairAndFinish(), 1u);

  const std::string stored = std::string(kFinal) + ".zst";
  EXPECT_EQ(names(), (std::vector<std::string>{stored, stored + ".idx", stored + ".json"}))
      << "one whole copy, compressed, with its sidecar";
  const auto read = decompressed(stored);
  expectFrames(read, 5);
  const auto sidecar = readText(out_ / (stored + ".json"));
  EXPECT_NE(sidecar.find("\"packets\": 5,"), std::string::npos) << sidecar;
  EXPECT_NE(sidecar.find("\"reason\": \"repaired\""), std::string::npos) << sidecar;
}

// A run killed after a file's rename and before its announcement (its storing marker still
// there): the file is stored as any finished file, and the marker goes.
TEST_F(Leftovers, AFileRenamedButNotYetStoredIsStoredAtTheNextStart) {
  const auto whole = pcapBytes(3);
  writeFile(out_ / kFinal, whole);
  writeFile(out_ / (std::string(kFinal) + ".storing"), "");
  EXPECT_EQ(repairAndFinish(), 1u);

  EXPECT_EQ(names(), (std::vector<std::string>{kFinal, std::string(kFinal) + ".idx",
                                               std::string(kFinal) + ".json"}));
  expectFrames(testing::readPcapFile(out_ / kFinal), 3);
  const auto sidecar = readText(out_ / (std::string(kFinal) + ".json"));
  util::UniqueFd fd(::open((out_ / kFinal).c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_NE(sidecar.find("\"sha256\": \"" + compress::sha256OfFile(fd.get()) + "\""),
            std::string::npos)
      << sidecar;
  EXPECT_NE(sidecar.find("\"reason\": \"repaired\""), std::string::npos) << sidecar;
  ASSERT_EQ(announced_.size(), 1u) << "announced (FileFinished, hook)";
  EXPECT_EQ(announced_.front().path, out_ / kFinal);
}

// Killed before the rename: the `.part`'s repair stores the file; the marker adds no second job.
TEST_F(Leftovers, AMarkedFileStillUnderItsPartNameIsStoredOnce) {
  writeFile(out_ / (std::string(kFinal) + ".part"), pcapBytes(2));
  writeFile(out_ / (std::string(kFinal) + ".storing"), "");
  EXPECT_EQ(repairAndFinish(), 1u);
  EXPECT_EQ(names(), (std::vector<std::string>{kFinal, std::string(kFinal) + ".idx",
                                               std::string(kFinal) + ".json"}));
  EXPECT_EQ(announced_.size(), 1u);
}

// Killed while compressing a marked file: the compression is undone and the file stored once.
TEST_F(Leftovers, AMarkedFileWhoseCompressionWasInterruptedIsStoredOnce) {
  settings_.output.compression = compress::Compression::zstd;
  writeFile(out_ / kFinal, pcapBytes(4));
  writeFile(out_ / (std::string(kFinal) + ".zst.part"), "\x28\xb5\x2f\xfd half a frame");
  writeFile(out_ / (std::string(kFinal) + ".storing"), "");
  EXPECT_EQ(repairAndFinish(), 1u);
  const std::string stored = std::string(kFinal) + ".zst";
  EXPECT_EQ(names(), (std::vector<std::string>{stored, stored + ".idx", stored + ".json"}));
  EXPECT_EQ(announced_.size(), 1u);
}

// The files the repair hands on are marked until stored: a second kill before the finisher
// reaches them leaves them to the start after.
TEST_F(Leftovers, AFileTheRepairHandsOnIsMarkedUntilItIsStored) {
  writeFile(out_ / (std::string(kFinal) + ".part"), pcapBytes(2));
  const rotation::OwnFileMatcher own({{settings_.output.fileName, settings_.name}});
  auto jobs = repairLeftovers(out_, own, {settings_});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(names(), (std::vector<std::string>{kFinal, std::string(kFinal) + ".storing"}));
  {
    FileFinisher finisher({});
    finisher.submit(std::move(jobs.front()));
    finisher.stop();
  }
  EXPECT_EQ(names(), (std::vector<std::string>{kFinal, std::string(kFinal) + ".idx",
                                               std::string(kFinal) + ".json"}));
}

// A marked name held by a file not of this user's, or not a regular file, is not taken for one
// of the daemon's: left as it is.
TEST_F(Leftovers, AMarkedNameThatIsNotARegularFileIsNotStored) {
  fs::create_directory(out_ / kFinal);
  writeFile(out_ / (std::string(kFinal) + ".storing"), "");
  EXPECT_EQ(repairAndFinish(), 0u);
  EXPECT_TRUE(fs::is_directory(out_ / kFinal));
}

TEST_F(Leftovers, AMarkerWhoseFileIsGoneIsRemoved) {
  writeFile(out_ / (std::string(kFinal) + ".storing"), "");
  EXPECT_EQ(repairAndFinish(), 0u);
  EXPECT_EQ(names(), std::vector<std::string>{});
}

// Killed after the compressed copy was complete and the uncompressed one removed: the compressed
// file is kept as it is (it is whole), and the marker goes.
TEST_F(Leftovers, AMarkerOfAFileAlreadyCompressedIsRemovedAndTheFileKept) {
  settings_.output.compression = compress::Compression::zstd;
  const std::string compressed = std::string(kFinal) + ".zst";
  writeFile(out_ / compressed, "\x28\xb5\x2f\xfd whole enough for this test");
  writeFile(out_ / (std::string(kFinal) + ".storing"), "");
  EXPECT_EQ(repairAndFinish(), 0u);
  EXPECT_EQ(names(), std::vector<std::string>{compressed});
}

// Killed after NAME was removed for its compressed copy, before its index followed: the index
// goes with the compressed name (retention deletes it with that file; a NAME.idx would stay).
TEST_F(Leftovers, AMarkerOfAFileCompressedBeforeItsIndexFollowedMovesTheIndex) {
  settings_.output.compression = compress::Compression::zstd;
  const std::string compressed = std::string(kFinal) + ".zst";
  writeFile(out_ / compressed, "\x28\xb5\x2f\xfd whole enough for this test");
  writeFile(out_ / (std::string(kFinal) + ".idx"), "the index");
  writeFile(out_ / (std::string(kFinal) + ".storing"), "");
  EXPECT_EQ(repairAndFinish(), 0u);
  EXPECT_EQ(names(), (std::vector<std::string>{compressed, compressed + ".idx"}));
}

TEST_F(Leftovers, AMarkerOfANameNoInterfaceWritesIsLeftAlone) {
  writeFile(out_ / "notes.txt.storing", "");
  EXPECT_EQ(repairAndFinish(), 0u);
  EXPECT_EQ(names(), std::vector<std::string>{"notes.txt.storing"});
}

TEST_F(Leftovers, AnotherInterfacesFileIsStoredAsThatInterfaceSays) {
  config::InterfaceSettings other = settings_;
  other.name = "eth1";
  other.output.compression = compress::Compression::gzip;
  writeFile(out_ / "eth1-20261202T010203.pcap.part", pcapBytes(2));
  const rotation::OwnFileMatcher own(
      {{settings_.output.fileName, settings_.name}, {other.output.fileName, other.name}});
  auto jobs = repairLeftovers(out_, own, {settings_, other});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs.front().interface, "eth1");
  EXPECT_EQ(jobs.front().storage.compression, compress::Compression::gzip);
}

// An interface that spells the shared directory another way (a symbolic link) has its leftovers
// stored as it says too: a `.part` it was writing, and a file it had renamed but not stored.
TEST_F(Leftovers, AFileOfAnInterfaceSpellingTheDirectoryAnotherWayIsStored) {
  const fs::path alias = out_.parent_path() / "alias";
  fs::create_directory_symlink(out_, alias);
  config::InterfaceSettings other = settings_;
  other.name = "eth1";
  other.output.directory = alias;
  other.output.compression = compress::Compression::zstd;
  writeFile(out_ / "eth1-20261202T010203.pcap.part", pcapBytes(2));
  writeFile(out_ / "eth1-20261202T020203.pcap", pcapBytes(3));
  writeFile(out_ / "eth1-20261202T020203.pcap.storing", "");
  const rotation::OwnFileMatcher own(
      {{settings_.output.fileName, settings_.name}, {other.output.fileName, other.name}});
  auto jobs = repairLeftovers(out_, own, {settings_, other}, {alias});
  ASSERT_EQ(jobs.size(), 2u);
  for (const auto& job : jobs) {
    EXPECT_EQ(job.interface, "eth1");
    EXPECT_EQ(job.storage.compression, compress::Compression::zstd);
  }
  {
    FileFinisher finisher({});
    for (auto& job : jobs) finisher.submit(std::move(job));
    finisher.stop();
  }
  // Stored as eth1 says (zstd), with index and sidecar; no marker left for the start after.
  std::vector<std::string> expected;
  for (const std::string name :
       {"eth1-20261202T010203.pcap.zst", "eth1-20261202T020203.pcap.zst"}) {
    expected.insert(expected.end(), {name, name + ".idx", name + ".json"});
  }
  EXPECT_EQ(names(), expected);
  expectFrames(decompressed("eth1-20261202T020203.pcap.zst"), 3);
}

}  // namespace
}  // namespace pcap_recorder::service
