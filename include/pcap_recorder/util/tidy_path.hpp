// One spelling for a path that names the same place whatever the file system holds.
#pragma once

#include <filesystem>

namespace pcap_recorder::util {

// `path` without `.` elements and without repeated or trailing slashes: "/srv//pcap/./" is
// "/srv/pcap", "./captures/" is "captures", "." stays ".". `..` is kept: when the element before
// it is a symbolic link, "/srv/x/../pcap" is not "/srv/pcap", so only the kernel may resolve it.
std::filesystem::path tidyPath(const std::filesystem::path& path);

}  // namespace pcap_recorder::util
