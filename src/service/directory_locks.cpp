#include "pcap_recorder/service/directory_locks.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "pcap_recorder/util/system_error.hpp"

namespace pcap_recorder::service {

DirectoryLocks DirectoryLocks::lock(const std::vector<std::filesystem::path>& directories) const {
  DirectoryLocks next;
  for (const auto& directory : directories) {
    util::UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ENOENT) continue;
      util::throwErrno(directory.string() + ": cannot open to lock it");
    }
    struct stat status {};
    util::checked(::fstat(fd.get(), &status), directory.string() + ": cannot stat");
    const auto same = [&](const Held& held) {
      return held.device == status.st_dev && held.inode == status.st_ino;
    };
    if (std::any_of(next.held_.begin(), next.held_.end(), same)) continue;
    if (const auto mine = std::find_if(held_.begin(), held_.end(), same); mine != held_.end()) {
      // A duplicate shares the open file description, and with it the lock.
      fd.reset(::fcntl(mine->fd.get(), F_DUPFD_CLOEXEC, 0));
      if (!fd.valid()) util::throwErrno(directory.string() + ": cannot keep its lock");
    } else if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        throw std::runtime_error(
            directory.string() +
            ": another pcap-recorderd records into this directory (it holds the directory's "
            "lock); give each its own output.directory");
      }
      util::throwErrno(directory.string() + ": cannot lock");
    }
    next.held_.push_back({status.st_dev, status.st_ino, std::move(fd)});
  }
  return next;
}

}  // namespace pcap_recorder::service
