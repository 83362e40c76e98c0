// Counters that survive a recorder being re-created (a reload restart, an interface deleted and
// made again): Prometheus' rate() reads a counter going back as a restart of the process.
#include "pcap_recorder/metrics/interface_totals.hpp"

#include <gtest/gtest.h>

namespace pcap_recorder::metrics {
namespace {

TEST(InterfaceTotals, CountsGoOnAcrossARecreatedRecorder) {
  InterfaceTotals totals;
  auto first = std::make_shared<stats::InterfaceCounters>();
  totals.attach("eth0", first);
  first->addWritten(10, 1000);
  first->addKernelStatistics(12, 2);
  first->addFileWritten();
  first->addFileWritten();
  first->addFileWithoutSha256();
  EXPECT_EQ(totals.total("eth0").packetsWritten, 10u);

  // The recorder goes (its counters with it), a new one starts from 0.
  first.reset();
  auto second = std::make_shared<stats::InterfaceCounters>();
  totals.attach("eth0", second);
  const auto afterRecreation = totals.total("eth0");
  EXPECT_EQ(afterRecreation.packetsWritten, 10u);
  EXPECT_EQ(afterRecreation.bytesWritten, 1000u);
  EXPECT_EQ(afterRecreation.kernelDrops, 2u);
  EXPECT_EQ(afterRecreation.filesWritten, 2u);
  EXPECT_EQ(afterRecreation.filesWithoutSha256, 1u);

  second->addWritten(5, 500);
  second->addLostToDisk(1);
  second->addFileWritten();
  second->addFileWithoutSha256();
  const auto later = totals.total("eth0");
  EXPECT_EQ(later.packetsWritten, 15u);
  EXPECT_EQ(later.bytesWritten, 1500u);
  EXPECT_EQ(later.packetsLostToDisk, 1u);
  EXPECT_EQ(later.filesWithoutSha256, 2u);
  EXPECT_EQ(totals.total("eth1").packetsWritten, 0u) << "another interface counts alone";
}

// A reload that restarts an interface runs the old recorder (draining) and its replacement side
// by side for a moment, and the old one's last file is finished after it is gone.
TEST(InterfaceTotals, ARetiredRecorderStillCountsWhatItsLastFileAdds) {
  InterfaceTotals totals;
  auto old = std::make_shared<stats::InterfaceCounters>();
  auto replacement = std::make_shared<stats::InterfaceCounters>();
  totals.attach("eth0", old);
  totals.attach("eth0", replacement);
  old->addWritten(3, 300);
  replacement->addWritten(4, 400);
  EXPECT_EQ(totals.total("eth0").packetsWritten, 7u);
  // Only the finisher's callback still holds the old counters; it reports the file finished.
  auto callback = old;
  old.reset();
  EXPECT_EQ(totals.total("eth0").filesWritten, 0u);
  callback->addFileWritten();
  callback->addFileWithoutSha256();
  callback.reset();
  EXPECT_EQ(totals.total("eth0").filesWritten, 1u);
  EXPECT_EQ(totals.total("eth0").filesWithoutSha256, 1u);
  EXPECT_EQ(totals.total("eth0").packetsWritten, 7u) << "folded once, not twice";
}

TEST(InterfaceTotals, NoCounterEverGoesBack) {
  InterfaceTotals totals;
  auto counters = std::make_shared<stats::InterfaceCounters>();
  totals.attach("eth0", counters);
  counters->addWritten(10, 1000);
  EXPECT_EQ(totals.total("eth0").packetsWritten, 10u);
  // The file went with its removed directory: its records move from written to lost.
  counters->moveWrittenToLost(4, 400);
  const auto after = totals.total("eth0");
  EXPECT_EQ(after.packetsWritten, 10u);
  EXPECT_EQ(after.bytesWritten, 1000u);
  EXPECT_EQ(after.packetsLostToDisk, 4u);
  counters->addWritten(6, 600);
  EXPECT_EQ(totals.total("eth0").packetsWritten, 12u) << "the real count passed the floor again";
}

}  // namespace
}  // namespace pcap_recorder::metrics
