// Interfaces in memory for tests that run the daemon without root: interfaces that exist or not,
// up or down,
// capture sources opened on them, and frames sent on them. A frame sent reaches, as a block of its
// own, every source of that interface whose intake is open: from its first replaceFilter() (the
// recorder's beginIntake(); a source is opened with intake held, as the real one is) until its
// stopIntake(). So a handover between two sockets can be checked frame by frame.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pcap_recorder/capture/link_monitor.hpp"
#include "pcap_recorder/capture/packet_source.hpp"
#include "support/block_builder.hpp"

namespace pcap_recorder::testing {

class FakeNetwork {
 public:
  // One source's queue of blocks, shared between the source (owned by a recorder) and the network.
  struct Queue {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::vector<std::byte>> blocks;
    bool intakeOpen = false;
    bool woken = false;
  };

  class Source final : public capture::PacketSource {
   public:
    Source(std::shared_ptr<Queue> queue, int index) : queue_(std::move(queue)), index_(index) {}

    std::span<const std::byte> nextBlock(std::chrono::milliseconds timeout) override {
      std::unique_lock lock(queue_->mutex);
      if (current_.empty()) {
        if (timeout.count() > 0) {
          queue_->changed.wait_for(lock, timeout,
                                   [&] { return queue_->woken || !queue_->blocks.empty(); });
          queue_->woken = false;
        }
        if (queue_->blocks.empty()) return {};
        current_ = std::move(queue_->blocks.front());
        queue_->blocks.pop_front();
      }
      return current_;
    }
    void releaseBlock() noexcept override {
      std::fill(current_.begin(), current_.end(), std::byte{0xEE});  // reused, as the kernel does
      current_.clear();
    }
    void wake() noexcept override {
      std::lock_guard lock(queue_->mutex);
      queue_->woken = true;
      queue_->changed.notify_all();
    }
    void stopIntake() override {
      std::lock_guard lock(queue_->mutex);
      queue_->intakeOpen = false;
    }
    void replaceFilter(const bpf::FilterProgram&) override {
      std::lock_guard lock(queue_->mutex);
      queue_->intakeOpen = true;
    }
    capture::KernelCounts takeKernelCounts() noexcept override { return {}; }
    bool seesOwnFramesTwice() const noexcept override { return false; }
    std::chrono::milliseconds blockTimeout() const noexcept override {
      return std::chrono::milliseconds(5);
    }
    std::uint64_t socketErrors() const noexcept override { return 0; }
    int interfaceIndex() const noexcept override { return index_; }

   private:
    std::shared_ptr<Queue> queue_;
    std::vector<std::byte> current_;
    int index_;
  };

  // An interface exists from add() until remove(); add() again makes a new one (a new index).
  // It is up unless setUp() says otherwise.
  void add(const std::string& name) {
    std::lock_guard lock(mutex_);
    indexes_[name] = ++lastIndex_;
    down_.erase(name);
  }
  void remove(const std::string& name) {
    std::lock_guard lock(mutex_);
    indexes_.erase(name);
  }
  void setUp(const std::string& name, bool up) {
    std::lock_guard lock(mutex_);
    if (up) {
      down_.erase(name);
    } else {
      down_.insert(name);
    }
  }
  std::optional<capture::LinkState> linkState(const std::string& name) const {
    std::lock_guard lock(mutex_);
    const auto found = indexes_.find(name);
    if (found == indexes_.end()) return std::nullopt;
    return capture::LinkState{.index = found->second, .up = down_.count(name) == 0};
  }
  bool exists(const std::string& name) const {
    std::lock_guard lock(mutex_);
    return indexes_.count(name) != 0;
  }
  int indexOf(const std::string& name) const {
    std::lock_guard lock(mutex_);
    const auto found = indexes_.find(name);
    return found == indexes_.end() ? 0 : found->second;
  }

  // A source on `name` with intake held.
  std::unique_ptr<capture::PacketSource> open(const std::string& name) {
    auto queue = std::make_shared<Queue>();
    std::lock_guard lock(mutex_);
    queues_[name].push_back(queue);
    const auto found = indexes_.find(name);
    return std::make_unique<Source>(std::move(queue), found == indexes_.end() ? 0 : found->second);
  }

  // Sends `frame` on `name`; returns how many sources took it.
  std::size_t send(const std::string& name, BlockFrame frame) {
    const auto block = buildBlock({std::move(frame)});
    std::lock_guard lock(mutex_);
    auto& queues = queues_[name];
    std::erase_if(queues, [](const auto& queue) { return queue.expired(); });
    std::size_t taken = 0;
    for (const auto& weak : queues) {
      const auto queue = weak.lock();
      if (!queue) continue;
      std::lock_guard queueLock(queue->mutex);
      if (!queue->intakeOpen) continue;
      queue->blocks.push_back(block);
      queue->changed.notify_all();
      ++taken;
    }
    return taken;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int> indexes_;
  std::set<std::string> down_;
  std::map<std::string, std::vector<std::weak_ptr<Queue>>> queues_;
  int lastIndex_ = 0;
};

}  // namespace pcap_recorder::testing
