#include "pcap_recorder/service/hook_runner.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <thread>

#include "pcap_recorder/config/hook_command.hpp"
#include "pcap_recorder/util/saturating.hpp"

namespace pcap_recorder::service {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMaxCapability = 63;
// A supervisor only signals and reaps: past the kill grace this is all it may take more before
// the daemon kills it (and its process group) itself.
constexpr std::chrono::seconds kSupervisorSlack{2};
// Processes signalled per look at /proc; a hook with more gets them in the next rounds.
constexpr std::size_t kMaxDescendants = 1024;
constexpr std::chrono::seconds kQueueWarningInterval{10};
constexpr long kNanosecondsPerMillisecond = 1'000'000;
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// ---- In the child, between fork and exec: only system calls, no allocation, no locks. ----

void dropCapabilities() {
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
}

// The daemon ignores SIGPIPE and blocks its control signals; a hook must start as from a shell.
void defaultSignalDispositions() {
  struct sigaction byDefault {};
  byDefault.sa_handler = SIG_DFL;
  // All zero is SIG_DFL, no flags, empty mask in the kernel's struct on every architecture.
  const unsigned long kernelDefault[8] = {};
  for (int signal = 1; signal < NSIG; ++signal) {
    if (signal == SIGKILL || signal == SIGSTOP) continue;
    // glibc refuses the signals it reserves for itself (32 and 33), yet an ignored one is
    // inherited through exec: GNU make ignores both, and so would every hook of a daemon started
    // under it (the package build's ctest does). The kernel takes them.
    if (::sigaction(signal, &byDefault, nullptr) != 0) {
      ::syscall(SYS_rt_sigaction, signal, kernelDefault, nullptr, (NSIG - 1) / 8);
    }
  }
}

long long monotonicNanoseconds() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// Parses the decimal number at `text` (up to a non-digit); -1 when there is none.
long parseNumber(const char* text) {
  long value = -1;
  for (; *text >= '0' && *text <= '9'; ++text) value = (value < 0 ? 0 : value * 10) + (*text - '0');
  return value;
}

// The parent process id of process `name` (its /proc directory name); -1 when it is gone.
pid_t parentOf(const char* name) {
  char path[64] = "/proc/";
  std::size_t length = 6;
  for (; *name != '\0' && length < 40; ++name) path[length++] = *name;
  for (const char* tail = "/stat"; *tail != '\0'; ++tail) path[length++] = *tail;
  path[length] = '\0';
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char stat[512];
  const ssize_t size = ::read(fd, stat, sizeof stat - 1);
  ::close(fd);
  if (size <= 0) return -1;
  // "PID (COMM) STATE PPID ...": COMM may hold anything, ')' too, so look from the last one.
  ssize_t end = size - 1;
  while (end >= 0 && stat[end] != ')') --end;
  if (end < 0 || end + 4 >= size) return -1;
  stat[size] = '\0';
  return static_cast<pid_t>(parseNumber(stat + end + 4));
}

bool contains(const pid_t* pids, std::size_t count, pid_t pid) {
  for (std::size_t i = 0; i < count; ++i) {
    if (pids[i] == pid) return true;
  }
  return false;
}

// Every process below `root`, by the parent ids in /proc; at most `capacity` of them.
std::size_t findDescendants(pid_t root, pid_t* found, std::size_t capacity) {
  std::size_t count = 0;
  // One pass finds the children, the next their children...; a tree this deep is absurd.
  for (int pass = 0; pass < 32; ++pass) {
    const std::size_t before = count;
    const int proc = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc < 0) return count;
    alignas(dirent64) char buffer[8192];
    for (;;) {
      const ssize_t size = ::getdents64(proc, buffer, sizeof buffer);
      if (size <= 0) break;
      for (ssize_t offset = 0; offset < size;) {
        const auto* entry = reinterpret_cast<const dirent64*>(buffer + offset);
        offset += entry->d_reclen;
        const long pid = parseNumber(entry->d_name);
        if (pid <= 0 || pid == root || contains(found, count, static_cast<pid_t>(pid))) continue;
        const pid_t parent = parentOf(entry->d_name);
        if (parent == root || (parent > 0 && contains(found, count, parent))) {
          if (count < capacity) found[count++] = static_cast<pid_t>(pid);
        }
      }
    }
    ::close(proc);
    if (count == before) break;
  }
  return count;
}

void signalDescendants(int signal) {
  pid_t pids[kMaxDescendants];
  const std::size_t count = findDescendants(::getpid(), pids, kMaxDescendants);
  for (std::size_t i = 0; i < count; ++i) {
    ::kill(pids[i], signal);
    // A stopped process would hold SIGTERM pending for ever.
    if (signal == SIGTERM) ::kill(pids[i], SIGCONT);
  }
}

// The supervisor: a child subreaper, so that every process the hook starts, in whatever session
// or process group, is below it until it ends. Ends when none is left. SIGTERM (the timeout, or
// the finisher thread gone: PR_SET_PDEATHSIG) ends the hook: SIGTERM to every process below,
// SIGKILL after `killGraceNs`, until none is left. Exits with the shell's status (128 + the
// signal when the shell was killed).
[[noreturn]] void superviseHook(char* const* argv, char* const* environment, pid_t daemon,
                                long long killGraceNs) {
  dropCapabilities();
  ::setpgid(0, 0);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
  defaultSignalDispositions();
  sigset_t control;
  sigemptyset(&control);
  for (int signal : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&control, signal);
  ::sigprocmask(SIG_SETMASK, &control, nullptr);
  const int devNull = ::open("/dev/null", O_RDONLY);
  if (devNull >= 0) ::dup2(devNull, STDIN_FILENO);
  ::close_range(3, ~0u, 0);
  // The daemon went away before PR_SET_PDEATHSIG was set: run nothing.
  if (::getppid() != daemon) ::_exit(127);

  const pid_t shell = ::fork();
  if (shell < 0) ::_exit(127);
  if (shell == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve("/bin/sh", argv, environment);
    ::_exit(127);
  }
  int shellStatus = 0;
  bool terminating = false;
  long long killAt = 0;
  for (;;) {
    int status = 0;
    pid_t ended;
    while ((ended = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (ended == shell) shellStatus = status;
    }
    if (ended < 0 && errno == ECHILD) break;
    if (terminating && monotonicNanoseconds() >= killAt) signalDescendants(SIGKILL);
    timespec poll{0, 50 * kNanosecondsPerMillisecond};
    siginfo_t info;
    const int received = ::sigtimedwait(&control, &info, terminating ? &poll : nullptr);
    if (!terminating && (received == SIGTERM || received == SIGINT || received == SIGHUP)) {
      terminating = true;
      killAt = monotonicNanoseconds() + killGraceNs;
      signalDescendants(SIGTERM);
    }
  }
  if (WIFSIGNALED(shellStatus)) ::_exit(128 + WTERMSIG(shellStatus));
  ::_exit(WIFEXITED(shellStatus) ? WEXITSTATUS(shellStatus) : 127);
}

// ---- The daemon's side. ----

std::string describeStatus(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::string timeText(const pcap::Timestamp& time) {
  char fraction[16];
  std::snprintf(fraction, sizeof fraction, ".%09u", time.nanoseconds);
  return std::to_string(time.seconds) + fraction;
}

}  // namespace

std::vector<std::string> hookEnvironment(const FinishedFile& file, const char* lang) {
  return {
      std::string("PATH=") + kDefaultPath,
      std::string("LANG=") + (lang != nullptr && *lang != '\0' ? lang : "C.UTF-8"),
      "PCAP_RECORDER_FILE=" + file.path.string(),
      "PCAP_RECORDER_INTERFACE=" + file.interface,
      "PCAP_RECORDER_PACKETS=" + std::to_string(file.packets),
      "PCAP_RECORDER_BYTES=" + std::to_string(file.bytes),
      "PCAP_RECORDER_KERNEL_DROPS=" + std::to_string(file.kernelDrops),
      "PCAP_RECORDER_FIRST_PACKET_TIME=" + timeText(file.firstPacket),
      "PCAP_RECORDER_LAST_PACKET_TIME=" + timeText(file.lastPacket),
      "PCAP_RECORDER_REASON=" + file.reason,
  };
}

HookRunner::HookRunner(HookLimits limits) : limits_(limits) {}

HookRunner::~HookRunner() {
  finish();
}

void HookRunner::start(const std::string& command, const FinishedFile& file,
                       std::chrono::milliseconds timeout, std::size_t maxRunning) {
  launchQueued();
  if (queue_.size() >= limits_.maxQueued) {
    ++notRunSinceWarning_;
    if (const auto now = Clock::now(); now >= nextQueueWarning_) {
      spdlog::error(
          "{}: post_finish_command not run for {}: {} hooks are already waiting ({} "
          "not run since the last such message); files are finished faster than "
          "their hooks end",
          file.interface, file.path.string(), queue_.size(), notRunSinceWarning_);
      notRunSinceWarning_ = 0;
      nextQueueWarning_ = now + kQueueWarningInterval;
    }
    return;
  }
  queue_.push_back(Pending{command, file.interface, file.path.string(),
                           hookEnvironment(file, std::getenv("LANG")), timeout,
                           std::max<std::size_t>(maxRunning, 1)});
  launchQueued();
}

// In order, each where its interface has a free slot: one interface's backlog does not hold
// another's hooks back, and each interface's hooks start in the order its files finished.
void HookRunner::launchQueued() {
  std::map<std::string, std::size_t> running;
  for (const auto& child : children_) ++running[child.interface];
  for (auto pending = queue_.begin(); pending != queue_.end();) {
    auto& count = running[pending->interface];
    if (count >= pending->maxRunning) {
      ++pending;
      continue;
    }
    launch(*pending);
    ++count;
    pending = queue_.erase(pending);
  }
}

void HookRunner::launch(Pending& pending) {
  std::string script = config::hookScript(pending.command);
  std::string name = "pcap-recorder-post-finish";
  std::string shell = "/bin/sh";
  std::string dashC = "-c";
  char* argv[] = {shell.data(), dashC.data(),        script.data(),
                  name.data(),  pending.file.data(), nullptr};
  std::vector<char*> environment;
  for (auto& variable : pending.environment) environment.push_back(variable.data());
  environment.push_back(nullptr);
  const pid_t daemon = ::getpid();
  const long long killGraceNs =
      std::chrono::duration_cast<std::chrono::nanoseconds>(limits_.killGrace).count();

  const pid_t pid = ::fork();
  if (pid < 0) {
    spdlog::warn("{}: cannot run post_finish_command for {}: fork: {}", pending.interface,
                 pending.file, std::strerror(errno));
    return;
  }
  if (pid == 0) superviseHook(argv, environment.data(), daemon, killGraceNs);
  ::setpgid(pid, pid);  // also here, so a kill of the group cannot race the child's own call
  children_.push_back(Child{pid, util::saturatingAdd(Clock::now(), pending.timeout), false,
                            pending.interface, pending.file});
}

void HookRunner::terminate(Child& child, Clock::time_point now) {
  if (!child.terminated) {
    ::kill(child.pid, SIGTERM);  // the supervisor ends everything below it
    child.terminated = true;
    child.deadline = now + limits_.killGrace + kSupervisorSlack;
  } else {
    ::kill(-child.pid, SIGKILL);
  }
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
    if (now >= child->deadline) terminate(*child, now);
    ++child;
  }
  launchQueued();
}

void HookRunner::waitAll() {
  while (!children_.empty() || !queue_.empty()) {
    poll();
    if (!children_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void HookRunner::finish() {
  const auto giveUp = Clock::now() + limits_.stopWait;
  while (!children_.empty() || !queue_.empty()) {
    poll();
    const auto now = Clock::now();
    if (now >= giveUp) {
      for (const auto& pending : queue_) {
        spdlog::warn("{}: post_finish_command not run for {}: stopping", pending.interface,
                     pending.file);
      }
      queue_.clear();
      for (auto& child : children_) {
        if (!child.terminated) {
          spdlog::warn("{}: post_finish_command for {} still running at stop: terminated",
                       child.interface, child.file);
          terminate(child, now);
        }
      }
    }
    if (!children_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace pcap_recorder::service
