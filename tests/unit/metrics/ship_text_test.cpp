// The shipper's Prometheus text, and reading its backlog back for pcap-recorderctl status.
#include "pcap_recorder/metrics/ship_text.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pcap_recorder::metrics {
namespace {

TEST(ShipText, EveryFamilyHasItsExactNameHelpTypeAndValue) {
  const auto text = renderShipPrometheusText({.filesShipped = 12,
                                              .bytesShipped = 3'000'000'000,
                                              .failures = 2,
                                              .backlogFiles = 5,
                                              .lastSuccessTimestamp = 1764657600.25});
  EXPECT_EQ(text,
            "# HELP pcap_recorder_ship_files_total Files uploaded and confirmed (size, ETag and "
            "SHA-256 checked).\n"
            "# TYPE pcap_recorder_ship_files_total counter\n"
            "pcap_recorder_ship_files_total 12\n"
            "# HELP pcap_recorder_ship_bytes_total Bytes of the files uploaded and confirmed.\n"
            "# TYPE pcap_recorder_ship_bytes_total counter\n"
            "pcap_recorder_ship_bytes_total 3000000000\n"
            "# HELP pcap_recorder_ship_failures_total File uploads that failed after their "
            "requests' retries (the file is tried again later).\n"
            "# TYPE pcap_recorder_ship_failures_total counter\n"
            "pcap_recorder_ship_failures_total 2\n"
            "# HELP pcap_recorder_ship_backlog_files Finished capture files not yet confirmed "
            "uploaded.\n"
            "# TYPE pcap_recorder_ship_backlog_files gauge\n"
            "pcap_recorder_ship_backlog_files 5\n"
            "# HELP pcap_recorder_ship_last_success_timestamp_seconds Time of the last confirmed "
            "upload; 0 when there was none since the shipper started.\n"
            "# TYPE pcap_recorder_ship_last_success_timestamp_seconds gauge\n"
            "pcap_recorder_ship_last_success_timestamp_seconds 1764657600.250\n");
}

TEST(ShipText, WithoutASuccessTheTimestampIsZero) {
  EXPECT_THAT(renderShipPrometheusText({}),
              ::testing::HasSubstr("\npcap_recorder_ship_last_success_timestamp_seconds 0.000\n"));
}

TEST(ShipText, ReadsBackWhatItWrote) {
  const auto reading = readShipPrometheusText(renderShipPrometheusText(
      {.failures = 3, .backlogFiles = 41, .lastSuccessTimestamp = 1764657600.5}));
  EXPECT_EQ(reading.backlogFiles, 41u);
  EXPECT_EQ(reading.failures, 3u);
  EXPECT_EQ(reading.lastSuccessTimestamp, 1764657600.5);
}

TEST(ShipText, AFileWithoutTheFamiliesReadsAsNone) {
  const auto reading = readShipPrometheusText(
      "# TYPE pcap_recorder_ship_backlog_files gauge\npcap_recorder_ship_backlog_files\n"
      "pcap_recorder_ship_failures_total x\nsomething_else 4\n");
  EXPECT_FALSE(reading.backlogFiles);
  EXPECT_FALSE(reading.failures);
  EXPECT_FALSE(reading.lastSuccessTimestamp);
}

}  // namespace
}  // namespace pcap_recorder::metrics
