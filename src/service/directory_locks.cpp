#include "pcap_recorder/service/directory_locks.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pcap_recorder::service {

DirectoryLocks DirectoryLocks::lock(const std::vector<std::filesystem::path>& directories,
                                    LockProblems& problems, const DirectoryLocks& alsoHeld) const {
  DirectoryLocks next;
  const auto cannot = [&](const std::filesystem::path& directory, const char* what) {
    problems.cannotLock.push_back(directory.string() + ": cannot " + what + ": " +
                                  std::strerror(errno) +
                                  "; a second pcap-recorderd on it would not be refused");
  };
  for (const auto& directory : directories) {
    util::UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno != ENOENT) cannot(directory, "open it to lock it");
      continue;
    }
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0) {
      cannot(directory, "stat it");
      continue;
    }
    const auto same = [&](const Held& held) {
      return held.device == status.st_dev && held.inode == status.st_ino;
    };
    if (std::any_of(next.held_.begin(), next.held_.end(), same)) continue;
    const Held* shared = nullptr;
    for (const auto* locks : {&held_, &alsoHeld.held_}) {
      const auto found = std::find_if(locks->begin(), locks->end(), same);
      if (shared == nullptr && found != locks->end()) shared = &*found;
    }
    if (shared != nullptr) {
      // A duplicate shares the open file description, and with it the lock.
      fd.reset(::fcntl(shared->fd.get(), F_DUPFD_CLOEXEC, 0));
      if (!fd.valid()) {
        cannot(directory, "keep its lock");
        continue;
      }
    } else if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        problems.heldElsewhere.push_back(
            directory.string() +
            ": another pcap-recorderd records into this directory (it holds the directory's "
            "lock); give each its own output.directory");
      } else {
        // NFS emulates flock with a write lock a directory cannot be opened for (EBADF).
        cannot(directory, "lock it");
      }
      continue;
    }
    next.held_.push_back({status.st_dev, status.st_ino, std::move(fd)});
  }
  return next;
}

void DirectoryLocks::adopt(DirectoryLocks&& other) {
  for (auto& theirs : other.held_) {
    const bool had = std::any_of(held_.begin(), held_.end(), [&](const Held& held) {
      return held.device == theirs.device && held.inode == theirs.inode;
    });
    if (!had) held_.push_back(std::move(theirs));
  }
  other.held_.clear();
}

}  // namespace pcap_recorder::service
