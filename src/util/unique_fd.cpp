#include "pcap_recorder/util/unique_fd.hpp"

#include <unistd.h>

namespace pcap_recorder::util {

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace pcap_recorder::util
