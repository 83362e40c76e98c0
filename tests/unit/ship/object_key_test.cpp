#include "pcap_recorder/ship/object_key.hpp"
#include "pcap_recorder/ship/uploader.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "support/time_zone.hpp"

namespace pcap_recorder::ship {
namespace {

// 2026-03-04 05:06:07 UTC. The using-directive stays in the lambda: in a unity build a
// namespace-scope one would reach the ship tests compiled after this file.
const std::chrono::system_clock::time_point kFinished = [] {
  using namespace std::chrono;
  return sys_days{2026y / March / 4} + 5h + 6min + 7s;
}();

TEST(ObjectKey, TheDefaultPrefixFilesByHostInterfaceAndUtcDay) {
  EXPECT_EQ(objectKey(kDefaultKeyPrefix, {"sensor1", "eth0", kFinished}, "eth0-000001.pcap"),
            "sensor1/eth0/2026/03/04/eth0-000001.pcap");
}

TEST(ObjectKey, APrefixOfItsOwnComesFirstAndEmptySegmentsAreDropped) {
  EXPECT_EQ(objectKey("/captures//site-a/{host}/%Y%m%d/%H/", {"s", "ens1", kFinished}, "x.pcap"),
            "captures/site-a/s/20260304/05/x.pcap");
  EXPECT_EQ(objectKey("", {"s", "ens1", kFinished}, "x.pcap"), "x.pcap");
}

TEST(ObjectKey, PlaceholdersAndConversionsAreExpandedOnceNotReRead) {
  // An interface named like a conversion stays text.
  EXPECT_EQ(objectKey("{interface}", {"h", "%Y{host}", kFinished}, "n"), "%Y{host}/n");
}

// %s is the instant's seconds since the epoch whatever the host's time zone.
TEST(ObjectKey, EpochSecondsAreUtcWhateverTheLocalTimeZone) {
  const auto key = [] {
    const testing::TimeZone newYork("EST5EDT");
    return objectKey("%s/%H", {"h", "i", kFinished}, "n");
  }();
  EXPECT_EQ(key, std::to_string(std::chrono::system_clock::to_time_t(kFinished)) + "/05/n");
}

// A key that holds another object: the counter goes where the daemon puts it in a file name.
TEST(KeyWithCounter, PutsTheCounterBeforeTheExtensionOfTheLastComponent) {
  EXPECT_EQ(keyWithCounter("h/eth0/x.pcap", 0), "h/eth0/x.pcap");
  EXPECT_EQ(keyWithCounter("h/eth0/x.pcap", 1), "h/eth0/x_001.pcap");
  EXPECT_EQ(keyWithCounter("h/eth0/x.pcap.zst", 2), "h/eth0/x_002.pcap.zst");
  EXPECT_EQ(keyWithCounter("h/eth0.100/eth0.100-x.pcap.gz", 3),
            "h/eth0.100/eth0.100-x_003.pcap.gz");
  EXPECT_EQ(keyWithCounter("h/noextension", 1), "h/noextension_001");
  EXPECT_EQ(keyWithCounter("h/.hidden", 1), "h/.hidden_001");
  EXPECT_EQ(keyWithCounter("x.pcap", 12), "x_012.pcap");
}

TEST(ObjectKey, AnUnknownPlaceholderOrConversionIsRefusedWithWhy) {
  EXPECT_THROW(objectKey("{hostname}/x", {"h", "i", kFinished}, "n"), std::invalid_argument);
  EXPECT_THROW(objectKey("%Q", {"h", "i", kFinished}, "n"), std::invalid_argument);
  EXPECT_THROW(objectKey("abc%", {"h", "i", kFinished}, "n"), std::invalid_argument);
  EXPECT_THROW(objectKey("{host", {"h", "i", kFinished}, "n"), std::invalid_argument);
  EXPECT_NE(keyPrefixProblem("{hostname}").find("{hostname}"), std::string::npos);
  EXPECT_EQ(keyPrefixProblem(kDefaultKeyPrefix), "");
}

TEST(ObjectKey, DotSegmentsControlCharactersAndOverlongKeysAreRefused) {
  EXPECT_THROW(objectKey("a/../b", {"h", "i", kFinished}, "n"), std::invalid_argument);
  EXPECT_THROW(objectKey("{host}", {"..", "i", kFinished}, "n"), std::invalid_argument);
  EXPECT_THROW(objectKey("{host}", {"a\nb", "i", kFinished}, "n"), std::invalid_argument);
  EXPECT_THROW(objectKey(std::string(1100, 'a'), {"h", "i", kFinished}, "n"),
               std::invalid_argument);
}

TEST(ObjectKey, UrlEncodingKeepsSlashesAndUnreservedOnly) {
  EXPECT_EQ(encodeKeyForUrl("a/b c:d+e=f,g~h_i-j.k"), "a/b%20c%3Ad%2Be%3Df%2Cg~h_i-j.k");
  EXPECT_EQ(encodeKeyForUrl("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(encodeQueryValue("2~a/b+c"), "2~a%2Fb%2Bc");
}

}  // namespace
}  // namespace pcap_recorder::ship
