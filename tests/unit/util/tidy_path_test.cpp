#include "pcap_recorder/util/tidy_path.hpp"

#include <gtest/gtest.h>

namespace pcap_recorder::util {
namespace {

// Compared as strings: std::filesystem::path's == treats "a//b" and "a/b" as equal already.
std::string tidy(const char* path) {
  return tidyPath(path).string();
}

TEST(TidyPath, DropsDotElementsAndRepeatedAndTrailingSlashes) {
  EXPECT_EQ(tidy("/srv/pcap"), "/srv/pcap");
  EXPECT_EQ(tidy("/srv/pcap/"), "/srv/pcap");
  EXPECT_EQ(tidy("/srv//pcap/./"), "/srv/pcap");
  EXPECT_EQ(tidy("/srv/./pcap/."), "/srv/pcap");
  EXPECT_EQ(tidy("./captures/"), "captures");
  EXPECT_EQ(tidy("captures//eth0"), "captures/eth0");
}

TEST(TidyPath, KeepsTheRootAndNeverComesOutEmpty) {
  EXPECT_EQ(tidy("/"), "/");
  EXPECT_EQ(tidy("/."), "/");
  EXPECT_EQ(tidy("."), ".");
  EXPECT_EQ(tidy("./"), ".");
  EXPECT_EQ(tidy(""), ".");
}

// Through a symbolic link, "x/.." is not where "x"'s name sits: only the kernel can tell.
TEST(TidyPath, LeavesDotDotForTheKernel) {
  EXPECT_EQ(tidy("/srv/x/../pcap/"), "/srv/x/../pcap");
  EXPECT_EQ(tidy("../captures"), "../captures");
}

}  // namespace
}  // namespace pcap_recorder::util
