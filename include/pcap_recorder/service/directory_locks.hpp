// One pcap-recorderd per output directory. A second one started on a directory the first records
// into would take the first one's live .part files for leftovers of a crash: cut them, rename
// them and finish them (compress, hash, ship, delete) while the first still writes into them. So
// each directory a daemon records into is held with flock(2) for as long as it does, and a daemon
// that finds one held refuses to start (or a reload to apply), naming it. The daemon takes them
// again every few seconds, so a directory made or re-made since (created by a recorder, removed
// and created again, a symlink re-pointed) is held too.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::service {

struct LockProblems {
  std::vector<std::string> heldElsewhere;  // another process holds it: one message each
  std::vector<std::string> cannotLock;     // it cannot be locked here (NFS without local locks...)
};

class DirectoryLocks {
 public:
  // Locks on `directories` (spellings of one directory count once; a missing one is skipped:
  // there is nothing in it to protect yet). Those this object holds already are shared with it,
  // so replacing it by the result never lets go of them in between. A directory held by another
  // process, or that cannot be locked, is not in the result and is said in `problems`.
  // `alsoHeld`: other locks of this process (those it let go of but keeps a while), shared too;
  // a fresh lock on one of those would be refused by this process's own.
  DirectoryLocks lock(const std::vector<std::filesystem::path>& directories, LockProblems& problems,
                      const DirectoryLocks& alsoHeld = {}) const;

  // Takes `other`'s locks in with its own (one per directory).
  void adopt(DirectoryLocks&& other);

  std::size_t size() const noexcept { return held_.size(); }

 private:
  struct Held {
    dev_t device;
    ino_t inode;
    util::UniqueFd fd;  // its open file description holds the lock
  };
  std::vector<Held> held_;
};

}  // namespace pcap_recorder::service
