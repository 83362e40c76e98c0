// The shipper's round: several files in flight, one alone until the server accepts, no new file
// after a server failure or a stop, every file once. A fake FileShipper stands for the uploads.
#include "ship_round.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

namespace pcap_recorder::shipd {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAreArray;

std::vector<FinishedFile> filesNamed(int count) {
  std::vector<FinishedFile> files;
  for (int i = 0; i < count; ++i) files.push_back({"/out/f" + std::to_string(i), "eth0", {}, 1});
  return files;
}

std::vector<std::filesystem::path> pathsOf(const std::vector<FinishedFile>& files) {
  std::vector<std::filesystem::path> paths;
  for (const auto& file : files) paths.push_back(file.path);
  return paths;
}

// Answers each file with its scripted outcome (shipped by default), after calling `accepted`
// when `accepts`; with `holdUntilInFlight` > 1, an accepted file returns only once that many are
// in flight together or all `totalFiles` have started (or after a generous timeout, which the test
// then sees as too few in flight).
class FakeShipper final : public FileShipper {
 public:
  bool accepts = true;
  std::size_t holdUntilInFlight = 0;
  std::size_t totalFiles = 0;
  std::map<std::filesystem::path, FileOutcome> outcomes;
  std::set<std::filesystem::path> throwing;

  FileOutcome ship(const FinishedFile& file, const std::function<void()>& accepted) override {
    std::unique_lock lock(mutex_);
    started_.push_back(file.path);
    maxInFlight_ = std::max(maxInFlight_, ++inFlight_);
    changed_.notify_all();
    if (accepts) {
      lock.unlock();
      accepted();
      lock.lock();
      changed_.wait_for(lock, std::chrono::seconds(10), [&] {
        return inFlight_ >= holdUntilInFlight || started_.size() >= totalFiles;
      });
    }
    --inFlight_;
    if (throwing.count(file.path) != 0) throw std::runtime_error("from the shipper");
    const auto found = outcomes.find(file.path);
    return found == outcomes.end() ? FileOutcome::shipped : found->second;
  }
  std::vector<std::filesystem::path> started() const {
    std::lock_guard lock(mutex_);
    return started_;
  }
  std::size_t maxInFlight() const {
    std::lock_guard lock(mutex_);
    return maxInFlight_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::filesystem::path> started_;
  std::size_t inFlight_ = 0;
  std::size_t maxInFlight_ = 0;
};

const auto kNeverStopping = [] { return false; };

TEST(ShipRound, WithOneFileAtATimeShipsEachFileOnceInTheOrderGiven) {
  FakeShipper shipper;
  const auto files = filesNamed(5);
  const auto result = shipRound(files, 1, shipper, kNeverStopping);
  EXPECT_EQ(shipper.started(), pathsOf(files));
  EXPECT_EQ(result.shipped, pathsOf(files));
  EXPECT_TRUE(result.complete());
  EXPECT_EQ(shipper.maxInFlight(), 1u);
}

TEST(ShipRound, KeepsParallelFilesInFlightOnceTheServerAccepted) {
  FakeShipper shipper;
  shipper.holdUntilInFlight = 3;
  shipper.totalFiles = 10;
  const auto files = filesNamed(10);
  const auto result = shipRound(files, 3, shipper, kNeverStopping);
  EXPECT_EQ(shipper.maxInFlight(), 3u);  // as many as allowed, never more
  EXPECT_THAT(result.shipped, UnorderedElementsAreArray(pathsOf(files)));
  EXPECT_THAT(shipper.started(), UnorderedElementsAreArray(pathsOf(files)));  // each once
  EXPECT_TRUE(result.complete());
}

TEST(ShipRound, AServerRefusingEverythingIsAskedOnceNotOncePerWorker) {
  FakeShipper shipper;  // wrong credentials: nothing accepted, every file refused
  shipper.accepts = false;
  const auto files = filesNamed(6);
  for (const auto& file : files) shipper.outcomes[file.path] = FileOutcome::serverFailed;
  const auto result = shipRound(files, 4, shipper, kNeverStopping);
  EXPECT_THAT(shipper.started(), ElementsAre(files[0].path));
  EXPECT_THAT(result.failed, ElementsAre(files[0].path));
  EXPECT_TRUE(result.serverFailed);
  EXPECT_FALSE(result.complete());
}

TEST(ShipRound, FilesGoOneByOneWhileTheServerAcceptsNothing) {
  FakeShipper shipper;  // e.g. each fails locally before its first request
  shipper.accepts = false;
  const auto files = filesNamed(4);
  for (const auto& file : files) shipper.outcomes[file.path] = FileOutcome::failed;
  const auto result = shipRound(files, 4, shipper, kNeverStopping);
  EXPECT_EQ(shipper.maxInFlight(), 1u);
  EXPECT_EQ(result.failed, pathsOf(files));
  EXPECT_FALSE(result.serverFailed);
}

TEST(ShipRound, AfterAServerFailureNoFurtherFileStarts) {
  FakeShipper shipper;
  const auto files = filesNamed(6);
  shipper.outcomes[files[2].path] = FileOutcome::serverFailed;
  const auto result = shipRound(files, 1, shipper, kNeverStopping);
  EXPECT_THAT(shipper.started(), ElementsAre(files[0].path, files[1].path, files[2].path));
  EXPECT_THAT(result.shipped, ElementsAre(files[0].path, files[1].path));
  EXPECT_THAT(result.failed, ElementsAre(files[2].path));
  EXPECT_TRUE(result.serverFailed);
}

TEST(ShipRound, ALocalFailureFailsOnlyItsFile) {
  FakeShipper shipper;
  const auto files = filesNamed(6);
  shipper.outcomes[files[1].path] = FileOutcome::failed;
  shipper.throwing.insert(files[4].path);  // an exception counts as a local failure
  const auto result = shipRound(files, 2, shipper, kNeverStopping);
  EXPECT_THAT(result.failed, UnorderedElementsAreArray({files[1].path, files[4].path}));
  EXPECT_THAT(result.shipped, UnorderedElementsAreArray(
                                  {files[0].path, files[2].path, files[3].path, files[5].path}));
  EXPECT_FALSE(result.serverFailed);
  EXPECT_FALSE(result.complete());
}

TEST(ShipRound, AStopStartsNoFurtherFile) {
  FakeShipper shipper;
  const auto files = filesNamed(5);
  const auto result = shipRound(files, 1, shipper, [&] { return shipper.started().size() >= 2; });
  EXPECT_THAT(shipper.started(), ElementsAre(files[0].path, files[1].path));
  EXPECT_EQ(result.shipped.size(), 2u);
}

TEST(ShipRound, NoFilesNoWork) {
  FakeShipper shipper;
  EXPECT_TRUE(shipRound({}, 4, shipper, kNeverStopping).complete());
  EXPECT_TRUE(shipper.started().empty());
}

TEST(FailingLast, MovesFilesThatFailedBeforeBehindTheOthersKeepingTheirOrder) {
  auto files = filesNamed(5);
  const std::vector<std::filesystem::path> failingAfterTheOthers = {"/out/f1", "/out/f2", "/out/f4",
                                                                    "/out/f0", "/out/f3"};
  failingLast(files, {"/out/f0", "/out/f3"});
  EXPECT_EQ(pathsOf(files), failingAfterTheOthers);
  failingLast(files, {});
  EXPECT_EQ(pathsOf(files), failingAfterTheOthers);
}

}  // namespace
}  // namespace pcap_recorder::shipd
