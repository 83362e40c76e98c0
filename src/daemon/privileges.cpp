#include "privileges.hpp"

#include <cap-ng.h>
#include <linux/capability.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <stdexcept>
#include <vector>

namespace pcap_recorder::daemon {

namespace {

struct Account {
  uid_t uid;
  gid_t gid;
};

Account lookUp(const std::string& user) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    throw std::runtime_error("user " + user + " does not exist (--user or run_as)");
  }
  return {entry.pw_uid, entry.pw_gid};
}

void keepOnlyCaptureCapabilities() {
  capng_clear(CAPNG_SELECT_BOTH);
  capng_updatev(CAPNG_ADD,
                static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET),
                CAP_NET_RAW, CAP_NET_ADMIN, -1);
}

// Started unprivileged with whatever capabilities its launcher gave (setpriv, a unit's
// AmbientCapabilities=): of them it keeps CAP_NET_RAW and CAP_NET_ADMIN, permitted and
// effective, and nothing inheritable or ambient. Dropping needs no privilege; the bounding set
// (that would need CAP_SETPCAP) stays as given, but nothing outside the permitted set can come
// back without an exec, and hooks clear it themselves.
void keepOnlyTheCaptureCapabilitiesItWasGiven() {
  if (capng_get_caps_process() != 0) throw std::runtime_error("cannot read its capabilities");
  bool more = false;
  for (unsigned capability = 0; capability <= CAP_LAST_CAP; ++capability) {
    if (capability == CAP_NET_RAW || capability == CAP_NET_ADMIN) continue;
    more = more || capng_have_capability(CAPNG_PERMITTED, capability) ||
           capng_have_capability(CAPNG_INHERITABLE, capability);
  }
  // Nothing beyond the two (the packaged unit's case, whose filter also denies capset): as is.
  if (!more) return;
  std::vector<unsigned> kept;
  for (const unsigned capability : {CAP_NET_RAW, CAP_NET_ADMIN}) {
    if (capng_have_capability(CAPNG_PERMITTED, capability)) kept.push_back(capability);
  }
  capng_clear(CAPNG_SELECT_CAPS);
  for (const unsigned capability : kept) {
    capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED),
                 capability);
  }
  // Clearing the inheritable set clears the ambient one with it (the kernel keeps no ambient
  // capability that is not inheritable). Where capset is denied (the packaged unit's
  // SystemCallFilter, with a drop-in granting more) that is the operator's choice: said, not
  // refused.
  if (capng_apply(CAPNG_SELECT_CAPS) != 0) {
    spdlog::warn(
        "cannot reduce its capabilities to CAP_NET_RAW and CAP_NET_ADMIN (capset refused); "
        "running with all it was given");
  }
}

}  // namespace

void dropPrivileges(const std::string& user) {
  if (::geteuid() != 0) {
    if (!user.empty() && lookUp(user).uid != ::geteuid()) {
      throw std::runtime_error("switching to user " + user + " needs root; started as uid " +
                               std::to_string(::geteuid()));
    }
    keepOnlyTheCaptureCapabilitiesItWasGiven();
    return;
  }
  keepOnlyCaptureCapabilities();
  if (user.empty()) {
    if (capng_apply(CAPNG_SELECT_BOTH) != 0) {
      throw std::runtime_error("cannot reduce capabilities to CAP_NET_RAW and CAP_NET_ADMIN");
    }
    spdlog::warn(
        "running as root with only CAP_NET_RAW and CAP_NET_ADMIN; use --user or run_as "
        "to run as an unprivileged user");
    return;
  }
  const Account account = lookUp(user);
  // The bounding set first, while we still hold CAP_SETPCAP to shrink it.
  if (capng_apply(CAPNG_SELECT_BOUNDS) != 0) {
    throw std::runtime_error("cannot reduce the capability bounding set");
  }
  // Why libcap-ng: it keeps the capabilities across setuid (PR_SET_KEEPCAPS), sets the groups
  // and the bounding set in the right order, and reports which step failed. The user's own
  // groups (initgroups), as systemd's User= gives them, in place of root's; not also
  // CAPNG_DROP_SUPP_GRP, which libcap-ng applies after and which would leave none, so a
  // directory the user reaches through a group would be refused outside systemd only.
  const int result = capng_change_id(static_cast<int>(account.uid), static_cast<int>(account.gid),
                                     CAPNG_INIT_SUPP_GRP);
  if (result != 0) {
    throw std::runtime_error("cannot switch to user " + user + " (libcap-ng error " +
                             std::to_string(result) + ")");
  }
  spdlog::info("running as user {} (uid {}) with CAP_NET_RAW and CAP_NET_ADMIN only", user,
               account.uid);
}

}  // namespace pcap_recorder::daemon
