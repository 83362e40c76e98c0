// The daemon through its Platform seam: recorders on fake interfaces (support/fake_network.hpp)
// writing real files into a temporary directory, a real config file re-read on reload. No root,
// no socket: what the root integration tests check in a namespace, here frame by frame.
#include "daemon.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pcap_recorder/config/config.hpp"
#include "support/fake_network.hpp"
#include "support/frames.hpp"
#include "support/pcap_reader.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::daemon {
namespace {

namespace fs = std::filesystem;
using service::CaptureState;
using ::testing::HasSubstr;

// One interface section of a config.
struct Capture {
  std::string ringSize = "1MiB";
  std::uint32_t snaplen = 65535;
  bool promiscuous = true;
  std::uint64_t maxPackets = 0;
  std::uint64_t maxFiles = 0;
};

class DaemonTest : public ::testing::Test {
 protected:
  // Writes the config file: every interface named records into out/ with `capture`.
  void writeConfig(const std::vector<std::string>& interfaces, const Capture& capture = {}) {
    std::ofstream file(configPath_);
    file << "output:\n"
         << "  directory: " << outDir().string() << "\n"
         << "  snaplen: " << capture.snaplen << "\n"
         << "  index: false\n"
         << "capture:\n"
         << "  ring_size: " << capture.ringSize << "\n"
         << "  promiscuous: " << (capture.promiscuous ? "true" : "false") << "\n"
         << "rotate:\n"
         << "  interval: 0\n"
         << "  max_packets: " << capture.maxPackets << "\n"
         << "retention:\n"
         << "  max_files: " << capture.maxFiles << "\n"
         << "  min_free_space: 0\n";
    if (!logLevel_.empty()) file << "log:\n  level: " << logLevel_ << "\n";
    file << "interfaces:\n";
    for (const auto& name : interfaces) file << "  - name: " << name << "\n";
  }

  std::unique_ptr<Daemon> makeDaemon() {
    Platform platform{
        .linkState = [this](const std::string& name) { return network_.linkState(name); },
        .openRecorder =
            [this](const config::InterfaceSettings& settings, service::FileFinisher& finisher,
                   const bpf::FilterProgram* filter) -> std::unique_ptr<service::Recorder> {
          opened_.push_back(settings);
          if (failToOpen_.count(settings.name) != 0) {
            if (beforeFailing_) beforeFailing_(finisher);
            throw std::runtime_error(settings.name + ": " + failToOpen_[settings.name]);
          }
          auto source = network_.open(settings.name);
          if (filter != nullptr) {
            return std::make_unique<service::Recorder>(settings, finisher, std::move(source),
                                                       *filter);
          }
          return std::make_unique<service::Recorder>(settings, finisher, std::move(source));
        },
    };
    return std::make_unique<Daemon>(configPath_, config::load(configPath_),
                                    service::CompiledFilters{}, std::move(platform));
  }

  // Sends frames [first, last) of `bytes` on `interface`; how many sockets took each.
  std::vector<std::size_t> send(const std::string& interface, std::uint32_t first,
                                std::uint32_t last, std::size_t bytes = 128) {
    std::vector<std::size_t> takers;
    for (std::uint32_t sequence = first; sequence < last; ++sequence) {
      testing::BlockFrame frame{
          .data = testing::buildUdpFrame({.sequence = sequence, .frameBytes = bytes}),
          .seconds = static_cast<std::uint32_t>(std::time(nullptr)),
      };
      takers.push_back(network_.send(interface, std::move(frame)));
    }
    return takers;
  }

  // The finished files in out/ that hold frames, by their first frame. Call after stop().
  std::vector<testing::ReadFile> finishedFiles() const {
    std::map<std::uint32_t, testing::ReadFile> byFirstFrame;
    for (const auto& entry : fs::directory_iterator(outDir())) {
      if (entry.path().extension() == ".json") continue;  // the sidecar of a finished file
      EXPECT_EQ(entry.path().extension(), ".pcap") << entry.path() << " is not a finished file";
      EXPECT_TRUE(fs::exists(entry.path().string() + ".json")) << entry.path() << " has no sidecar";
      auto file = testing::readPcapFile(entry.path());
      if (file.records.empty()) continue;
      byFirstFrame[sequenceOf(file.records.front())] = std::move(file);
    }
    std::vector<testing::ReadFile> files;
    for (auto& [first, file] : byFirstFrame) files.push_back(std::move(file));
    return files;
  }

  static std::uint32_t sequenceOf(const testing::ReadRecord& record) {
    return testing::sequenceOf(record.data).value_or(UINT32_MAX);
  }
  static std::vector<std::uint32_t> sequencesIn(const testing::ReadFile& file) {
    std::vector<std::uint32_t> sequences;
    for (const auto& record : file.records) sequences.push_back(sequenceOf(record));
    return sequences;
  }
  static std::vector<std::uint32_t> range(std::uint32_t first, std::uint32_t last) {
    std::vector<std::uint32_t> sequences;
    for (auto sequence = first; sequence < last; ++sequence) sequences.push_back(sequence);
    return sequences;
  }
  std::size_t partFiles() const {
    std::size_t count = 0;
    for (const auto& entry : fs::directory_iterator(outDir())) {
      count += entry.path().extension() == ".part";
    }
    return count;
  }

  fs::path outDir() const { return dir_.path() / outName_; }

  testing::TempDir dir_;
  fs::path configPath_ = dir_.path() / "pcap-recorder.yaml";
  testing::FakeNetwork network_;
  std::vector<config::InterfaceSettings> opened_;  // every openRecorder() call, in order
  std::map<std::string, std::string> failToOpen_;  // interface → why its openRecorder() throws
  // Runs before such an openRecorder() throws: what else happens while a reload is tried.
  std::function<void(service::FileFinisher&)> beforeFailing_;
  std::string logLevel_;         // log.level, when set
  std::string outName_ = "out";  // output.directory, under dir_
};

const std::vector<std::size_t> kEachTakenOnce(5, 1);

// Returns once every capture thread went round its loop twice: settings a reload handed over are
// taken by the first turn, so frames sent afterwards meet them.
void waitForTwoTurns(Daemon& daemon) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  daemon.captureIsProgressing();
  for (int turns = 0; turns < 2 && std::chrono::steady_clock::now() < deadline;) {
    if (daemon.captureIsProgressing()) {
      ++turns;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

TEST_F(DaemonTest, AReloadWhoseNewRecorderCannotBeOpenedKeepsTheOldOneRecordingAndLosesNothing) {
  network_.add("fake0");
  writeConfig({"fake0"}, {.ringSize = "1MiB"});
  auto daemon = makeDaemon();
  daemon->start();
  EXPECT_EQ(send("fake0", 0, 5), kEachTakenOnce);

  writeConfig({"fake0"}, {.ringSize = "2MiB"});
  failToOpen_["fake0"] = "cannot allocate the ring";
  const auto result = daemon->reload();
  EXPECT_FALSE(result.ok);
  EXPECT_THAT(result.message, HasSubstr("fake0: cannot allocate the ring"));
  ASSERT_EQ(opened_.size(), 2u) << "the replacement was tried";
  EXPECT_EQ(daemon->config().interfaces[0].capture.ringBytes, 1u << 20) << "the old config runs";
  EXPECT_EQ(daemon->interfaces()[0].state.state, CaptureState::capturing);

  EXPECT_EQ(send("fake0", 5, 10), kEachTakenOnce) << "the old socket still takes frames";
  daemon->stop();
  const auto files = finishedFiles();
  ASSERT_EQ(files.size(), 1u) << "one file, not cut by the failed reload";
  EXPECT_EQ(sequencesIn(files[0]), range(0, 10));
}

TEST_F(DaemonTest, AReloadWhoseSecondNewRecorderFailsLeavesNoFileOfTheFirstBehind) {
  network_.add("fake0");
  network_.add("fake1");
  writeConfig({"fake0", "fake1"}, {.snaplen = 65535});
  auto daemon = makeDaemon();
  daemon->start();
  EXPECT_EQ(send("fake0", 0, 5), kEachTakenOnce);
  EXPECT_EQ(send("fake1", 100, 105), kEachTakenOnce);

  writeConfig({"fake0", "fake1"}, {.snaplen = 200});
  failToOpen_["fake1"] = "no such device";
  EXPECT_FALSE(daemon->reload().ok);
  EXPECT_EQ(opened_.size(), 4u) << "fake0's replacement was opened before fake1's failed";
  EXPECT_EQ(partFiles(), 2u) << "only the two files being written: the unused one is removed";

  EXPECT_EQ(send("fake0", 5, 10), kEachTakenOnce);
  EXPECT_EQ(send("fake1", 105, 110), kEachTakenOnce);
  daemon->stop();
  const auto files = finishedFiles();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(sequencesIn(files[0]), range(0, 10));
  EXPECT_EQ(sequencesIn(files[1]), range(100, 110));
  EXPECT_EQ(files[0].snaplen, 65535u);
}

// A refused reload applies none of its retention limits: a retention pass while it is tried
// (here asked for as another interface's finished file asks for one) deletes nothing they would.
TEST_F(DaemonTest, ARefusedReloadDeletesNoFileByItsRetentionLimits) {
  network_.add("fake0");
  writeConfig({"fake0"}, {.maxPackets = 1, .maxFiles = 0});
  auto daemon = makeDaemon();
  daemon->start();
  EXPECT_EQ(send("fake0", 0, 5), kEachTakenOnce);

  writeConfig({"fake0", "fake1"}, {.maxPackets = 1, .maxFiles = 1});
  network_.add("fake1");
  failToOpen_["fake1"] = "no such device";
  bool passRan = false;
  beforeFailing_ = [&](service::FileFinisher& finisher) {
    const auto round = finisher.requestRetention(outDir());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (finisher.retentionRounds() < round && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    passRan = finisher.retentionRounds() >= round;
  };
  EXPECT_FALSE(daemon->reload().ok);
  EXPECT_TRUE(passRan) << "no retention pass while the reload was tried: nothing was shown";
  daemon->stop();
  const auto files = finishedFiles();
  ASSERT_EQ(files.size(), 5u) << "max_files 1 of the refused config deleted files";
  for (std::uint32_t sequence = 0; sequence < 5; ++sequence) {
    EXPECT_EQ(sequencesIn(files[sequence]), range(sequence, sequence + 1));
  }
}

// Without the lock the second start took the first one's live .part for a crash's leftover:
// cut it, renamed it and finished it while the first still wrote into it.
TEST_F(DaemonTest, ASecondDaemonOnTheSameDirectoryIsRefusedAndLeavesTheFirstsFileAlone) {
  network_.add("fake0");
  writeConfig({"fake0"});
  auto first = makeDaemon();
  first->start();
  EXPECT_EQ(send("fake0", 0, 5), kEachTakenOnce);
  ASSERT_EQ(partFiles(), 1u);

  auto second = makeDaemon();
  try {
    second->start();
    ADD_FAILURE() << "a second daemon started on " << outDir();
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()),
              outDir().string() +
                  ": another pcap-recorderd records into this directory (it holds the directory's "
                  "lock); give each its own output.directory");
  }
  second.reset();
  EXPECT_EQ(partFiles(), 1u) << "the first daemon's live file was taken";
  EXPECT_EQ(send("fake0", 5, 10), kEachTakenOnce);
  first->stop();
  const auto files = finishedFiles();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(sequencesIn(files[0]), range(0, 10));

  // Stopped, the first lets go: the next one starts.
  auto next = makeDaemon();
  EXPECT_NO_THROW(next->start());
}

TEST_F(DaemonTest, AReloadIntoADirectoryAnotherDaemonRecordsIntoIsRefusedUntilItLetsGo) {
  network_.add("fake0");
  writeConfig({"fake0"});
  auto first = makeDaemon();
  first->start();

  configPath_ = dir_.path() / "second.yaml";
  outName_ = "elsewhere";
  writeConfig({"fake0"});
  auto second = makeDaemon();
  second->start();
  outName_ = "out";
  writeConfig({"fake0"});
  const auto refused = second->reload();
  EXPECT_FALSE(refused.ok);
  EXPECT_THAT(refused.message, HasSubstr(outDir().string() + ": another pcap-recorderd records"));
  EXPECT_EQ(second->config().interfaces[0].output.directory, dir_.path() / "elsewhere");

  first->stop();
  EXPECT_TRUE(second->reload().ok);
  EXPECT_EQ(second->config().interfaces[0].output.directory, outDir());
}

// A reload that moves an interface to a directory not made yet makes it and locks it before the
// recorder writes there; the old one stays held while its last file is stored.
TEST_F(DaemonTest, ADirectoryAReloadMovesAnInterfaceToIsHeldAtOnce) {
  network_.add("fake0");
  writeConfig({"fake0"});
  auto first = makeDaemon();
  first->start();
  outName_ = "moved";
  writeConfig({"fake0"});
  ASSERT_TRUE(first->reload().ok);
  configPath_ = dir_.path() / "second.yaml";
  writeConfig({"fake0"});
  auto second = makeDaemon();
  EXPECT_THROW(second->start(), std::runtime_error) << "moved/ was not held";
  outName_ = "out";
  writeConfig({"fake0"});
  second = makeDaemon();
  EXPECT_THROW(second->start(), std::runtime_error) << "out/ was let go of at the reload";
  // Its last file stored, out/ is let go of at the next keepDirectoriesLocked().
  bool started = false;
  for (int attempt = 0; attempt < 100 && !started; ++attempt) {
    first->keepDirectoriesLocked();
    second = makeDaemon();
    try {
      second->start();
      started = true;
    } catch (const std::runtime_error&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  EXPECT_TRUE(started) << "out/ stayed held after everything was stored";
}

// Back into the directory it left at the last reload: its own lock, kept while that one's last
// files were stored, is no other daemon's.
TEST_F(DaemonTest, AReloadBackIntoTheDirectoryItJustLeftIsApplied) {
  network_.add("fake0");
  writeConfig({"fake0"});
  auto daemon = makeDaemon();
  daemon->start();
  outName_ = "moved";
  writeConfig({"fake0"});
  ASSERT_TRUE(daemon->reload().ok);
  outName_ = "out";
  writeConfig({"fake0"});
  const auto result = daemon->reload();
  EXPECT_TRUE(result.ok) << result.message;
  EXPECT_EQ(daemon->config().interfaces[0].output.directory, outDir());
}

// Removed and made again under it (here by hand; the recorder does it for its next file), the
// directory is locked again by the next keepDirectoriesLocked().
TEST_F(DaemonTest, ADirectoryMadeAgainIsHeldAgain) {
  network_.add("fake0");
  writeConfig({"fake0"});
  auto first = makeDaemon();
  first->start();
  fs::rename(outDir(), dir_.path() / "gone");
  fs::create_directory(outDir());
  first->keepDirectoriesLocked();
  auto second = makeDaemon();
  EXPECT_THROW(second->start(), std::runtime_error);
}

// log.level is applied by a reload as at start; unless --log-level fixed it, which holds.
TEST_F(DaemonTest, AReloadAppliesLogLevelUnlessTheCommandLineSetIt) {
  struct LevelGuard {
    spdlog::level::level_enum before = spdlog::get_level();
    ~LevelGuard() { spdlog::set_level(before); }
  } guard;
  network_.add("fake0");
  logLevel_ = "info";
  writeConfig({"fake0"});
  spdlog::set_level(spdlog::level::info);
  auto daemon = makeDaemon();
  daemon->start();
  logLevel_ = "debug";
  writeConfig({"fake0"});
  ASSERT_TRUE(daemon->reload().ok);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);

  daemon->keepLogLevel(config::LogLevel::warning);
  logLevel_ = "error";
  writeConfig({"fake0"});
  ASSERT_TRUE(daemon->reload().ok);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn) << "the command line's level holds";
  daemon->stop();
}

// Link events missed (the netlink socket overflowed) while the interface was deleted and made
// again: the look at every interface finds a new index, which the old socket is not bound to, and
// captures on the new interface.
TEST_F(DaemonTest, AnInterfaceReplacedWhileLinkEventsWereMissedIsCapturedAgain) {
  network_.add("fake0");
  writeConfig({"fake0"});
  auto daemon = makeDaemon();
  daemon->start();
  EXPECT_EQ(send("fake0", 0, 5), kEachTakenOnce);
  network_.remove("fake0");
  network_.add("fake0");
  daemon->onLinkEvents({}, /*missedEvents=*/true);
  ASSERT_EQ(opened_.size(), 2u) << "a recorder on the new interface";
  EXPECT_EQ(daemon->interfaces()[0].state.state, CaptureState::capturing);
  EXPECT_EQ(send("fake0", 5, 10), kEachTakenOnce);
  daemon->stop();
  std::vector<std::uint32_t> sequences;
  for (const auto& file : finishedFiles()) {
    for (const auto sequence : sequencesIn(file)) sequences.push_back(sequence);
  }
  EXPECT_EQ(sequences, range(0, 10));
}

// The kernel announces link changes only: an interface down when it is opened shows as such (not
// as capturing) from the start, and comes up with the event that says so.
TEST_F(DaemonTest, AnInterfaceDownWhenItIsOpenedIsShownDownUntilItComesUp) {
  network_.add("fake0");
  network_.setUp("fake0", false);
  writeConfig({"fake0"});
  auto daemon = makeDaemon();
  daemon->start();
  EXPECT_EQ(daemon->interfaces()[0].state.state, CaptureState::linkDown);
  network_.setUp("fake0", true);
  daemon->onLinkEvents({{.kind = capture::LinkEvent::Kind::present,
                         .name = "fake0",
                         .index = network_.indexOf("fake0"),
                         .up = true}},
                       false);
  EXPECT_EQ(daemon->interfaces()[0].state.state, CaptureState::capturing);
  // Missed events tell the same, from the link's state.
  network_.setUp("fake0", false);
  daemon->onLinkEvents({}, /*missedEvents=*/true);
  EXPECT_EQ(daemon->interfaces()[0].state.state, CaptureState::linkDown);
  daemon->stop();
}

// Rotate and retention keys are applied to the running capture: the socket is kept (no frame
// missed or taken twice) and so is the file being written, which the new limit then ends.
TEST_F(DaemonTest, AReloadOfOnlyRotateAndRetentionKeysKeepsTheSocketAndTheFile) {
  network_.add("fake0");
  writeConfig({"fake0"}, {.maxPackets = 0, .maxFiles = 0});
  auto daemon = makeDaemon();
  daemon->start();
  EXPECT_EQ(send("fake0", 0, 5), kEachTakenOnce);

  writeConfig({"fake0"}, {.maxPackets = 8, .maxFiles = 100});
  const auto result = daemon->reload();
  EXPECT_TRUE(result.ok) << result.message;
  EXPECT_EQ(opened_.size(), 1u) << "no new recorder";
  EXPECT_EQ(daemon->config().interfaces[0].rotate.maxPackets, 8u);
  waitForTwoTurns(*daemon);

  EXPECT_EQ(send("fake0", 5, 10), kEachTakenOnce);
  daemon->stop();
  const auto files = finishedFiles();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(sequencesIn(files[0]), range(0, 8)) << "the file went on across the reload";
  EXPECT_EQ(sequencesIn(files[1]), range(8, 10));
}

// ring_size, snaplen and promiscuous need a new socket: the new recorder is opened with them, the
// old one finishes its file when the new one takes over, and no frame is in both or in neither.
TEST_F(DaemonTest, AReloadOfRingSizeSnaplenAndPromiscuousHandsOverToANewRecorderWithThem) {
  network_.add("fake0");
  writeConfig({"fake0"}, {.ringSize = "1MiB", .snaplen = 65535, .promiscuous = true});
  auto daemon = makeDaemon();
  daemon->start();
  EXPECT_EQ(send("fake0", 0, 5, 1000), kEachTakenOnce);

  writeConfig({"fake0"}, {.ringSize = "2MiB", .snaplen = 200, .promiscuous = false});
  const auto result = daemon->reload();
  EXPECT_TRUE(result.ok) << result.message;
  ASSERT_EQ(opened_.size(), 2u);
  EXPECT_EQ(opened_[1].capture.ringBytes, 2u << 20);
  EXPECT_EQ(opened_[1].output.snaplen, 200u);
  EXPECT_FALSE(opened_[1].capture.promiscuous);

  EXPECT_EQ(send("fake0", 5, 10, 1000), kEachTakenOnce) << "only the new socket takes frames";
  daemon->stop();
  const auto files = finishedFiles();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(sequencesIn(files[0]), range(0, 5));
  EXPECT_EQ(files[0].snaplen, 65535u);
  EXPECT_EQ(files[0].records[0].includedLength, 1000u);
  EXPECT_EQ(sequencesIn(files[1]), range(5, 10));
  EXPECT_EQ(files[1].snaplen, 200u);
  EXPECT_EQ(files[1].records[0].includedLength, 200u);
  EXPECT_EQ(files[1].records[0].originalLength, 1000u);
}

// What the status (D-Bus, pcap-recorderctl status) counts is what the metrics count: since the
// daemon started, across a reload that restarted the interface, and while it is gone.
TEST_F(DaemonTest, TheStatusCountsAcrossARestartedInterfaceAsTheMetricsDo) {
  network_.add("fake0");
  writeConfig({"fake0"}, {.snaplen = 65535});
  auto daemon = makeDaemon();
  daemon->start();
  EXPECT_EQ(send("fake0", 0, 5), kEachTakenOnce);
  writeConfig({"fake0"}, {.snaplen = 200});
  ASSERT_TRUE(daemon->reload().ok);
  ASSERT_EQ(opened_.size(), 2u);
  const auto afterReload = daemon->interfaces()[0].stats;
  EXPECT_EQ(afterReload.packetsWritten, 5u);
  EXPECT_EQ(afterReload.packetsWritten, daemon->metricsSample().interfaces[0].packetsWritten);

  const int index = network_.indexOf("fake0");
  network_.remove("fake0");
  daemon->onLinkEvents(
      {{.kind = capture::LinkEvent::Kind::removed, .name = "fake0", .index = index}}, false);
  const auto whileGone = daemon->interfaces()[0];
  EXPECT_EQ(whileGone.state.state, CaptureState::waitingForInterface);
  EXPECT_EQ(whileGone.stats.packetsWritten, 5u);
  daemon->stop();
}

TEST_F(DaemonTest, AnInterfaceMissingAtStartIsWaitedForAndRecordedWhenItAppears) {
  writeConfig({"fake0"});
  auto daemon = makeDaemon();
  daemon->start();
  EXPECT_TRUE(opened_.empty());
  EXPECT_EQ(daemon->interfacesWaiting(), 1u);
  EXPECT_EQ(daemon->interfaces()[0].state.state, CaptureState::waitingForInterface);
  EXPECT_THAT(daemon->statusLine(), HasSubstr("fake0 waiting for the interface: 0 packets"));
  EXPECT_EQ(daemon->rotate("fake0").message, "fake0: not rotated: waiting for the interface");

  network_.add("fake0");
  daemon->onLinkEvents({{.name = "fake0", .index = network_.indexOf("fake0"), .up = true}}, false);
  ASSERT_EQ(opened_.size(), 1u);
  EXPECT_EQ(daemon->interfacesWaiting(), 0u);
  EXPECT_EQ(daemon->interfaces()[0].state.state, CaptureState::capturing);
  EXPECT_THAT(daemon->statusLine(), HasSubstr("fake0 capturing: "));

  EXPECT_EQ(send("fake0", 0, 5), kEachTakenOnce);
  daemon->stop();
  const auto files = finishedFiles();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(sequencesIn(files[0]), range(0, 5));
}

TEST_F(DaemonTest, AReloadAddingAnInterfaceThatDoesNotExistWaitsForItAndKeepsTheOthers) {
  network_.add("fake0");
  writeConfig({"fake0"});
  auto daemon = makeDaemon();
  daemon->start();
  EXPECT_EQ(send("fake0", 0, 5), kEachTakenOnce);

  writeConfig({"fake0", "ghost0"});
  const auto result = daemon->reload();
  EXPECT_TRUE(result.ok) << result.message;
  EXPECT_EQ(opened_.size(), 1u) << "nothing opened for ghost0";
  const auto statuses = daemon->interfaces();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0].state.state, CaptureState::capturing);
  EXPECT_EQ(statuses[1].name, "ghost0");
  EXPECT_EQ(statuses[1].state.state, CaptureState::waitingForInterface);
  EXPECT_EQ(daemon->interfacesWaiting(), 1u);

  EXPECT_EQ(send("fake0", 5, 10), kEachTakenOnce);
  daemon->stop();
  const auto files = finishedFiles();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(sequencesIn(files[0]), range(0, 10));
}

// Deleted before the reload and the link event not yet read: the old socket has nothing more to
// give, so its file is finished and the interface waits to come back with the new settings.
TEST_F(DaemonTest, AReloadRestartingAnInterfaceThatIsGoneFinishesItsFileAndWaitsForIt) {
  network_.add("fake0");
  writeConfig({"fake0"}, {.snaplen = 65535});
  auto daemon = makeDaemon();
  daemon->start();
  EXPECT_EQ(send("fake0", 0, 5), kEachTakenOnce);

  network_.remove("fake0");
  writeConfig({"fake0"}, {.snaplen = 200});
  const auto result = daemon->reload();
  EXPECT_TRUE(result.ok) << result.message;
  EXPECT_EQ(opened_.size(), 1u);
  EXPECT_EQ(daemon->interfaces()[0].state.state, CaptureState::waitingForInterface);
  EXPECT_EQ(daemon->interfaces()[0].currentFile, "") << "no file is being written";

  network_.add("fake0");
  daemon->onLinkEvents({{.name = "fake0", .index = network_.indexOf("fake0"), .up = true}}, false);
  ASSERT_EQ(opened_.size(), 2u);
  EXPECT_EQ(opened_[1].output.snaplen, 200u) << "it comes back with the new settings";
  EXPECT_EQ(send("fake0", 5, 10, 1000), kEachTakenOnce);
  daemon->stop();
  const auto files = finishedFiles();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(sequencesIn(files[0]), range(0, 5));
  EXPECT_EQ(sequencesIn(files[1]), range(5, 10));
  EXPECT_EQ(files[1].snaplen, 200u);
}

}  // namespace
}  // namespace pcap_recorder::daemon
