// Owns one mmap()ed region; unmapped on destruction.
#pragma once

#include <cstddef>
#include <utility>

namespace pcap_recorder::util {

class MappedRegion {
 public:
  MappedRegion() noexcept = default;
  // Maps `length` bytes of `fd` shared, readable and writable. Throws std::system_error.
  MappedRegion(int fd, std::size_t length);
  MappedRegion(MappedRegion&& other) noexcept
      : address_(std::exchange(other.address_, nullptr)),
        length_(std::exchange(other.length_, 0)) {}
  MappedRegion& operator=(MappedRegion&& other) noexcept;
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;
  ~MappedRegion() { reset(); }

  std::byte* data() const noexcept { return static_cast<std::byte*>(address_); }
  std::size_t size() const noexcept { return length_; }

 private:
  void reset() noexcept;
  void* address_ = nullptr;
  std::size_t length_ = 0;
};

}  // namespace pcap_recorder::util
