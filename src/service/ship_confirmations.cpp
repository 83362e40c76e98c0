#include "pcap_recorder/service/ship_confirmations.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pcap_recorder/ship/ship_state.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::service {

ShipConfirmations::ShipConfirmations(std::filesystem::path stateFile)
    : stateFile_(std::move(stateFile)) {}

void ShipConfirmations::refresh() {
  const auto fail = [&](std::string problem) {
    confirmed_.clear();
    size_ = -1;  // read again next time
    if (problem != problem_) {
      spdlog::warn("{}: {}; retention counts no file as shipped until it can be read",
                   stateFile_.string(), problem);
      problem_ = std::move(problem);
    }
  };
  util::UniqueFd fd(::open(stateFile_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    fail(errno == ENOENT ? "no ship state (has pcap-recorder-shipd run?)" : std::strerror(errno));
    return;
  }
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) {
    fail(std::strerror(errno));
    return;
  }
  if (status.st_dev == device_ && status.st_ino == inode_ && status.st_size == size_ &&
      status.st_mtim.tv_sec == modified_.tv_sec && status.st_mtim.tv_nsec == modified_.tv_nsec) {
    return;
  }
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      fail(std::strerror(errno));
      return;
    }
    if (got == 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  try {
    // A line the shipper is appending right now is not yet whole: parseShipState leaves it out,
    // as the shipper itself would after a crash.
    const auto records = ship::parseShipState(text, stateFile_.string());
    confirmed_.clear();
    for (const auto& [path, upload] : records.confirmed) {
      confirmed_[std::filesystem::path(path).lexically_normal().string()] = {upload.size,
                                                                             upload.sha256};
    }
  } catch (const ship::ShipStateError& error) {
    fail(error.what());
    return;
  }
  device_ = status.st_dev;
  inode_ = status.st_ino;
  size_ = status.st_size;
  modified_ = status.st_mtim;
  if (!problem_.empty()) {
    spdlog::info("{}: read again: {} files confirmed shipped", stateFile_.string(),
                 confirmed_.size());
    problem_.clear();
  }
}

bool ShipConfirmations::confirmed(const std::filesystem::path& file, std::uint64_t bytes,
                                  std::optional<std::string_view> sha256) const {
  const auto found = confirmed_.find(file.lexically_normal().string());
  return found != confirmed_.end() && found->second.bytes == bytes &&
         (!sha256 || found->second.sha256 == *sha256);
}

}  // namespace pcap_recorder::service
