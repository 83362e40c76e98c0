#include "pcap_recorder/util/mapped_region.hpp"

#include <sys/mman.h>

#include "pcap_recorder/util/system_error.hpp"

namespace pcap_recorder::util {

MappedRegion::MappedRegion(int fd, std::size_t length) : length_(length) {
  void* address = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) throwErrno("mmap of " + std::to_string(length) + " bytes");
  address_ = address;
}

MappedRegion& MappedRegion::operator=(MappedRegion&& other) noexcept {
  if (this != &other) {
    reset();
    address_ = std::exchange(other.address_, nullptr);
    length_ = std::exchange(other.length_, 0);
  }
  return *this;
}

void MappedRegion::reset() noexcept {
  if (address_ != nullptr) ::munmap(address_, length_);
  address_ = nullptr;
  length_ = 0;
}

}  // namespace pcap_recorder::util
