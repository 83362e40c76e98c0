#include "pcap_recorder/ship/s3_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <thread>

#include "pcap_recorder/ship/digest.hpp"
#include "pcap_recorder/ship/object_key.hpp"

namespace pcap_recorder::ship {

struct S3Client::Request {
  std::string method;                // GET, HEAD, PUT, POST, DELETE
  std::string key;                   // empty: the bucket itself
  std::string query;                 // canonical: sorted, encoded, "name=value&..."
  std::vector<std::string> headers;  // "name: value"
  std::span<const char> body;
  std::string what;  // for messages: "PUT s3://bucket/key"
  // The body's SHA-256 in hex when the caller has it; empty: taken from `body` for each attempt.
  std::string bodySha256Hex = {};
};

struct S3Client::Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
};

namespace {

constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct CurlDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

void initCurlOnce() {
  // curl_global_init is not thread-safe before 7.84 and must run before any thread uses curl.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  std::span<const char> upload;
  std::size_t uploaded = 0;
  S3Client::Response* response = nullptr;
  RateLimit* rateLimit = nullptr;  // null: unlimited
};

std::size_t readBody(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::size_t n = std::min(size * count, transfer->upload.size() - transfer->uploaded);
  // Waits here for the bytes' turn: curl sends only what this returns.
  if (transfer->rateLimit != nullptr) n = transfer->rateLimit->acquire(n);
  std::memcpy(buffer, transfer->upload.data() + transfer->uploaded, n);
  transfer->uploaded += n;
  return n;
}

// curl rewinds the body when it must send it again (a redirect, or a 100-continue refused).
int seekBody(void* user, curl_off_t offset, int origin) {
  auto* transfer = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 ||
      static_cast<std::size_t>(offset) > transfer->upload.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  transfer->uploaded = static_cast<std::size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

std::size_t writeBody(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<Transfer*>(user)->response->body.append(data, size * count);
  return size * count;
}

std::size_t writeHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto& headers = static_cast<Transfer*>(user)->response->headers;
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    headers.clear();  // a new response (after "100 Continue")
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    headers[name] = std::string(value);
  }
  return size * count;
}

// The text of the first <tag>...</tag> in `xml`, or empty. S3's answers are small and flat
// enough that no XML parser is needed for the few values read here.
std::string xmlValue(std::string_view xml, std::string_view tag, std::size_t from = 0) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  const auto start = xml.find(open, from);
  if (start == std::string_view::npos) return {};
  const auto end = xml.find(close, start + open.size());
  if (end == std::string_view::npos) return {};
  std::string value(xml.substr(start + open.size(), end - start - open.size()));
  // The five predefined entities are all S3 escapes in these values.
  for (const auto& [entity, text] : {std::pair<std::string_view, std::string_view>{"&quot;", "\""},
                                     {"&apos;", "'"},
                                     {"&lt;", "<"},
                                     {"&gt;", ">"},
                                     {"&amp;", "&"}}) {
    for (auto at = value.find(entity); at != std::string::npos; at = value.find(entity, at + 1)) {
      value.replace(at, entity.size(), text);
    }
  }
  return value;
}

std::string unquote(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

std::string xmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

struct ParsedEndpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // with ":port" when given
};

ParsedEndpoint parseEndpoint(std::string_view endpoint) {
  ParsedEndpoint parsed;
  const auto separator = endpoint.find("://");
  if (separator == std::string_view::npos)
    throw std::invalid_argument("has no scheme (http:// or https://)");
  parsed.scheme = endpoint.substr(0, separator);
  if (parsed.scheme != "http" && parsed.scheme != "https") {
    throw std::invalid_argument("has scheme '" + parsed.scheme + "' (http or https)");
  }
  std::string_view rest = endpoint.substr(separator + 3);
  while (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty()) throw std::invalid_argument("has no host");
  if (rest.find_first_of("/?#@ ") != std::string_view::npos) {
    throw std::invalid_argument("must be scheme://host[:port] only (no path, query or user)");
  }
  parsed.host = rest;
  return parsed;
}

std::string reasonOf(const S3Client::Response& response, CURLcode code, const char* curlError) {
  if (code != CURLE_OK) {
    return std::string(curl_easy_strerror(code)) +
           (curlError[0] ? std::string(": ") + curlError : "");
  }
  std::string reason = "HTTP " + std::to_string(response.status);
  if (const std::string s3code = xmlValue(response.body, "Code"); !s3code.empty()) {
    reason += " " + s3code;
    if (const std::string message = xmlValue(response.body, "Message"); !message.empty()) {
      reason += ": " + message;
    }
  }
  return reason;
}

}  // namespace

std::string endpointProblem(std::string_view endpoint) {
  try {
    parseEndpoint(endpoint);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return {};
}

struct S3Client::HandlePool {
  std::vector<CurlPtr> idle;
};

S3Client::S3Client(S3Endpoint endpoint, Credentials credentials, RetryPolicy policy,
                   RetryObserver onRetry, Sleep sleep)
    : endpoint_(std::move(endpoint)),
      credentials_(std::move(credentials)),
      policy_(policy),
      onRetry_(std::move(onRetry)),
      sleep_(sleep ? std::move(sleep) : Sleep([](std::chrono::milliseconds delay) {
        std::this_thread::sleep_for(delay);
      })),
      random_(std::random_device{}()),
      handles_(std::make_unique<HandlePool>()),
      rateLimit_(endpoint_.maxBytesPerSecond > 0
                     ? std::make_unique<RateLimit>(endpoint_.maxBytesPerSecond)
                     : nullptr) {
  if (const std::string problem = endpointProblem(endpoint_.endpoint); !problem.empty()) {
    throw std::invalid_argument("endpoint '" + endpoint_.endpoint + "' " + problem);
  }
  initCurlOnce();
}

S3Client::~S3Client() = default;

S3Client::Response S3Client::attempt(const Request& request) {
  CurlPtr handle;
  {
    std::lock_guard lock(mutex_);
    if (!handles_->idle.empty()) {
      handle = std::move(handles_->idle.back());
      handles_->idle.pop_back();
    }
  }
  if (!handle) handle.reset(curl_easy_init());
  if (!handle) throw std::runtime_error("curl_easy_init failed");
  CURL* curl = handle.get();
  curl_easy_reset(curl);

  const ParsedEndpoint parsed = parseEndpoint(endpoint_.endpoint);
  std::string url = parsed.scheme + "://";
  if (endpoint_.pathStyle) {
    url += parsed.host + "/" + encodeKeyForUrl(endpoint_.bucket);
  } else {
    url += endpoint_.bucket + "." + parsed.host;
  }
  url += "/" + encodeKeyForUrl(request.key);
  if (!request.query.empty()) url += "?" + request.query;

  SlistPtr headers;
  const auto addHeader = [&](const std::string& header) {
    curl_slist* extended = curl_slist_append(headers.get(), header.c_str());
    if (extended == nullptr) throw std::bad_alloc();
    (void)headers.release();
    headers.reset(extended);
  };
  addHeader("x-amz-content-sha256: " + (request.body.empty() ? std::string(kEmptySha256)
                                        : request.bodySha256Hex.empty()
                                            ? toHex(sha256(request.body))
                                            : request.bodySha256Hex));
  if (!credentials_.sessionToken.empty()) {
    addHeader("x-amz-security-token: " + credentials_.sessionToken);
  }
  for (const auto& header : request.headers) addHeader(header);
  // Named, not removed: curl 7.88's signer signs an emptied "Content-Type:" it then does not send
  // (403 SignatureDoesNotMatch), and would give a POST a form type.
  if (request.method == "PUT") addHeader("Content-Type: application/octet-stream");
  if (request.method == "POST") addHeader("Content-Type: application/xml");

  Response response;
  Transfer transfer{request.body, 0, &response, rateLimit_.get()};
  std::optional<RateLimit::Share> sharingTheRate;
  if (rateLimit_ && request.method == "PUT") sharingTheRate.emplace(*rateLimit_);
  char curlError[CURL_ERROR_SIZE] = {};
  const std::string userPassword = credentials_.accessKeyId + ":" + credentials_.secretAccessKey;
  const std::string sigv4 = "aws:amz:" + endpoint_.region + ":s3";

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(curl, CURLOPT_USERPWD, userPassword.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curlError);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, writeBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, writeHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(endpoint_.connectTimeout.count()));
  // Why LOW_SPEED and not TIMEOUT: a large part may rightly take long; one that moves nothing
  // for stallTimeout is hung (a stopped server still accepts connections).
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   std::max(1L, static_cast<long>(endpoint_.stallTimeout.count() / 1000)));
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!endpoint_.caFile.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, endpoint_.caFile.c_str());
  if (request.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, readBody);
    curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, seekBody);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  const CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  if (code != CURLE_OK) {
    response.status = 0;
    response.body = reasonOf(response, code, curlError);
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  {
    std::lock_guard lock(mutex_);
    handles_->idle.push_back(std::move(handle));
  }
  return response;
}

S3Client::Response S3Client::perform(const Request& request) {
  for (int attemptNumber = 1;; ++attemptNumber) {
    Response response = attempt(request);
    const bool transportFailed = response.status == 0;
    std::string code = transportFailed ? std::string() : xmlValue(response.body, "Code");
    // CompleteMultipartUpload may answer 200 and put the error in the body.
    if (response.status == 200 && request.method == "POST" &&
        response.body.find("<Error>") != std::string::npos) {
      response.status = 500;
    }
    const RetryDecision decision = classify({transportFailed, response.status, code});
    if (decision == RetryDecision::succeeded) return response;
    const std::string reason = transportFailed ? response.body : reasonOf(response, CURLE_OK, "");
    if (decision == RetryDecision::fail || attemptNumber >= policy_.maxAttempts) {
      const bool exhausted = decision == RetryDecision::retry;
      throw S3Error(
          request.what + ": " + reason +
              (exhausted ? " (gave up after " + std::to_string(attemptNumber) + " attempts)" : ""),
          response.status, transportFailed ? "NetworkError" : code, exhausted);
    }
    std::chrono::milliseconds delay;
    {
      std::lock_guard lock(mutex_);
      delay =
          policy_.delayAfter(attemptNumber, std::uniform_real_distribution<double>(0, 1)(random_));
    }
    if (onRetry_) onRetry_(request.what, attemptNumber, delay, reason);
    sleep_(delay);
  }
}

namespace {

std::vector<std::string> metadataHeaders(const std::map<std::string, std::string>& metadata) {
  std::vector<std::string> headers;
  for (const auto& [name, value] : metadata) headers.push_back("x-amz-meta-" + name + ": " + value);
  return headers;
}

}  // namespace

std::string S3Client::putObject(const std::string& key, const DigestedBody& body,
                                const std::map<std::string, std::string>& metadata) {
  Request request{"PUT",
                  key,
                  {},
                  metadataHeaders(metadata),
                  body.bytes(),
                  "PUT s3://" + endpoint_.bucket + "/" + key,
                  toHex(body.sha256())};
  request.headers.push_back("Content-MD5: " + toBase64(body.md5()));
  // Checked by servers with the newer flexible checksums (AWS); others ignore it.
  request.headers.push_back("x-amz-checksum-sha256: " + toBase64(body.sha256()));
  return unquote(perform(request).headers["etag"]);
}

std::string S3Client::createMultipartUpload(const std::string& key,
                                            const std::map<std::string, std::string>& metadata) {
  const Request request{"POST",     key,
                        "uploads=", metadataHeaders(metadata),
                        {},         "CreateMultipartUpload s3://" + endpoint_.bucket + "/" + key};
  const Response response = perform(request);
  std::string uploadId = xmlValue(response.body, "UploadId");
  if (uploadId.empty()) {
    throw S3Error(request.what + ": the answer has no UploadId", response.status, "BadResponse",
                  false);
  }
  return uploadId;
}

std::string S3Client::uploadPart(const std::string& key, const std::string& uploadId,
                                 int partNumber, const DigestedBody& body) {
  Request request{
      "PUT",
      key,
      "partNumber=" + std::to_string(partNumber) + "&uploadId=" + encodeQueryValue(uploadId),
      {"Content-MD5: " + toBase64(body.md5())},
      body.bytes(),
      "UploadPart " + std::to_string(partNumber) + " s3://" + endpoint_.bucket + "/" + key,
      toHex(body.sha256())};
  std::string etag = unquote(perform(request).headers["etag"]);
  if (etag.empty())
    throw S3Error(request.what + ": the answer has no ETag", 200, "BadResponse", false);
  return etag;
}

std::string S3Client::completeMultipartUpload(const std::string& key, const std::string& uploadId,
                                              const std::vector<CompletedPart>& parts) {
  std::string xml = "<CompleteMultipartUpload>";
  for (const auto& part : parts) {
    xml += "<Part><PartNumber>" + std::to_string(part.number) + "</PartNumber><ETag>\"" +
           xmlEscape(part.etag) + "\"</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  const Request request{"POST",
                        key,
                        "uploadId=" + encodeQueryValue(uploadId),
                        {},
                        std::span<const char>(xml.data(), xml.size()),
                        "CompleteMultipartUpload s3://" + endpoint_.bucket + "/" + key};
  return unquote(xmlValue(perform(request).body, "ETag"));
}

void S3Client::abortMultipartUpload(const std::string& key, const std::string& uploadId) {
  const Request request{"DELETE", key, "uploadId=" + encodeQueryValue(uploadId),
                        {},       {},  "AbortMultipartUpload s3://" + endpoint_.bucket + "/" + key};
  try {
    perform(request);
  } catch (const S3Error& error) {
    if (error.code() != "NoSuchUpload") throw;
  }
}

std::vector<OpenMultipartUpload> S3Client::listMultipartUploads(const std::string& prefix) {
  std::vector<OpenMultipartUpload> uploads;
  std::string keyMarker;
  std::string uploadIdMarker;
  while (true) {
    // Canonical order: parameters sorted by name.
    std::string query;
    if (!keyMarker.empty()) query += "key-marker=" + encodeQueryValue(keyMarker) + "&";
    if (!prefix.empty()) query += "prefix=" + encodeQueryValue(prefix) + "&";
    if (!uploadIdMarker.empty())
      query += "upload-id-marker=" + encodeQueryValue(uploadIdMarker) + "&";
    query += "uploads=";
    const Request request{"GET", {}, query,
                          {},    {}, "ListMultipartUploads s3://" + endpoint_.bucket};
    const std::string body = perform(request).body;
    for (auto at = body.find("<Upload>"); at != std::string::npos;
         at = body.find("<Upload>", at + 1)) {
      uploads.push_back({xmlValue(body, "Key", at), xmlValue(body, "UploadId", at)});
    }
    if (xmlValue(body, "IsTruncated") != "true") break;
    keyMarker = xmlValue(body, "NextKeyMarker");
    uploadIdMarker = xmlValue(body, "NextUploadIdMarker");
    if (keyMarker.empty() && uploadIdMarker.empty()) break;
  }
  return uploads;
}

ObjectInfo S3Client::headObject(const std::string& key) {
  const Request request{"HEAD", key, {}, {}, {}, "HEAD s3://" + endpoint_.bucket + "/" + key};
  Response response = perform(request);
  ObjectInfo info;
  info.size = std::stoull(
      response.headers.count("content-length") ? response.headers["content-length"] : "0");
  info.etag = unquote(response.headers["etag"]);
  for (const auto& [name, value] : response.headers) {
    if (name.starts_with("x-amz-meta-")) info.metadata[name.substr(11)] = value;
  }
  return info;
}

std::optional<ObjectInfo> S3Client::findObject(const std::string& key) {
  try {
    return headObject(key);
  } catch (const S3Error& error) {
    if (error.httpStatus() == 404) return std::nullopt;
    throw;
  }
}

std::string S3Client::getObject(const std::string& key) {
  const Request request{"GET", key, {}, {}, {}, "GET s3://" + endpoint_.bucket + "/" + key};
  return perform(request).body;
}

}  // namespace pcap_recorder::ship
