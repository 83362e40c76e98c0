#include "pcap_recorder/ship/ship_state.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <system_error>

#include "support/file_bytes.hpp"
#include "support/file_size_limit.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::ship {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::readText;

const ConfirmedUpload kUpload{"/var/lib/pcap-recorder/eth0 x\n.pcap",
                              "h/eth0/2026/01/02/eth0 x\n.pcap", 1234, "ab12",
                              "d41d8cd98f00b204e9800998ecf8427e-2"};

TEST(ShipState, ConfirmedFilesSurviveARestart) {
  testing::TempDir dir;
  {
    ShipState state(dir / "state");
    EXPECT_EQ(state.confirmed(kUpload.localPath), nullptr);
    state.recordConfirmed(kUpload);
  }
  ShipState reopened(dir / "state");
  ASSERT_NE(reopened.confirmed(kUpload.localPath), nullptr);
  EXPECT_EQ(*reopened.confirmed(kUpload.localPath), kUpload);
}

// Before output.directory was read in one spelling, a directory written "/srv/pcap/." gave
// "/srv/pcap/./eth0.pcap"; the shipper now looks for "/srv/pcap/eth0.pcap", and finds it.
TEST(ShipState, AFileConfirmedUnderAnotherSpellingOfItsDirectoryIsStillConfirmed) {
  testing::TempDir dir;
  ConfirmedUpload upload = kUpload;
  upload.localPath = "/srv//pcap/./eth0.pcap";
  {
    ShipState state(dir / "state");
    state.recordConfirmed(upload);
  }
  ShipState reopened(dir / "state");
  ASSERT_NE(reopened.confirmed("/srv/pcap/eth0.pcap"), nullptr);
  EXPECT_EQ(reopened.confirmed("/srv/pcap/eth0.pcap")->key, kUpload.key);
}

TEST(ShipState, MultipartUploadsBegunAndNotEndedAreReportedAfterARestart) {
  testing::TempDir dir;
  {
    ShipState state(dir / "state");
    state.recordStarted({"k1", "2~id one"});
    state.recordStarted({"k2", "2~id2"});
    state.recordEnded("2~id one");
  }
  ShipState reopened(dir / "state");
  EXPECT_THAT(reopened.openUploads(), ElementsAre(OpenMultipartUpload{"k2", "2~id2"}));
}

TEST(ShipState, ATornLastLineIsDroppedAndLaterRecordsStayReadable) {
  testing::TempDir dir;
  { ShipState(dir / "state").recordConfirmed(kUpload); }
  { std::ofstream(dir / "state", std::ios::app) << "confirmed /half/writ"; }
  {
    ShipState state(dir / "state");
    EXPECT_EQ(state.confirmed("/half/writ"), nullptr);
    state.recordStarted({"k", "id"});
  }
  ShipState reopened(dir / "state");
  EXPECT_NE(reopened.confirmed(kUpload.localPath), nullptr);
  EXPECT_THAT(reopened.openUploads(), ElementsAre(OpenMultipartUpload{"k", "id"}));
}

// A full disk that cuts a line short: the record is refused (its upload is not confirmed), and
// the journal stays readable, with the records after it, once there is room again.
TEST(ShipState, ARecordTheDiskCutShortLeavesTheJournalReadable) {
  testing::TempDir dir;
  ConfirmedUpload refused = kUpload;
  refused.localPath = "/refused.pcap";
  ConfirmedUpload later = kUpload;
  later.localPath = "/later.pcap";
  {
    ShipState state(dir / "state");
    state.recordConfirmed(kUpload);
    {
      const testing::FileSizeLimit full(fs::file_size(dir / "state") + 20);
      EXPECT_THROW(state.recordConfirmed(refused), std::system_error);
    }
    EXPECT_EQ(fs::file_size(dir / "state"), formatConfirmed(kUpload).size());
    state.recordConfirmed(later);
  }
  ShipState reopened(dir / "state");
  EXPECT_NE(reopened.confirmed(kUpload.localPath), nullptr);
  EXPECT_EQ(reopened.confirmed(refused.localPath), nullptr);
  EXPECT_NE(reopened.confirmed(later.localPath), nullptr);
}

TEST(ShipState, AnUnreadableWholeLineIsAnErrorWithItsLine) {
  testing::TempDir dir;
  std::ofstream(dir / "state") << formatStarted({"k", "id"}) << "confirmed a b notanumber c d\n";
  try {
    ShipState state(dir / "state");
    FAIL() << "no error";
  } catch (const ShipStateError& error) {
    EXPECT_THAT(error.what(), HasSubstr("state:2: a size that is not a number"));
  }
}

TEST(ShipState, ForgettingRewritesTheJournalWithOnlyWhatIsStillTrue) {
  testing::TempDir dir;
  ConfirmedUpload other = kUpload;
  other.localPath = "/other.pcap";
  {
    ShipState state(dir / "state");
    state.recordConfirmed(kUpload);
    state.recordConfirmed(other);
    state.recordStarted({"k", "id"});
    state.forget(kUpload.localPath);
    state.recordEnded("id");
  }
  EXPECT_EQ(readText(dir / "state"),
            formatConfirmed(other) + formatStarted({"k", "id"}) + formatEnded("id"));
  ShipState reopened(dir / "state");
  EXPECT_EQ(reopened.confirmed(kUpload.localPath), nullptr);
  EXPECT_NE(reopened.confirmed("/other.pcap"), nullptr);
  EXPECT_TRUE(reopened.openUploads().empty());
}

TEST(ShipState, ForgettingSeveralKeepsTheRestAndSurvivesARestart) {
  testing::TempDir dir;
  ConfirmedUpload second = kUpload;
  second.localPath = "/second.pcap";
  ConfirmedUpload third = kUpload;
  third.localPath = "/third.pcap";
  {
    ShipState state(dir / "state");
    for (const auto& upload : {kUpload, second, third}) state.recordConfirmed(upload);
    state.forget(std::vector<std::string>{kUpload.localPath, third.localPath, "/never.pcap"});
    EXPECT_EQ(state.confirmedUploads().size(), 1u);
  }
  EXPECT_EQ(readText(dir / "state"), formatConfirmed(second));
  ShipState reopened(dir / "state");
  EXPECT_EQ(reopened.confirmed(kUpload.localPath), nullptr);
  EXPECT_NE(reopened.confirmed("/second.pcap"), nullptr);
  EXPECT_EQ(reopened.confirmed("/third.pcap"), nullptr);
}

TEST(ShipState, RecordsAreOneLineEachWhateverTheNames) {
  EXPECT_EQ(formatConfirmed(kUpload),
            "confirmed %2Fvar%2Flib%2Fpcap-recorder%2Feth0%20x%0A.pcap "
            "h%2Feth0%2F2026%2F01%2F02%2Feth0%20x%0A.pcap 1234 ab12 "
            "d41d8cd98f00b204e9800998ecf8427e-2\n");
}

}  // namespace
}  // namespace pcap_recorder::ship
