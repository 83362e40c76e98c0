#include "pcap_recorder/rotation/file_naming.hpp"

#include <gtest/gtest.h>

namespace pcap_recorder::rotation {
namespace {

// 2026-11-23T17:58:44Z
const auto kSomeInstant = std::chrono::system_clock::time_point(std::chrono::seconds(1795456724));

TEST(FileNaming, ExpandsTheDefaultTemplateInUtc) {
  EXPECT_EQ(expandFileName("{interface}-%Y%m%dT%H%M%S.pcap", "eth0", 1, kSomeInstant),
            "eth0-20261123T175844.pcap");
}

TEST(FileNaming, SequenceIsZeroPaddedSoNamesSortInOrder) {
  EXPECT_EQ(expandFileName("cap-{seq}.pcap", "eth0", 42, kSomeInstant), "cap-000042.pcap");
  EXPECT_EQ(expandFileName("{seq}", "eth0", 1234567, kSomeInstant), "1234567");
}

TEST(FileNaming, PercentInAnInterfaceNameIsTakenLiterally) {
  EXPECT_EQ(expandFileName("{interface}.pcap", "odd%Yname", 1, kSomeInstant), "odd%Yname.pcap");
}

TEST(FileNaming, RepeatedPlaceholdersAreAllReplaced) {
  EXPECT_EQ(expandFileName("{interface}/{interface}", "lo", 1, kSomeInstant), "lo/lo");
}

TEST(FileNaming, LiteralPercentSurvives) {
  EXPECT_EQ(expandFileName("100%%-{seq}.pcap", "lo", 3, kSomeInstant), "100%-000003.pcap");
}

}  // namespace
}  // namespace pcap_recorder::rotation
