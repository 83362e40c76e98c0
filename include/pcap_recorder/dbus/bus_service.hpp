// The daemon on D-Bus: a thin sd-bus adaptor that publishes service::Control as the API that
// dbus/protocol.hpp describes (names, methods, properties, the FileFinished signal).
//
// Each method handler makes exactly one Control request; a failed ControlResult becomes the
// D-Bus error kErrorFailed carrying its message, or kErrorUnknownInterface when Rotate failed for
// a name that interfaces() does not list (read only then, to tell the two apart). No exception
// crosses into sd-bus: every callback catches everything and answers with an error.
//
// Who may call the methods: the system bus policy (systemd/org.pcaprecorder.Recorder1.conf) is
// the first gate; every method checks the caller's credentials again (CallerCheck), by default
// allowing root, the daemon's own user and members of group pcap-recorder-control. Members of
// group pcap-recorder only read the capture files: controlling the recorder (a rotation makes
// retention delete old files) is a privilege of its own. Properties and the signal are open to
// anyone.
//
// Rotate is rate-limited per interface (RotateLimit: one call per second by default; Rotate("")
// counts for every interface); a call over the limit fails with kErrorLimitsExceeded and
// reaches no Control.
//
// Driven by the owner's poll loop, no thread of its own: poll fd() for events() with timeout(),
// then call process(); re-read all three after every call into this class (a call may queue
// outgoing messages, which turns POLLOUT on; a reconnection changes the fd). When the connection
// to the bus is lost (the bus daemon restarted), process() logs it and reconnects with back-off
// (0.5 s doubling to 30 s), taking the name again; meanwhile fd() is -1 and timeout() is the time
// to the next attempt. Not thread-safe: construct, use and destroy it on one thread (the
// daemon's main thread); results from other threads (FileFinished on the finisher thread) must
// be handed over to that thread before emitFileFinished().
#pragma once

#include <sys/types.h>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pcap_recorder/dbus/protocol.hpp"
#include "pcap_recorder/service/control.hpp"
#include "pcap_recorder/service/file_finisher.hpp"

struct sd_bus;
struct sd_bus_slot;

namespace pcap_recorder::dbus {

// The caller of a method, as the bus and /proc report it.
struct Caller {
  uid_t uid = static_cast<uid_t>(-1);  // effective uid; -1 when unknown
  std::vector<gid_t> groups;           // effective gid and supplementary groups
};

// Who may call methods besides root: the daemon's own user and an operator group.
struct CallerPolicy {
  uid_t daemonUid = 0;
  std::optional<gid_t> operatorGroup;  // none when the group does not exist on this system
};

// Root, the daemon's uid, or a member of the operator group.
bool mayControl(const Caller& caller, const CallerPolicy& policy) noexcept;

// Decides whether `caller` may call methods; injectable so tests can refuse or observe callers.
using CallerCheck = std::function<bool(const Caller& caller)>;

// The policy for a daemon running as `daemonUid`: the operator group is kOperatorGroup's gid as
// `groupId` finds it (none when it does not exist).
CallerPolicy callerPolicy(uid_t daemonUid,
                          const std::function<std::optional<gid_t>(const char* name)>& groupId);

// mayControl() with this process's effective uid and group pcap-recorder-control (looked up now).
CallerCheck defaultCallerCheck();

// How often Rotate may be called per interface; `clock` is injectable for tests.
struct RotateLimit {
  std::chrono::milliseconds interval{std::chrono::seconds(1)};
  std::function<std::chrono::steady_clock::time_point()> clock = &std::chrono::steady_clock::now;
};

class BusService {
 public:
  // Connects to the bus, publishes the object and takes the name. Throws std::runtime_error when
  // the bus cannot be reached or the name cannot be owned (taken, or refused by the bus policy).
  BusService(service::Control& control, BusKind kind,
             CallerCheck callerCheck = defaultCallerCheck(), RotateLimit rotateLimit = {});
  ~BusService();
  BusService(const BusService&) = delete;
  BusService& operator=(const BusService&) = delete;

  int fd() const;
  short events() const;  // POLLIN and/or POLLOUT
  // Relative time until process() must be called even without events; nullopt = none.
  std::optional<std::chrono::microseconds> timeout() const;
  // Handles everything pending (incoming calls, replies, timeouts) until nothing is left, then
  // flushes what is queued for sending (sd_bus_flush: blocks until the bus daemon has taken it,
  // normally at once). A lost connection is logged and retried (see above); never throws.
  void process();
  // False while the connection is lost and not yet made again.
  bool connected() const noexcept { return bus_ != nullptr; }

  // Queues the FileFinished signal (sent by the next process(), or at once when the socket
  // takes it). False when it could not be queued (out of memory, connection lost), for the
  // caller to log; the connection loss itself surfaces from process().
  bool emitFileFinished(const service::FinishedFile& file) noexcept;

 private:
  struct BusDeleter {
    void operator()(sd_bus* bus) const noexcept;
  };
  struct SlotDeleter {
    void operator()(sd_bus_slot* slot) const noexcept;
  };
  friend struct Handlers;  // the C callbacks, in bus_service.cpp

  // Connects, publishes the object and takes the name; throws std::runtime_error saying why not.
  void connect();
  void connectionLost(const std::string& why);
  void tryToReconnect();

  service::Control& control_;
  CallerCheck callerCheck_;
  RotateLimit rotateLimit_;
  std::map<std::string, std::chrono::steady_clock::time_point> lastRotation_;
  BusKind kind_;
  std::unique_ptr<sd_bus, BusDeleter> bus_;
  std::unique_ptr<sd_bus_slot, SlotDeleter> objectSlot_;  // after bus_: released before it
  std::chrono::steady_clock::time_point nextAttempt_;
  std::chrono::milliseconds backOff_{0};
};

}  // namespace pcap_recorder::dbus
