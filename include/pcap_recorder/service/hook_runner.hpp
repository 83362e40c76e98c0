// Runs `post_finish_command` for finished files, the hook tcpdump's -z users rely on. Each run:
//  - holds no capability, gets a minimal environment (hookEnvironment()), default signal
//    dispositions and an empty signal mask, and never the daemon's NOTIFY_SOCKET;
//  - is a small supervisor process that is a child subreaper (PR_SET_CHILD_SUBREAPER) and runs
//    `/bin/sh -c` under it: whatever the hook starts, even in a new session (setsid), stays below
//    the supervisor, which waits until all of it has ended. On its timeout the supervisor sends
//    SIGTERM to every process below it, then SIGKILL after the kill grace, until none is left;
//  - is never waited on by capture, is always reaped, and logs its failure, never fatal.
// At most `maxRunning` hooks of one interface run at once; the others wait, in order.
// Used by one thread (the file finisher).
#pragma once

#include <sys/types.h>
#include <chrono>
#include <deque>
#include <filesystem>
#include <string>
#include <vector>

#include "pcap_recorder/service/file_finisher.hpp"

namespace pcap_recorder::service {

// What a hook is given besides the file's path as its last argument: PATH, LANG (the daemon's,
// C.UTF-8 when it has none), and the file's facts as PCAP_RECORDER_* variables
// (FILE, INTERFACE, PACKETS, BYTES, KERNEL_DROPS, FIRST_PACKET_TIME, LAST_PACKET_TIME as
// seconds.nanoseconds since the epoch, REASON). Nothing else of the daemon's environment.
std::vector<std::string> hookEnvironment(const FinishedFile& file, const char* lang);

struct HookLimits {
  // After SIGTERM, how long the hook's processes have before SIGKILL.
  std::chrono::milliseconds killGrace{std::chrono::seconds(5)};
  // At stop, how long finish() lets running and queued hooks go on before it terminates the
  // running ones and drops the queued ones.
  std::chrono::milliseconds stopWait{std::chrono::seconds(20)};
  // Hooks waiting for a slot, all interfaces together; beyond, a hook is not run (logged). Why:
  // files finished faster than hooks end (max_packets: 1, a slow hook) must not grow the daemon.
  std::size_t maxQueued = 10'000;
};

class HookRunner {
 public:
  explicit HookRunner(HookLimits limits = {});
  ~HookRunner();
  HookRunner(const HookRunner&) = delete;
  HookRunner& operator=(const HookRunner&) = delete;

  // Runs `/bin/sh -c '<command> "$1"' <file>` (the file's path is the last argument) now, or
  // once fewer than `maxRunning` hooks of the file's interface run (0 counts as 1); not at all
  // when limits.maxQueued hooks already wait (logged, at most every 10 s).
  void start(const std::string& command, const FinishedFile& file,
             std::chrono::milliseconds timeout, std::size_t maxRunning);

  // Reaps the runs that ended (logging failures), terminates those past their timeout, and starts
  // queued ones where a slot is free.
  void poll();

  // Waits until every run has ended and the queue is empty, killing those past their timeout.
  void waitAll();

  // For stop: like waitAll() for at most limits.stopWait; then the hooks still queued are not
  // run (logged) and those running are terminated. Returns within stopWait + killGrace + 2 s.
  void finish();

  std::size_t running() const noexcept { return children_.size(); }
  std::size_t queued() const noexcept { return queue_.size(); }

 private:
  struct Pending {
    std::string command;
    std::string interface;
    std::string file;
    std::vector<std::string> environment;
    std::chrono::milliseconds timeout;
    std::size_t maxRunning;
  };
  struct Child {
    pid_t pid;  // the supervisor
    std::chrono::steady_clock::time_point deadline;
    bool terminated;  // SIGTERM sent to the supervisor; SIGKILL follows if it outlives the grace
    std::string interface;
    std::string file;
  };
  void launchQueued();
  void launch(Pending& pending);
  void terminate(Child& child, std::chrono::steady_clock::time_point now);

  HookLimits limits_;
  std::deque<Pending> queue_;
  std::uint64_t notRunSinceWarning_ = 0;
  std::chrono::steady_clock::time_point nextQueueWarning_;
  std::vector<Child> children_;
};

}  // namespace pcap_recorder::service
