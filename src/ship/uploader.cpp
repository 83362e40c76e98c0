#include "pcap_recorder/ship/uploader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "pcap_recorder/rotation/file_naming.hpp"
#include "pcap_recorder/util/system_error.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::ship {
namespace {

constexpr std::uint64_t kMaxParts = 10'000;

void readExactly(int fd, std::vector<char>& buffer, std::uint64_t offset,
                 const std::filesystem::path& file) {
  std::size_t done = 0;
  while (done < buffer.size()) {
    const ssize_t got =
        ::pread(fd, buffer.data() + done, buffer.size() - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      util::throwErrno(file.string() + ": read");
    }
    if (got == 0) throw std::runtime_error(file.string() + ": shorter than when the upload began");
    done += static_cast<std::size_t>(got);
  }
}

void verify(S3Client& client, const std::string& key, std::uint64_t size, const std::string& etag,
            const std::string& sha256Hex) {
  const ObjectInfo info = client.headObject(key);
  const auto mismatch = [&](const std::string& what, const std::string& got,
                            const std::string& want) {
    return std::runtime_error("s3://" + client.endpoint().bucket + "/" + key +
                              ": after upload the " + what + " is " + got + ", not " + want);
  };
  if (info.size != size) throw mismatch("size", std::to_string(info.size), std::to_string(size));
  if (info.etag != etag) throw mismatch("ETag", info.etag, etag);
  const auto stored = info.metadata.find("sha256");
  if (stored == info.metadata.end() || stored->second != sha256Hex) {
    throw mismatch("x-amz-meta-sha256", stored == info.metadata.end() ? "missing" : stored->second,
                   sha256Hex);
  }
}

std::string uploadParts(S3Client& client, int fd, const std::filesystem::path& file,
                        const std::string& key, const std::string& uploadId, std::uint64_t size,
                        const UploadOptions& options, const std::string& sha256Hex) {
  Sha256 whole;
  const std::uint64_t partSize = partSizeFor(size, options.partSize);
  const std::uint64_t partCount = (size + partSize - 1) / partSize;
  std::vector<CompletedPart> parts(partCount);
  std::vector<Md5Digest> digests(partCount);
  // The whole-file hash needs the parts in order; workers finish in any order, so each part's
  // bytes are hashed into `whole` by whoever holds the turn (parts wait for their predecessor).
  std::mutex wholeMutex;
  std::condition_variable wholeTurn;
  std::uint64_t nextToHash = 0;
  std::atomic<std::uint64_t> nextPart{0};
  std::atomic<bool> failed{false};
  std::exception_ptr firstError;
  std::mutex errorMutex;

  const auto worker = [&] {
    std::vector<char> buffer;
    while (!failed.load()) {
      const std::uint64_t index = nextPart.fetch_add(1);
      if (index >= partCount) return;
      try {
        const std::uint64_t offset = index * partSize;
        buffer.resize(static_cast<std::size_t>(std::min(partSize, size - offset)));
        readExactly(fd, buffer, offset, file);
        {
          std::unique_lock lock(wholeMutex);
          wholeTurn.wait(lock, [&] { return nextToHash == index || failed.load(); });
          if (failed.load()) return;
          whole.update(buffer);
          ++nextToHash;
        }
        wholeTurn.notify_all();
        const DigestedBody part(buffer);
        digests[index] = part.md5();
        const int number = static_cast<int>(index + 1);
        parts[index] = {number, client.uploadPart(key, uploadId, number, part)};
      } catch (...) {
        {
          std::lock_guard lock(errorMutex);
          if (!firstError) firstError = std::current_exception();
        }
        {
          std::lock_guard lock(wholeMutex);
          failed = true;
        }
        wholeTurn.notify_all();
        return;
      }
    }
  };
  std::vector<std::jthread> workers;
  const unsigned threads =
      static_cast<unsigned>(std::min<std::uint64_t>(std::max(1u, options.parallel), partCount));
  for (unsigned i = 0; i < threads; ++i) workers.emplace_back(worker);
  workers.clear();  // joins
  if (firstError) std::rethrow_exception(firstError);
  // Before Complete: a file that changed under the upload must not become an object.
  if (const std::string actual = toHex(whole.finish()); actual != sha256Hex) {
    throw std::runtime_error(file.string() + ": its SHA-256 is " + actual + ", not " + sha256Hex +
                             " as recorded (changed during the upload?): not uploaded");
  }

  const std::string expected = multipartEtag(digests);
  std::string etag;
  try {
    etag = client.completeMultipartUpload(key, uploadId, parts);
  } catch (const S3Error& error) {
    // A retried Complete whose first try did complete finds the upload gone: the HEAD decides.
    if (error.code() != "NoSuchUpload") throw;
    etag = expected;
  }
  // RGW 16 answers Complete with an empty <ETag>: then only the HEAD that follows can check it.
  if (etag.empty()) etag = expected;
  if (etag != expected) {
    throw std::runtime_error("s3://" + client.endpoint().bucket + "/" + key +
                             ": the server's ETag " + etag + " is not the parts' " + expected);
  }
  return etag;
}

}  // namespace

std::uint64_t partSizeFor(std::uint64_t fileSize, std::uint64_t wanted) {
  const std::uint64_t atLeast = (fileSize + kMaxParts - 1) / kMaxParts;
  return std::max({wanted, atLeast, std::uint64_t{1}});
}

std::string multipartEtag(const std::vector<Md5Digest>& partDigests) {
  std::string concatenated;
  for (const auto& digest : partDigests) concatenated.append(digest.begin(), digest.end());
  return toHex(md5(concatenated)) + "-" + std::to_string(partDigests.size());
}

std::string keyWithCounter(const std::string& key, unsigned counter) {
  if (counter == 0) return key;
  const auto slash = key.rfind('/');
  const std::size_t nameStart = slash == std::string::npos ? 0 : slash + 1;
  // As the daemon counts a taken name (rotation::withCounter), once a compression suffix is set
  // apart: "x.pcap.zst" → "x_001.pcap.zst".
  std::string_view name = std::string_view(key).substr(nameStart);
  std::string_view suffix;
  for (const std::string_view compression : rotation::kCompressionSuffixes) {
    if (name.size() > compression.size() && name.ends_with(compression)) {
      suffix = compression;
      break;
    }
  }
  name.remove_suffix(suffix.size());
  return key.substr(0, nameStart) + rotation::withCounter(name, counter) + std::string(suffix);
}

ConfirmedUpload uploadFile(S3Client& client, const std::filesystem::path& file,
                           const std::string& wantedKey, const UploadOptions& options,
                           std::optional<std::string> sha256Hex, ShipState* state) {
  util::UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) util::throwErrno(file.string() + ": open");
  struct stat status {};
  util::checked(::fstat(fd.get(), &status), file.string() + ": fstat");
  const auto size = static_cast<std::uint64_t>(status.st_size);
  const std::string knownSha256 = sha256Hex.value_or(std::string());
  const auto checkHash = [&](const Sha256Digest& digest) {
    const std::string actual = toHex(digest);
    if (!knownSha256.empty() && actual != knownSha256) {
      throw std::runtime_error(file.string() + ": its SHA-256 is " + actual + ", not " +
                               knownSha256 + " as recorded: not uploaded");
    }
    return actual;
  };

  // Never over another object: a name the daemon used again (the file of that name shipped and
  // deleted, then `{seq}` counting again after a restart, or a time slot's name after one)
  // would replace a capture in the bucket. The next free key is taken; one holding these very
  // bytes already (a shipper killed between the upload and its record) is this upload.
  std::string key = wantedKey;
  for (unsigned counter = 0; options.neverReplace; ++counter) {
    if (counter == kMaxKeyCounter) {
      throw std::runtime_error("s3://" + client.endpoint().bucket + "/" + wantedKey +
                               ": no free key after " + std::to_string(kMaxKeyCounter) + " tries");
    }
    key = keyWithCounter(wantedKey, counter);
    std::optional<ObjectInfo> existing;
    try {
      existing = client.findObject(key);
    } catch (const S3Error& error) {
      // A HEAD's refusal has no body, so no reason; a GET of the key gives it (wrong keys:
      // `403 SignatureDoesNotMatch`; no s3:GetObject, which the check after every upload needs
      // too: `403 AccessDenied`). Nothing goes to a key that could not be looked at.
      if (error.httpStatus() != 403) throw;
      client.getObject(key);
      throw;
    }
    if (!existing) break;
    const auto stored = existing->metadata.find("sha256");
    if (existing->size != size || stored == existing->metadata.end()) continue;
    const std::string actual = checkHash(sha256OfFile(file));
    if (stored->second != actual) continue;
    if (options.onAccepted) options.onAccepted();
    return ConfirmedUpload{file.string(), key, size, actual, existing->etag};
  }

  ConfirmedUpload confirmed{file.string(), key, size, {}, {}};
  if (size <= options.partSize) {
    std::vector<char> body(static_cast<std::size_t>(size));
    readExactly(fd.get(), body, 0, file);
    const DigestedBody digested(body);
    confirmed.sha256 = checkHash(digested.sha256());
    const std::string expected = toHex(digested.md5());
    confirmed.etag = client.putObject(key, digested, {{"sha256", confirmed.sha256}});
    if (options.onAccepted) options.onAccepted();
    if (confirmed.etag != expected) {
      throw std::runtime_error("s3://" + client.endpoint().bucket + "/" + key +
                               ": the server's ETag " + confirmed.etag + " is not the file's MD5 " +
                               expected);
    }
  } else {
    // The whole-file SHA-256 must be in the metadata when the upload is created, before the parts
    // are read: from the sidecar, or from a first pass over the file.
    if (knownSha256.empty())
      confirmed.sha256 = toHex(sha256OfFile(file));
    else
      confirmed.sha256 = knownSha256;
    const std::string uploadId = client.createMultipartUpload(key, {{"sha256", confirmed.sha256}});
    if (state) state->recordStarted({key, uploadId});
    if (options.onAccepted) options.onAccepted();
    try {
      confirmed.etag =
          uploadParts(client, fd.get(), file, key, uploadId, size, options, confirmed.sha256);
    } catch (...) {
      try {
        client.abortMultipartUpload(key, uploadId);
        if (state) state->recordEnded(uploadId);
      } catch (...) {
        // Left in the state: the next start aborts it. The first error is the one to report.
      }
      throw;
    }
    if (state) state->recordEnded(uploadId);
  }
  verify(client, key, size, confirmed.etag, confirmed.sha256);
  return confirmed;
}

std::size_t abortUnfinished(S3Client& client, ShipState& state,
                            std::vector<std::string>& failures) {
  const std::vector<OpenMultipartUpload> open = state.openUploads();
  std::size_t aborted = 0;
  for (const auto& upload : open) {
    try {
      client.abortMultipartUpload(upload.key, upload.uploadId);
    } catch (const S3Error& error) {
      // Still open, and still recorded: tried again at the next start. Why not fatal: shipping
      // needs no abort (a user without s3:AbortMultipartUpload), and a shipper that exits here
      // at every start ships nothing again.
      failures.push_back("cannot abort the multipart upload of " + upload.key + " (" +
                         upload.uploadId + "): " + error.what());
      continue;
    }
    state.recordEnded(upload.uploadId);
    ++aborted;
  }
  return aborted;
}

}  // namespace pcap_recorder::ship
