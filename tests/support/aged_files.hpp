// Files of a chosen age, as retention finds them in an output directory: a finished capture with
// its index and sidecar.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>

namespace pcap_recorder::testing {

// `bytes` bytes in `path`, last written `age` ago.
inline void writeAged(const std::filesystem::path& path, std::size_t bytes,
                      std::chrono::hours age) {
  std::ofstream(path) << std::string(bytes, 'x');
  std::filesystem::last_write_time(path, std::filesystem::file_time_type::clock::now() - age);
}

// A stored file of `bytes` with its index (NAME.idx) and sidecar (NAME.json), all `age` old.
inline void storedWithIndexAndSidecar(const std::filesystem::path& path, std::size_t bytes,
                                      std::chrono::hours age) {
  writeAged(path, bytes, age);
  writeAged(path.string() + ".idx", 10, age);
  writeAged(path.string() + ".json", 10, age);
}

}  // namespace pcap_recorder::testing
