// The S3 requests the shipper makes, over libcurl with its own AWS Signature V4 signer
// (CURLOPT_AWS_SIGV4, curl >= 7.75), each tried again under a RetryPolicy.
//
// What curl 7.88's signer leaves to us: the x-amz-content-sha256 header (it does not add it, and
// servers refuse requests without it), canonical (sorted, percent-encoded) query strings, and keys
// percent-encoded in the path. Every request with a body sends that body's real SHA-256 there, so
// the server checks the bytes it got (RGW, AWS: 400 XAmzContentSHA256Mismatch, nothing stored),
// and parts and single PUTs carry Content-MD5 as well.
//
// Thread-safe: parts go up from several threads at once; each request takes a curl handle from a
// small pool, so connections are reused.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pcap_recorder/ship/credentials.hpp"
#include "pcap_recorder/ship/digest.hpp"
#include "pcap_recorder/ship/rate_limit.hpp"
#include "pcap_recorder/ship/retry_policy.hpp"
#include "pcap_recorder/ship/ship_state.hpp"

namespace pcap_recorder::ship {

struct S3Endpoint {
  std::string endpoint;  // "https://s3.example.net" or "http://127.0.0.1:7480"
  std::string bucket;
  std::string region = "us-east-1";
  bool pathStyle = false;  // endpoint/bucket/key instead of bucket.endpoint/key
  std::string caFile;      // empty: the system's trust store
  std::chrono::milliseconds connectTimeout{10'000};
  // A request that moves no byte for this long has failed (and is retried): a hung server.
  std::chrono::milliseconds stallTimeout{30'000};
  // Upload bytes per second for every request of the client together (RateLimit); 0: unlimited.
  std::uint64_t maxBytesPerSecond = 0;
};

// What is wrong with `endpoint` as an endpoint URL, or empty.
std::string endpointProblem(std::string_view endpoint);

// A request that failed for good: a 4xx that repeating would not change, or retries used up.
class S3Error : public std::runtime_error {
 public:
  S3Error(const std::string& message, long httpStatus, std::string code, bool retriesExhausted)
      : std::runtime_error(message),
        httpStatus_(httpStatus),
        code_(std::move(code)),
        retriesExhausted_(retriesExhausted) {}
  long httpStatus() const noexcept { return httpStatus_; }    // 0: no answer
  const std::string& code() const noexcept { return code_; }  // S3's <Code>, or curl's error
  // True when the failure was transient (network, 5xx, throttling) and only the attempts ran
  // out: the caller may try the whole file again later. False for a 4xx: fix the config.
  bool retriesExhausted() const noexcept { return retriesExhausted_; }

 private:
  long httpStatus_;
  std::string code_;
  bool retriesExhausted_;
};

struct ObjectInfo {
  std::uint64_t size = 0;
  std::string etag;                             // without quotes
  std::map<std::string, std::string> metadata;  // x-amz-meta-*, names without the prefix
};

struct CompletedPart {
  int number = 0;
  std::string etag;  // without quotes
};

// Called before each retry: what failed, the attempt that failed, and how long until the next.
using RetryObserver = std::function<void(std::string_view what, int attempt,
                                         std::chrono::milliseconds delay, std::string_view reason)>;

class S3Client {
 public:
  using Sleep = std::function<void(std::chrono::milliseconds)>;
  // Throws std::invalid_argument for an endpoint endpointProblem() rejects.
  S3Client(S3Endpoint endpoint, Credentials credentials, RetryPolicy policy = {},
           RetryObserver onRetry = {}, Sleep sleep = {});
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Endpoint& endpoint() const noexcept { return endpoint_; }

  // A single PUT; returns the ETag. `metadata` names are sent as x-amz-meta-NAME. The body's
  // digests are taken by the caller, which needs them too (the ETag check): once, not per retry.
  std::string putObject(const std::string& key, const DigestedBody& body,
                        const std::map<std::string, std::string>& metadata = {});
  std::string createMultipartUpload(const std::string& key,
                                    const std::map<std::string, std::string>& metadata = {});
  std::string uploadPart(const std::string& key, const std::string& uploadId, int partNumber,
                         const DigestedBody& body);
  // Returns the object's ETag. Parts in ascending number.
  std::string completeMultipartUpload(const std::string& key, const std::string& uploadId,
                                      const std::vector<CompletedPart>& parts);
  // Succeeds also when the upload is already gone (NoSuchUpload): aborting is idempotent.
  void abortMultipartUpload(const std::string& key, const std::string& uploadId);
  // The bucket's unfinished multipart uploads under `prefix` (all pages).
  std::vector<OpenMultipartUpload> listMultipartUploads(const std::string& prefix = {});
  ObjectInfo headObject(const std::string& key);
  // headObject(), or nullopt when there is no object at `key` (404).
  std::optional<ObjectInfo> findObject(const std::string& key);
  std::string getObject(const std::string& key);

  struct Request;
  struct Response;

 private:
  Response perform(const Request& request);
  Response attempt(const Request& request);

  S3Endpoint endpoint_;
  Credentials credentials_;
  RetryPolicy policy_;
  RetryObserver onRetry_;
  Sleep sleep_;
  std::mutex mutex_;  // guards random_ and handles_
  std::mt19937_64 random_;
  struct HandlePool;
  std::unique_ptr<HandlePool> handles_;
  std::unique_ptr<RateLimit> rateLimit_;  // null: unlimited
};

}  // namespace pcap_recorder::ship
