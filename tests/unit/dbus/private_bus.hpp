// What the D-Bus tests share: a dbus-daemon of their own, a poll loop thread that drives a
// BusService as the daemon's main loop will, a FakeControl, and a way to run pcap-recorderctl.
#pragma once

#include <sys/types.h>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "pcap_recorder/dbus/bus_service.hpp"
#include "pcap_recorder/service/control.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/temp_dir.hpp"

struct sd_bus;

namespace pcap_recorder::testing {

// The path of dbus-daemon, or nothing when it is not installed.
std::optional<std::filesystem::path> findDbusDaemon();

// A dbus-daemon for one test, listening in `directory`; killed (and reaped) when this goes.
// Without `configFile` it is a session bus (everything allowed).
class PrivateBus {
 public:
  PrivateBus(const std::filesystem::path& dbusDaemon, const std::filesystem::path& directory,
             const std::optional<std::filesystem::path>& configFile = std::nullopt);
  ~PrivateBus();
  PrivateBus(const PrivateBus&) = delete;
  PrivateBus& operator=(const PrivateBus&) = delete;
  const std::string& address() const noexcept { return address_; }

 private:
  pid_t pid_ = -1;
  std::string address_;
};

// Sets an environment variable for the scope and puts the old value back after.
class ScopedEnvironment {
 public:
  ScopedEnvironment(std::string name, const std::string& value);
  ~ScopedEnvironment();
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  std::string name_;
  std::optional<std::string> previous_;
};

// A Control that records what it is asked and answers as told; safe to use from the loop
// thread and the test thread.
class FakeControl final : public service::Control {
 public:
  std::string version() const override;
  std::vector<service::InterfaceStatus> interfaces() const override;
  service::ControlResult rotate(const std::string& interface) override;
  service::ControlResult reload() override;

  void setInterfaces(std::vector<service::InterfaceStatus> interfaces);
  void failRotate(std::string interface, std::string message);  // for a configured interface
  // What a successful rotate() says it did (as the daemon's does).
  void rotateOutcome(std::string message);
  void failReload(std::string message);
  void throwOnReload(std::string what);
  std::vector<std::string> rotations() const;
  int reloads() const;

 private:
  mutable std::mutex mutex_;
  std::vector<service::InterfaceStatus> interfaces_;
  std::vector<std::string> rotations_;
  std::optional<std::pair<std::string, std::string>> rotateFailure_;
  std::string rotateOutcome_;
  std::optional<std::string> reloadFailure_;
  std::optional<std::string> reloadThrows_;
  int reloads_ = 0;
};

// Runs a BusService on a thread of its own, the way the daemon's poll loop will: poll fd() for
// events() with timeout(), then process(). `run` executes a task on that thread and waits.
class ServiceLoop {
 public:
  explicit ServiceLoop(dbus::BusService& service);
  ~ServiceLoop();
  ServiceLoop(const ServiceLoop&) = delete;
  ServiceLoop& operator=(const ServiceLoop&) = delete;

  void run(const std::function<void()>& task);
  // What process() threw, if it did (the loop stops then).
  std::string error() const;

 private:
  void loop(std::stop_token stop);

  dbus::BusService& service_;
  util::UniqueFd wake_;
  mutable std::mutex mutex_;
  std::vector<std::function<void()>> tasks_;
  std::string error_;
  std::jthread thread_;  // last: stopped before the members it uses go
};

struct BusDeleter {
  void operator()(sd_bus* bus) const noexcept;
};
using BusConnection = std::unique_ptr<sd_bus, BusDeleter>;

// A client connection to the session bus (DBUS_SESSION_BUS_ADDRESS).
BusConnection openClient();

struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};
// Runs `command` through /bin/sh; stdout and stderr apart.
RunResult runCommand(const std::string& command);

// Two interfaces with distinct counters: eth0 capturing into a file, lo paused without one.
std::vector<service::InterfaceStatus> sampleInterfaces();

// A private bus (DBUS_SESSION_BUS_ADDRESS points at it: the service and the clients use
// BusKind::user) with a FakeControl; the test starts the BusService when it wants. Skips when
// dbus-daemon is missing.
class BusTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // A dbus-daemon configuration file to run instead of a plain session bus.
  virtual std::optional<std::filesystem::path> busConfig() { return std::nullopt; }
  // Publishes control_ on the private bus and runs it on a loop thread.
  void startService(dbus::CallerCheck callerCheck = dbus::defaultCallerCheck(),
                    dbus::RotateLimit rotateLimit = {});

  TempDir work_;
  FakeControl control_;
  std::optional<std::filesystem::path> dbusDaemon_;
  std::unique_ptr<PrivateBus> bus_;
  std::unique_ptr<ScopedEnvironment> sessionAddress_;
  std::unique_ptr<dbus::BusService> service_;
  std::unique_ptr<ServiceLoop> loop_;
};

}  // namespace pcap_recorder::testing
