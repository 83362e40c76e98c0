#include "recorder_client.hpp"

#include <systemd/sd-bus.h>
#include <cstring>
#include <system_error>

namespace pcap_recorder::ctl {

namespace {

struct MessageUnref {
  void operator()(sd_bus_message* message) const noexcept { sd_bus_message_unref(message); }
};
using Message = std::unique_ptr<sd_bus_message, MessageUnref>;

// Owns an sd_bus_error; turns a failed call into BusError.
class ErrorReply {
 public:
  ErrorReply() = default;
  ~ErrorReply() { sd_bus_error_free(&error_); }
  ErrorReply(const ErrorReply&) = delete;
  ErrorReply& operator=(const ErrorReply&) = delete;
  sd_bus_error* get() noexcept { return &error_; }

  void check(int result, const char* what) const {
    if (result >= 0) return;
    if (sd_bus_error_is_set(&error_)) {
      throw BusError(error_.name, error_.message ? error_.message : error_.name);
    }
    throw BusError("", std::string(what) + ": " + std::strerror(-result));
  }

 private:
  sd_bus_error error_ = SD_BUS_ERROR_NULL;
};

void must(int result, const char* what) {
  if (result < 0) {
    throw BusError("",
                   std::string("cannot read the reply: ") + what + ": " + std::strerror(-result));
  }
}

// One value inside a variant; types the daemon does not send today are read too, and anything
// else is skipped, so a newer daemon does not break an older ctl.
bool readVariant(sd_bus_message* message, FieldValue& value) {
  char type = 0;
  const char* contents = nullptr;
  must(sd_bus_message_peek_type(message, &type, &contents), "variant");
  if (contents == nullptr || std::strlen(contents) != 1) {
    must(sd_bus_message_skip(message, "v"), "variant");
    return false;
  }
  must(sd_bus_message_enter_container(message, 'v', contents), "variant");
  bool known = true;
  switch (contents[0]) {
    case 's': {
      const char* text = nullptr;
      must(sd_bus_message_read_basic(message, 's', &text), "string");
      value = std::string(text);
      break;
    }
    case 't': {
      std::uint64_t number = 0;
      must(sd_bus_message_read_basic(message, 't', &number), "uint64");
      value = number;
      break;
    }
    case 'u': {
      std::uint32_t number = 0;
      must(sd_bus_message_read_basic(message, 'u', &number), "uint32");
      value = std::uint64_t{number};
      break;
    }
    case 'x': {
      std::int64_t number = 0;
      must(sd_bus_message_read_basic(message, 'x', &number), "int64");
      value = number;
      break;
    }
    case 'i': {
      std::int32_t number = 0;
      must(sd_bus_message_read_basic(message, 'i', &number), "int32");
      value = std::int64_t{number};
      break;
    }
    case 'b': {
      int flag = 0;
      must(sd_bus_message_read_basic(message, 'b', &flag), "boolean");
      value = flag != 0;
      break;
    }
    case 'd': {
      double number = 0;
      must(sd_bus_message_read_basic(message, 'd', &number), "double");
      value = number;
      break;
    }
    default:
      must(sd_bus_message_skip(message, contents), "variant");
      known = false;
  }
  must(sd_bus_message_exit_container(message), "variant");
  return known;
}

// Statistics: a{sa{sv}}, the message positioned at the array.
std::vector<InterfaceReport> readStatistics(sd_bus_message* message) {
  std::vector<InterfaceReport> reports;
  must(sd_bus_message_enter_container(message, 'a', "{sa{sv}}"), "Statistics");
  for (;;) {
    const int entered = sd_bus_message_enter_container(message, 'e', "sa{sv}");
    must(entered, "Statistics");
    if (entered == 0) break;
    InterfaceReport report;
    const char* name = nullptr;
    must(sd_bus_message_read_basic(message, 's', &name), "Statistics");
    report.name = name;
    must(sd_bus_message_enter_container(message, 'a', "{sv}"), "Statistics");
    for (;;) {
      const int field = sd_bus_message_enter_container(message, 'e', "sv");
      must(field, "Statistics");
      if (field == 0) break;
      const char* key = nullptr;
      must(sd_bus_message_read_basic(message, 's', &key), "Statistics");
      FieldValue value;
      if (readVariant(message, value)) report.fields.push_back({key, std::move(value)});
      must(sd_bus_message_exit_container(message), "Statistics");
    }
    must(sd_bus_message_exit_container(message), "Statistics");
    must(sd_bus_message_exit_container(message), "Statistics");
    reports.push_back(std::move(report));
  }
  must(sd_bus_message_exit_container(message), "Statistics");
  return reports;
}

}  // namespace

bool meansNotRunning(const BusError& error) noexcept {
  return error.name == SD_BUS_ERROR_SERVICE_UNKNOWN || error.name == SD_BUS_ERROR_NAME_HAS_NO_OWNER;
}

void RecorderClient::BusDeleter::operator()(sd_bus* bus) const noexcept {
  sd_bus_flush_close_unref(bus);
}

RecorderClient::RecorderClient(dbus::BusKind kind) {
  sd_bus* bus = nullptr;
  const int result =
      kind == dbus::BusKind::system ? sd_bus_open_system(&bus) : sd_bus_open_user(&bus);
  if (result < 0) {
    // Why ENOMEDIUM: sd-bus's way of saying there is no address for a session bus.
    const std::string why =
        result == -ENOMEDIUM
            ? "no address for it (DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR are unset)"
            : std::strerror(-result);
    throw ConnectError(std::string("cannot connect to the ") + dbus::busDescription(kind) + ": " +
                       why);
  }
  bus_.reset(bus);
}

RecorderClient::~RecorderClient() = default;

RecorderSnapshot RecorderClient::snapshot() {
  ErrorReply error;
  sd_bus_message* raw = nullptr;
  const int result = sd_bus_call_method(bus_.get(), dbus::kBusName, dbus::kObjectPath,
                                        "org.freedesktop.DBus.Properties", "GetAll", error.get(),
                                        &raw, "s", dbus::kInterface);
  const Message reply(raw);
  error.check(result, "GetAll");

  RecorderSnapshot snapshot;
  must(sd_bus_message_enter_container(reply.get(), 'a', "{sv}"), "properties");
  for (;;) {
    const int entered = sd_bus_message_enter_container(reply.get(), 'e', "sv");
    must(entered, "properties");
    if (entered == 0) break;
    const char* name = nullptr;
    must(sd_bus_message_read_basic(reply.get(), 's', &name), "properties");
    const std::string property = name;
    if (property == "Version") {
      const char* version = nullptr;
      must(sd_bus_message_read(reply.get(), "v", "s", &version), "Version");
      snapshot.version = version;
    } else if (property == "Statistics") {
      must(sd_bus_message_enter_container(reply.get(), 'v', "a{sa{sv}}"), "Statistics");
      snapshot.interfaces = readStatistics(reply.get());
      must(sd_bus_message_exit_container(reply.get()), "Statistics");
    } else {
      must(sd_bus_message_skip(reply.get(), "v"), "properties");
    }
    must(sd_bus_message_exit_container(reply.get()), "properties");
  }
  must(sd_bus_message_exit_container(reply.get()), "properties");
  return snapshot;
}

std::string RecorderClient::rotate(const std::string& interface) {
  ErrorReply error;
  sd_bus_message* raw = nullptr;
  const int result =
      sd_bus_call_method(bus_.get(), dbus::kBusName, dbus::kObjectPath, dbus::kInterface, "Rotate",
                         error.get(), &raw, "s", interface.c_str());
  const Message reply(raw);
  error.check(result, "Rotate");
  // Daemons before the coalesced Rotate reply with nothing.
  const char* outcome = nullptr;
  if (sd_bus_message_read(reply.get(), "s", &outcome) > 0 && outcome != nullptr) return outcome;
  return {};
}

void RecorderClient::reload() {
  ErrorReply error;
  sd_bus_message* raw = nullptr;
  const int result = sd_bus_call_method(bus_.get(), dbus::kBusName, dbus::kObjectPath,
                                        dbus::kInterface, "Reload", error.get(), &raw, "");
  const Message reply(raw);
  error.check(result, "Reload");
}

}  // namespace pcap_recorder::ctl
