#include "unit/dbus/private_bus.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace pcap_recorder::testing {

namespace fs = std::filesystem;

std::optional<fs::path> findDbusDaemon() {
  const char* path = std::getenv("PATH");
  std::stringstream directories(path ? path : "/usr/bin:/bin");
  std::string directory;
  while (std::getline(directories, directory, ':')) {
    const fs::path candidate = fs::path(directory) / "dbus-daemon";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

PrivateBus::PrivateBus(const fs::path& dbusDaemon, const fs::path& directory,
                       const std::optional<fs::path>& configFile) {
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
  util::UniqueFd readEnd(pipeFds[0]);
  util::UniqueFd writeEnd(pipeFds[1]);

  std::vector<std::string> arguments{dbusDaemon.string(), "--nofork", "--nopidfile",
                                     "--print-address=3"};
  if (configFile) {
    arguments.push_back("--config-file=" + configFile->string());
  } else {
    arguments.push_back("--session");
    arguments.push_back("--address=unix:path=" + (directory / "bus").string());
  }
  std::vector<char*> argv;
  for (auto& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);

  pid_ = ::fork();
  if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid_ == 0) {
    ::dup2(writeEnd.get(), 3);  // the copy has no O_CLOEXEC
    const int devNull = ::open("/dev/null", O_WRONLY);
    ::dup2(devNull, 1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  writeEnd.reset();

  // dbus-daemon prints its address once it listens; EOF means it died.
  std::string printed;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (printed.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd readable{readEnd.get(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0) {
      throw std::runtime_error("dbus-daemon did not print its address");
    }
    std::array<char, 512> buffer;
    const ssize_t n = ::read(readEnd.get(), buffer.data(), buffer.size());
    if (n <= 0) throw std::runtime_error("dbus-daemon exited before it listened");
    printed.append(buffer.data(), static_cast<std::size_t>(n));
  }
  address_ = printed.substr(0, printed.find('\n'));
}

PrivateBus::~PrivateBus() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

ScopedEnvironment::ScopedEnvironment(std::string name, const std::string& value)
    : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) previous_ = old;
  ::setenv(name_.c_str(), value.c_str(), 1);
}

ScopedEnvironment::~ScopedEnvironment() {
  if (previous_) {
    ::setenv(name_.c_str(), previous_->c_str(), 1);
  } else {
    ::unsetenv(name_.c_str());
  }
}

std::string FakeControl::version() const {
  return "0.1.0-test";
}

std::vector<service::InterfaceStatus> FakeControl::interfaces() const {
  std::lock_guard lock(mutex_);
  return interfaces_;
}

service::ControlResult FakeControl::rotate(const std::string& interface) {
  std::lock_guard lock(mutex_);
  rotations_.push_back(interface);
  if (rotateFailure_ && rotateFailure_->first == interface) return {false, rotateFailure_->second};
  if (interface.empty()) return {true, rotateOutcome_};
  for (const auto& status : interfaces_) {
    if (status.name == interface) return {true, rotateOutcome_};
  }
  return {false, "no interface " + interface + " is configured"};
}

service::ControlResult FakeControl::reload() {
  std::lock_guard lock(mutex_);
  ++reloads_;
  if (reloadThrows_) throw std::runtime_error(*reloadThrows_);
  if (reloadFailure_) return {false, *reloadFailure_};
  return {};
}

void FakeControl::setInterfaces(std::vector<service::InterfaceStatus> interfaces) {
  std::lock_guard lock(mutex_);
  interfaces_ = std::move(interfaces);
}

void FakeControl::failRotate(std::string interface, std::string message) {
  std::lock_guard lock(mutex_);
  rotateFailure_.emplace(std::move(interface), std::move(message));
}

void FakeControl::rotateOutcome(std::string message) {
  std::lock_guard lock(mutex_);
  rotateOutcome_ = std::move(message);
}

void FakeControl::failReload(std::string message) {
  std::lock_guard lock(mutex_);
  reloadFailure_ = std::move(message);
}

void FakeControl::throwOnReload(std::string what) {
  std::lock_guard lock(mutex_);
  reloadThrows_ = std::move(what);
}

std::vector<std::string> FakeControl::rotations() const {
  std::lock_guard lock(mutex_);
  return rotations_;
}

int FakeControl::reloads() const {
  std::lock_guard lock(mutex_);
  return reloads_;
}

ServiceLoop::ServiceLoop(dbus::BusService& service)
    : service_(service), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!wake_.valid()) throw std::system_error(errno, std::generic_category(), "eventfd");
  thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
}

ServiceLoop::~ServiceLoop() {
  thread_.request_stop();
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(wake_.get(), &one, sizeof one);
  thread_.join();
}

void ServiceLoop::run(const std::function<void()>& task) {
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back([task, done] {
      try {
        task();
        done->set_value();
      } catch (...) {
        done->set_exception(std::current_exception());
      }
    });
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(wake_.get(), &one, sizeof one);
  if (finished.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    throw std::runtime_error("the service loop did not run the task: " + error());
  }
  finished.get();
}

std::string ServiceLoop::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void ServiceLoop::loop(std::stop_token stop) {
  try {
    while (!stop.stop_requested()) {
      std::array<pollfd, 2> fds{pollfd{service_.fd(), service_.events(), 0},
                                pollfd{wake_.get(), POLLIN, 0}};
      int timeoutMs = -1;
      if (const auto timeout = service_.timeout()) {
        timeoutMs = static_cast<int>((timeout->count() + 999) / 1000);
      }
      if (::poll(fds.data(), fds.size(), timeoutMs) < 0 && errno != EINTR) {
        throw std::system_error(errno, std::generic_category(), "poll");
      }
      if (fds[1].revents & POLLIN) {
        std::uint64_t count = 0;
        [[maybe_unused]] const auto read = ::read(wake_.get(), &count, sizeof count);
        std::vector<std::function<void()>> tasks;
        {
          std::lock_guard lock(mutex_);
          tasks.swap(tasks_);
        }
        for (auto& task : tasks) task();
      }
      service_.process();
    }
  } catch (const std::exception& exception) {
    std::lock_guard lock(mutex_);
    error_ = exception.what();
  }
}

void BusDeleter::operator()(sd_bus* bus) const noexcept {
  sd_bus_flush_close_unref(bus);
}

BusConnection openClient() {
  sd_bus* bus = nullptr;
  const int result = sd_bus_open_user(&bus);
  if (result < 0) throw std::system_error(-result, std::generic_category(), "sd_bus_open_user");
  return BusConnection(bus);
}

RunResult runCommand(const std::string& command) {
  char errorsPath[] = "/tmp/pcap-recorder-test-stderr-XXXXXX";
  const util::UniqueFd errors(::mkstemp(errorsPath));
  RunResult result;
  const std::string full = command + " 2>" + errorsPath;
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe != nullptr) {
    std::array<char, 4096> buffer;
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
      result.out.append(buffer.data(), n);
    const int status = ::pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::ifstream file(errorsPath);
  std::stringstream text;
  text << file.rdbuf();
  result.err = text.str();
  ::unlink(errorsPath);
  return result;
}

std::vector<service::InterfaceStatus> sampleInterfaces() {
  service::InterfaceStatus eth0;
  eth0.name = "eth0";
  eth0.state = {service::CaptureState::capturing};
  eth0.stats = {.packetsReceived = 1500,
                .kernelDrops = 7,
                .packetsWritten = 1493,
                .bytesWritten = 912345,
                .packetsLostToDisk = 0,
                .filesWritten = 12,
                .filesWithoutSha256 = 3};
  eth0.currentFile = "/var/lib/pcap-recorder/eth0-20261123T170000.pcap.part";
  service::InterfaceStatus lo;
  lo.name = "lo";
  lo.state = {service::CaptureState::paused, service::PauseReason::writeFailed};
  lo.stats = {.packetsReceived = 40,
              .kernelDrops = 0,
              .packetsWritten = 30,
              .bytesWritten = 4000,
              .packetsLostToDisk = 10,
              .filesWritten = 1};
  return {eth0, lo};
}

void BusTest::SetUp() {
  dbusDaemon_ = findDbusDaemon();
  if (!dbusDaemon_) {
    GTEST_SKIP() << "dbus-daemon is not installed (Debian: apt-get install dbus); "
                    "the D-Bus tests need one to start a private bus";
  }
  bus_ = std::make_unique<PrivateBus>(*dbusDaemon_, work_.path(), busConfig());
  sessionAddress_ =
      std::make_unique<ScopedEnvironment>("DBUS_SESSION_BUS_ADDRESS", bus_->address());
  control_.setInterfaces(sampleInterfaces());
}

void BusTest::TearDown() {
  loop_.reset();
  service_.reset();
  sessionAddress_.reset();
  bus_.reset();
}

void BusTest::startService(dbus::CallerCheck callerCheck, dbus::RotateLimit rotateLimit) {
  service_ = std::make_unique<dbus::BusService>(control_, dbus::BusKind::user,
                                                std::move(callerCheck), std::move(rotateLimit));
  loop_ = std::make_unique<ServiceLoop>(*service_);
}

}  // namespace pcap_recorder::testing
