// The `ship:` section, read for pcap-recorder-shipd.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pcap_recorder/config/config.hpp"
#include "unit/config/parse_helpers.hpp"

namespace pcap_recorder::config {
namespace {

using ::testing::HasSubstr;

TEST(ShipConfig, WithoutAShipSectionNothingIsShipped) {
  EXPECT_FALSE(parse("interfaces:\n  - name: eth0\n", "test.yaml").daemon.ship.configured);
}

TEST(ShipConfig, ReadsEveryKey) {
  const auto ship =
      parse(
          "ship:\n  endpoint: https://s3.example.net:9000\n  bucket: pcaps\n"
          "  prefix: site1/{host}/%Y\n  region: eu-central-1\n  path_style: true\n"
          "  parallel: 8\n  parallel_files: 3\n  max_rate: 100MiB\n  ca_file: /etc/ssl/ca.pem\n"
          "  credentials: /etc/pcap-recorder/s3-credentials\n"
          "interfaces:\n  - name: eth0\n",
          "test.yaml")
          .daemon.ship;
  EXPECT_TRUE(ship.configured);
  EXPECT_EQ(ship.endpoint, "https://s3.example.net:9000");
  EXPECT_EQ(ship.bucket, "pcaps");
  EXPECT_EQ(ship.prefix, "site1/{host}/%Y");
  EXPECT_EQ(ship.region, "eu-central-1");
  EXPECT_TRUE(ship.pathStyle);
  EXPECT_EQ(ship.parallel, 8u);
  EXPECT_EQ(ship.parallelFiles, 3u);
  EXPECT_EQ(ship.maxRate, 100ull << 20);
  EXPECT_EQ(ship.caFile, "/etc/ssl/ca.pem");
  EXPECT_EQ(ship.credentials, "/etc/pcap-recorder/s3-credentials");
}

TEST(ShipConfig, DefaultsFileByHostInterfaceAndDayWithVirtualHostBuckets) {
  const auto ship = parse(
                        "ship:\n  endpoint: https://s3.example.net\n  bucket: b\n"
                        "  credentials: /c\ninterfaces:\n  - name: eth0\n",
                        "test.yaml")
                        .daemon.ship;
  EXPECT_EQ(ship.prefix, "{host}/{interface}/%Y/%m/%d");
  EXPECT_EQ(ship.region, "us-east-1");
  EXPECT_FALSE(ship.pathStyle);
  EXPECT_EQ(ship.parallel, 4u);
  EXPECT_EQ(ship.parallelFiles, 1u);
  EXPECT_EQ(ship.maxRate, 0u);
}

TEST(ShipConfig, RetentionKeepsUnshippedFilesByDefaultOnlyWhenShipping) {
  const std::string ship =
      "ship:\n  endpoint: https://s3.example.net\n  bucket: b\n  credentials: /c\n";
  const auto shipping = parse(ship + "interfaces:\n  - name: eth0\n", "test.yaml");
  EXPECT_EQ(shipping.interfaces.at(0).retention.keepUntilShipped, true);
  EXPECT_EQ(shipping.daemon.ship.state, "/var/lib/pcap-recorder-ship/state");
  EXPECT_FALSE(shipping.daemon.ship.deleteAfterUpload);
  const auto local = parse("interfaces:\n  - name: eth0\n", "test.yaml");
  EXPECT_EQ(local.interfaces.at(0).retention.keepUntilShipped, false);
}

TEST(ShipConfig, KeepUntilShippedIsSetPerInterfaceAndDeleteAfterUploadForAll) {
  const auto config = parse(
      "ship:\n  endpoint: https://s3.example.net\n  bucket: b\n  credentials: /c\n"
      "  state: /srv/ship/state\n  delete_after_upload: true\n"
      "retention:\n  keep_until_shipped: false\n"
      "interfaces:\n  - name: eth0\n  - name: eth1\n    keep_until_shipped: true\n",
      "test.yaml");
  EXPECT_EQ(config.interfaces.at(0).retention.keepUntilShipped, false);
  EXPECT_EQ(config.interfaces.at(1).retention.keepUntilShipped, true);
  EXPECT_EQ(config.daemon.ship.state, "/srv/ship/state");
  EXPECT_TRUE(config.daemon.ship.deleteAfterUpload);
}

TEST(ShipConfig, MetricsTextfileIsAnAbsolutePromFile) {
  EXPECT_EQ(parse("ship:\n  endpoint: http://h\n  bucket: b\n  credentials: /c\n"
                  "  metrics_textfile: /var/lib/node-exporter/pcap-recorder-ship.prom\n"
                  "interfaces:\n  - name: eth0\n",
                  "test.yaml")
                .daemon.ship.metricsTextfile,
            "/var/lib/node-exporter/pcap-recorder-ship.prom");
  EXPECT_THAT(firstProblem("ship:\n  endpoint: http://h\n  bucket: b\n  credentials: /c\n"
                           "  metrics_textfile: ship.txt\ninterfaces:\n  - name: eth0\n"),
              HasSubstr("ship.metrics_textfile must be an absolute path"));
}

TEST(ShipConfig, EndpointBucketAndCredentialsAreRequired) {
  EXPECT_EQ(firstProblem("ship:\n  bucket: b\n  credentials: /c\ninterfaces:\n  - name: eth0\n"),
            "test.yaml:1:1: ship needs endpoint");
  EXPECT_EQ(firstProblem("ship:\ninterfaces:\n  - name: eth0\n"),
            "test.yaml:1:1: ship needs endpoint");
}

TEST(ShipConfig, UnknownKeysAndBadValuesAreNamed) {
  EXPECT_THAT(firstProblem("ship:\n  endpoint: http://h\n  bucket: b\n  credentials: /c\n"
                           "  secret_key: x\ninterfaces:\n  - name: eth0\n"),
              HasSubstr("test.yaml:5:3: unknown key"));
  EXPECT_THAT(firstProblem("ship:\n  endpoint: http://h\n  bucket: b\n  credentials: /c\n"
                           "  parallel: 0\ninterfaces:\n  - name: eth0\n"),
              HasSubstr("test.yaml:5:"));
  EXPECT_THAT(
      firstProblem("ship:\n  endpoint: http://h\n  bucket: b\n  credentials: /c\n"
                   "  parallel_files: 17\ninterfaces:\n  - name: eth0\n"),
      HasSubstr("test.yaml:5:19: ship.parallel_files must be between 1 and 16, got \"17\""));
}

// The shipper gives up on a request slower than a byte a second; the rate is shared by them all.
TEST(ShipConfig, MaxRateLeavesEveryRequestInFlightAtLeastAKibibyteASecond) {
  const std::string ship = "ship:\n  endpoint: http://h\n  bucket: b\n  credentials: /c\n";
  EXPECT_EQ(firstProblem(ship + "  parallel: 4\n  parallel_files: 2\n  max_rate: 4KiB\n"
                                "interfaces:\n  - name: eth0\n"),
            "test.yaml:7:13: ship.max_rate must be 0 (no limit) or at least 1KiB a second for each "
            "of the 8 requests in flight (parallel 4 x parallel_files 2): 8KiB, got 4KiB; slower, "
            "a request cannot be told from a hung one");
  EXPECT_EQ(firstProblem(ship + "  parallel: 4\n  parallel_files: 2\n  max_rate: 8KiB\n"
                                "interfaces:\n  - name: eth0\n"),
            "no problem");
  EXPECT_EQ(firstProblem(ship + "  max_rate: 0\ninterfaces:\n  - name: eth0\n"), "no problem");
}

}  // namespace
}  // namespace pcap_recorder::config
