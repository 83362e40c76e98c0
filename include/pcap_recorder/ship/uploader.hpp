// One finished file into the bucket, verified: a single PUT up to one part's size, above it a
// multipart upload with parts sent in parallel. Every request carries its body's SHA-256 (and
// parts their Content-MD5), so the server refuses altered bytes; the whole file's SHA-256 goes
// along as x-amz-meta-sha256; and when the server says it is done, a HEAD must show the size, the
// ETag computed here (the MD5, or for multipart the MD5 of the parts' MD5s and "-N") and that
// SHA-256, or the upload counts as failed.
//
// A multipart upload is written to the ShipState before its first part and marked ended after it
// completed or was aborted, so a shipper killed in between aborts it on its next start
// (abortUnfinished) instead of leaving parts on the server.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pcap_recorder/ship/digest.hpp"
#include "pcap_recorder/ship/s3_client.hpp"
#include "pcap_recorder/ship/ship_state.hpp"

namespace pcap_recorder::ship {

struct UploadOptions {
  std::uint64_t partSize = 16ull << 20;  // S3's minimum is 5 MiB (but for the last part)
  unsigned parallel = 4;                 // parts in flight at once
  // Called once the server accepted the upload's first request (the single PUT, or creating the
  // multipart upload): the credentials and the bucket are right. May be empty.
  std::function<void()> onAccepted;
  // An object already at the key with other bytes is never replaced: the upload takes the next
  // key (keyWithCounter). Off for what belongs to an object shipped before (its sidecar).
  bool neverReplace = true;
};

// Keys tried for a file whose key holds another object, at most.
inline constexpr unsigned kMaxKeyCounter = 1000;

// `key` with `counter` before the extension of its last component (a compression suffix set
// apart), as the daemon names a file whose name is taken: "h/eth0/x.pcap.zst", 1 →
// "h/eth0/x_001.pcap.zst"; `key` for 0.
std::string keyWithCounter(const std::string& key, unsigned counter);

// The part size for a file of `fileSize` bytes: `wanted`, or larger where S3's limit of 10000
// parts needs it.
std::uint64_t partSizeFor(std::uint64_t fileSize, std::uint64_t wanted);

// The ETag S3 gives an object uploaded in parts of these MD5s: MD5 of their concatenation, "-N".
std::string multipartEtag(const std::vector<Md5Digest>& partDigests);

// Uploads `file` as `key` (or, where `key` holds another object, the next free
// keyWithCounter(key, n); see UploadOptions::neverReplace) and verifies it; returns what to
// record as confirmed (the caller records it), with the key used. `sha256Hex` is the file's SHA-256
// when known (the sidecar's), else computed here; a file whose bytes do not match it fails. Throws
// S3Error (from the server) or std::runtime_error / std::system_error (local). `state` may be null
// (no resumable record).
ConfirmedUpload uploadFile(S3Client& client, const std::filesystem::path& file,
                           const std::string& key, const UploadOptions& options,
                           std::optional<std::string> sha256Hex, ShipState* state);

// Aborts every multipart upload `state` records as begun and not ended (a shipper that died
// mid-upload), and records each as ended. One the server refuses to abort stays recorded, for the
// next start, with why in `failures`. Returns how many were aborted.
std::size_t abortUnfinished(S3Client& client, ShipState& state, std::vector<std::string>& failures);

}  // namespace pcap_recorder::ship
