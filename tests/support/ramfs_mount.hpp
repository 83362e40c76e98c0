// A ramfs mounted for one test, unmounted when this goes. ramfs refuses O_DIRECT (tmpfs takes it
// since Linux 6.6): where direct I/O must be refused. Mounting needs root: mounted() says whether
// it worked, for the test to skip without.
#pragma once

#include <sys/mount.h>

#include <filesystem>

namespace pcap_recorder::testing {

class RamfsMount {
 public:
  explicit RamfsMount(const std::filesystem::path& at) : at_(at) {
    std::filesystem::create_directory(at_);
    mounted_ = ::mount("ramfs", at_.c_str(), "ramfs", 0, nullptr) == 0;
  }
  ~RamfsMount() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  RamfsMount(const RamfsMount&) = delete;
  RamfsMount& operator=(const RamfsMount&) = delete;
  bool mounted() const noexcept { return mounted_; }

 private:
  std::filesystem::path at_;
  bool mounted_ = false;
};

}  // namespace pcap_recorder::testing
