// output.compression and output.compression_level.
#include <gtest/gtest.h>

#include "pcap_recorder/config/config.hpp"
#include "unit/config/parse_helpers.hpp"

namespace pcap_recorder::config {
namespace {

using compress::Compression;

TEST(CompressionConfig, IsOffByDefaultAndReadGloballyAndPerInterface) {
  const auto config = parsed(
      "output:\n  compression: zstd\n  compression_level: 7\n"
      "interfaces:\n  - name: eth0\n  - name: eth1\n    compression: gzip\n"
      "    compression_level: 9\n  - name: eth2\n    output:\n      compression: none\n");
  EXPECT_EQ(config.interfaces[0].output.compression, Compression::zstd);
  EXPECT_EQ(config.interfaces[0].output.compressionLevel, 7u);
  EXPECT_EQ(config.interfaces[1].output.compression, Compression::gzip);
  EXPECT_EQ(config.interfaces[1].output.compressionLevel, 9u);
  EXPECT_EQ(config.interfaces[2].output.compression, Compression::none);
  const auto defaults = parsed("interfaces:\n  - name: eth0\n").interfaces[0].output;
  EXPECT_EQ(defaults.compression, Compression::none);
  EXPECT_EQ(defaults.compressionLevel, 0u);  // the compression's own default
}

// output.sha256: the sidecar's hash, on unless turned off, globally or per interface.
TEST(CompressionConfig, TheSidecarHashIsOnByDefaultAndTurnedOffGloballyOrPerInterface) {
  const auto config = parsed(
      "output:\n  sha256: false\ninterfaces:\n  - name: eth0\n  - name: eth1\n"
      "    sha256: true\n");
  EXPECT_FALSE(config.interfaces[0].output.sha256);
  EXPECT_TRUE(config.interfaces[1].output.sha256);
  EXPECT_TRUE(parsed("interfaces:\n  - name: eth0\n").interfaces[0].output.sha256);
  EXPECT_NE(firstProblem("output:\n  sha256: maybe\ninterfaces:\n  - name: eth0\n"), "no problem");
}

TEST(CompressionConfig, RefusesUnknownCompressionsWithTheirPlace) {
  const auto problem = firstProblem("output:\n  compression: lz4\ninterfaces:\n  - name: eth0\n");
  EXPECT_NE(problem.find("test.yaml:2:16:"), std::string::npos) << problem;
  EXPECT_NE(problem.find("none, gzip or zstd"), std::string::npos) << problem;
}

// output.compression_frame_size: zstd's frames (extract seeks into them), 0 for one frame.
TEST(CompressionConfig, FrameSizeIsOneMebibyteByDefaultZeroForOneFrameAndBounded) {
  EXPECT_EQ(parsed("interfaces:\n  - name: eth0\n").interfaces[0].output.compressionFrameBytes,
            1u << 20);
  const auto config = parsed(
      "output:\n  compression: zstd\n  compression_frame_size: 0\n"
      "interfaces:\n  - name: eth0\n  - name: eth1\n    compression_frame_size: 4MiB\n");
  EXPECT_EQ(config.interfaces[0].output.compressionFrameBytes, 0u);
  EXPECT_EQ(config.interfaces[1].output.compressionFrameBytes, 4u << 20);
  EXPECT_NE(firstProblem("output:\n  compression_frame_size: 32KiB\ninterfaces:\n  - name: eth0\n")
                .find("test.yaml:2:27: output.compression_frame_size must be 0 (one frame per "
                      "file) or at least 64KiB"),
            std::string::npos);
  EXPECT_NE(firstProblem("output:\n  compression_frame_size: 65MiB\ninterfaces:\n  - name: eth0\n")
                .find("test.yaml:2:27:"),
            std::string::npos);
}

TEST(CompressionConfig, LevelsAreBoundedByTheirCompression) {
  for (const char* value : {"0", "20", "-1", "fast"}) {
    EXPECT_NE(firstProblem(std::string("output:\n  compression: zstd\n  compression_level: ") +
                           value + "\ninterfaces:\n  - name: eth0\n")
                  .find("test.yaml:3:22:"),
              std::string::npos)
        << value;
  }
  // gzip stops at 9, known only once both keys are read; the message points at the level.
  const auto problem = firstProblem(
      "interfaces:\n  - name: eth0\n    compression: gzip\n    compression_level: 12\n");
  EXPECT_NE(problem.find("test.yaml:4:24:"), std::string::npos) << problem;
  EXPECT_NE(problem.find("above 9"), std::string::npos) << problem;
  EXPECT_EQ(firstProblem("interfaces:\n  - name: eth0\n    compression: zstd\n"
                         "    compression_level: 12\n"),
            "no problem");
}

}  // namespace
}  // namespace pcap_recorder::config
