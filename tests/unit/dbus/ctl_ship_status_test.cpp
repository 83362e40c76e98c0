// The ship line of pcap-recorderctl status: the shipper's backlog from its status file, also
// when pcap-recorderd is not running.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "pcap_recorder/metrics/ship_text.hpp"
#include "ship_status.hpp"
#include "support/temp_dir.hpp"
#include "unit/dbus/private_bus.hpp"

namespace pcap_recorder::ctl {
namespace {

TEST(CtlShipStatus, SaysTheBacklogTheLastUploadAndTheFailures) {
  const auto text = metrics::renderShipPrometheusText(
      {.failures = 2, .backlogFiles = 7, .lastSuccessTimestamp = 1764657600.0});
  EXPECT_EQ(formatShipStatus(text, 1764657642.9),
            "ship: 7 files waiting for upload, last upload 2025-12-02T06:40:00Z (42 s ago), 2 "
            "failed (see journalctl -u pcap-recorder-ship)\n");
}

TEST(CtlShipStatus, SaysWhenNothingWasUploadedYet) {
  EXPECT_EQ(formatShipStatus(metrics::renderShipPrometheusText({.backlogFiles = 1}), 1e9),
            "ship: 1 file waiting for upload, no upload since the shipper started\n");
}

TEST(CtlShipStatus, NoFileNoLine) {
  EXPECT_EQ(formatShipStatus(std::nullopt, 1e9), "");
  EXPECT_EQ(formatShipStatus("garbage\n", 1e9), "ship: unreadable status file\n");
}

TEST(CtlShipStatus, StatusPrintsTheShipLineEvenWithoutTheDaemon) {
  pcap_recorder::testing::TempDir work;
  const auto file = work.path() / "ship.prom";
  std::ofstream(file) << metrics::renderShipPrometheusText({.backlogFiles = 3});
  const auto result = pcap_recorder::testing::runCommand(
      "DBUS_SESSION_BUS_ADDRESS=unix:path=" + (work.path() / "no-bus").string() + " " +
      PCAP_RECORDERCTL_PATH + " --user status --ship-status " + file.string());
  EXPECT_EQ(result.status, 3) << result.err;  // no pcap-recorderd on the session bus
  EXPECT_EQ(result.out, "ship: 3 files waiting for upload, no upload since the shipper started\n");
}

// The default file missing means no shipper here; one named on the command line may be a typo.
TEST(CtlShipStatus, AStatusFileNamedButUnreadableIsSaid) {
  pcap_recorder::testing::TempDir work;
  const auto missing = work.path() / "shp.prom";
  const auto result = pcap_recorder::testing::runCommand(
      "DBUS_SESSION_BUS_ADDRESS=unix:path=" + (work.path() / "no-bus").string() + " " +
      PCAP_RECORDERCTL_PATH + " --user status --ship-status " + missing.string());
  EXPECT_EQ(result.status, 3) << result.err;  // still: no pcap-recorderd on the session bus
  EXPECT_THAT(result.err, ::testing::HasSubstr("pcap-recorderctl: cannot read " + missing.string() +
                                               ": No such file or directory"));
}

}  // namespace
}  // namespace pcap_recorder::ctl
