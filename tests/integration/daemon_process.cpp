#include "daemon_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace pcap_recorder::testing {

namespace {
using Clock = std::chrono::steady_clock;
}

DaemonProcess::DaemonProcess(const std::string& ns, const std::vector<std::string>& args,
                             const std::filesystem::path& workDirectory,
                             const std::vector<std::string>& prefix)
    : logPath_(workDirectory / "daemon.log"), notifyPath_(workDirectory / "notify.sock") {
  notifySocket_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, notifyPath_.c_str(), sizeof address.sun_path - 1);
  std::filesystem::remove(notifyPath_);
  if (::bind(notifySocket_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error("bind notify socket: " + std::string(std::strerror(errno)));
  }
  // The daemon may run as another user (the unprivileged test).
  ::chmod(notifyPath_.c_str(), 0777);

  std::vector<std::string> command = prefix;
  command.push_back(PCAPRECORDERD_PATH);
  command.insert(command.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& part : command) argv.push_back(part.data());
  argv.push_back(nullptr);
  const std::string nsPath = "/run/netns/" + ns;
  const std::string notifyEnv = "NOTIFY_SOCKET=" + notifyPath_.string();

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Child: only async-signal-safe calls until exec.
    if (!ns.empty()) {
      const int nsFd = ::open(nsPath.c_str(), O_RDONLY | O_CLOEXEC);
      if (nsFd < 0 || ::setns(nsFd, CLONE_NEWNET) != 0) ::_exit(126);
    }
    const int logFd = ::open(logPath_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logFd >= 0) {
      ::dup2(logFd, STDOUT_FILENO);
      ::dup2(logFd, STDERR_FILENO);
    }
    ::putenv(const_cast<char*>(notifyEnv.c_str()));
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void DaemonProcess::receiveNotifications(std::chrono::milliseconds timeout) {
  pollfd waitFor{notifySocket_.get(), POLLIN, 0};
  if (::poll(&waitFor, 1, static_cast<int>(timeout.count())) <= 0) return;
  char buffer[4096];
  const ssize_t n = ::recv(notifySocket_.get(), buffer, sizeof buffer, MSG_DONTWAIT);
  if (n > 0) notifications_.emplace_back(buffer, static_cast<std::size_t>(n));
}

bool DaemonProcess::waitReady(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto isReady = [](const std::string& message) {
    return message.find("READY=1") != std::string::npos;
  };
  while (Clock::now() < deadline) {
    if (std::any_of(notifications_.begin(), notifications_.end(), isReady)) return true;
    int status;
    if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    receiveNotifications(std::chrono::milliseconds(50));
  }
  return false;
}

int DaemonProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (pid_ > 0 && Clock::now() < deadline) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      while (notifySocket_.valid()) {
        const auto before = notifications_.size();
        receiveNotifications(std::chrono::milliseconds(0));
        if (notifications_.size() == before) break;
      }
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    receiveNotifications(std::chrono::milliseconds(10));
  }
  return -1;
}

int DaemonProcess::stop(int signal, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  return wait(timeout);
}

std::string DaemonProcess::log() const {
  std::ifstream in(logPath_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace pcap_recorder::testing

namespace pcap_recorder::testing {

void DaemonProcess::signal(int signal) const {
  if (pid_ > 0) ::kill(pid_, signal);
}

bool DaemonProcess::running() {
  int status;
  if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) pid_ = -1;
  return pid_ > 0;
}

bool DaemonProcess::waitForLog(const std::string& text, std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace pcap_recorder::testing
