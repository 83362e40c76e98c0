#include "support/directory.hpp"

#include <fcntl.h>

namespace pcap_recorder::testing {

util::UniqueFd openDirectory(const std::filesystem::path& directory) {
  return util::UniqueFd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

bool takesDirectIo(const std::filesystem::path& directory) {
  const auto probe = directory / "probe";
  util::UniqueFd fd(::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  const bool takes = fd.valid() && ::fcntl(fd.get(), F_SETFL, O_DIRECT) == 0;
  fd.reset();
  std::filesystem::remove(probe);
  return takes;
}

}  // namespace pcap_recorder::testing
