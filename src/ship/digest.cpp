#include "pcap_recorder/ship/digest.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <stdexcept>
#include <vector>

#include "pcap_recorder/util/system_error.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::ship {
namespace {

struct ContextDeleter {
  void operator()(EVP_MD_CTX* context) const noexcept { EVP_MD_CTX_free(context); }
};
using ContextPtr = std::unique_ptr<EVP_MD_CTX, ContextDeleter>;

ContextPtr newContext(const EVP_MD* type) {
  ContextPtr context(EVP_MD_CTX_new());
  if (!context || EVP_DigestInit_ex(context.get(), type, nullptr) != 1) {
    throw std::runtime_error("OpenSSL: cannot start a digest");
  }
  return context;
}

template <std::size_t N>
std::array<unsigned char, N> digestOf(const EVP_MD* type, std::span<const char> data) {
  const ContextPtr context = newContext(type);
  std::array<unsigned char, N> out{};
  unsigned int length = 0;
  if (EVP_DigestUpdate(context.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), out.data(), &length) != 1 || length != N) {
    throw std::runtime_error("OpenSSL: digest failed");
  }
  return out;
}

}  // namespace

struct Sha256::Context {
  ContextPtr context = newContext(EVP_sha256());
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {}
Sha256::~Sha256() = default;

void Sha256::update(std::span<const char> data) {
  if (EVP_DigestUpdate(context_->context.get(), data.data(), data.size()) != 1) {
    throw std::runtime_error("OpenSSL: digest failed");
  }
}

Sha256Digest Sha256::finish() {
  Sha256Digest out{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_->context.get(), out.data(), &length) != 1 ||
      length != out.size()) {
    throw std::runtime_error("OpenSSL: digest failed");
  }
  return out;
}

Sha256Digest sha256(std::span<const char> data) {
  return digestOf<32>(EVP_sha256(), data);
}
Md5Digest md5(std::span<const char> data) {
  return digestOf<16>(EVP_md5(), data);
}

DigestedBody::DigestedBody(std::span<const char> bytes)
    : bytes_(bytes), sha256_(ship::sha256(bytes)), md5_(ship::md5(bytes)) {}

Sha256Digest sha256OfFile(const std::filesystem::path& path) {
  util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) util::throwErrno(path.string() + ": open");
  Sha256 hash;
  std::vector<char> buffer(1 << 20);
  while (true) {
    const ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      util::throwErrno(path.string() + ": read");
    }
    if (got == 0) break;
    hash.update(std::span<const char>(buffer.data(), static_cast<std::size_t>(got)));
  }
  return hash.finish();
}

std::string toHex(std::span<const unsigned char> digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : digest) {
    out += kHex[byte >> 4];
    out += kHex[byte & 0xf];
  }
  return out;
}

std::string toBase64(std::span<const unsigned char> digest) {
  std::string out(4 * ((digest.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest.data(),
                                     static_cast<int>(digest.size()));
  out.resize(static_cast<std::size_t>(length));
  return out;
}

std::string fromHex(std::string_view hex, std::size_t size) {
  if (hex.size() != 2 * size) return {};
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int value = 0;
    for (char c : hex.substr(i, 2)) {
      value *= 16;
      if (c >= '0' && c <= '9')
        value += c - '0';
      else if (c >= 'a' && c <= 'f')
        value += c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        value += c - 'A' + 10;
      else
        return {};
    }
    out += static_cast<char>(value);
  }
  return out;
}

}  // namespace pcap_recorder::ship
