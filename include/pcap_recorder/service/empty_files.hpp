// No empty capture files: a file that ends without a single record (an interval, a reload or a
// stop without traffic) is removed rather than finished, unless output.keep_empty_files asks for
// one per interval as proof of silence. Why: a 24-byte file tells nothing, retention (max_files)
// would delete real captures to keep it, and some readers stall on a file without packets.
#pragma once

#include <cstdint>

#include "pcap_recorder/pcap/file_writer.hpp"

namespace pcap_recorder::service {

// Whether a closed file is finished (fsync, rename, announced) or removed. A file whose writing
// failed before any record reached it goes to the finisher as before, which removes it with a
// warning naming the failure.
bool finishesClosedFile(std::uint64_t records, bool writeFailed, bool keepEmptyFiles) noexcept;

// Removes `file`'s `.part` from `directoryFd` and returns true when finishesClosedFile() says it
// is not to be finished; false (and nothing done) otherwise.
bool removeIfEmpty(pcap::ClosedFile& file, bool writeFailed, bool keepEmptyFiles,
                   int directoryFd) noexcept;

}  // namespace pcap_recorder::service
