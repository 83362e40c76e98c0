#include "pcap_recorder/compress/sha256.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstdlib>
#include <new>
#include <stdexcept>

#include "pcap_recorder/util/system_error.hpp"

namespace pcap_recorder::compress {

struct Sha256::Context {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  if (!context_->md || EVP_DigestInit_ex(context_->md.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL: cannot start a SHA-256");
  }
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  if (EVP_DigestUpdate(context_->md.get(), bytes.data(), bytes.size()) != 1) {
    throw std::runtime_error("OpenSSL: SHA-256 update failed");
  }
}

std::string Sha256::hexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_->md.get(), digest, &length) != 1) {
    throw std::runtime_error("OpenSSL: SHA-256 final failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  text.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    text += kHex[digest[i] >> 4];
    text += kHex[digest[i] & 0xf];
  }
  return text;
}

namespace {

// Clears O_DIRECT on `fd`; false when it was not set (or cannot be cleared).
bool withoutDirectIo(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && (flags & O_DIRECT) != 0 && ::fcntl(fd, F_SETFL, flags & ~O_DIRECT) == 0;
}

}  // namespace

std::string sha256OfFile(int fd) {
  constexpr std::size_t kAlignment = 4096;  // O_DIRECT's, for 512-byte and 4 KiB devices alike
  constexpr std::size_t kChunk = 1u << 20;
  struct stat status {};
  if (::fstat(fd, &status) != 0) util::throwErrno("stat for SHA-256");
  const std::unique_ptr<std::byte, decltype(&std::free)> buffer(
      static_cast<std::byte*>(std::aligned_alloc(kAlignment, kChunk)), &std::free);
  if (!buffer) throw std::bad_alloc();
  Sha256 hash;
  // Up to the size rather than to a read of 0: with O_DIRECT, a read after the short one at the
  // end would start at an unaligned offset and be refused.
  off_t offset = 0;
  while (offset < status.st_size) {
    const ssize_t got = ::pread(fd, buffer.get(), kChunk, offset);
    if (got < 0 && errno == EINTR) continue;
    // Some file systems open with O_DIRECT and then refuse the reads (alignments other than
    // ours, FUSE): the rest is read through the page cache.
    if (got < 0 && errno == EINVAL && withoutDirectIo(fd)) continue;
    if (got < 0) util::throwErrno("read for SHA-256");
    if (got == 0) break;
    hash.update(std::span(buffer.get(), static_cast<std::size_t>(got)));
    offset += got;
  }
  return hash.hexDigest();
}

}  // namespace pcap_recorder::compress
