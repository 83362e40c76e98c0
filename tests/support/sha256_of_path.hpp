// The SHA-256 of a file read back, the reference for the hashes the writers and the finisher take.
// Header only: it needs pr_compress, which pr_test_support does not link; the tests that use it
// have it through their module (pcap, service).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "pcap_recorder/compress/sha256.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::testing {

inline std::string sha256OfPath(const std::filesystem::path& path) {
  util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_TRUE(fd.valid()) << path;
  return compress::sha256OfFile(fd.get());
}

}  // namespace pcap_recorder::testing
