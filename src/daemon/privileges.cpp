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

}  // namespace

void dropPrivileges(const std::string& user) {
  if (::geteuid() != 0) {
    if (!user.empty() && lookUp(user).uid != ::geteuid()) {
      throw std::runtime_error("switching to user " + user + " needs root; started as uid " +
                               std::to_string(::geteuid()));
    }
    return;  // already unprivileged: runs with the capabilities it was given
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
  // and the bounding set in the right order, and reports which step failed.
  const int result =
      capng_change_id(static_cast<int>(account.uid), static_cast<int>(account.gid),
                      static_cast<capng_flags_t>(CAPNG_DROP_SUPP_GRP | CAPNG_INIT_SUPP_GRP));
  if (result != 0) {
    throw std::runtime_error("cannot switch to user " + user + " (libcap-ng error " +
                             std::to_string(result) + ")");
  }
  spdlog::info("running as user {} (uid {}) with CAP_NET_RAW and CAP_NET_ADMIN only", user,
               account.uid);
}

}  // namespace pcap_recorder::daemon
