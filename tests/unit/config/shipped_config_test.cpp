// The example config installed as /etc/pcap-recorder/pcap-recorder.yaml is valid as shipped and
// states the defaults the code uses.
#include <gtest/gtest.h>

#include "pcap_recorder/config/config.hpp"

namespace pcap_recorder::config {
namespace {

TEST(ShippedConfig, ParsesAndMatchesTheBuiltInDefaults) {
  const auto config = load(PCAP_RECORDER_SOURCE_DIR "/etc/pcap-recorder/pcap-recorder.yaml");
  ASSERT_EQ(config.interfaces.size(), 1u);
  const auto& shipped = config.interfaces.front();
  const InterfaceSettings defaults;
  EXPECT_EQ(shipped.name, "eth0");
  EXPECT_EQ(shipped.filter, "");
  EXPECT_EQ(shipped.output.directory, defaults.output.directory);
  EXPECT_EQ(shipped.output.fileName, defaults.output.fileName);
  EXPECT_EQ(shipped.output.snaplen, defaults.output.snaplen);
  EXPECT_EQ(shipped.output.timestamp, defaults.output.timestamp);
  EXPECT_EQ(shipped.capture.ringBytes, defaults.capture.ringBytes);
  EXPECT_EQ(shipped.capture.promiscuous, defaults.capture.promiscuous);
  EXPECT_EQ(shipped.output.fileMode, defaults.output.fileMode);
  EXPECT_EQ(shipped.output.postFinishCommand, defaults.output.postFinishCommand);
  EXPECT_EQ(shipped.output.postFinishTimeout, defaults.output.postFinishTimeout);
  EXPECT_EQ(shipped.output.postFinishMaxRunning, defaults.output.postFinishMaxRunning);
  EXPECT_EQ(shipped.output.index, defaults.output.index);
  EXPECT_EQ(shipped.output.keepEmptyFiles, defaults.output.keepEmptyFiles);
  EXPECT_EQ(shipped.rotate.maxFileBytes, defaults.rotate.maxFileBytes);
  EXPECT_EQ(shipped.rotate.interval, defaults.rotate.interval);
  EXPECT_EQ(shipped.rotate.maxPackets, defaults.rotate.maxPackets);
  EXPECT_EQ(shipped.retention.maxFiles, defaults.retention.maxFiles);
  EXPECT_EQ(shipped.retention.maxTotalBytes, defaults.retention.maxTotalBytes);
  EXPECT_EQ(shipped.retention.maxAge, defaults.retention.maxAge);
  EXPECT_EQ(shipped.retention.minFreeBytes, defaults.retention.minFreeBytes);
}

}  // namespace
}  // namespace pcap_recorder::config
