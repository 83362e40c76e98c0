// What the shipper knows for sure, kept across restarts of the shipper, the daemon or the machine:
// which local files are confirmed in the bucket (so none is sent twice and retention may delete
// them), and which multipart uploads were begun and not yet completed or aborted (so a restart
// aborts them instead of leaving their parts to be billed forever).
//
// An append-only journal, one record a line, each written with one write() and made durable with
// fdatasync() before the call returns. A crash can only leave a torn last line without its '\n':
// it is dropped on load, and was never reported as done. Fields are percent-encoded, so names with
// spaces or newlines cannot break a line.
//
//   confirmed PATH KEY SIZE SHA256 ETAG
//   started KEY UPLOAD_ID
//   ended UPLOAD_ID
//
// The uploads of parallel files record from several threads: confirmed() and the record*() calls
// may run at once (one mutex; each line still goes whole, durable before the call returns, and
// confirmations may come in any order). confirmedUploads(), openUploads() and forget() are for the
// owner while no upload runs (before and between the shipper's rounds).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::ship {

struct ConfirmedUpload {
  std::string localPath;
  std::string key;
  std::uint64_t size = 0;
  std::string sha256;  // hex
  std::string etag;    // as the server returned it, without quotes
  bool operator==(const ConfirmedUpload&) const = default;
};

struct OpenMultipartUpload {
  std::string key;
  std::string uploadId;
  bool operator==(const OpenMultipartUpload&) const = default;
};

class ShipStateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The journal's content, as load() reads it: pure, for tests and for ShipState.
struct ShipStateRecords {
  std::map<std::string, ConfirmedUpload> confirmed;  // by local path
  std::vector<OpenMultipartUpload> openUploads;      // started, not ended, in start order
  std::size_t validBytes = 0;                        // up to the end of the last whole line
};
// Throws ShipStateError naming `source` and the line for a line that is whole but unreadable.
ShipStateRecords parseShipState(std::string_view text, std::string_view source);
std::string formatConfirmed(const ConfirmedUpload& upload);
std::string formatStarted(const OpenMultipartUpload& upload);
std::string formatEnded(std::string_view uploadId);

class ShipState {
 public:
  // Reads `file` (created when missing, with its directory's entry made durable), drops a torn
  // last line, and opens it for appending. An append that fails (a full disk) throws and leaves
  // the journal as it was.
  explicit ShipState(std::filesystem::path file);

  // The record stays valid until forget(); only the one upload of a path rewrites it.
  const ConfirmedUpload* confirmed(const std::string& localPath) const;
  const std::map<std::string, ConfirmedUpload>& confirmedUploads() const noexcept {
    return records_.confirmed;
  }
  const std::vector<OpenMultipartUpload>& openUploads() const noexcept {
    return records_.openUploads;
  }

  void recordConfirmed(const ConfirmedUpload& upload);
  void recordStarted(const OpenMultipartUpload& upload);
  void recordEnded(std::string_view uploadId);

  // Forgets a confirmed file (its local copy is gone) and rewrites the journal with only what is
  // still true, atomically (a new file fsynced and renamed over the old one).
  void forget(const std::string& localPath);
  // The same for several at once, with one rewrite (none when none was confirmed).
  void forget(const std::vector<std::string>& localPaths);

 private:
  void append(const std::string& line);
  void rewrite();

  mutable std::mutex mutex_;  // guards records_ and the journal's writes
  std::filesystem::path file_;
  ShipStateRecords records_;
  util::UniqueFd fd_;
  bool tornTail_ = false;  // a failed append left part of its line behind records_.validBytes
};

}  // namespace pcap_recorder::ship
