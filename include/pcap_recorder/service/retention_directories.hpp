// Which output directories retention looks after, and over which interfaces: one entry per
// directory on the file system, however the interfaces writing there spell it. Two interfaces
// naming one directory through a symbolic link or a `..` share its limits (the strictest of
// theirs), as two spelling it alike do: a limit is a promise about the directory ("keep 10 GiB
// free here"), and counting its files twice, once per spelling, would break it.
//
// Each interface keeps writing through its own spelling (the paths it announces, the shipper's
// object keys and state stay as configured); only retention's grouping looks through them.
#pragma once

#include <vector>

#include "pcap_recorder/config/config.hpp"
#include "pcap_recorder/service/file_finisher.hpp"

namespace pcap_recorder::service {

// The directories of `config`'s interfaces, grouped by what `resolve` makes of each spelling;
// where it cannot tell, a spelling is a directory of its own (merging two that are not one would
// leave the second without retention). Each entry's `directory` is the first interface's
// spelling, the others' in `otherSpellings`; in the order of each one's first interface.
std::vector<DirectoryRetention> retentionDirectoriesOf(const config::Config& config,
                                                       const config::DirectoryResolver& resolve);

}  // namespace pcap_recorder::service
