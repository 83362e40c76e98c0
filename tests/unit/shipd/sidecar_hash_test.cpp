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

// A JSON text is UTF-8, and strict readers refuse the whole sidecar otherwise: a path's bytes
// that are not (a directory named in Latin-1) become U+FFFD.
TEST(SidecarSha256, TheSidecarIsUtf8WhateverTheBytesOfThePath) {
  service::SidecarFields fields;
  fields.file = "eth0.pcap";
  fields.path = "/srv/M\xe4rz/eth0.pcap";
  fields.interface = "caf\xC3\xA9";
  fields.sha256 = kDigest;
  const auto json = service::sidecarJson(fields);
  EXPECT_NE(json.find("\"/srv/M\xEF\xBF\xBDrz/eth0.pcap\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"caf\xC3\xA9\""), std::string::npos) << json;
  EXPECT_EQ(json.find('\xe4'), std::string::npos) << json;
  EXPECT_EQ(sidecarSha256(json), kDigest);
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
