#include "pcap_recorder/config/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <optional>
#include <string_view>
#include <system_error>

#include "diagnostics.hpp"
#include "document.hpp"
#include "pcap_recorder/config/units.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

// The loader is split by job, each part private to this module (src/config/*.hpp):
//   diagnostics    collecting problems, describing values, near-miss hints
//   value_readers  one value of each kind (size, duration, mode, choice, ...)
//   schema         the key tables: every key, its section and its reader
//   map_walk       unknown and repeated keys, sections at the top level or in an interface
//   interfaces     the interfaces list and the checks across interfaces
//   document       syntax, one document, bounded size, the top level
// This file reads the file and is the public face (config.hpp).
namespace pcap_recorder::config {
namespace {

// A config file is a few kilobytes; the cap keeps `--config /dev/zero` from eating all memory.
constexpr std::size_t kMaxFileBytes = 4u << 20;

std::error_code lastError() {
  return {errno != 0 ? errno : EIO, std::generic_category()};
}

std::string_view describeFileType(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// Why the file could not be read, if it could not. Only a regular file is read: opened without
// blocking and checked before the first read, so a FIFO or a device cannot hang --check-config
// or a reload.
std::optional<std::string> readWholeFile(const std::filesystem::path& file, std::string& out) {
  errno = 0;
  const util::UniqueFd fd(::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return lastError().message();
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) return lastError().message();
  if (S_ISDIR(status.st_mode)) return std::generic_category().message(EISDIR);
  if (!S_ISREG(status.st_mode)) {
    return "is " + std::string(describeFileType(status.st_mode)) +
           ", not a regular file; the configuration must be a file";
  }
  std::array<char, 16384> buffer;
  for (;;) {
    const ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return lastError().message();
    if (got == 0) return std::nullopt;
    out.append(buffer.data(), static_cast<std::size_t>(got));
    if (out.size() > kMaxFileBytes) {
      return "larger than " + formatSize(kMaxFileBytes) + "; that is not a configuration file";
    }
  }
}

std::string formatAll(const std::vector<Problem>& problems) {
  std::string out;
  for (const Problem& problem : problems) {
    if (!out.empty()) out += '\n';
    out += format(problem);
  }
  return out;
}

}  // namespace

std::string format(const Problem& problem) {
  std::string out = problem.where.file;
  if (problem.where.line > 0) {
    out += ':' + std::to_string(problem.where.line);
    if (problem.where.column > 0) out += ':' + std::to_string(problem.where.column);
  }
  if (!out.empty()) out += ": ";
  out += problem.message;
  return out;
}

ConfigError::ConfigError(std::vector<Problem> problems)
    : std::runtime_error(formatAll(problems)), problems_(std::move(problems)) {}

std::optional<std::filesystem::path> resolveDirectory(const std::filesystem::path& directory) {
  std::error_code error;
  // Absolute first: a relative directory resolves alike whether or not it exists yet.
  const std::filesystem::path absolute = std::filesystem::absolute(directory, error);
  if (error) return std::nullopt;
  std::filesystem::path resolved = std::filesystem::weakly_canonical(absolute, error);
  if (error) return std::nullopt;
  return resolved;
}

Config parse(const std::string& yamlText, const std::string& displayName,
             const DirectoryResolver& resolve) {
  detail::Diagnostics diagnostics(displayName);
  Config config;
  config.sourceFile = displayName;
  detail::readDocument(diagnostics, yamlText, config, resolve);
  diagnostics.throwIfAny();
  return config;
}

Config load(const std::filesystem::path& file) {
  std::string text;
  if (std::optional<std::string> error = readWholeFile(file, text)) {
    throw ConfigError({Problem{Location{file.string(), 0, 0}, "cannot read: " + *error}});
  }
  Config config = parse(text, file.string(), resolveDirectory);
  config.sourceFile = file;
  return config;
}

}  // namespace pcap_recorder::config
