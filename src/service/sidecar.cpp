#include "pcap_recorder/service/sidecar.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <ctime>

#include "pcap_recorder/util/printable.hpp"
#include "pcap_recorder/util/system_error.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::service {

namespace {

// JSON string syntax for arbitrary bytes: quotes, backslashes and control characters escaped;
// bytes that are not UTF-8 (a path is bytes: a directory named in Latin-1) as U+FFFD, since a
// JSON text must be UTF-8 and strict readers refuse the whole sidecar otherwise.
void appendString(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : util::validUtf8(text)) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  out += '"';
}

class Object {
 public:
  void string(std::string_view key, std::string_view value) {
    this->key(key);
    appendString(text_, value);
  }
  void number(std::string_view key, std::uint64_t value) {
    this->key(key);
    text_ += std::to_string(value);
  }
  void time(std::string_view key, const std::optional<pcap::Timestamp>& value) {
    this->key(key);
    if (value) {
      appendString(text_, rfc3339(*value));
    } else {
      text_ += "null";
    }
  }
  std::string finish() { return text_ + "\n}\n"; }

 private:
  void key(std::string_view name) {
    text_ += first_ ? "{\n  " : ",\n  ";
    first_ = false;
    appendString(text_, name);
    text_ += ": ";
  }
  std::string text_;
  bool first_ = true;
};

}  // namespace

std::string rfc3339(const pcap::Timestamp& time) {
  const std::time_t seconds = time.seconds;
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[16];
  if (time.nanoseconds % 1000 == 0) {
    std::snprintf(fraction, sizeof fraction, ".%06uZ", time.nanoseconds / 1000);
  } else {
    std::snprintf(fraction, sizeof fraction, ".%09uZ", time.nanoseconds);
  }
  return std::string(text) + fraction;
}

std::string sidecarJson(const SidecarFields& fields) {
  Object object;
  object.string("interface", fields.interface);
  object.string("file", fields.file);
  object.string("path", fields.path);
  object.number("packets", fields.packets);
  object.number("bytes", fields.bytes);
  object.number("stored_bytes", fields.storedBytes);
  object.string("compression", fields.compression);
  object.time("first_packet", fields.firstPacket);
  object.time("last_packet", fields.lastPacket);
  object.number("kernel_drops", fields.kernelDrops);
  object.number("lost_to_disk", fields.lostToDisk);
  object.string("sha256", fields.sha256);
  object.number("snaplen", fields.snaplen);
  object.string("filter", fields.filter);
  object.string("host", fields.host);
  object.string("version", fields.version);
  object.string("reason", fields.reason);
  return object.finish();
}

void writeSidecar(int directoryFd, const std::string& storedName, std::string_view text,
                  unsigned mode) {
  const std::string name = storedName + std::string(kSidecarSuffix);
  // A hidden name no template makes, so retention and repair never take it for a capture.
  const std::string temporary = "." + name + ".tmp";
  ::unlinkat(directoryFd, temporary.c_str(), 0);
  util::UniqueFd fd(::openat(directoryFd, temporary.c_str(),
                             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd.valid()) util::throwErrno("create " + temporary);
  try {
    if (::fchmod(fd.get(), mode) != 0) util::throwErrno("chmod " + temporary);
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t wrote = ::write(fd.get(), text.data() + done, text.size() - done);
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote < 0) util::throwErrno("write " + temporary);
      done += static_cast<std::size_t>(wrote);
    }
    if (::fsync(fd.get()) != 0) util::throwErrno("fsync " + temporary);
    if (::renameat(directoryFd, temporary.c_str(), directoryFd, name.c_str()) != 0) {
      util::throwErrno("rename " + temporary + " to " + name);
    }
  } catch (...) {
    ::unlinkat(directoryFd, temporary.c_str(), 0);
    throw;
  }
  if (::fsync(directoryFd) != 0) util::throwErrno("fsync the directory of " + name);
}

std::string hostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name) != 0) return {};
  name[HOST_NAME_MAX] = '\0';
  return name;
}

}  // namespace pcap_recorder::service
