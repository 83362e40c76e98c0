// Runs `post_finish_command` for finished files, the hook tcpdump's -z users rely on: each run is
// its own process group, holds no capability, is never waited on by capture, is killed when it
// outlives its timeout, and is always reaped. Failures are logged, never fatal.
// Used by one thread (the file finisher).
#pragma once

#include <sys/types.h>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace pcap_recorder::service {

class HookRunner {
 public:
  HookRunner() = default;
  ~HookRunner();
  HookRunner(const HookRunner&) = delete;
  HookRunner& operator=(const HookRunner&) = delete;

  // Starts `/bin/sh -c '<command> "$1"' <file>`: the file's path is the last argument.
  void start(const std::string& command, const std::filesystem::path& file,
             std::chrono::milliseconds timeout, const std::string& interface);

  // Reaps the runs that ended (logging failures) and signals those past their timeout.
  void poll();

  // Waits until every run has ended, killing those past their timeout.
  void waitAll();

  std::size_t running() const noexcept { return children_.size(); }

 private:
  struct Child {
    pid_t pid;
    std::chrono::steady_clock::time_point deadline;
    bool terminated;  // SIGTERM sent; SIGKILL follows after a grace period
    std::string interface;
    std::string file;
  };
  std::vector<Child> children_;
};

}  // namespace pcap_recorder::service
