#include "pcap_recorder/service/directory_locks.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "support/temp_dir.hpp"

namespace pcap_recorder::service {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// flock(2) locks belong to an open file description, so two objects in one process stand for
// two daemons here.
class DirectoryLocksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directory(first());
    fs::create_directory(second());
  }
  fs::path first() const { return dir_.path() / "first"; }
  fs::path second() const { return dir_.path() / "second"; }

  testing::TempDir dir_;
};

TEST_F(DirectoryLocksTest, ADirectoryHeldElsewhereIsRefusedByName) {
  const auto held = DirectoryLocks{}.lock({first()});
  try {
    DirectoryLocks{}.lock({second(), first()});
    FAIL() << "locked twice";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr(first().string() +
                                        ": another pcap-recorderd records into this directory"));
  }
  EXPECT_NO_THROW(DirectoryLocks{}.lock({second()})) << "a refused lock keeps none of its others";
}

TEST_F(DirectoryLocksTest, SpellingsOfOneDirectoryAreOneLock) {
  fs::create_directory_symlink(first(), dir_.path() / "link");
  const auto held = DirectoryLocks{}.lock({first(), dir_.path() / "link", first() / "."});
  EXPECT_EQ(held.size(), 1u);
  EXPECT_THROW(DirectoryLocks{}.lock({dir_.path() / "link"}), std::runtime_error);
}

TEST_F(DirectoryLocksTest, TheNextSetKeepsWhatItSharesAndLetsGoOfTheRestWhenItReplacesTheOld) {
  auto held = DirectoryLocks{}.lock({first()});
  auto next = held.lock({first(), second()});  // first: shared, never let go of in between
  EXPECT_EQ(next.size(), 2u);
  held = next.lock({second()});
  next = {};
  EXPECT_NO_THROW(DirectoryLocks{}.lock({first()})) << "first was let go of";
  EXPECT_THROW(DirectoryLocks{}.lock({second()}), std::runtime_error) << "second is still held";
  held = {};
  EXPECT_NO_THROW(DirectoryLocks{}.lock({second()}));
}

TEST_F(DirectoryLocksTest, AMissingDirectoryIsSkippedAndAFileIsAnError) {
  EXPECT_EQ(DirectoryLocks{}.lock({dir_.path() / "not-yet"}).size(), 0u);
  { std::ofstream(dir_.path() / "plain") << "x"; }
  EXPECT_THROW(DirectoryLocks{}.lock({dir_.path() / "plain"}), std::system_error);
}

}  // namespace
}  // namespace pcap_recorder::service
