// Retention that waits for the shipper (retention.keep_until_shipped, ship.delete_after_upload):
// the finisher on a real directory, with the shipper's state journal written as the shipper
// writes it.
#include <fcntl.h>
#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>

#include "pcap_recorder/compress/sha256.hpp"
#include "pcap_recorder/index/file_index.hpp"
#include "pcap_recorder/service/file_finisher.hpp"
#include "pcap_recorder/service/ship_confirmations.hpp"
#include "pcap_recorder/ship/ship_state.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::service {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

constexpr const char* kTemplate = "{interface}-%Y%m%dT%H%M%S.pcap";

// Five finished files a minute apart (oldest first), each with its sidecar and index.
std::vector<std::string> writeFiveFiles(const fs::path& directory) {
  fs::create_directories(directory);
  std::vector<std::string> names;
  for (int i = 1; i <= 5; ++i) {
    const std::string name = "eth0-20261202T00000" + std::to_string(i) + ".pcap";
    std::ofstream(directory / name) << "pcap " << i;
    std::ofstream(directory / (name + ".json")) << "{}\n";
    std::ofstream(directory / index::indexPathFor(name)) << "idx";
    const timespec times[2] = {{1'700'000'000 + i * 60, 0}, {1'700'000'000 + i * 60, 0}};
    EXPECT_EQ(::utimensat(AT_FDCWD, (directory / name).c_str(), times, 0), 0);
    names.push_back(name);
  }
  return names;
}

// As the shipper confirms `file`: with its size and SHA-256 (for a file not there: 6 bytes and a
// made-up digest).
void confirm(const fs::path& state, const fs::path& file) {
  std::uint64_t size = 6;
  std::string sha256(64, 'a');
  if (std::ifstream in{file, std::ios::binary}) {
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    compress::Sha256 hash;
    hash.update(std::as_bytes(std::span(bytes.data(), bytes.size())));
    size = bytes.size();
    sha256 = hash.hexDigest();
  }
  std::ofstream(state, std::ios::app) << ship::formatConfirmed(
      {file.string(), "k/" + file.filename().string(), size, sha256, "etag"});
}

// A file and its sidecar, as the shipper confirms them.
void confirmWithSidecar(const fs::path& state, const fs::path& file) {
  confirm(state, file);
  confirm(state, file.string() + ".json");
}

// The capture files left (not sidecars or indexes), sorted.
std::vector<std::string> pcapsIn(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) {
    const auto name = entry.path().filename().string();
    if (name.ends_with(".pcap")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void runRetention(const fs::path& directory, const rotation::RetentionLimits& limits,
                  const fs::path& state) {
  std::vector<DirectoryRetention> directories;
  directories.push_back({directory, limits,
                         rotation::OwnFileMatcher({rotation::OwnFileTemplate{kTemplate, "eth0"}}),
                         state});
  FileFinisher finisher(std::move(directories));
  finisher.requestRetention(directory);
  finisher.stop();
}

TEST(ShipRetention, KeepUntilShippedDeletesOnlyConfirmedFilesPastMaxFiles) {
  testing::TempDir dir;
  const auto names = writeFiveFiles(dir / "out");
  confirmWithSidecar(dir / "state", dir / "out" / names[1]);
  confirmWithSidecar(dir / "state", dir / "out" / names[3]);
  runRetention(dir / "out", {.maxFiles = 2, .minFreeBytes = 0, .keepUntilShipped = true},
               dir / "state");
  EXPECT_THAT(pcapsIn(dir / "out"), ElementsAre(names[0], names[2], names[4]));
  // A deleted file's companions go with it; a kept one's stay.
  EXPECT_FALSE(fs::exists(dir / "out" / (names[1] + ".json")));
  EXPECT_FALSE(fs::exists(dir / "out" / index::indexPathFor(names[1])));
  EXPECT_TRUE(fs::exists(dir / "out" / (names[0] + ".json")));
}

TEST(ShipRetention, WithoutKeepUntilShippedMaxFilesDeletesTheOldestAsBefore) {
  testing::TempDir dir;
  const auto names = writeFiveFiles(dir / "out");
  runRetention(dir / "out", {.maxFiles = 2, .minFreeBytes = 0}, dir / "state");
  EXPECT_THAT(pcapsIn(dir / "out"), ElementsAre(names[3], names[4]));
}

TEST(ShipRetention, AFileWhoseSidecarIsNotYetUploadedIsNotShipped) {
  testing::TempDir dir;
  const auto names = writeFiveFiles(dir / "out");
  for (const auto& name : names) confirm(dir / "state", dir / "out" / name);
  confirm(dir / "state", dir / "out" / (names[0] + ".json"));
  runRetention(dir / "out", {.minFreeBytes = 0, .keepUntilShipped = true, .deleteShipped = true},
               dir / "state");
  EXPECT_THAT(pcapsIn(dir / "out"), ElementsAre(names[1], names[2], names[3], names[4]));
}

TEST(ShipRetention, AMissingStateConfirmsNothingSoNothingIsDeleted) {
  testing::TempDir dir;
  const auto names = writeFiveFiles(dir / "out");
  runRetention(dir / "out", {.maxFiles = 1, .minFreeBytes = 0, .keepUntilShipped = true},
               dir / "no-such-state");
  EXPECT_EQ(pcapsIn(dir / "out").size(), 5u);
}

TEST(ShipRetention, DeleteAfterUploadDeletesConfirmedFilesWithTheirCompanionsWithoutLimits) {
  testing::TempDir dir;
  const auto names = writeFiveFiles(dir / "out");
  // Named as the config might write the directory: compared lexically normalised.
  confirmWithSidecar(dir / "state", dir / "out/./" / names[2]);
  runRetention(dir / "out", {.minFreeBytes = 0, .keepUntilShipped = true, .deleteShipped = true},
               dir / "state");
  EXPECT_THAT(pcapsIn(dir / "out"), ElementsAre(names[0], names[1], names[3], names[4]));
  EXPECT_FALSE(fs::exists(dir / "out" / (names[2] + ".json")));
  EXPECT_FALSE(fs::exists(dir / "out" / index::indexPathFor(names[2])));
}

// A new file named as one shipped and deleted before (`{seq}` counting again after a restart, a
// time slot's name after one): the old confirmation is not the new file's, which is kept until it
// is shipped itself. With its own sidecar, also when it is the same size.
TEST(ShipRetention, ANewFileNamedAsOneShippedBeforeIsNotShipped) {
  testing::TempDir dir;
  const auto names = writeFiveFiles(dir / "out");
  const auto reused = dir / "out" / names[2];
  confirmWithSidecar(dir / "state", reused);
  std::ofstream(reused) << "a newer capture";
  std::ofstream(reused.string() + ".json") << "{\"sha256\": \"" << std::string(64, 'b') << "\"}\n";
  const rotation::RetentionLimits deleteShipped{
      .minFreeBytes = 0, .keepUntilShipped = true, .deleteShipped = true};
  runRetention(dir / "out", deleteShipped, dir / "state");
  EXPECT_EQ(pcapsIn(dir / "out").size(), 5u);
  std::ofstream(reused) << "pcap 9";  // the size confirmed
  runRetention(dir / "out", deleteShipped, dir / "state");
  EXPECT_EQ(pcapsIn(dir / "out").size(), 5u);
  // Once the shipper sent the new file and its sidecar, it goes.
  confirmWithSidecar(dir / "state", reused);
  runRetention(dir / "out", deleteShipped, dir / "state");
  EXPECT_THAT(pcapsIn(dir / "out"), ElementsAre(names[0], names[1], names[3], names[4]));
}

TEST(ShipConfirmations, ReadsTheJournalAgainWhenTheShipperAppends) {
  testing::TempDir dir;
  ShipConfirmations confirmations(dir / "state");
  confirmations.refresh();
  EXPECT_FALSE(confirmations.confirmed(dir / "a.pcap", 6));
  confirm(dir / "state", dir / "a.pcap");
  confirmations.refresh();
  EXPECT_TRUE(confirmations.confirmed(dir / "a.pcap", 6));
  EXPECT_FALSE(confirmations.confirmed(dir / "b.pcap", 6));
  // A line being written (no newline yet) is not a confirmation.
  std::ofstream(dir / "state", std::ios::app) << "confirmed " << (dir / "b.pcap").string();
  confirmations.refresh();
  EXPECT_FALSE(confirmations.confirmed(dir / "b.pcap", 6));
  EXPECT_TRUE(confirmations.confirmed(dir / "a.pcap", 6));
}

TEST(ShipConfirmations, AnUnreadableJournalConfirmsNothing) {
  testing::TempDir dir;
  confirm(dir / "state", dir / "a.pcap");
  ShipConfirmations confirmations(dir / "state");
  confirmations.refresh();
  ASSERT_TRUE(confirmations.confirmed(dir / "a.pcap", 6));
  std::ofstream(dir / "state", std::ios::app) << "garbage line\n";
  confirmations.refresh();
  EXPECT_FALSE(confirmations.confirmed(dir / "a.pcap", 6));
}

}  // namespace
}  // namespace pcap_recorder::service
