#include "pcap_recorder/dbus/bus_service.hpp"

#include <grp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "pcap_recorder/util/printable.hpp"

namespace pcap_recorder::dbus {

namespace {

constexpr std::chrono::milliseconds kFirstBackOff{500};
constexpr std::chrono::milliseconds kLongestBackOff{30'000};

std::string errnoText(int negativeErrno) {
  return std::strerror(-negativeErrno);
}

// Throws on a failed sd-bus call while a reply is built; the callback's guard turns it into an
// error reply.
void must(int result, const char* what) {
  if (result < 0) throw std::system_error(-result, std::generic_category(), what);
}

// D-Bus strings must be valid UTF-8 and sd-bus refuses anything else, yet paths and interface
// names are bytes.
using util::validUtf8;

std::uint64_t microsecondsOf(const pcap::Timestamp& time) {
  return std::uint64_t{time.seconds} * 1'000'000 + time.nanoseconds / 1'000;
}

// Runs a callback body; no exception leaves it (sd-bus is C): one becomes an error reply.
template <typename Body>
int guarded(sd_bus_error* error, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& exception) {
    return sd_bus_error_set(error, kErrorFailed, exception.what());
  } catch (...) {
    return sd_bus_error_set(error, kErrorFailed, "internal error");
  }
}

struct CredsUnref {
  void operator()(sd_bus_creds* creds) const noexcept { sd_bus_creds_unref(creds); }
};

struct MessageUnref {
  void operator()(sd_bus_message* message) const noexcept { sd_bus_message_unref(message); }
};

// What the bus itself vouches for: UnixUserID (SO_PEERCRED at connect: the effective uid then)
// and, where the bus knows them, UnixGroupIDs (SO_PEERGROUPS: primary and supplementary groups;
// dbus-daemon 1.14 and dbus-broker send them).
// Why not sd_bus_query_sender_creds() alone: sd-bus 252 takes only the uid from the bus and reads
// the groups from /proc/PID/status, which is racy and, under ProtectProc=invisible (as
// pcap-recorder.service runs the daemon), not visible at all.
struct BusCredentials {
  std::optional<uid_t> uid;
  std::optional<std::vector<gid_t>> groups;
};

BusCredentials askTheBus(sd_bus_message* message) {
  const char* sender = sd_bus_message_get_sender(message);
  if (sender == nullptr) return {};
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* raw = nullptr;
  const int result = sd_bus_call_method(sd_bus_message_get_bus(message), "org.freedesktop.DBus",
                                        "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                        "GetConnectionCredentials", &error, &raw, "s", sender);
  sd_bus_error_free(&error);
  const std::unique_ptr<sd_bus_message, MessageUnref> reply(raw);
  if (result < 0 || sd_bus_message_enter_container(raw, 'a', "{sv}") < 0) return {};
  BusCredentials credentials;
  while (sd_bus_message_enter_container(raw, 'e', "sv") > 0) {
    const char* key = nullptr;
    if (sd_bus_message_read_basic(raw, 's', &key) < 0) return {};
    if (std::strcmp(key, "UnixUserID") == 0) {
      std::uint32_t uid = 0;
      if (sd_bus_message_read(raw, "v", "u", &uid) < 0) return {};
      credentials.uid = uid;
    } else if (std::strcmp(key, "UnixGroupIDs") == 0) {
      const void* array = nullptr;
      std::size_t bytes = 0;
      if (sd_bus_message_enter_container(raw, 'v', "au") < 0 ||
          sd_bus_message_read_array(raw, 'u', &array, &bytes) < 0 ||
          sd_bus_message_exit_container(raw) < 0) {
        return {};
      }
      const auto* gids = static_cast<const std::uint32_t*>(array);
      credentials.groups.emplace(gids, gids + bytes / sizeof(std::uint32_t));
    } else if (sd_bus_message_skip(raw, "v") < 0) {
      return {};
    }
    if (sd_bus_message_exit_container(raw) < 0) return {};
  }
  return credentials;
}

// The caller as sd-bus sees it: the bus's uid where it has it, the rest from /proc/PID (see
// above). Only used when the bus does not report the groups.
std::optional<Caller> askSdBus(sd_bus_message* message) {
  sd_bus_creds* raw = nullptr;
  const int result =
      sd_bus_query_sender_creds(message,
                                SD_BUS_CREDS_UID | SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID |
                                    SD_BUS_CREDS_SUPPLEMENTARY_GIDS | SD_BUS_CREDS_AUGMENT,
                                &raw);
  const std::unique_ptr<sd_bus_creds, CredsUnref> creds(raw);
  if (result < 0) return std::nullopt;
  Caller caller;
  const std::uint64_t augmented = sd_bus_creds_get_augmented_mask(raw);
  uid_t uid = 0;
  if (!(augmented & SD_BUS_CREDS_UID) && sd_bus_creds_get_uid(raw, &uid) >= 0) {
    caller.uid = uid;
  } else if (sd_bus_creds_get_euid(raw, &uid) >= 0 || sd_bus_creds_get_uid(raw, &uid) >= 0) {
    caller.uid = uid;
  }
  gid_t gid = 0;
  if (sd_bus_creds_get_egid(raw, &gid) >= 0) caller.groups.push_back(gid);
  const gid_t* supplementary = nullptr;
  const int count = sd_bus_creds_get_supplementary_gids(raw, &supplementary);
  for (int k = 0; k < count; ++k) caller.groups.push_back(supplementary[k]);
  return caller;
}

// Who sent `message`; uid -1 when nobody can tell.
Caller callerOf(sd_bus_message* message) {
  const BusCredentials fromBus = askTheBus(message);
  if (fromBus.uid && fromBus.groups) return Caller{*fromBus.uid, *fromBus.groups};
  Caller caller = askSdBus(message).value_or(Caller{});
  if (fromBus.uid) caller.uid = *fromBus.uid;
  return caller;
}

}  // namespace

bool mayControl(const Caller& caller, const CallerPolicy& policy) noexcept {
  if (caller.uid == static_cast<uid_t>(-1)) return false;
  if (caller.uid == 0 || caller.uid == policy.daemonUid) return true;
  return policy.operatorGroup && std::find(caller.groups.begin(), caller.groups.end(),
                                           *policy.operatorGroup) != caller.groups.end();
}

CallerPolicy callerPolicy(uid_t daemonUid,
                          const std::function<std::optional<gid_t>(const char* name)>& groupId) {
  return CallerPolicy{.daemonUid = daemonUid, .operatorGroup = groupId(kOperatorGroup)};
}

CallerCheck defaultCallerCheck() {
  const auto policy = callerPolicy(::geteuid(), [](const char* name) -> std::optional<gid_t> {
    group entry{};
    group* found = nullptr;
    std::vector<char> buffer(16384);
    if (::getgrnam_r(name, &entry, buffer.data(), buffer.size(), &found) == 0 && found) {
      return found->gr_gid;
    }
    return std::nullopt;
  });
  return [policy](const Caller& caller) { return mayControl(caller, policy); };
}

// The C callbacks of the object's vtable; `userdata` is the BusService.
struct Handlers {
  // Zero when the caller may call `method`; otherwise an AccessDenied error is set.
  static int authorize(BusService& self, sd_bus_message* message, const char* method,
                       sd_bus_error* error) {
    const Caller caller = callerOf(message);
    if (caller.uid == static_cast<uid_t>(-1)) {
      return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                               "%s refused: the bus cannot tell who is calling", method);
    }
    if (self.callerCheck_(caller)) return 0;
    return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                             "%s needs root or membership of group %s", method, kOperatorGroup);
  }

  // Zero when `interface` ("" = every configured one) may be rotated now; then its time is
  // taken. Names that are not configured are not limited (Control refuses them) nor remembered.
  static int rateLimit(BusService& self, const std::string& interface, sd_bus_error* error) {
    const auto now = self.rotateLimit_.clock();
    const auto interval = self.rotateLimit_.interval;
    std::erase_if(self.lastRotation_,
                  [&](const auto& entry) { return now - entry.second >= interval; });
    std::vector<std::string> names;
    for (const auto& status : self.control_.interfaces()) {
      if (interface.empty() || status.name == interface) names.push_back(status.name);
    }
    for (const auto& name : names) {
      if (self.lastRotation_.contains(name)) {
        return sd_bus_error_setf(
            error, kErrorLimitsExceeded,
            "Rotate of %s refused: at most one rotation per interface every %lld ms",
            validUtf8(name).c_str(), static_cast<long long>(interval.count()));
      }
    }
    for (const auto& name : names) self.lastRotation_[name] = now;
    return 0;
  }

  static int failed(sd_bus_error* error, const char* name, const std::string& message,
                    const char* fallback) {
    return sd_bus_error_set(error, name, message.empty() ? fallback : message.c_str());
  }

  static int rotate(sd_bus_message* message, void* userdata, sd_bus_error* error) noexcept {
    return guarded(error, [&] {
      auto& self = *static_cast<BusService*>(userdata);
      if (const int refused = authorize(self, message, "Rotate", error); refused < 0) {
        return refused;
      }
      const char* interface = nullptr;
      must(sd_bus_message_read(message, "s", &interface), "reading the arguments of Rotate");
      const std::string name = interface;
      if (const int refused = rateLimit(self, name, error); refused < 0) return refused;
      const auto result = self.control_.rotate(name);
      if (result.ok)
        return sd_bus_reply_method_return(message, "s", validUtf8(result.message).c_str());
      // Why a second look: Control says only that it failed; whether the name is configured
      // is read from interfaces(), not guessed from the wording of the message.
      const auto interfaces = self.control_.interfaces();
      const bool known =
          name.empty() || std::any_of(interfaces.begin(), interfaces.end(),
                                      [&](const auto& status) { return status.name == name; });
      return failed(error, known ? kErrorFailed : kErrorUnknownInterface, validUtf8(result.message),
                    "rotate failed");
    });
  }

  static int reload(sd_bus_message* message, void* userdata, sd_bus_error* error) noexcept {
    return guarded(error, [&] {
      auto& self = *static_cast<BusService*>(userdata);
      if (const int refused = authorize(self, message, "Reload", error); refused < 0) {
        return refused;
      }
      const auto result = self.control_.reload();
      if (result.ok) return sd_bus_reply_method_return(message, "");
      return failed(error, kErrorFailed, validUtf8(result.message), "reload failed");
    });
  }

  static int version(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                     void* userdata, sd_bus_error* error) noexcept {
    return guarded(error, [&] {
      auto& self = *static_cast<BusService*>(userdata);
      return sd_bus_message_append(reply, "s", validUtf8(self.control_.version()).c_str());
    });
  }

  static int interfaces(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                        void* userdata, sd_bus_error* error) noexcept {
    return guarded(error, [&] {
      auto& self = *static_cast<BusService*>(userdata);
      must(sd_bus_message_open_container(reply, 'a', "s"), "building Interfaces");
      for (const auto& status : self.control_.interfaces()) {
        must(sd_bus_message_append(reply, "s", validUtf8(status.name).c_str()),
             "building Interfaces");
      }
      return sd_bus_message_close_container(reply);
    });
  }

  static int statistics(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                        void* userdata, sd_bus_error* error) noexcept {
    return guarded(error, [&] {
      auto& self = *static_cast<BusService*>(userdata);
      constexpr const char* what = "building Statistics";
      const auto counter = [&](const char* key, std::uint64_t value) {
        must(sd_bus_message_append(reply, "{sv}", key, "t", value), what);
      };
      const auto text = [&](const char* key, const std::string& value) {
        must(sd_bus_message_append(reply, "{sv}", key, "s", validUtf8(value).c_str()), what);
      };
      must(sd_bus_message_open_container(reply, 'a', "{sa{sv}}"), what);
      for (const auto& status : self.control_.interfaces()) {
        must(sd_bus_message_open_container(reply, 'e', "sa{sv}"), what);
        must(sd_bus_message_append(reply, "s", validUtf8(status.name).c_str()), what);
        must(sd_bus_message_open_container(reply, 'a', "{sv}"), what);
        text("State", std::string(service::stateText(status.state)));
        counter("PacketsReceived", status.stats.packetsReceived);
        counter("KernelDrops", status.stats.kernelDrops);
        counter("PacketsWritten", status.stats.packetsWritten);
        counter("BytesWritten", status.stats.bytesWritten);
        counter("PacketsLostToDisk", status.stats.packetsLostToDisk);
        counter("FilesWritten", status.stats.filesWritten);
        text("CurrentFile", status.currentFile);
        // Added after the first eight, which keep their names, types and order.
        counter("FilesWithoutSha256", status.stats.filesWithoutSha256);
        must(sd_bus_message_close_container(reply), what);
        must(sd_bus_message_close_container(reply), what);
      }
      return sd_bus_message_close_container(reply);
    });
  }
};

namespace {

// Methods are SD_BUS_VTABLE_UNPRIVILEGED. Why: without it sd-bus itself lets only root (by
// CAP_SYS_ADMIN) and our own uid through on the system bus, which would shut out group
// pcap-recorder; the check is ours instead (Handlers::authorize).
// Properties carry no EMITS_* flag (introspected as EmitsChangedSignal=false): the statistics
// change with every ring block and the interfaces on reload; clients read them when they need
// them. Version is const.
const sd_bus_vtable kVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_NAMES("Rotate", "s", SD_BUS_PARAM(interface), "s", SD_BUS_PARAM(outcome),
                             Handlers::rotate, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("Reload", "", "", "", "", Handlers::reload,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_PROPERTY("Version", "s", Handlers::version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Interfaces", "as", Handlers::interfaces, 0, 0),
    SD_BUS_PROPERTY("Statistics", "a{sa{sv}}", Handlers::statistics, 0, 0),
    SD_BUS_SIGNAL_WITH_NAMES(kFileFinished, kFileFinishedSignature,
                             SD_BUS_PARAM(interface) SD_BUS_PARAM(path) SD_BUS_PARAM(packets)
                                 SD_BUS_PARAM(bytes) SD_BUS_PARAM(kernelDrops)
                                     SD_BUS_PARAM(firstPacketUsec) SD_BUS_PARAM(lastPacketUsec),
                             0),
    SD_BUS_VTABLE_END,
};

}  // namespace

void BusService::BusDeleter::operator()(sd_bus* bus) const noexcept {
  sd_bus_flush_close_unref(bus);
}

void BusService::SlotDeleter::operator()(sd_bus_slot* slot) const noexcept {
  sd_bus_slot_unref(slot);
}

BusService::BusService(service::Control& control, BusKind kind, CallerCheck callerCheck,
                       RotateLimit rotateLimit)
    : control_(control),
      callerCheck_(std::move(callerCheck)),
      rotateLimit_(std::move(rotateLimit)),
      kind_(kind) {
  connect();
}

void BusService::connect() {
  objectSlot_.reset();
  bus_.reset();
  const std::string onBus = std::string(" on the ") + busDescription(kind_);
  sd_bus* bus = nullptr;
  int result = kind_ == BusKind::system ? sd_bus_open_system(&bus) : sd_bus_open_user(&bus);
  if (result < 0) {
    // Why ENOMEDIUM: sd-bus's way of saying there is no address for a session bus.
    const std::string why = result == -ENOMEDIUM ? "no address for it (DBUS_SESSION_BUS_ADDRESS "
                                                   "and XDG_RUNTIME_DIR are unset)"
                                                 : errnoText(result);
    throw std::runtime_error(std::string("cannot connect to the ") + busDescription(kind_) + ": " +
                             why);
  }
  std::unique_ptr<sd_bus, BusDeleter> connection(bus);

  sd_bus_slot* slot = nullptr;
  result = sd_bus_add_object_vtable(bus, &slot, kObjectPath, kInterface, kVtable, this);
  if (result < 0) {
    throw std::runtime_error(std::string("cannot publish ") + kObjectPath + onBus + ": " +
                             errnoText(result));
  }
  std::unique_ptr<sd_bus_slot, SlotDeleter> object(slot);

  // No queueing, no replacement: a second daemon must fail at once, not wait in line.
  result = sd_bus_request_name(bus, kBusName, 0);
  if (result < 0) {
    std::string why;
    if (result == -EEXIST) {
      why = "another process owns the name (is pcap-recorderd already running?)";
    } else if (result == -EACCES || result == -EPERM) {
      why =
          "the bus policy does not allow it (is the D-Bus policy "
          "/usr/share/dbus-1/system.d/org.pcaprecorder.Recorder1.conf installed, and does the "
          "daemon run as root or pcap-recorder?)";
    } else {
      why = errnoText(result) + " (is the D-Bus policy installed?)";
    }
    throw std::runtime_error(std::string("cannot own ") + kBusName + onBus + ": " + why);
  }
  bus_ = std::move(connection);
  objectSlot_ = std::move(object);
}

BusService::~BusService() = default;

int BusService::fd() const {
  return bus_ ? sd_bus_get_fd(bus_.get()) : -1;
}

short BusService::events() const {
  if (!bus_) return 0;
  const int events = sd_bus_get_events(bus_.get());
  // Why POLLIN on failure: the connection is gone; poll then reports POLLHUP at once and
  // process() says so.
  return events < 0 ? POLLIN : static_cast<short>(events);
}

std::optional<std::chrono::microseconds> BusService::timeout() const {
  if (!bus_) {
    return std::chrono::ceil<std::chrono::microseconds>(
        std::max(nextAttempt_ - std::chrono::steady_clock::now(),
                 std::chrono::steady_clock::duration::zero()));
  }
  std::uint64_t deadline = 0;  // CLOCK_MONOTONIC, µs
  if (sd_bus_get_timeout(bus_.get(), &deadline) < 0 || deadline == UINT64_MAX) {
    return std::nullopt;
  }
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const std::uint64_t nowUsec =
      std::uint64_t(now.tv_sec) * 1'000'000 + std::uint64_t(now.tv_nsec) / 1'000;
  return std::chrono::microseconds(deadline > nowUsec ? deadline - nowUsec : 0);
}

void BusService::connectionLost(const std::string& why) {
  spdlog::error("D-Bus control lost: the connection to the {} failed: {}; reconnecting",
                busDescription(kind_), why);
  objectSlot_.reset();
  bus_.reset();
  backOff_ = kFirstBackOff;
  nextAttempt_ = std::chrono::steady_clock::now() + backOff_;
}

void BusService::tryToReconnect() {
  if (std::chrono::steady_clock::now() < nextAttempt_) return;
  try {
    connect();
    spdlog::info("D-Bus control: {} on the {} again", kBusName, busDescription(kind_));
  } catch (const std::exception& error) {
    backOff_ = std::min(backOff_ * 2, kLongestBackOff);
    nextAttempt_ = std::chrono::steady_clock::now() + backOff_;
    spdlog::warn("D-Bus control still lost: {}; next attempt in {} ms", error.what(),
                 backOff_.count());
  }
}

void BusService::process() {
  if (!bus_) {
    tryToReconnect();
    if (!bus_) return;
  }
  for (;;) {
    const int result = sd_bus_process(bus_.get(), nullptr);
    if (result < 0) return connectionLost(errnoText(result));
    if (result == 0) break;
  }
  const int result = sd_bus_flush(bus_.get());
  if (result < 0) return connectionLost(errnoText(result));
}

bool BusService::emitFileFinished(const service::FinishedFile& file) noexcept {
  if (!bus_) return false;
  try {
    const FileFinishedRecord record{.interface = validUtf8(file.interface),
                                    .path = validUtf8(file.path.string()),
                                    .packets = file.packets,
                                    .bytes = file.bytes,
                                    .kernelDrops = file.kernelDrops,
                                    .firstPacketUsec = microsecondsOf(file.firstPacket),
                                    .lastPacketUsec = microsecondsOf(file.lastPacket)};
    return sd_bus_emit_signal(bus_.get(), kObjectPath, kInterface, kFileFinished,
                              kFileFinishedSignature, record.interface.c_str(), record.path.c_str(),
                              record.packets, record.bytes, record.kernelDrops,
                              record.firstPacketUsec, record.lastPacketUsec) >= 0;
  } catch (...) {
    return false;
  }
}

}  // namespace pcap_recorder::dbus
