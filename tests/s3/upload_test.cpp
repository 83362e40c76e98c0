// The upload core against a real S3 server: Ceph's RADOS Gateway started by
// tests/support/s3-server, which runs this binary with S3_* set (skipped without it).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>

#include "pcap_recorder/ship/digest.hpp"
#include "pcap_recorder/ship/uploader.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::ship {
namespace {

using std::chrono::milliseconds;
using ::testing::EndsWith;
using ::testing::HasSubstr;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

class S3Upload : public ::testing::Test {
 protected:
  void SetUp() override {
    if (env("S3_ENDPOINT").empty()) GTEST_SKIP() << "run under tests/support/s3-server run --";
  }

  S3Endpoint endpoint(std::string bucket = env("S3_BUCKET")) const {
    S3Endpoint e;
    e.endpoint = env("S3_ENDPOINT");
    e.bucket = std::move(bucket);
    e.region = env("S3_REGION");
    e.pathStyle = true;
    e.connectTimeout = milliseconds(2000);
    e.stallTimeout = milliseconds(2000);
    return e;
  }
  Credentials credentials() const { return loadCredentials(env("S3_CREDENTIALS_FILE")); }

  // A client whose retries are quick and counted.
  std::unique_ptr<S3Client> client(Credentials keys, std::function<void()> onFirstRetry = {},
                                   std::string bucket = env("S3_BUCKET")) {
    return std::make_unique<S3Client>(
        endpoint(std::move(bucket)), std::move(keys),
        RetryPolicy{30, milliseconds(50), milliseconds(500)},
        [this, onFirstRetry](std::string_view, int, milliseconds, std::string_view reason) {
          lastRetryReason = reason;
          if (retries.fetch_add(1) == 0 && onFirstRetry) onFirstRetry();
        });
  }

  std::filesystem::path randomFile(const std::string& name, std::size_t size) {
    std::mt19937_64 random(size);
    std::string content(size, '\0');
    for (auto& c : content) c = static_cast<char>(random());
    const auto path = dir / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  static std::string contentsOf(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // The object read back must be the file, byte for byte and by SHA-256.
  void expectStoredAsFile(S3Client& s3, const std::string& key, const std::filesystem::path& file) {
    const std::string stored = s3.getObject(key);
    const std::string local = contentsOf(file);
    EXPECT_EQ(stored.size(), local.size());
    EXPECT_TRUE(stored == local) << key << " differs from " << file;
    EXPECT_EQ(toHex(sha256(stored)), toHex(sha256OfFile(file)));
  }

  static void server(const std::string& action) {
    ASSERT_EQ(std::system((env("S3_SERVER") + " rgw " + action).c_str()), 0) << action;
  }

  testing::TempDir dir;
  std::atomic<int> retries{0};
  std::string lastRetryReason;
  const UploadOptions multipart{256 << 10, 3, {}};  // RGW here accepts parts from 64 KiB
};

TEST_F(S3Upload, ASmallFileGoesUpInOnePutAndReadsBackIdentical) {
  auto s3 = client(credentials());
  const auto file = randomFile("small.pcap", 100'000);
  const ConfirmedUpload done =
      uploadFile(*s3, file, "h/eth0/2026/01/02/small.pcap", multipart, {}, nullptr);
  EXPECT_EQ(done.size, 100'000u);
  EXPECT_EQ(done.sha256, toHex(sha256OfFile(file)));
  EXPECT_EQ(done.etag, toHex(md5(contentsOf(file))));  // a single PUT's ETag is its MD5
  expectStoredAsFile(*s3, done.key, file);
  EXPECT_EQ(s3->headObject(done.key).metadata.at("sha256"), done.sha256);
  EXPECT_EQ(retries, 0);
}

TEST_F(S3Upload, ALargeFileGoesUpInParallelPartsAndLeavesNoUploadOpen) {
  auto s3 = client(credentials());
  ShipState state(dir / "state");
  const auto file = randomFile("large.pcap", 5 * (256 << 10) + 777);  // 6 parts
  const ConfirmedUpload done =
      uploadFile(*s3, file, "h/eth0/large: a+b=c,d.pcap", multipart, {}, &state);
  EXPECT_THAT(done.etag, EndsWith("-6"));
  expectStoredAsFile(*s3, done.key, file);
  EXPECT_TRUE(state.openUploads().empty());
  EXPECT_TRUE(s3->listMultipartUploads().empty());
}

TEST_F(S3Upload, MaxRateHoldsForThePartsInFlightTogether) {
  S3Endpoint limited = endpoint();
  limited.maxBytesPerSecond = 1 << 20;
  S3Client s3(limited, credentials(), RetryPolicy{30, milliseconds(50), milliseconds(500)});
  const auto file = randomFile("limited.pcap", (2 << 20) + 777);  // 9 parts, 3 at a time
  const auto start = std::chrono::steady_clock::now();
  const ConfirmedUpload done = uploadFile(s3, file, "limited.pcap", multipart, {}, nullptr);
  const auto took = std::chrono::steady_clock::now() - start;
  // 2 MiB at 1 MiB/s for all three parts in flight together: 2 s, less the tenth of a second
  // that may go at once and the last read's 64 KiB, which go at the start of their turn. A limit
  // per request would have taken about 0.7 s.
  EXPECT_GE(took, milliseconds(1750));
  expectStoredAsFile(s3, done.key, file);
}

TEST_F(S3Upload, AKnownSha256ThatTheFileDoesNotHaveStopsTheUpload) {
  auto s3 = client(credentials());
  const auto file = randomFile("changed.pcap", 2000);
  const std::string wrong(64, '0');
  EXPECT_THROW(uploadFile(*s3, file, "changed-small", multipart, wrong, nullptr),
               std::runtime_error);
  const auto large = randomFile("changed-large.pcap", 600'000);
  EXPECT_THROW(uploadFile(*s3, large, "changed-large", multipart, wrong, nullptr),
               std::runtime_error);
  for (const char* key : {"changed-small", "changed-large"}) {
    try {
      s3->headObject(key);
      ADD_FAILURE() << key << " was stored";
    } catch (const S3Error& error) {
      EXPECT_EQ(error.httpStatus(), 404);
    }
  }
  EXPECT_TRUE(s3->listMultipartUploads().empty());
}

TEST_F(S3Upload, WrongCredentialsFailAtOnceWithTheServersReason) {
  Credentials wrong = credentials();
  wrong.secretAccessKey = "not-the-secret";
  auto s3 = client(wrong);
  const auto file = randomFile("f.pcap", 1000);
  try {
    uploadFile(*s3, file, "wrong-credentials", multipart, {}, nullptr);
    FAIL() << "uploaded with a wrong secret";
  } catch (const S3Error& error) {
    EXPECT_EQ(error.httpStatus(), 403);
    EXPECT_EQ(error.code(), "SignatureDoesNotMatch");
    EXPECT_FALSE(error.retriesExhausted());
    // The HEAD that looks for an object at the key first has no reason; a GET gets it.
    EXPECT_THAT(error.what(), HasSubstr("s3://"));
    EXPECT_THAT(error.what(), ::testing::Not(HasSubstr("not-the-secret")));
  }
  EXPECT_EQ(retries, 0);  // no retry storm
}

TEST_F(S3Upload, AMissingBucketFailsAtOnce) {
  auto s3 = client(credentials(), {}, "no-such-bucket");
  const auto file = randomFile("f.pcap", 600'000);
  try {
    uploadFile(*s3, file, "k", multipart, {}, nullptr);
    FAIL() << "uploaded into a missing bucket";
  } catch (const S3Error& error) {
    EXPECT_EQ(error.httpStatus(), 404);
    EXPECT_EQ(error.code(), "NoSuchBucket");
  }
  EXPECT_EQ(retries, 0);
}

TEST_F(S3Upload, AHungServerIsRetriedUntilItAnswers) {
  auto s3 = client(credentials(), [] { server("resume"); });
  const auto file = randomFile("hung.pcap", 5 * (256 << 10));
  server("pause");  // SIGSTOP: connections are accepted, nothing is answered
  const ConfirmedUpload done = uploadFile(*s3, file, "hung.pcap", multipart, {}, nullptr);
  EXPECT_GE(retries, 1);
  EXPECT_THAT(lastRetryReason, HasSubstr("Timeout"));
  expectStoredAsFile(*s3, done.key, file);
}

TEST_F(S3Upload, AStoppedServerIsRetriedUntilItIsBack) {
  auto s3 = client(credentials(), [] { server("start"); });
  const auto file = randomFile("down.pcap", 300'000);
  server("stop");  // connections refused
  const ConfirmedUpload done = uploadFile(*s3, file, "down.pcap", multipart, {}, nullptr);
  EXPECT_GE(retries, 1);
  EXPECT_THAT(lastRetryReason, HasSubstr("onnect"));
  expectStoredAsFile(*s3, done.key, file);
}

TEST_F(S3Upload, AnUploadLeftOpenByAKilledShipperIsAbortedOnTheNextStart) {
  auto s3 = client(credentials());
  {
    // What a shipper killed between two parts leaves: an upload begun, recorded, one part sent.
    ShipState state(dir / "state");
    const std::string id = s3->createMultipartUpload("killed.pcap");
    state.recordStarted({"killed.pcap", id});
    const std::string part(300'000, 'p');
    s3->uploadPart("killed.pcap", id, 1, DigestedBody(part));
  }
  ASSERT_EQ(s3->listMultipartUploads("killed").size(), 1u);
  ShipState restarted(dir / "state");
  std::vector<std::string> failures;
  EXPECT_EQ(abortUnfinished(*s3, restarted, failures), 1u);
  EXPECT_TRUE(failures.empty());
  EXPECT_TRUE(s3->listMultipartUploads("killed").empty());
  EXPECT_TRUE(ShipState(dir / "state").openUploads().empty());
}

// An abort the server refuses (here: the bucket is gone; in the field, a user without
// s3:AbortMultipartUpload) is told, not thrown: the shipper goes on shipping, and the upload stays
// recorded for the next start.
TEST_F(S3Upload, AnAbortTheServerRefusesIsToldAndTheUploadStaysRecorded) {
  {
    ShipState state(dir / "state");
    state.recordStarted({"killed.pcap", "an-upload-of-a-bucket-since-deleted"});
  }
  auto s3 = client(credentials(), {}, "no-such-bucket");
  ShipState restarted(dir / "state");
  std::vector<std::string> failures;
  EXPECT_EQ(abortUnfinished(*s3, restarted, failures), 0u);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].find("killed.pcap"), std::string::npos) << failures[0];
  EXPECT_EQ(ShipState(dir / "state").openUploads().size(), 1u);
}

}  // namespace
}  // namespace pcap_recorder::ship
