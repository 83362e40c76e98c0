// Interface states as users read them (D-Bus, STATUS=, logs), and the states a recorder is in.
#include "pcap_recorder/service/interface_state.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "pcap_recorder/service/recorder.hpp"
#include "support/fake_network.hpp"
#include "support/file_size_limit.hpp"
#include "support/frames.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::service {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(StateText, EachStateHasTheWordsUsersSee) {
  EXPECT_EQ(stateText({CaptureState::waitingForInterface}), "waiting for the interface");
  EXPECT_EQ(stateText({CaptureState::capturing}), "capturing");
  EXPECT_EQ(stateText({CaptureState::linkDown}), "link down");
  EXPECT_EQ(stateText({CaptureState::paused, PauseReason::writeFailed}), "paused (cannot write)");
  EXPECT_EQ(stateText({CaptureState::paused, PauseReason::noOutputDirectory}),
            "paused (no output directory)");
  EXPECT_EQ(stateText({CaptureState::stopped}), "stopped");
}

TEST(StateText, EveryPausedStateStartsWithPaused) {
  for (const auto reason :
       {PauseReason::none, PauseReason::writeFailed, PauseReason::noOutputDirectory}) {
    EXPECT_TRUE(stateText({CaptureState::paused, reason}).starts_with("paused (")) << int(reason);
  }
}

// Waits (up to 10 s) for the recorder to be in `state`; the state it is in at the end.
InterfaceState waitForState(const Recorder& recorder, CaptureState state) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (recorder.state().state != state && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  return recorder.state();
}

class RecorderState : public ::testing::Test {
 protected:
  RecorderState() {
    network_.add("fake0");
    settings_.name = "fake0";
    settings_.output.directory = dir_.path() / "out";
    settings_.output.directIo = config::DirectIo::off;
    settings_.output.index = false;
    settings_.rotate.interval = 0ms;
  }

  void send(std::uint32_t count, std::size_t bytes) {
    for (std::uint32_t sequence = 0; sequence < count; ++sequence) {
      network_.send("fake0",
                    {.data = testing::buildUdpFrame({.sequence = sequence, .frameBytes = bytes})});
    }
  }

  testing::TempDir dir_;
  testing::FakeNetwork network_;
  config::InterfaceSettings settings_;
  FileFinisher finisher_{{}};
};

TEST_F(RecorderState, IsLinkDownWhileTheLinkIsDown) {
  Recorder recorder(settings_, finisher_, network_.open("fake0"));
  recorder.start();
  recorder.setLinkUp(false);
  EXPECT_EQ(recorder.state(), InterfaceState{CaptureState::linkDown});
  recorder.setLinkUp(true);
  EXPECT_EQ(recorder.state(), InterfaceState{CaptureState::capturing});
}

TEST_F(RecorderState, IsPausedForTheDirectoryWhileItCannotBeCreatedAgain) {
  Recorder recorder(settings_, finisher_, network_.open("fake0"));
  recorder.start();
  // Swapped in one step, so the recorder cannot re-create the directory in between.
  const auto blocker = dir_.path() / "blocker";
  std::ofstream(blocker) << "a file where the directory was";
  ASSERT_EQ(::renameat2(AT_FDCWD, blocker.c_str(), AT_FDCWD, settings_.output.directory.c_str(),
                        RENAME_EXCHANGE),
            0)
      << std::strerror(errno);
  EXPECT_EQ(waitForState(recorder, CaptureState::paused),
            (InterfaceState{CaptureState::paused, PauseReason::noOutputDirectory}));

  fs::remove(settings_.output.directory);
  EXPECT_EQ(waitForState(recorder, CaptureState::capturing),
            InterfaceState{CaptureState::capturing});
  recorder.requestStop();
  recorder.join();
}

TEST_F(RecorderState, IsPausedForWritingWhenAWriteFails) {
  Recorder recorder(settings_, finisher_, network_.open("fake0"));
  recorder.start();
  {
    testing::FileSizeLimit limit(4096);  // as a full disk: write() stops part-way
    send(20, 1000);
    EXPECT_EQ(waitForState(recorder, CaptureState::paused),
              (InterfaceState{CaptureState::paused, PauseReason::writeFailed}));
  }
  recorder.requestStop();
  recorder.join();
}

}  // namespace
}  // namespace pcap_recorder::service
