#include "pcap_recorder/service/output_directory.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <climits>
#include <system_error>

#include "pcap_recorder/service/recorder.hpp"

namespace pcap_recorder::service {

std::shared_ptr<const OutputDirectory> OutputDirectory::open(const std::filesystem::path& path) {
  // Created as at start (each missing directory with the output directory mode).
  util::UniqueFd fd = openOutputDirectory(path);
  return std::shared_ptr<const OutputDirectory>(new OutputDirectory(path, std::move(fd)));
}

OutputDirectory::OutputDirectory(std::filesystem::path configured, util::UniqueFd fd)
    : configured_(std::move(configured)), fd_(std::move(fd)) {}

OutputDirectory::State OutputDirectory::state() const noexcept {
  struct stat held {};
  if (::fstat(fd_.get(), &held) != 0 || held.st_nlink == 0) return State::removed;
  struct stat now {};
  if (::stat(configured_.c_str(), &now) != 0) return State::replaced;
  return now.st_dev == held.st_dev && now.st_ino == held.st_ino ? State::same : State::replaced;
}

std::filesystem::path OutputDirectory::currentPath() const {
  const std::string link = "/proc/self/fd/" + std::to_string(fd_.get());
  char target[PATH_MAX];
  const ssize_t length = ::readlink(link.c_str(), target, sizeof target - 1);
  if (length <= 0 || target[0] != '/') return configured_;
  return std::filesystem::path(std::string(target, static_cast<std::size_t>(length)));
}

std::string describe(OutputDirectory::State state) {
  switch (state) {
    case OutputDirectory::State::same:
      return "in place";
    case OutputDirectory::State::removed:
      return "removed";
    case OutputDirectory::State::replaced:
      return "replaced (its path now leads to another directory, or nowhere)";
  }
  return "changed";
}

}  // namespace pcap_recorder::service
