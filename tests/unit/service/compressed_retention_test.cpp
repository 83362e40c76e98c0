// Retention over compressed files: they count with their stored size, go oldest first under
// their final names (`.pcap.zst`, `.pcap.gz`), and take their sidecar and index with them; a
// compression being written (`.zst.part`) is neither counted nor deleted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "pcap_recorder/service/file_finisher.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/aged_files.hpp"
#include "support/directory.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::service {
namespace {

namespace fs = std::filesystem;

class CompressedRetention : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::storedWithIndexAndSidecar(dir_ / "lan0-20261201T100000.pcap.zst", 1000,
                                       std::chrono::hours(4));
    testing::storedWithIndexAndSidecar(dir_ / "lan0-20261201T110000.pcap.gz", 1000,
                                       std::chrono::hours(3));
    testing::storedWithIndexAndSidecar(dir_ / "lan0-20261201T120000.pcap", 1000,
                                       std::chrono::hours(2));
    // Being compressed as retention runs: not a finished file.
    testing::writeAged(dir_ / "lan0-20261201T120000.pcap.zst.part", 5000, std::chrono::hours(5));
  }

  void applyRetention(const rotation::RetentionLimits& limits) {
    std::vector<DirectoryRetention> directories;
    directories.push_back({dir_.path(), limits, rotation::OwnFileMatcher(templates_)});
    FileFinisher finisher(std::move(directories));
    finisher.requestRetention(dir_.path());
    finisher.stop();
  }

  void expectAll(const std::string& name, bool there) {
    for (const std::string suffix : {"", ".idx", ".json"}) {
      EXPECT_EQ(fs::exists(dir_ / (name + suffix)), there) << name + suffix;
    }
  }

  testing::TempDir dir_;
  const std::vector<rotation::OwnFileTemplate> templates_{
      {"{interface}-%Y%m%dT%H%M%S.pcap", "lan0"}};
};

TEST_F(CompressedRetention, CountsCompressedFilesByTheirStoredSizeUnderTheirFinalNames) {
  const util::UniqueFd directory = testing::openDirectory(dir_.path());
  const auto listing =
      rotation::listOwnFiles(directory.get(), rotation::OwnFileMatcher(templates_), ::geteuid());
  ASSERT_EQ(listing.error, 0);
  std::vector<std::pair<std::string, std::uint64_t>> files;
  for (const auto& file : listing.files) files.emplace_back(file.name, file.bytes);
  EXPECT_EQ(files, (std::vector<std::pair<std::string, std::uint64_t>>{
                       {"lan0-20261201T100000.pcap.zst", 1000},
                       {"lan0-20261201T110000.pcap.gz", 1000},
                       {"lan0-20261201T120000.pcap", 1000},
                   }));
}

TEST_F(CompressedRetention, MaxTotalSizeDeletesTheOldestCompressedFilesWithSidecarAndIndex) {
  rotation::RetentionLimits limits;
  limits.maxTotalBytes = 1500;  // the three stored files take 3000
  applyRetention(limits);
  expectAll("lan0-20261201T100000.pcap.zst", false);
  expectAll("lan0-20261201T110000.pcap.gz", false);
  expectAll("lan0-20261201T120000.pcap", true);
  EXPECT_TRUE(fs::exists(dir_ / "lan0-20261201T120000.pcap.zst.part"))
      << "a compression being written is not retention's";
}

TEST_F(CompressedRetention, MaxFilesCountsCompressedFilesAndKeepsTheNewest) {
  rotation::RetentionLimits limits;
  limits.maxFiles = 2;
  applyRetention(limits);
  expectAll("lan0-20261201T100000.pcap.zst", false);
  expectAll("lan0-20261201T110000.pcap.gz", true);
  expectAll("lan0-20261201T120000.pcap", true);
}

}  // namespace
}  // namespace pcap_recorder::service
