// Test hosts for integration tests: network namespaces joined by veth pairs, made by the test and
// always removed (the destructor runs also when an assertion fails). Frames are sent as raw
// Ethernet from inside a namespace, so nothing ever leaves the namespaces the test made.
#pragma once

#include <atomic>
#include <chrono>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::testing {

// Runs a shell command; its output goes to the test log. Returns the exit status.
int runCommand(const std::string& command);

// Waits until `interface` in `ns` reports carrier (operstate UP); false after `timeout`. The
// kernel brings a veth end's transmit queue back after its peer comes up in a work item of its
// own, and until then frames sent there are dropped without an error.
bool waitForCarrier(const std::string& ns, const std::string& interface,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Creates the veth pair `senderInterface` in `senderNs` / `captureInterface` in `captureNs` and
// brings both up, the capture end first: the end brought up second can send at once (its queue is
// started as it comes up, its peer's carrier being there already). Waits for the sender's carrier.
void addVethPair(const std::string& senderNs, const std::string& senderInterface,
                 const std::string& captureNs, const std::string& captureInterface);

// True when the process may create namespaces (root); tests skip with a reason otherwise.
bool canCreateNamespaces();

// Opens a socket inside the named namespace (its sockets stay there whichever thread uses them).
util::UniqueFd socketInNamespace(const std::string& ns, int domain, int type, int protocol);

// Sends raw frames out of one interface of one namespace.
class FrameSender {
 public:
  FrameSender(const std::string& ns, const std::string& interface);
  // Sends each frame once, in order; fails the test on a send error.
  void send(std::span<const std::byte> frame);

 private:
  util::UniqueFd socket_;
};

// Two namespaces, "sender" and "capture", with `links` veth pairs between them:
// senderInterface(i) in the sender namespace is joined to captureInterface(i). A constructor
// that throws (a command failed, no carrier) first deletes the namespaces it made.
class NamespacePair {
 public:
  explicit NamespacePair(int links = 1);
  ~NamespacePair();
  NamespacePair(const NamespacePair&) = delete;
  NamespacePair& operator=(const NamespacePair&) = delete;

  const std::string& senderNamespace() const { return sender_; }
  const std::string& captureNamespace() const { return capture_; }
  std::string senderInterface(int link = 0) const;
  std::string captureInterface(int link = 0) const;
  FrameSender senderOn(int link = 0) const { return FrameSender(sender_, senderInterface(link)); }

 private:
  std::string prefix_;
  std::string sender_;
  std::string capture_;
};

// Sends frames in a loop from a background thread until stopped (noise during a daemon's start).
class BackgroundSender {
 public:
  BackgroundSender(FrameSender sender, std::vector<std::byte> frame);
  ~BackgroundSender();
  std::uint64_t stop();  // returns how many frames were sent

 private:
  std::atomic<bool> stop_{false};
  std::uint64_t sent_ = 0;
  FrameSender sender_;
  std::vector<std::byte> frame_;
  std::thread thread_;
};

}  // namespace pcap_recorder::testing
