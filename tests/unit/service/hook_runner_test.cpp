// post_finish_command runs: at most N at once per interface and the rest in order, a timed-out
// hook dies with everything it started (setsid too), stop is bounded, and the hook's environment
// and signal state are those of a fresh shell.
#include "pcap_recorder/service/hook_runner.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "support/file_bytes.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::service {
namespace {

namespace fs = std::filesystem;
using testing::readText;
using namespace std::chrono_literals;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  for (std::string line; std::getline(stream, line);) out.push_back(line);
  return out;
}

FinishedFile fileNamed(const fs::path& path, const std::string& interface = "eth0") {
  FinishedFile file;
  file.interface = interface;
  file.path = path;
  file.packets = 500;
  file.bytes = 64000;
  file.kernelDrops = 3;
  file.firstPacket = {1795453200, 123456789};
  file.lastPacket = {1795456799, 999999000};
  file.reason = "signal";
  return file;
}

// Polls `hooks` until `done` holds, for at most 20 s.
template <typename Condition>
bool pollUntil(HookRunner& hooks, Condition done) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    hooks.poll();
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

bool alive(pid_t pid) {
  return ::kill(pid, 0) == 0;
}

// Reads a pid a hook wrote; kills it at the end of the test whatever happened.
class StrayProcess {
 public:
  explicit StrayProcess(fs::path pidFile) : pidFile_(std::move(pidFile)) {}
  ~StrayProcess() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
  }
  pid_t pid() {
    if (pid_ <= 0) pid_ = std::atoi(readText(pidFile_).c_str());
    return pid_;
  }

 private:
  fs::path pidFile_;
  pid_t pid_ = 0;
};

TEST(HookRunner, WithOneAllowedRunningHooksRunOneAfterTheOtherInTheOrderOfTheirFiles) {
  testing::TempDir dir;
  const auto log = dir / "log";
  HookRunner hooks;
  const std::string command =
      "echo begin >> " + log.string() + "; sleep 0.05; echo end \"$1\" >> " + log.string() + "; :";
  for (int i = 1; i <= 5; ++i) {
    hooks.start(command, fileNamed(dir / ("f" + std::to_string(i))), 20s, 1);
    EXPECT_EQ(hooks.running(), 1u);
  }
  EXPECT_EQ(hooks.queued(), 4u);
  hooks.waitAll();
  std::vector<std::string> expected;
  for (int i = 1; i <= 5; ++i) {
    expected.push_back("begin");
    expected.push_back("end " + (dir / ("f" + std::to_string(i))).string());
  }
  EXPECT_EQ(lines(readText(log)), expected);
}

TEST(HookRunner, EachInterfaceHasItsOwnLimit) {
  testing::TempDir dir;
  const auto release = dir / "release";
  HookRunner hooks;
  const std::string command = "while [ ! -e " + release.string() + " ]; do sleep 0.02; done; :";
  for (int i = 0; i < 4; ++i) hooks.start(command, fileNamed(dir / "a", "eth0"), 20s, 2);
  hooks.start(command, fileNamed(dir / "b", "eth1"), 20s, 2);
  EXPECT_EQ(hooks.running(), 3u) << "two of eth0, one of eth1";
  EXPECT_EQ(hooks.queued(), 2u);
  for (int i = 0; i < 10; ++i) hooks.poll();
  EXPECT_EQ(hooks.running(), 3u);
  std::ofstream(release).put('\n');
  hooks.waitAll();
  EXPECT_EQ(hooks.running(), 0u);
  EXPECT_EQ(hooks.queued(), 0u);
}

TEST(HookRunner, ATimedOutHookIsKilledWithAProcessItStartedInANewSession) {
  testing::TempDir dir;
  StrayProcess stray(dir / "pid");
  HookRunner hooks(HookLimits{.killGrace = 500ms, .stopWait = 20s});
  hooks.start("setsid sleep 1000 & echo $! > " + (dir / "pid").string() + "; sleep 1000; :",
              fileNamed(dir / "f"), 300ms, 1);
  ASSERT_TRUE(
      pollUntil(hooks, [&] { return fs::exists(dir / "pid") && fs::file_size(dir / "pid") > 0; }));
  const pid_t sleeper = stray.pid();
  ASSERT_GT(sleeper, 0);
  ASSERT_TRUE(alive(sleeper));
  ASSERT_TRUE(pollUntil(hooks, [&] { return hooks.running() == 0; }));
  EXPECT_FALSE(alive(sleeper)) << "the setsid'd sleep outlived its hook's timeout";
}

TEST(HookRunner, AHookIsRunningUntilWhatItLeftBehindEndsAndThatIsKilledAtItsTimeout) {
  testing::TempDir dir;
  StrayProcess stray(dir / "pid");
  HookRunner hooks(HookLimits{.killGrace = 500ms, .stopWait = 20s});
  // The shell exits at once; the sleep it started in its own session goes on.
  hooks.start("setsid sleep 1000 & echo $! > " + (dir / "pid").string(), fileNamed(dir / "f"), 1s,
              1);
  ASSERT_TRUE(
      pollUntil(hooks, [&] { return fs::exists(dir / "pid") && fs::file_size(dir / "pid") > 0; }));
  const pid_t sleeper = stray.pid();
  ASSERT_GT(sleeper, 0);
  for (int i = 0; i < 5; ++i) hooks.poll();
  EXPECT_EQ(hooks.running(), 1u);
  ASSERT_TRUE(pollUntil(hooks, [&] { return hooks.running() == 0; }));
  EXPECT_FALSE(alive(sleeper));
}

TEST(HookRunner, AHookThatIgnoresSigtermIsKilledAfterTheGrace) {
  testing::TempDir dir;
  HookRunner hooks(HookLimits{.killGrace = 200ms, .stopWait = 20s});
  hooks.start("trap '' TERM; while :; do sleep 0.05; done; :", fileNamed(dir / "f"), 200ms, 1);
  ASSERT_TRUE(pollUntil(hooks, [&] { return hooks.running() == 0; }));
}

// What stop waits for by default (docs/reliability.md: "at most 20 s + 5 s").
TEST(HookLimits, ByDefaultStopWaitsTwentySecondsAndTheKillGraceIsFiveSeconds) {
  EXPECT_EQ(HookLimits{}.stopWait, 20s);
  EXPECT_EQ(HookLimits{}.killGrace, 5s);
}

TEST(HookRunner, FinishAtStopDropsQueuedHooksAndEndsRunningOnesAfterTheStopWait) {
  testing::TempDir dir;
  const auto started = dir / "started";
  HookRunner hooks(HookLimits{.killGrace = 200ms, .stopWait = 300ms});
  // Each hook's shell and a sleep it starts in a session of its own, which a kill of the hook's
  // process group would miss; the pids are written before "started" says the hook runs.
  const std::string command =
      "setsid sleep 1000 & echo $! > \"$1.child\"; echo $$ > \"$1.shell\"; echo x >> " +
      started.string() + "; wait; :";
  for (int i = 0; i < 5; ++i) {
    hooks.start(command, fileNamed(dir / ("f" + std::to_string(i))), 1h, 2);
  }
  // Queued in order, so the two running are those of f0 and f1.
  StrayProcess shell0(dir / "f0.shell");
  StrayProcess child0(dir / "f0.child");
  StrayProcess shell1(dir / "f1.shell");
  StrayProcess child1(dir / "f1.child");
  ASSERT_TRUE(pollUntil(hooks, [&] { return lines(readText(started)).size() == 2; }));
  for (StrayProcess* process : {&shell0, &child0, &shell1, &child1}) {
    ASSERT_GT(process->pid(), 0);
    ASSERT_TRUE(alive(process->pid()));
  }
  hooks.finish();
  EXPECT_EQ(hooks.running(), 0u);
  EXPECT_EQ(hooks.queued(), 0u);
  EXPECT_EQ(lines(readText(started)).size(), 2u) << "queued hooks do not start at stop";
  // Gone, not merely no longer counted: nothing a hook started outlives the daemon's stop.
  EXPECT_FALSE(alive(shell0.pid())) << "the first hook's shell outlived finish()";
  EXPECT_FALSE(alive(child0.pid())) << "the first hook's setsid'd sleep outlived finish()";
  EXPECT_FALSE(alive(shell1.pid())) << "the second hook's shell outlived finish()";
  EXPECT_FALSE(alive(child1.pid())) << "the second hook's setsid'd sleep outlived finish()";
}

TEST(HookRunner, BeyondTheQueueLimitAHookIsNotRunAndTheQueueDoesNotGrow) {
  testing::TempDir dir;
  const auto started = dir / "started";
  const auto release = dir / "release";
  HookRunner hooks(HookLimits{.killGrace = 200ms, .stopWait = 20s, .maxQueued = 3});
  const std::string command = "echo \"$1\" >> " + started.string() + "; while [ ! -e " +
                              release.string() + " ]; do sleep 0.02; done; :";
  for (int i = 1; i <= 10; ++i) hooks.start(command, fileNamed(dir / std::to_string(i)), 20s, 1);
  EXPECT_EQ(hooks.running(), 1u);
  EXPECT_EQ(hooks.queued(), 3u);
  std::ofstream(release).put('\n');
  hooks.waitAll();
  std::vector<std::string> expected;
  for (int i = 1; i <= 4; ++i) expected.push_back((dir / std::to_string(i)).string());
  EXPECT_EQ(lines(readText(started)), expected) << "the first four, in order";
}

// The daemon ignores SIGPIPE, blocks its control signals on every thread and runs with
// NOTIFY_SOCKET and whatever else systemd or the shell gave it: none of that reaches a hook.
TEST(HookRunner, AHookGetsAMinimalEnvironmentDefaultSignalsAndAnEmptyMask) {
  testing::TempDir dir;
  const auto environment = dir / "env";
  const auto status = dir / "status";
  const auto previousPipe = std::signal(SIGPIPE, SIG_IGN);
  sigset_t blocked;
  sigset_t previousMask;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGHUP);
  sigaddset(&blocked, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &blocked, &previousMask);
  ::setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
  ::setenv("PCAP_RECORDER_TEST_SECRET", "do-not-leak", 1);
  {
    HookRunner hooks;
    hooks.start(
        "env > " + environment.string() + "; cat /proc/self/status > " + status.string() + "; :",
        fileNamed("/captures/eth0-1.pcap"), 20s, 1);
    hooks.waitAll();
  }
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("PCAP_RECORDER_TEST_SECRET");
  ::pthread_sigmask(SIG_SETMASK, &previousMask, nullptr);
  std::signal(SIGPIPE, previousPipe);

  std::map<std::string, std::string> variables;
  for (const auto& line : lines(readText(environment))) {
    variables[line.substr(0, line.find('='))] = line.substr(line.find('=') + 1);
  }
  EXPECT_FALSE(variables.contains("NOTIFY_SOCKET"));
  EXPECT_FALSE(variables.contains("PCAP_RECORDER_TEST_SECRET"));
  EXPECT_EQ(variables["PATH"], "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  EXPECT_TRUE(variables.contains("LANG"));
  EXPECT_EQ(variables["PCAP_RECORDER_FILE"], "/captures/eth0-1.pcap");
  EXPECT_EQ(variables["PCAP_RECORDER_INTERFACE"], "eth0");
  EXPECT_EQ(variables["PCAP_RECORDER_PACKETS"], "500");
  EXPECT_EQ(variables["PCAP_RECORDER_BYTES"], "64000");
  EXPECT_EQ(variables["PCAP_RECORDER_KERNEL_DROPS"], "3");
  EXPECT_EQ(variables["PCAP_RECORDER_FIRST_PACKET_TIME"], "1795453200.123456789");
  EXPECT_EQ(variables["PCAP_RECORDER_LAST_PACKET_TIME"], "1795456799.999999000");
  EXPECT_EQ(variables["PCAP_RECORDER_REASON"], "signal");
  for (const auto& [name, value] : variables) {
    // What the shell sets for itself (PWD, OLDPWD) is allowed; nothing of ours.
    EXPECT_TRUE(name == "PATH" || name == "LANG" || name == "PWD" || name == "OLDPWD" ||
                name.starts_with("PCAP_RECORDER_"))
        << name << "=" << value;
  }
  const auto statusText = readText(status);
  EXPECT_THAT(lines(statusText), ::testing::Contains("SigIgn:\t0000000000000000")) << statusText;
  EXPECT_THAT(lines(statusText), ::testing::Contains("SigBlk:\t0000000000000000")) << statusText;
}

TEST(HookEnvironment, LangIsTheDaemonsOrCUtf8) {
  const auto file = fileNamed("/x");
  EXPECT_THAT(hookEnvironment(file, "de_DE.UTF-8"), ::testing::Contains("LANG=de_DE.UTF-8"));
  EXPECT_THAT(hookEnvironment(file, nullptr), ::testing::Contains("LANG=C.UTF-8"));
  EXPECT_THAT(hookEnvironment(file, ""), ::testing::Contains("LANG=C.UTF-8"));
}

}  // namespace
}  // namespace pcap_recorder::service
