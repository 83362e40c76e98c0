// One pcap-recorderd per output directory. A second one started on a directory the first records
// into would take the first one's live .part files for leftovers of a crash: cut them, rename
// them and finish them (compress, hash, ship, delete) while the first still writes into them. So
// each directory a daemon records into is held with flock(2) for as long as it does, and a daemon
// that finds one held refuses to start (or a reload to apply), naming it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <vector>

#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::service {

class DirectoryLocks {
 public:
  // Locks on `directories` (spellings of one directory count once; a missing one is skipped:
  // there is nothing in it to protect yet). Those this object holds already are shared with it,
  // so replacing it by the result never lets go of them in between. Throws std::runtime_error
  // naming the directory when another process holds it, std::system_error when one cannot be
  // opened or locked.
  DirectoryLocks lock(const std::vector<std::filesystem::path>& directories) const;

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
