// The finisher's part in retrieval: retention deletes a file's index together with the file.
#include <gtest/gtest.h>
#include <chrono>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "pcap_recorder/index/file_index.hpp"
#include "pcap_recorder/service/file_finisher.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::service {
namespace {

namespace fs = std::filesystem;

void touch(const fs::path& path, std::chrono::hours age) {
  std::ofstream(path) << "data";
  fs::last_write_time(path, fs::file_time_type::clock::now() - age);
}

TEST(FileFinisherIndexTest, RetentionDeletesTheIndexWithItsFile) {
  testing::TempDir dir;
  touch(dir / "lan0-20261201T100000.pcap", std::chrono::hours(3));
  touch(dir / "lan0-20261201T100000.pcap.idx", std::chrono::hours(3));
  touch(dir / "lan0-20261201T110000.pcap", std::chrono::hours(2));
  touch(dir / "lan0-20261201T110000.pcap.idx", std::chrono::hours(2));
  rotation::RetentionLimits limits;
  limits.maxFiles = 1;
  const std::vector<rotation::OwnFileTemplate> templates{
      {"{interface}-%Y%m%dT%H%M%S.pcap", "lan0"}};
  std::vector<DirectoryRetention> directories;
  directories.push_back({dir.path(), limits, rotation::OwnFileMatcher(templates)});
  FileFinisher finisher(std::move(directories));
  finisher.requestRetention(dir.path());
  finisher.stop();
  EXPECT_FALSE(fs::exists(dir / "lan0-20261201T100000.pcap"));
  EXPECT_FALSE(fs::exists(dir / "lan0-20261201T100000.pcap.idx"));
  EXPECT_TRUE(fs::exists(dir / "lan0-20261201T110000.pcap"));
  EXPECT_TRUE(fs::exists(dir / "lan0-20261201T110000.pcap.idx"));
}

// The finisher hands retention each capture's index and sidecar: max_total_size counts them.
TEST(FileFinisherIndexTest, MaxTotalSizeCountsTheIndexAndSidecarBesideEachFile) {
  testing::TempDir dir;
  for (const auto& [name, age] :
       {std::pair{"lan0-20261201T100000.pcap", 3}, std::pair{"lan0-20261201T110000.pcap", 2}}) {
    touch(dir / name, std::chrono::hours(age));  // 4 bytes each
    std::ofstream(dir / (std::string(name) + ".idx")) << std::string(600, 'i');
    std::ofstream(dir / (std::string(name) + ".json")) << std::string(100, 'j');
  }
  rotation::RetentionLimits limits;
  limits.maxTotalBytes = 1000;  // 1,408 bytes stored, 8 of them captures
  const std::vector<rotation::OwnFileTemplate> templates{
      {"{interface}-%Y%m%dT%H%M%S.pcap", "lan0"}};
  std::vector<DirectoryRetention> directories;
  directories.push_back({dir.path(), limits, rotation::OwnFileMatcher(templates)});
  FileFinisher finisher(std::move(directories));
  finisher.requestRetention(dir.path());
  finisher.stop();
  EXPECT_FALSE(fs::exists(dir / "lan0-20261201T100000.pcap"));
  EXPECT_FALSE(fs::exists(dir / "lan0-20261201T100000.pcap.json"));
  EXPECT_TRUE(fs::exists(dir / "lan0-20261201T110000.pcap"));
}

}  // namespace
}  // namespace pcap_recorder::service
