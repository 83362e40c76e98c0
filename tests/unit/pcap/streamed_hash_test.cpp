// The SHA-256 a writer takes of a file's bytes as it writes them with direct I/O
// (WriterOptions::sha256) is the SHA-256 of the finished file, byte for byte: tails flushed and
// written again, records across buffer ends. The reference is the file read back after
// finishing. It yields to capture: a hasher that falls behind gives the file's hash up rather
// than hold a buffer, and runs below the capture thread's priority. Buffered files are not hashed
// by the writer (the capture thread); the finisher reads them back (file_hash_test.cpp).
#include <fcntl.h>
#include <gtest/gtest.h>

#include <chrono>

#include <pthread.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pcap_recorder/pcap/direct_stream.hpp"
#include "pcap_recorder/pcap/file_writer.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/directory.hpp"
#include "support/file_size_limit.hpp"
#include "support/frames.hpp"
#include "support/gate.hpp"
#include "support/pcap_reader.hpp"
#include "support/sha256_of_path.hpp"
#include "support/temp_dir.hpp"
#include "support/thread_nice.hpp"

namespace pcap_recorder::pcap {
namespace {

namespace fs = std::filesystem;

class StreamedHashTest : public ::testing::Test {
 protected:
  void requireDirectIo() {
    if (!testing::takesDirectIo(dir_.path())) GTEST_SKIP() << dir_.path() << " refuses O_DIRECT";
  }
  // Capture waits for the hash here: what these tests check is the hash, which a busy machine
  // would otherwise take away (AHasherThatFallsBehind... checks the giving up).
  static WriterOptions direct(std::size_t bufferBytes, std::size_t count) {
    return WriterOptions{.directIo = DirectIoPolicy::required,
                         .directBufferBytes = bufferBytes,
                         .directBufferCount = count,
                         .sha256 = true,
                         .hashYieldsToCapture = false};
  }
  static Frame frameOf(const std::vector<std::byte>& data, std::uint32_t seconds) {
    return Frame{.seconds = seconds,
                 .nanoseconds = 1'000,
                 .wireLength = static_cast<std::uint32_t>(data.size()),
                 .data = data};
  }
  // Writes frames of `sizes` (appendInPlace, so large frames go from where they are), flushing
  // every `flushEvery` frames (0: never), finishes, and returns the finished file's summary.
  FileSummary write(const std::string& name, const WriterOptions& options,
                    const std::vector<std::size_t>& sizes, std::size_t flushEvery) {
    PcapFileWriter writer(directory_.get(), name, options);
    EXPECT_EQ(writer.directIo(), options.directIo == DirectIoPolicy::required);
    std::vector<std::vector<std::byte>> frames;
    frames.reserve(sizes.size());
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      frames.push_back(testing::buildUdpFrame(
          {.sequence = static_cast<std::uint32_t>(i), .frameBytes = sizes[i]}));
      EXPECT_TRUE(writer.appendInPlace(frameOf(frames.back(), static_cast<std::uint32_t>(i))));
      if (flushEvery != 0 && (i + 1) % flushEvery == 0) {
        EXPECT_TRUE(writer.flush());
      }
    }
    return writer.finish();
  }
  void expectHashOfTheFile(const FileSummary& summary) {
    ASSERT_FALSE(summary.name.empty());
    EXPECT_EQ(summary.sha256.size(), 64u);
    EXPECT_EQ(summary.sha256, testing::sha256OfPath(dir_.path() / summary.name)) << summary.name;
  }

  testing::TempDir dir_;
  util::UniqueFd directory_ = testing::openDirectory(dir_.path());
};

std::vector<std::size_t> mixedSizes(std::size_t count) {
  std::vector<std::size_t> sizes;
  const std::size_t pattern[] = {60, 1514, 64, 300, 4000, 255, 256, 9000, 61, 1500};
  for (std::size_t i = 0; i < count; ++i) sizes.push_back(pattern[i % std::size(pattern)]);
  return sizes;
}

// Why: hashing where it writes cost the capture thread about 1,000 ns per 1514 B frame, which it
// does not have at full rate; the finisher hashes buffered files, reading them back.
TEST_F(StreamedHashTest, BufferedFilesAreNotHashedByTheCaptureThread) {
  WriterOptions options{.bufferBytes = 16u << 10, .sha256 = true};
  for (const std::size_t flushEvery : {0, 1, 7}) {
    const auto summary =
        write("b" + std::to_string(flushEvery) + ".pcap", options, mixedSizes(500), flushEvery);
    ASSERT_FALSE(summary.name.empty());
    EXPECT_EQ(summary.sha256, "");
    EXPECT_FALSE(summary.hashSkipped) << "the finisher is to read it back";
  }
}

TEST_F(StreamedHashTest, AFileWithoutRecordsHashesItsHeader) {
  requireDirectIo();
  expectHashOfTheFile(write("empty-direct.pcap", direct(2 * kDirectAlignment, 2), {}, 0));
}

TEST_F(StreamedHashTest, WithoutTheOptionThereIsNoHash) {
  EXPECT_EQ(write("off.pcap", WriterOptions{}, mixedSizes(20), 0).sha256, "");
}

// Odd tails: flushed blocks that the buffer writes again later, records across buffer ends and
// records larger than a buffer, with 2 and 4 buffers in turn.
TEST_F(StreamedHashTest, DirectFilesHashEachByteOnceWhateverTheFlushesAndBufferEnds) {
  requireDirectIo();
  unsigned file = 0;
  for (const std::size_t count : {2, 4}) {
    for (const std::size_t flushEvery : {0, 1, 3, 50}) {
      const auto summary = write("d" + std::to_string(file++) + ".pcap",
                                 direct(2 * kDirectAlignment, count), mixedSizes(400), flushEvery);
      expectHashOfTheFile(summary);
      EXPECT_NE(fs::file_size(dir_.path() / summary.name) % kDirectAlignment, 0u)
          << "the test wants a file ending inside a block";
    }
  }
  // Records ending exactly on a buffer's end: 8192 - 24 header = 8168 = 8 records of 1021.
  expectHashOfTheFile(write("exact.pcap", direct(2 * kDirectAlignment, 2),
                            std::vector<std::size_t>(40, 1021 - sizeof(RecordHeader)), 0));
}

// Records longer than a buffer (9000 B frames in 8 KiB buffers), flushed after each, with a
// hasher that lags behind the writes: the buffers go back to the pool only once hashed, so the
// hash is still the file's. (A buffer left over-full once went back before its hash was taken.)
TEST_F(StreamedHashTest, RecordsLongerThanABufferAreHashedAsWrittenWhenTheHasherLags) {
  requireDirectIo();
  auto options = direct(2 * kDirectAlignment, 4);
  options.directEngine = std::make_shared<DirectWriteEngine>(DirectEngineHooks{
      .beforeHash = [] { std::this_thread::sleep_for(std::chrono::milliseconds(2)); }});
  const std::vector<std::size_t> sizes = {9000, 60,   9000, 9000, 1514, 9000, 300,
                                          9000, 9000, 9000, 64,   9000, 4000, 9000,
                                          9000, 61,   9000, 9000, 256,  9000};
  for (const std::size_t flushEvery : {1, 2, 3}) {
    expectHashOfTheFile(
        write("long" + std::to_string(flushEvery) + ".pcap", options, sizes, flushEvery));
  }
}

// Files one after another on one engine (a recorder's): each hash is its own file's.
TEST_F(StreamedHashTest, DirectFilesSharingAnEngineEachHashTheirOwnBytes) {
  requireDirectIo();
  auto options = direct(2 * kDirectAlignment, 3);
  options.directEngine = std::make_shared<DirectWriteEngine>();
  for (unsigned i = 0; i < 5; ++i) {
    expectHashOfTheFile(
        write("s" + std::to_string(i) + ".pcap", options, mixedSizes(50 + 37 * i), i % 2 ? 5 : 0));
  }
}

// With direct I/O the cut falls inside bytes already hashed: no hash, so the finisher reads the
// file (FileSummary::sha256's contract) rather than announcing a wrong one.
TEST_F(StreamedHashTest, ADirectFileCutAfterAFailedWriteComesWithoutAHash) {
  requireDirectIo();
  PcapFileWriter writer(directory_.get(), "dcut.pcap", direct(2 * kDirectAlignment, 3));
  {
    testing::FileSizeLimit limit(4 * kDirectAlignment);
    const auto frame = testing::buildUdpFrame({.frameBytes = 1000});
    for (std::uint32_t i = 0; i < 200 && !writer.failed(); ++i) writer.append(frameOf(frame, i));
    writer.flush();
  }
  ASSERT_TRUE(writer.failed());
  const auto summary = writer.finish();
  EXPECT_GT(summary.packets, 0u);
  EXPECT_EQ(summary.sha256, "");
}

// A hasher that cannot keep up (here: held before each buffer by the test) never makes capture
// wait: once every buffer is written and only waits for its hash, the file's hash is given up
// and the buffers go back. Every record reaches the file; the file says it has no hash; the next
// file on the same engine, waiting for its hash, is hashed (one that yields would be in the hash
// pause: AfterAHashIsGivenUp... below).
TEST_F(StreamedHashTest, AHasherThatFallsBehindGivesTheFilesHashUpAndKeepsEveryRecord) {
  requireDirectIo();
  testing::Gate hasher;  // holds the hasher: it falls behind
  auto options = direct(2 * kDirectAlignment, 2);
  options.hashYieldsToCapture = true;
  options.directEngine = std::make_shared<DirectWriteEngine>(
      DirectEngineHooks{.beforeHash = [&] { hasher.arrive(); }});
  const auto sizes = mixedSizes(400);  // about 100 times the two buffers
  const auto summary = write("behind.pcap", options, sizes, 0);
  hasher.release();

  ASSERT_FALSE(summary.name.empty());
  EXPECT_TRUE(summary.hashSkipped);
  EXPECT_EQ(summary.sha256, "");
  EXPECT_EQ(summary.packets, sizes.size());
  const auto file = testing::readPcapFile(dir_.path() / summary.name);
  ASSERT_EQ(file.records.size(), sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(file.records[i].seconds, i) << "record " << i;
    // Frames are built 64 bytes at least.
    EXPECT_EQ(file.records[i].originalLength, std::max<std::size_t>(sizes[i], 64))
        << "record " << i;
  }

  // Hashed whatever else the machine is doing; not yielding, it is not held by the hash pause.
  options.hashYieldsToCapture = false;
  const auto next = write("next.pcap", options, mixedSizes(300), 0);
  EXPECT_FALSE(next.hashSkipped);
  expectHashOfTheFile(next);
}

// The hasher reading a flushed block of a buffer when the hash is given up: that buffer goes
// back to capture only once the hasher has stopped reading it (it stops within a chunk), never
// to be written into while it is read.
TEST_F(StreamedHashTest, ABufferTheHasherStillReadsIsNotWrittenInto) {
  requireDirectIo();
  const auto hashing = std::make_shared<testing::Gate>();  // holds the hasher inside a buffer
  auto options = direct(2 * kDirectAlignment, 2);
  options.hashYieldsToCapture = true;
  options.directEngine = std::make_shared<DirectWriteEngine>(
      DirectEngineHooks{.whileHashing = [hashing] { hashing->arrive(); }});
  const testing::ReleaseOnExit releaseHasher{hashing};
  std::vector<std::vector<std::byte>> frames;
  for (std::uint32_t i = 0; i < 24; ++i) {
    frames.push_back(testing::buildUdpFrame({.sequence = i, .frameBytes = 1514}));
  }
  PcapFileWriter writer(directory_.get(), "reused.pcap", options);
  ASSERT_TRUE(writer.appendInPlace(frameOf(frames[0], 0)));
  ASSERT_TRUE(writer.flush());  // the first buffer's block goes out, and its hash
  ASSERT_TRUE(hashing->waitForArrival());
  // Capture fills the first buffer, then the second; the record that fills the second hands it
  // on and needs the first back, which the hasher still reads: that frame's append must wait.
  const std::size_t recordBytes = sizeof(RecordHeader) + frames[0].size();
  std::size_t waitingFrame = 0;
  while (sizeof(FileHeader) + (waitingFrame + 1) * recordBytes < 2 * options.directBufferBytes) {
    ++waitingFrame;
  }
  ASSERT_LT(waitingFrame, frames.size()) << "the frames do not fill both buffers";
  std::atomic<std::size_t> appended{1};  // frames whose append returned
  std::thread capture([&] {
    for (std::uint32_t i = 1; i < frames.size(); ++i) {
      EXPECT_TRUE(writer.appendInPlace(frameOf(frames[i], i)));
      ++appended;
    }
  });
  // Not getting past that frame proves something only once capture has got to it: a slow capture
  // thread would pass against a stream that writes into the buffer. Hence the wait (10 s at most)
  // until the count has reached the frame and stays put.
  const auto giveUp = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::size_t reached = appended;
  auto unchangedSince = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < giveUp) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const auto now = std::chrono::steady_clock::now();
    if (const std::size_t count = appended; count != reached) {
      reached = count;
      unchangedSince = now;
    } else if (reached >= waitingFrame && now - unchangedSince >= std::chrono::milliseconds(500)) {
      break;
    }
  }
  EXPECT_GE(reached, waitingFrame) << "capture never got to the buffer the hasher reads";
  EXPECT_LE(reached, waitingFrame) << "capture wrote into the buffer the hasher was reading";
  hashing->release();
  capture.join();
  EXPECT_EQ(appended, frames.size());
  const auto summary = writer.finish();
  EXPECT_TRUE(summary.hashSkipped);
  const auto file = testing::readPcapFile(dir_.path() / summary.name);
  ASSERT_EQ(file.records.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(file.records[i].seconds, i);
}

// At the file's end a hash more than a buffer behind is given up too, rather than make capture
// wait for it: with no buffer ever waited for, the summary still says so (and the finisher does
// not read the file back).
TEST_F(StreamedHashTest, AHashMoreThanABufferBehindAtTheFilesEndIsGivenUp) {
  requireDirectIo();
  testing::Gate hasher;                            // holds the hasher: it falls behind
  auto options = direct(4 * kDirectAlignment, 8);  // 128 KiB: more than the file, no wait
  options.hashYieldsToCapture = true;
  options.directEngine = std::make_shared<DirectWriteEngine>(
      DirectEngineHooks{.beforeHash = [&] { hasher.arrive(); }});
  const auto sizes = mixedSizes(20);  // about 34 KiB: two buffers behind
  const auto summary = write("end.pcap", options, sizes, 0);
  hasher.release();
  ASSERT_FALSE(summary.name.empty());
  EXPECT_EQ(summary.sha256, "");
  EXPECT_TRUE(summary.hashSkipped);
  EXPECT_EQ(testing::readPcapFile(dir_.path() / summary.name).records.size(), sizes.size());
}

// A hasher the test holds or lets run, on a clock the test moves: for the hash pause.
struct HeldHasher {
  std::atomic<bool> holding{false};
  std::atomic<std::int64_t> nowMs{1'000'000};
  DirectEngineHooks hooks() {
    return {
        .beforeHash =
            [this] {
              const auto giveUp = std::chrono::steady_clock::now() + testing::kPatience;
              while (holding.load() && std::chrono::steady_clock::now() < giveUp) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
              }
            },
        .now =
            [this] {
              return std::chrono::steady_clock::time_point(std::chrono::milliseconds(nowMs.load()));
            }};
  }
  void advance(std::chrono::milliseconds by) { nowMs += by.count(); }
};

// After a file's hash is given up, the files begun within the pause are not hashed at all (under
// traffic the hasher cannot keep up with, each would take the CPU from capture only to give up
// again), and say so. Then files are tried again; a give-up in a row pauses twice as long, up to
// kLongestHashPause; a file hashed whole ends the pause.
TEST_F(StreamedHashTest, AfterAHashIsGivenUpTheFilesBegunInThePauseAreNotHashedAtAll) {
  requireDirectIo();
  HeldHasher hasher;
  auto options = direct(2 * kDirectAlignment, 2);
  options.hashYieldsToCapture = true;
  options.directEngine = std::make_shared<DirectWriteEngine>(hasher.hooks());
  const auto sizes = mixedSizes(400);  // about 100 times the two buffers
  unsigned file = 0;
  const auto writeFile = [&] {
    return write("p" + std::to_string(++file) + ".pcap", options, sizes, 0);
  };
  // Tried, and given up: the test holds the hasher.
  const auto expectTriedAndGivenUp = [&] {
    hasher.holding = true;
    const auto summary = writeFile();
    hasher.holding = false;
    EXPECT_TRUE(summary.hashSkipped) << "file " << file;
    EXPECT_FALSE(summary.hashPaused) << "file " << file << " was not tried";
    EXPECT_EQ(summary.packets, sizes.size());
  };
  const auto expectPaused = [&] {
    const auto summary = writeFile();
    EXPECT_TRUE(summary.hashSkipped) << "file " << file;
    EXPECT_TRUE(summary.hashPaused) << "file " << file << " was tried";
    EXPECT_EQ(summary.sha256, "");
    EXPECT_EQ(summary.packets, sizes.size());
    EXPECT_EQ(testing::readPcapFile(dir_.path() / summary.name).records.size(), sizes.size());
  };

  expectTriedAndGivenUp();
  expectPaused();
  hasher.advance(kFirstHashPause - std::chrono::milliseconds(1));
  expectPaused();
  hasher.advance(std::chrono::milliseconds(1));
  expectTriedAndGivenUp();  // again: twice the pause
  hasher.advance(kFirstHashPause);
  expectPaused();
  hasher.advance(kFirstHashPause);
  // Each give-up here doubles the pause to `pause`: half of it is still within it.
  for (auto pause = 4 * kFirstHashPause; pause <= kLongestHashPause; pause *= 2) {
    expectTriedAndGivenUp();
    hasher.advance(pause / 2);
    expectPaused();
    hasher.advance(pause / 2);
  }
  expectTriedAndGivenUp();  // at the longest already: no longer
  hasher.advance(kLongestHashPause - std::chrono::milliseconds(1));
  expectPaused();
  hasher.advance(std::chrono::milliseconds(1));
  expectTriedAndGivenUp();

  // A file hashed whole ends the pause: the next give-up pauses for the first pause again. (That
  // file waits for its hash, so that a busy machine cannot take it away.)
  options.hashYieldsToCapture = false;
  expectHashOfTheFile(writeFile());
  options.hashYieldsToCapture = true;
  expectTriedAndGivenUp();
  hasher.advance(kFirstHashPause - std::chrono::milliseconds(1));
  expectPaused();
  hasher.advance(std::chrono::milliseconds(1));
  expectTriedAndGivenUp();
}

// The hasher runs below the thread that writes (capture), so that under full load the CPU goes
// to capture first; it is named for top -H and the benchmarks.
TEST_F(StreamedHashTest, TheHasherRunsBelowTheCaptureThreadAndIsNamed) {
  requireDirectIo();
  std::mutex mutex;
  int hasherNice = -100;
  std::string hasherName;
  auto options = direct(2 * kDirectAlignment, 2);
  options.directEngine = std::make_shared<DirectWriteEngine>(DirectEngineHooks{.beforeHash = [&] {
    char name[16] = {};
    ::pthread_getname_np(::pthread_self(), name, sizeof name);
    std::lock_guard lock(mutex);
    hasherNice = testing::niceOfThisThread();
    hasherName = name;
  }});
  expectHashOfTheFile(write("prio.pcap", options, mixedSizes(100), 0));
  std::lock_guard lock(mutex);
  EXPECT_EQ(hasherName, "pr-hasher");
  EXPECT_EQ(hasherNice, std::min(testing::niceOfThisThread() + kBackgroundNice, 19));
}

}  // namespace
}  // namespace pcap_recorder::pcap
