// `pcap-recorderctl extract` and `pcap-recorderctl index`: packets out of the store by time window,
// interface and tcpdump filter, as one pcap merged in timestamp order, reading only the blocks the
// files' indexes say may match; and indexing the files that lack an index.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "store.hpp"

namespace pcap_recorder::ctl {

struct ExtractRequest {
  std::optional<std::int64_t> sinceNs;  // inclusive
  std::optional<std::int64_t> untilNs;  // exclusive
  std::string filter;                   // tcpdump syntax; empty: every packet
  int outputFd = 1;
};

struct ExtractReport {
  std::uint64_t files = 0;               // files of the store considered
  std::uint64_t filesOutside = 0;        // skipped: outside the time window (or empty)
  std::uint64_t filesVanished = 0;       // deleted before they could be opened
  std::uint64_t blocksSearched = 0;      // read
  std::uint64_t blocksSkipped = 0;       // in the window, skipped by the index
  std::uint64_t indexesBuilt = 0;        // missing, stale or damaged indexes rebuilt
  std::uint64_t packets = 0;             // written
  std::uint64_t bytesRead = 0;           // of pcap files (as stored) and indexes
  std::uint64_t framesDecompressed = 0;  // whole zstd frames of seekable .zst files
  std::vector<std::string> problems;     // unreadable files, unsaved indexes: warnings
  bool failed = false;                   // a read or write error: exit 1
};

// Thrown for a filter libpcap refuses (its message) and for an output that cannot be written.
struct ExtractError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

ExtractReport extract(const std::vector<StoreFile>& files, const ExtractRequest& request);

struct IndexReport {
  std::uint64_t indexed = 0;
  std::uint64_t upToDate = 0;
  std::vector<std::string> problems;
};

// Indexes every finished file of `files` whose index is missing, stale or damaged.
IndexReport indexStore(const std::vector<StoreFile>& files);

}  // namespace pcap_recorder::ctl
