// The shipper reads the sidecar the daemon writes: the same text, not a hand-made copy of it.
#include "sidecar_hash.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "pcap_recorder/service/sidecar.hpp"

namespace pcap_recorder::shipd {
namespace {

const std::string kDigest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

TEST(SidecarSha256, ReadsTheDigestFromTheDaemonsSidecar) {
  service::SidecarFields fields;
  fields.file = "eth0.pcap";
  fields.sha256 = kDigest;
  fields.filter = "\"sha256\": not this";  // a filter text cannot be mistaken for the key
  EXPECT_EQ(sidecarSha256(service::sidecarJson(fields)), kDigest);
}

TEST(SidecarSha256, AnEmptyDigestMeansComputeIt) {
  service::SidecarFields fields;
  EXPECT_EQ(sidecarSha256(service::sidecarJson(fields)), std::nullopt);
  EXPECT_EQ(sidecarSha256("{}\n"), std::nullopt);
}

TEST(SidecarSha256, RefusesAValueThatIsNotADigest) {
  EXPECT_THROW(sidecarSha256("{\"sha256\": \"abc\"}"), std::runtime_error);
  EXPECT_THROW(sidecarSha256("{\"sha256\": 12}"), std::runtime_error);
}

TEST(SidecarPathFor, AppendsJson) {
  EXPECT_EQ(sidecarPathFor("/d/x.pcap.zst"), "/d/x.pcap.zst.json");
}

}  // namespace
}  // namespace pcap_recorder::shipd
