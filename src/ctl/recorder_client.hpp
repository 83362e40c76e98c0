// pcap-recorderctl's side of the bus: calls org.pcaprecorder.Recorder1 and reads its properties.
// One connection, synchronous calls; owned and used by one thread.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "format.hpp"
#include "pcap_recorder/dbus/protocol.hpp"

struct sd_bus;

namespace pcap_recorder::ctl {

// The bus itself cannot be reached.
struct ConnectError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A D-Bus error reply: its name and message.
struct BusError : std::runtime_error {
  BusError(std::string errorName, const std::string& message)
      : std::runtime_error(message), name(std::move(errorName)) {}
  std::string name;
};

// True when the error says nobody owns org.pcaprecorder.Recorder1.
bool meansNotRunning(const BusError& error) noexcept;

class RecorderClient {
 public:
  // Throws ConnectError when the bus cannot be reached.
  explicit RecorderClient(dbus::BusKind kind);
  ~RecorderClient();
  RecorderClient(const RecorderClient&) = delete;
  RecorderClient& operator=(const RecorderClient&) = delete;

  // Version and Statistics, read together (one GetAll). Throws BusError.
  RecorderSnapshot snapshot();
  // Throw BusError when the daemon refuses or fails. rotate() returns what the daemon did, one
  // line per interface (empty from daemons that do not say).
  std::string rotate(const std::string& interface);
  void reload();

 private:
  struct BusDeleter {
    void operator()(sd_bus* bus) const noexcept;
  };
  std::unique_ptr<sd_bus, BusDeleter> bus_;
};

}  // namespace pcap_recorder::ctl
