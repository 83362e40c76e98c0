// An output directory as the recorder holds it: created if missing, opened once, and every file
// in it created, renamed, listed and deleted through that one descriptor. A path re-pointed or
// replaced later then cannot redirect what the recorder touches, and the recorder can tell that
// it happened: the held directory was removed (no links left), or the configured path now leads
// elsewhere. Paths in logs, hooks and D-Bus are where the directory really is, read back from the
// descriptor.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::service {

class OutputDirectory {
 public:
  // Creates `path` (and its parents) if missing, as at start, and opens it. Throws
  // std::system_error naming the path.
  static std::shared_ptr<const OutputDirectory> open(const std::filesystem::path& path);

  const std::filesystem::path& configuredPath() const noexcept { return configured_; }
  int fd() const noexcept { return fd_.get(); }

  enum class State {
    same,      // the configured path still leads to the held directory
    removed,   // the held directory is deleted (st_nlink 0): what is in it is gone
    replaced,  // the held directory exists, but the path leads elsewhere or nowhere
  };
  State state() const noexcept;

  // Where the held directory is now (/proc/self/fd/N resolved); the configured path when that
  // cannot be read. A removed directory reads "<path> (deleted)".
  std::filesystem::path currentPath() const;

 private:
  OutputDirectory(std::filesystem::path configured, util::UniqueFd fd);

  std::filesystem::path configured_;
  util::UniqueFd fd_;
};

std::string describe(OutputDirectory::State state);

}  // namespace pcap_recorder::service
