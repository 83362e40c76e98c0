// One round of the shipper: the backlog a scan found, uploaded with up to `parallelFiles` files in
// flight at once (ship.parallel_files), each by a worker thread of the round. The uploading itself
// is behind FileShipper, so the scheduling is tested without a server.
//
// Rules, each for a promise the single-file shipper kept:
// - Files start in the order given (finish order; files that failed before go last, see
//   failingLast), so with parallel_files 1 the bucket fills in finish order. With more, a file may
//   be confirmed before an older one still in flight: the journal keys confirmations by path and
//   every reader of it copes with any order.
// - Until the server has accepted a request of the round (FileShipper calls `accepted`, or a file
//   is shipped), only one file is in flight: a server that refuses everything (wrong credentials,
//   missing bucket) refuses one file a round, not parallel_files at once.
// - After a server failure (FileOutcome::serverFailed: a refusal, or retries used up) no further
//   file starts; those in flight finish, and the caller waits before the next round. A local
//   failure (unreadable file, hash mismatch) only fails its own file.
// - A stop (SIGTERM) starts no further file; those in flight finish.
// Nothing crosses the threads as an exception: an exception from FileShipper::ship counts as a
// local failure of its file.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <set>
#include <vector>

#include "backlog.hpp"

namespace pcap_recorder::shipd {

enum class FileOutcome {
  shipped,       // the file (and its sidecar, when there is one) is confirmed
  failed,        // a local problem with this file: the others go on
  serverFailed,  // the server refused or stayed unavailable: the round starts no further file
};

// Uploads one file with its sidecar and records the confirmations. Called from several threads at
// once, for different files. `accepted`: call it once the server accepted a request for this file
// (the credentials and the bucket are right), so the round may widen to parallel_files.
class FileShipper {
 public:
  virtual ~FileShipper() = default;
  virtual FileOutcome ship(const FinishedFile& file, const std::function<void()>& accepted) = 0;
};

struct RoundResult {
  std::vector<std::filesystem::path> shipped;
  std::vector<std::filesystem::path> failed;  // locally or on the server
  bool serverFailed = false;
  bool complete() const { return failed.empty() && !serverFailed; }
};

// Ships `files` (in that order of starting) with at most `parallelFiles` (>= 1) in flight; returns
// when every started file is done. `stopping` is asked before each file starts.
RoundResult shipRound(const std::vector<FinishedFile>& files, unsigned parallelFiles,
                      FileShipper& shipper, const std::function<bool()>& stopping);

// `files` with those in `failing` (failed in an earlier round) moved behind the others, each part
// keeping its order: a file the server keeps refusing ends its round last instead of first, so
// it cannot hold back the files finished after it for ever.
void failingLast(std::vector<FinishedFile>& files, const std::set<std::filesystem::path>& failing);

}  // namespace pcap_recorder::shipd
