// pcap-recorderd started by a test, inside a network namespace, with its own NOTIFY_SOCKET so the
// test knows when capture is running (READY=1) without sleeping. Killed in the destructor if the
// test did not stop it.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::testing {

class DaemonProcess {
 public:
  // Runs `prefix... pcap-recorderd args...` in namespace `ns` (empty: this one); its stdout and
  // stderr go to `workDirectory`/daemon.log.
  DaemonProcess(const std::string& ns, const std::vector<std::string>& args,
                const std::filesystem::path& workDirectory,
                const std::vector<std::string>& prefix = {});
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Waits for READY=1 on the notify socket; false on timeout or when the daemon exited.
  bool waitReady(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Sends `signal` and waits for the exit; returns the exit status (-1 on timeout or a crash).
  int stop(int signal = SIGTERM, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  pid_t pid() const { return pid_; }
  // Sends `signal` and returns at once.
  void signal(int signal) const;
  bool running();
  // Waits until `text` appears in the log; false on timeout.
  bool waitForLog(const std::string& text,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // Waits for the exit without signalling.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  std::string log() const;
  // Notify messages received so far, one per datagram.
  const std::vector<std::string>& notifications() const { return notifications_; }

 private:
  void receiveNotifications(std::chrono::milliseconds timeout);

  std::filesystem::path logPath_;
  std::filesystem::path notifyPath_;
  util::UniqueFd notifySocket_;
  std::vector<std::string> notifications_;
  pid_t pid_ = -1;
};

}  // namespace pcap_recorder::testing
