// A fresh directory under $TMPDIR, removed with everything in it when the object goes.
#pragma once

#include <filesystem>

namespace pcap_recorder::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace pcap_recorder::testing
