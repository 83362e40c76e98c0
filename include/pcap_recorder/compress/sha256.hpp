// SHA-256 through OpenSSL's EVP interface (which uses the CPU's SHA extensions where present), for
// the sidecar's `sha256` of a file's bytes as stored.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace pcap_recorder::compress {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(std::span<const std::byte> bytes);
  // The digest as 64 lowercase hex digits; the hash must not be updated afterwards.
  std::string hexDigest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// The SHA-256 of the whole file behind `fd` (finished: its size does not change), read from
// offset 0 with pread into a buffer aligned for O_DIRECT, so `fd` may be opened with or without it.
// Throws std::system_error.
std::string sha256OfFile(int fd);

}  // namespace pcap_recorder::compress
