// A test's directory as the writers take it: opened for the *at() calls, and whether the file
// system under it takes O_DIRECT (tmpfs before Linux 6.6 and ramfs refuse it).
#pragma once

#include <filesystem>

#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::testing {

// `directory` opened O_RDONLY | O_DIRECTORY | O_CLOEXEC; not valid() when it cannot be.
util::UniqueFd openDirectory(const std::filesystem::path& directory);

// Whether a file created in `directory` takes O_DIRECT (tried on a probe file, removed again).
bool takesDirectIo(const std::filesystem::path& directory);

}  // namespace pcap_recorder::testing
