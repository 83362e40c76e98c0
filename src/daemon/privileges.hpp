// Giving up root: when started as root, the daemon becomes an ordinary user that keeps only
// CAP_NET_RAW and CAP_NET_ADMIN (permitted, effective and bounding sets), through libcap-ng.
#pragma once

#include <string>

namespace pcap_recorder::daemon {

// Switches to `user` (with its own groups, as initgroups gives them) keeping only the two
// capabilities; with an empty `user` and root, stays uid 0 but keeps only the two capabilities
// all the same. Not root: checks that `user` is empty or the current user; given more
// capabilities than those two, it keeps only them (and none inheritable or ambient); given just
// them (ambient, as the packaged unit gives them), it changes nothing. Throws
// std::runtime_error.
void dropPrivileges(const std::string& user);

}  // namespace pcap_recorder::daemon
