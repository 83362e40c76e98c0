// The system side of the metrics: the file node_exporter reads, and what is measured of an
// output directory. Never read by a capture thread.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include "pcap_recorder/metrics/prometheus_text.hpp"
#include "pcap_recorder/rotation/file_naming.hpp"

namespace pcap_recorder::metrics {

// Replaces `path` with `text` as one step: written to a hidden temporary beside it (a name that
// does not end in .prom, which the textfile collector skips), fsynced, mode 0644 whatever the
// umask (node_exporter runs as another user), renamed over `path`, the directory fsynced. A
// reader sees the old file or the new, never half of one. Throws std::system_error naming the
// file; the temporary is removed then.
void writeTextfile(const std::filesystem::path& path, std::string_view text);

// Free space of `directory`'s file system, and the time of the oldest capture file there that
// `ownFiles` recognises: its first packet's timestamp (the window's true start), or, for a file
// whose first record cannot be read (empty, compressed), its retention time. Never throws.
DirectorySample sampleDirectory(const std::filesystem::path& directory,
                                const rotation::OwnFileMatcher& ownFiles);

// The first record's timestamp in seconds of the classic pcap file open as `fd`; none when it
// is not one or holds no record. Either byte order, micro- or nanosecond magic.
std::optional<double> firstPacketTime(int fd);

}  // namespace pcap_recorder::metrics
