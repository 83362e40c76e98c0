// Holding a thread at a point of the test's choosing (a hook in the finisher, the hasher) until
// the test lets it go. Every wait is bounded, so a test that fails before it releases the gate
// fails after kPatience instead of hanging the thread it holds, and with it the test run.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace pcap_recorder::testing {

// Long enough for a loaded 2-core machine; only a failing test waits it out.
inline constexpr std::chrono::seconds kPatience{60};

class Gate {
 public:
  // Called by the held thread: says it is here, then waits until release() (or kPatience).
  void arrive() {
    std::unique_lock lock(mutex_);
    arrived_ = true;
    changed_.notify_all();
    changed_.wait_for(lock, kPatience, [this] { return released_; });
  }
  // Called by the test: whether a thread arrived within kPatience.
  bool waitForArrival() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kPatience, [this] { return arrived_; });
  }
  // Lets every thread that arrived, or will, go on.
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool arrived_ = false;
  bool released_ = false;
};

// Declared after whatever the gate holds a thread of: releases it before that is torn down, also
// when an ASSERT leaves the test early.
struct ReleaseOnExit {
  std::shared_ptr<Gate> gate;
  ~ReleaseOnExit() { gate->release(); }
};

}  // namespace pcap_recorder::testing
