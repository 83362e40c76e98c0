#include "pcap_recorder/service/directory_locks.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.hpp"

namespace pcap_recorder::service {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

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

  // The locks on `directories`, expecting no problem.
  static DirectoryLocks locked(const DirectoryLocks& held, const std::vector<fs::path>& paths) {
    LockProblems problems;
    auto next = held.lock(paths, problems);
    EXPECT_THAT(problems.heldElsewhere, IsEmpty());
    EXPECT_THAT(problems.cannotLock, IsEmpty());
    return next;
  }
  // What another daemon locking `paths` is told.
  static LockProblems problemsOf(const std::vector<fs::path>& paths) {
    LockProblems problems;
    DirectoryLocks{}.lock(paths, problems);
    return problems;
  }

  testing::TempDir dir_;
};

TEST_F(DirectoryLocksTest, ADirectoryHeldElsewhereIsNamedAndLeftOutOfTheResult) {
  const auto held = locked({}, {first()});
  LockProblems problems;
  const auto other = DirectoryLocks{}.lock({second(), first()}, problems);
  EXPECT_THAT(problems.heldElsewhere,
              ElementsAre(first().string() +
                          ": another pcap-recorderd records into this directory (it holds the "
                          "directory's lock); give each its own output.directory"));
  EXPECT_EQ(other.size(), 1u) << "second is locked, first is not";
}

TEST_F(DirectoryLocksTest, SpellingsOfOneDirectoryAreOneLock) {
  fs::create_directory_symlink(first(), dir_.path() / "link");
  const auto held = locked({}, {first(), dir_.path() / "link", first() / "."});
  EXPECT_EQ(held.size(), 1u);
  EXPECT_EQ(problemsOf({dir_.path() / "link"}).heldElsewhere.size(), 1u);
}

TEST_F(DirectoryLocksTest, TheNextSetKeepsWhatItSharesAndLetsGoOfTheRestWhenItReplacesTheOld) {
  auto held = locked({}, {first()});
  auto next = locked(held, {first(), second()});  // first: shared, never let go of in between
  EXPECT_EQ(next.size(), 2u);
  held = locked(next, {second()});
  next = {};
  EXPECT_THAT(problemsOf({first()}).heldElsewhere, IsEmpty()) << "first was let go of";
  EXPECT_EQ(problemsOf({second()}).heldElsewhere.size(), 1u) << "second is still held";
  held = {};
  EXPECT_THAT(problemsOf({second()}).heldElsewhere, IsEmpty());
}

// Locked again later (the daemon does every few seconds), a directory made since is held too.
TEST_F(DirectoryLocksTest, AMissingDirectoryIsSkippedAndHeldOnceItExists) {
  const auto later = dir_.path() / "later";
  auto held = locked({}, {later});
  EXPECT_EQ(held.size(), 0u);
  fs::create_directory(later);
  held = locked(held, {later});
  EXPECT_EQ(problemsOf({later}).heldElsewhere.size(), 1u);
}

TEST_F(DirectoryLocksTest, AFileInPlaceOfADirectoryCannotBeLockedAndIsSaid) {
  { std::ofstream(dir_.path() / "plain") << "x"; }
  const auto problems = problemsOf({dir_.path() / "plain"});
  ASSERT_EQ(problems.cannotLock.size(), 1u);
  EXPECT_THAT(problems.cannotLock[0], HasSubstr((dir_.path() / "plain").string() + ": cannot"));
}

}  // namespace
}  // namespace pcap_recorder::service
