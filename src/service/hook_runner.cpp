#include "pcap_recorder/service/hook_runner.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>

#include "pcap_recorder/util/saturating.hpp"

namespace pcap_recorder::service {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kKillGrace{5};
constexpr int kMaxCapability = 63;

// In the child, between fork and exec: only system calls, no allocation, no locks.
[[noreturn]] void execWithoutPrivileges(char* const* argv) {
  // Why all three: the bounding set keeps a root child from regaining capabilities at exec, the
  // ambient set is how systemd gave them to us, and capset empties what we hold now.
  for (int capability = 0; capability <= kMaxCapability; ++capability) {
    if (::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 && errno == EINVAL) break;
  }
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[2] = {};
  ::syscall(SYS_capset, &header, none);
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);

  ::setpgid(0, 0);
  sigset_t all;
  sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  const int devNull = ::open("/dev/null", O_RDONLY);
  if (devNull >= 0) ::dup2(devNull, STDIN_FILENO);
  ::close_range(3, ~0u, 0);
  ::execv("/bin/sh", argv);
  ::_exit(127);
}

std::string describeStatus(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace

HookRunner::~HookRunner() {
  waitAll();
}

void HookRunner::start(const std::string& command, const std::filesystem::path& file,
                       std::chrono::milliseconds timeout, const std::string& interface) {
  std::string script = command + " \"$1\"";
  std::string name = "pcap-recorder-post-finish";
  std::string path = file.string();
  std::string shell = "/bin/sh";
  std::string dashC = "-c";
  char* argv[] = {shell.data(), dashC.data(), script.data(), name.data(), path.data(), nullptr};

  const pid_t pid = ::fork();
  if (pid < 0) {
    spdlog::warn("{}: cannot run post_finish_command for {}: fork: {}", interface, path,
                 std::strerror(errno));
    return;
  }
  if (pid == 0) execWithoutPrivileges(argv);
  ::setpgid(pid, pid);  // also here, so a kill of the group cannot race the child's own call
  children_.push_back(
      Child{pid, util::saturatingAdd(Clock::now(), timeout), false, interface, path});
}

void HookRunner::poll() {
  const auto now = Clock::now();
  for (auto child = children_.begin(); child != children_.end();) {
    int status = 0;
    if (::waitpid(child->pid, &status, WNOHANG) == child->pid) {
      if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        spdlog::warn("{}: post_finish_command for {} failed: {}", child->interface, child->file,
                     child->terminated ? "timed out" : describeStatus(status));
      }
      child = children_.erase(child);
      continue;
    }
    if (now >= child->deadline) {
      // The whole process group: the shell and whatever it started.
      ::kill(-child->pid, child->terminated ? SIGKILL : SIGTERM);
      if (!child->terminated) {
        child->terminated = true;
        child->deadline = now + kKillGrace;
      }
    }
    ++child;
  }
}

void HookRunner::waitAll() {
  while (!children_.empty()) {
    poll();
    if (!children_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace pcap_recorder::service
