// The hashes S3 integrity needs (OpenSSL's EVP): SHA-256 as hex (x-amz-content-sha256, the
// sidecar's form) and as base64 (x-amz-checksum-sha256), MD5 as base64 (Content-MD5) and hex
// (ETags).
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pcap_recorder::ship {

using Sha256Digest = std::array<unsigned char, 32>;
using Md5Digest = std::array<unsigned char, 16>;

// An incremental hash; `update` any number of times, then `finish` once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::span<const char> data);
  Sha256Digest finish();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

Sha256Digest sha256(std::span<const char> data);
Md5Digest md5(std::span<const char> data);

// A request body with its two digests, taken once by whoever holds the bytes: the signature,
// Content-MD5, the flexible checksum and the ETag check all use these (MD5 alone costs more than
// the upload's SHA-256 with the CPU's SHA extensions). Made only by hashing the bytes it views, so
// a request cannot carry another body's digests. A view: the bytes must outlive it, unchanged
// (hence no temporaries).
class DigestedBody {
 public:
  explicit DigestedBody(std::span<const char> bytes);
  explicit DigestedBody(std::vector<char>&&) = delete;
  explicit DigestedBody(std::string&&) = delete;
  std::span<const char> bytes() const noexcept { return bytes_; }
  const Sha256Digest& sha256() const noexcept { return sha256_; }
  const Md5Digest& md5() const noexcept { return md5_; }

 private:
  std::span<const char> bytes_;
  Sha256Digest sha256_;
  Md5Digest md5_;
};
// The SHA-256 of a whole file, read in large blocks. Throws std::system_error.
Sha256Digest sha256OfFile(const std::filesystem::path& path);

std::string toHex(std::span<const unsigned char> digest);
std::string toBase64(std::span<const unsigned char> digest);
// The bytes of a lower- or upper-case hex string; empty when it is not one of `size` bytes.
std::string fromHex(std::string_view hex, std::size_t size);

}  // namespace pcap_recorder::ship
