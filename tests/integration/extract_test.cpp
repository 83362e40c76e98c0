// `pcap-recorderctl extract` and `index` on a store built here, compared record for record with
// what an operator gets today: `tcpdump -r FILE -w - FILTER` over each file, then `mergecap`.
// Also: files finished or deleted while a query runs. Skipped when tcpdump or mergecap is missing
// (scripts/install-deps installs both).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>

#include "extract.hpp"
#include "integration_support.hpp"
#include "pcap_recorder/compress/file_compressor.hpp"
#include "pcap_recorder/compress/seekable.hpp"
#include "pcap_recorder/index/file_index.hpp"
#include "pcap_recorder/util/unique_fd.hpp"
#include "support/directory.hpp"
#include "support/file_bytes.hpp"
#include "support/temp_dir.hpp"
#include "support/traffic.hpp"

namespace pcap_recorder::testing {
namespace {

namespace fs = std::filesystem;

const std::string kCtl = PCAP_RECORDERCTL_PATH;
constexpr std::uint64_t kSecond = 1'000'000'000;
constexpr std::uint64_t kStart = 1'796'119'200 * kSecond;  // 2026-12-01T10:00:00Z

struct Packet {
  std::uint64_t timeNs;
  std::uint32_t originalLength;
  std::vector<std::byte> data;
  bool operator==(const Packet&) const = default;
};

std::vector<Packet> packetsOf(const fs::path& path) {
  const auto file = readPcapFile(path);
  std::vector<Packet> out;
  const bool nano = file.magic == 0xA1B23C4D;
  for (const auto& record : file.records) {
    out.push_back({record.seconds * kSecond + record.fraction * (nano ? 1 : 1000),
                   record.originalLength, record.data});
  }
  return out;
}

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

class ExtractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (capture("command -v tcpdump && command -v mergecap").status != 0) {
      GTEST_SKIP() << "tcpdump or mergecap missing (scripts/install-deps installs them)";
    }
    fs::create_directories(store_);
    writeTextFile(config_, "output:\n  directory: " + store_.string() +
                               "\n  file_name: \"{interface}-%Y%m%dT%H%M%S.pcap\"\n"
                               "interfaces:\n  - name: lan0\n  - name: lan1\n"
                               "    output:\n      timestamp: nano\n");
  }

  // A file of `count` random packets of `interface` from `firstNs`, `stepNs` apart (lan1's times
  // are odd microseconds or nanoseconds, lan0's even: no two records share a timestamp).
  fs::path addFile(const std::string& interface, std::uint64_t firstNs, int count,
                   std::uint64_t stepNs, bool nano, const std::string& suffix = "") {
    std::vector<StoredRecord> records;
    for (int i = 0; i < count; ++i) {
      records.push_back(
          record(randomPacket(random_), firstNs + i * stepNs, random_() % 20 == 0 ? 64 : 262144));
    }
    std::time_t seconds = static_cast<std::time_t>(firstNs / kSecond);
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    char name[64];
    std::strftime(name, sizeof name, "%Y%m%dT%H%M%S", &utc);
    const auto path = store_ / (interface + "-" + name + ".pcap" + suffix);
    writeFile(path, pcapFileBytes(records, nano));
    return path;
  }

  // Two interfaces, three files each (lan1 nanosecond), more than one index block per file.
  void addStore() {
    for (int file = 0; file < 3; ++file) {
      const std::uint64_t first = kStart + file * 60 * kSecond;
      files_.push_back(addFile("lan0", first, 6000, 8'000'000, false));
      files_.push_back(addFile("lan1", first + 3'000'001, 6000, 8'000'000, true));
    }
  }

  CommandResult extract(const std::string& arguments, const fs::path& output) {
    return capture(kCtl + " extract --config " + config_.string() + " -w " + output.string() + " " +
                   arguments);
  }

  // The store's finished files as extract lists them (interface from the name), in path order.
  std::vector<ctl::StoreFile> listingOf(const std::vector<fs::path>& files) const {
    std::vector<ctl::StoreFile> listing;
    for (const auto& file : files) {
      listing.push_back({file, file.filename().string().substr(0, 4), false});
    }
    std::sort(listing.begin(), listing.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
    return listing;
  }

  // extract() of an already made `listing` into `output`, from `sinceNs` on when given: what
  // pcap-recorderctl does after reading the directories, with the directories changed meanwhile.
  static ctl::ExtractReport extractListed(std::vector<ctl::StoreFile> listing,
                                          const fs::path& output,
                                          std::optional<std::int64_t> sinceNs = std::nullopt) {
    std::sort(listing.begin(), listing.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
    const util::UniqueFd fd(::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    EXPECT_TRUE(fd.valid()) << output;
    ctl::ExtractRequest request;
    request.outputFd = fd.get();
    request.sinceNs = sinceNs;
    return ctl::extract(listing, request);
  }

  // mergecap over `tcpdump -r FILE -w OUT FILTER` of each file, cut to the window.
  std::vector<Packet> expected(const std::vector<fs::path>& files, const std::string& filter,
                               std::uint64_t since = 0, std::uint64_t until = UINT64_MAX) {
    std::string merged = "mergecap -F nsecpcap -w " + (work_ / "merged.pcap").string();
    for (std::size_t i = 0; i < files.size(); ++i) {
      const auto out = work_ / ("tcpdump-" + std::to_string(i) + ".pcap");
      const auto result =
          capture("tcpdump --time-stamp-precision=nano -r " + files[i].string() + " -w " +
                  out.string() + (filter.empty() ? "" : " " + quoted(filter)));
      EXPECT_EQ(result.status, 0) << result.output;
      merged += " " + out.string();
    }
    const auto result = capture(merged);
    EXPECT_EQ(result.status, 0) << result.output;
    std::vector<Packet> packets;
    for (auto& packet : packetsOf(work_ / "merged.pcap")) {
      if (packet.timeNs >= since && packet.timeNs < until) packets.push_back(std::move(packet));
    }
    return packets;
  }

  void expectSameAsTcpdump(const std::string& filter, const std::string& window = "",
                           std::uint64_t since = 0, std::uint64_t until = UINT64_MAX) {
    const auto out = work_ / "extract.pcap";
    const auto result = extract(window + " -- " + quoted(filter), out);
    ASSERT_EQ(result.status, 0) << filter << ": " << result.output;
    const auto got = packetsOf(out);
    const auto want = expected(files_, filter, since, until);
    ASSERT_EQ(got.size(), want.size()) << filter << ": " << result.output;
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], want[i]) << filter << ": record " << i;
    }
  }

  static std::uint64_t skippedBlocks(const std::string& summary) {
    const auto at = summary.find(" skipped by the index");
    if (at == std::string::npos) return 0;
    auto start = summary.rfind(' ', at - 1);
    return std::stoull(summary.substr(start + 1, at - start - 1));
  }

  std::mt19937_64 random_{13};
  TempDir work_;
  fs::path store_ = work_ / "store";
  fs::path config_ = work_ / "config.yaml";
  std::vector<fs::path> files_;
};

TEST_F(ExtractTest, ManyFiltersGiveWhatTcpdumpAndMergecapGive) {
  addStore();
  for (const char* filter : {"",
                             "host 10.0.0.1",
                             "src host 10.0.1.7",
                             "dst host 2001:db8::2",
                             "net 10.0.0.0/16",
                             "net 192.168",
                             "port 53",
                             "tcp port 443",
                             "udp and dst port 80",
                             "portrange 20-60",
                             "ip proto 47",
                             "icmp",
                             "icmp6",
                             "ip6",
                             "ip",
                             "vlan",
                             "vlan 200",
                             "vlan 100 and host 10.0.0.2",
                             "not host 10.0.0.1",
                             "host 10.0.0.1 and not port 80",
                             "(host 10.0.0.1 or host 2001:db8::1) and tcp",
                             "arp",
                             "not ip and not ip6",
                             "tcp[13] & 2 != 0",
                             "host 10.99.99.99"}) {
    expectSameAsTcpdump(filter);
  }
}

TEST_F(ExtractTest, TheIndexSkipsBlocksAndTheSummarySaysSo) {
  // One host talks in one file only: the other files' blocks (3 each) are all skipped.
  addStore();
  PacketSpec rare = randomPacket(random_);
  rare.network = PacketSpec::Network::ipv4;
  rare.source = {198, 51, 100, 7};
  std::vector<StoredRecord> records{record(rare, kStart + 30 * kSecond + 5000)};
  writeFile(store_ / "lan0-20261201T100030.pcap", pcapFileBytes(records, false));
  files_.push_back(store_ / "lan0-20261201T100030.pcap");
  const auto out = work_ / "one.pcap";
  const auto result = extract("host 198.51.100.7", out);
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_EQ(packetsOf(out).size(), 1u);
  EXPECT_NE(result.output.find("7 files, 7 in the window; 1 blocks searched, 18 skipped by the "
                               "index; 1 packets written; "),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("MiB read; 7 indexes built"), std::string::npos) << result.output;
  // The indexes were saved beside their files and serve the next query.
  EXPECT_TRUE(fs::exists(store_ / "lan0-20261201T100030.pcap.idx"));
  const auto again = extract("host 198.51.100.7", out);
  EXPECT_EQ(again.output.find("indexes built"), std::string::npos) << again.output;
  EXPECT_GT(skippedBlocks(again.output), 0u);
}

TEST_F(ExtractTest, WindowsOnFileAndBlockBoundaries) {
  addStore();
  // lan0's second file starts at +60 s, its second block (4096 records of 8 ms) at +60+32.768 s.
  const std::uint64_t fileStart = kStart + 60 * kSecond;
  const std::uint64_t blockStart = fileStart + 4096 * 8'000'000ull;
  const std::uint64_t thirdFile = kStart + 120 * kSecond;
  expectSameAsTcpdump("host 10.0.0.1", "--since @" + std::to_string(fileStart / kSecond),
                      fileStart);
  expectSameAsTcpdump("",
                      "--since @" + std::to_string(fileStart / kSecond) + " --until @" +
                          std::to_string(thirdFile / kSecond),
                      fileStart, thirdFile);
  const auto at = [](std::uint64_t ns) {
    char text[64];
    std::snprintf(text, sizeof text, "@%llu.%09llu", static_cast<unsigned long long>(ns / kSecond),
                  static_cast<unsigned long long>(ns % kSecond));
    return std::string(text);
  };
  expectSameAsTcpdump("udp or icmp6", "--since " + at(blockStart) + " --until " + at(thirdFile + 1),
                      blockStart, thirdFile + 1);
  expectSameAsTcpdump("", "--since " + at(blockStart - 1) + " --until " + at(blockStart),
                      blockStart - 1, blockStart);
  expectSameAsTcpdump("port 80", "--since 2026-12-01T10:01:30Z --until 2026-12-01T11:00:00+01:00",
                      kStart + 90 * kSecond, kStart);
}

TEST_F(ExtractTest, OneInterfaceOnlyAndNanosecondMagicOnlyFromANanosecondSource) {
  addStore();
  const auto out = work_ / "lan0.pcap";
  auto result = extract("--interface lan0 host 10.0.0.2", out);
  ASSERT_EQ(result.status, 0) << result.output;
  std::vector<fs::path> lan0;
  for (const auto& file : files_) {
    if (file.filename().string().starts_with("lan0")) lan0.push_back(file);
  }
  EXPECT_EQ(packetsOf(out), expected(lan0, "host 10.0.0.2"));
  EXPECT_EQ(readPcapFile(out).magic, 0xA1B2C3D4u) << "lan0's files are microsecond files";
  result = extract("--interface lan1 --interface lan0 host 10.0.0.2", out);
  EXPECT_EQ(readPcapFile(out).magic, 0xA1B23C4Du);
  EXPECT_EQ(packetsOf(out), expected(files_, "host 10.0.0.2"));
}

TEST_F(ExtractTest, APartFileIsReadUpToItsLastWholeRecord) {
  addStore();
  const auto part = addFile("lan0", kStart + 180 * kSecond, 500, 1'000'000, false, ".part");
  // The whole records as they are, then half of a record still being written.
  const auto whole = work_ / "whole.pcap";
  fs::copy_file(part, whole);
  {
    std::ofstream append(part, std::ios::binary | std::ios::app);
    const char half[30] = {1, 2, 3, 4, 5, 6, 7, 8, 60, 0, 0, 0, 60, 0, 0, 0, 9};
    append.write(half, sizeof half);
  }
  auto files = files_;
  files.push_back(whole);
  const auto out = work_ / "extract.pcap";
  const auto result = extract("--since 2026-12-01T10:02:00Z host 10.0.0.1 or ip6", out);
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_EQ(packetsOf(out), expected(files, "host 10.0.0.1 or ip6", kStart + 120 * kSecond));
  EXPECT_FALSE(fs::exists(part.string() + ".idx")) << "a file being written gets no index";
}

TEST_F(ExtractTest, AMissingOrDamagedIndexGivesTheSameAnswer) {
  addStore();
  const auto first = work_ / "first.pcap";
  ASSERT_EQ(extract("host 10.0.1.7 or port 22", first).status, 0);
  fs::remove(files_[0].string() + ".idx");
  {
    std::fstream damage(files_[1].string() + ".idx",
                        std::ios::in | std::ios::out | std::ios::binary);
    damage.seekp(200);
    damage.write("garbage", 7);
  }
  fs::resize_file(files_[2].string() + ".idx", 50);
  {
    // An index of format version 1, from before the keys of fields captured in part.
    auto bytes = readFile(files_[3].string() + ".idx");
    bytes[8] = std::byte{1};
    const std::uint32_t crc = index::crc32(std::span(bytes).first(92));
    for (int i = 0; i < 4; ++i) bytes[92 + i] = static_cast<std::byte>(crc >> (8 * i));
    writeFile(files_[3].string() + ".idx", bytes);
  }
  const auto second = work_ / "second.pcap";
  const auto result = extract("host 10.0.1.7 or port 22", second);
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("4 indexes built"), std::string::npos) << result.output;
  EXPECT_EQ(packetsOf(second), packetsOf(first));
  EXPECT_EQ(packetsOf(second), expected(files_, "host 10.0.1.7 or port 22"));
}

TEST_F(ExtractTest, IndexCommandIndexesTheFilesThatLackOne) {
  addStore();
  const auto result = capture(kCtl + " index --config " + config_.string() + " --interface lan1");
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("indexed 3 files, 0 already indexed, 0 failed"), std::string::npos)
      << result.output;
  for (const auto& file : files_) {
    EXPECT_EQ(fs::exists(file.string() + ".idx"), file.filename().string().starts_with("lan1"))
        << file;
  }
  const auto again = capture(kCtl + " index --config " + config_.string());
  EXPECT_NE(again.output.find("indexed 3 files, 3 already indexed"), std::string::npos)
      << again.output;
}

TEST_F(ExtractTest, NoMatchIsAnEmptyPcapAndStandardOutputWorksThroughAPipe) {
  addStore();
  const auto out = work_ / "stdout.pcap";
  const auto result = capture("(" + kCtl + " extract --config " + config_.string() +
                              " host 10.99.99.99 > " + out.string() + ")");
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("0 packets written"), std::string::npos) << result.output;
  EXPECT_EQ(fs::file_size(out), 24u);
  const auto file = readPcapFile(out);
  EXPECT_EQ(file.linkType, 1);
  EXPECT_EQ(file.magic, 0xA1B23C4Du);
  EXPECT_EQ(file.snaplen, 262144u);
}

TEST_F(ExtractTest, FilesFinishedOrDeletedBetweenListingAndOpeningAreHandled) {
  addStore();
  const auto part = addFile("lan0", kStart + 180 * kSecond, 500, 1'000'000, false, ".part");
  auto finished = part;
  finished.replace_extension();
  // The listing as extract read it from the directory: it saw the file being written under both
  // names (the rename came between two readdir calls)...
  auto listing = listingOf(files_);
  listing.push_back({finished, "lan0", false});
  listing.push_back({part, "lan0", true});
  // ...then the recorder finished it and retention deleted the oldest file with its index, before
  // extract opened them.
  fs::rename(part, finished);
  ASSERT_EQ(capture(kCtl + " index --config " + config_.string()).status, 0);
  fs::remove(files_[0]);
  fs::remove(files_[0].string() + ".idx");

  const auto out = work_ / "raced.pcap";
  {
    const auto report = extractListed(listing, out);
    EXPECT_FALSE(report.failed);
    EXPECT_TRUE(report.problems.empty()) << report.problems.front();
    EXPECT_EQ(report.filesVanished, 1u);
  }
  std::vector<fs::path> remaining(files_.begin() + 1, files_.end());
  remaining.push_back(finished);
  EXPECT_EQ(packetsOf(out), expected(remaining, "")) << "the finished file once, the deleted none";
  EXPECT_FALSE(fs::exists(files_[0].string() + ".idx")) << "no index of a deleted file";
}

TEST_F(ExtractTest, FilesFinishedOrDeletedDuringAQueryChangeNothingItReturns) {
  // Thirty finished files of lan0 a minute apart (1500 records each, over 16 MiB of output), the
  // file lan0 is writing after them, and a file lan1 is writing among the first ones.
  std::vector<fs::path> listed;
  for (int file = 0; file < 30; ++file) {
    listed.push_back(addFile("lan0", kStart + file * 60 * kSecond, 1500, 20'000'000, false));
  }
  const auto lan0Part = addFile("lan0", kStart + 1800 * kSecond, 1500, 20'000'000, false, ".part");
  const auto lan1Part = addFile("lan1", kStart + 15 * kSecond + 7, 1500, 20'000'000, true, ".part");
  listed.push_back(lan0Part);
  listed.push_back(lan1Part);
  std::vector<Packet> want;
  for (const auto& file : listed) {
    for (auto& packet : packetsOf(file)) want.push_back(std::move(packet));
  }
  std::sort(want.begin(), want.end(),
            [](const Packet& a, const Packet& b) { return a.timeNs < b.timeNs; });
  // Indexed as the recorder indexes finished files: extract reads an index when it reaches its
  // file, long after it listed the store.
  ASSERT_EQ(capture(kCtl + " index --config " + config_.string()).status, 0);

  // A consumer that reads a little, then stalls: extract blocks on the full pipe. It has opened
  // every file by then (the first byte comes after all are opened), and is still in the first
  // files: what it has buffered (1 MiB) plus the pipe is less than two of them.
  const auto summary = work_ / "summary.txt";
  FILE* pipe = ::popen(
      (kCtl + " extract --config " + config_.string() + " 2>" + summary.string()).c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::vector<std::byte> bytes(4096);
  bytes.resize(std::fread(bytes.data(), 1, bytes.size(), pipe));
  ASSERT_EQ(bytes.size(), 4096u);

  // Meanwhile: retention deletes files with their indexes (the oldest, being read, and ten not
  // reached yet), lan1's file is finished (renamed), and lan0 writes on, halfway into a record.
  std::vector<fs::path> deleted{listed[0]};
  for (int file = 10; file < 20; ++file) deleted.push_back(listed[file]);
  for (const auto& file : deleted) {
    ASSERT_TRUE(fs::exists(file.string() + ".idx"));
    fs::remove(file);
    fs::remove(file.string() + ".idx");
  }
  auto lan1Finished = lan1Part;
  lan1Finished.replace_extension();
  fs::rename(lan1Part, lan1Finished);
  {
    std::vector<StoredRecord> more;
    for (int i = 0; i < 100; ++i) {
      more.push_back(record(randomPacket(random_), kStart + 1900 * kSecond + i * 1000));
    }
    auto tail = pcapFileBytes(more, false);
    tail.resize(tail.size() - 10);
    std::ofstream append(lan0Part, std::ios::binary | std::ios::app);
    append.write(reinterpret_cast<const char*>(tail.data() + 24),
                 static_cast<std::streamsize>(tail.size() - 24));
  }

  // The consumer catches up.
  std::byte chunk[65536];
  while (const std::size_t got = std::fread(chunk, 1, sizeof chunk, pipe)) {
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  const int status = ::pclose(pipe);
  std::ifstream summaryText(summary);
  const std::string stderrText((std::istreambuf_iterator<char>(summaryText)),
                               std::istreambuf_iterator<char>());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << stderrText;
  // Every record whole and as stored, none lost: the files were open before they went, and the
  // flushed part of a file being written is what it held when the query reached it.
  const auto out = work_ / "stalled.pcap";
  writeFile(out, bytes);
  const auto got = packetsOf(out);
  ASSERT_EQ(got.size(), want.size()) << stderrText;
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "record " << i;
  for (const auto& file : deleted) {
    EXPECT_FALSE(fs::exists(file.string() + ".idx")) << "an index re-created for a deleted file";
  }
}

TEST_F(ExtractTest, ErrorsAndUsageErrorsHaveTheirExitStatus) {
  addStore();
  const auto out = work_ / "x.pcap";
  auto result = extract("tcp port", out);
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.output.find("invalid filter: "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("syntax error"), std::string::npos) << result.output;
  EXPECT_EQ(extract("--since yesterday", out).status, 2);
  EXPECT_EQ(extract("--frobnicate", out).status, 2);
  EXPECT_EQ(extract("--interface wlan9", out).status, 1);
  result =
      capture(kCtl + " extract --config " + (work_ / "none.yaml").string() + " -w " + out.string());
  EXPECT_EQ(result.status, 1) << result.output;
  EXPECT_EQ(capture(kCtl + " index --since now --config " + config_.string()).status, 2);
}

// `-w` onto a stored file used to empty it (O_TRUNC) before reading it, also a file of an
// interface not asked for; and a new extract was 0644 under the usual umask, every local user's
// to read.
TEST_F(ExtractTest, AStoredFileIsNeverTheOutputAndANewOutputIsTheOwnersAlone) {
  addStore();
  ASSERT_EQ(capture(kCtl + " index --config " + config_.string()).status, 0);
  const auto stored = files_[2];  // lan0's
  const auto before = testing::readFile(stored);
  const auto indexBefore = testing::readFile(index::indexPathFor(stored));
  const auto link = work_ / "link.pcap";
  fs::create_hard_link(stored, link);
  for (const auto& [target, arguments] :
       std::vector<std::pair<fs::path, std::string>>{{stored, ""},
                                                     {index::indexPathFor(stored), ""},
                                                     {link, ""},
                                                     {link, "--interface lan1"}}) {
    const auto result = extract(arguments, target);
    EXPECT_EQ(result.status, 2) << result.output;
    const auto named = target == index::indexPathFor(stored) ? target : stored;
    EXPECT_NE(result.output.find("refusing to write into " + target.string() + ": it is " +
                                 named.string() + ", a file of the store"),
              std::string::npos)
        << result.output;
    EXPECT_EQ(testing::readFile(stored), before) << "the stored file was touched";
    EXPECT_EQ(testing::readFile(index::indexPathFor(stored)), indexBefore) << "its index was";
  }
  const auto inStore = store_ / "query.pcap";
  auto result = extract("", inStore);
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("it is in the store's output directory"), std::string::npos)
      << result.output;
  EXPECT_FALSE(fs::exists(inStore)) << "the refused output is not left behind";
  fs::create_symlink(inStore, work_ / "to-the-store.pcap");  // a name outside leading in
  result = extract("", work_ / "to-the-store.pcap");
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("it is in the store's output directory"), std::string::npos)
      << result.output;
  // Not a regular file: written as it is, not emptied first (which it cannot be).
  result = capture(kCtl + " extract --config " + config_.string() +
                   " -w /dev/stdout --interface lan1 | wc -c");
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_GT(std::stoull(result.output), 24u) << result.output;

  const auto out = work_ / "new.pcap";
  result = capture("umask 022 && " + kCtl + " extract --config " + config_.string() + " -w " +
                   out.string());
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_EQ(fs::status(out).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  // An existing output is replaced whole, keeping its mode.
  fs::permissions(out, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  result = extract("--interface lan1", out);
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_EQ(fs::status(out).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  EXPECT_EQ(testing::readPcapFile(out).records.size(), 3u * 6000u) << "lan1's packets only";
}

// What the daemon's finisher does with `output.compression`: the file compressed where it lies
// (compress::compressFile, as service/file_storage.cpp calls it), its index moved to the stored
// name.
fs::path compressLikeTheDaemon(const fs::path& file, compress::Compression compression) {
  const util::UniqueFd directory = openDirectory(file.parent_path());
  const auto result =
      compress::compressFile(directory.get(), file.filename().string(), compression, 0, 0640);
  const auto stored = file.parent_path() / result.name;
  if (fs::exists(index::indexPathFor(file))) {
    fs::rename(index::indexPathFor(file), index::indexPathFor(stored));
  }
  return stored;
}

// The daemon compressed two files after extract listed them: one listed finished, one listed as
// it was being written. Both are read under their compressed names; none counts as deleted.
TEST_F(ExtractTest, FilesCompressedBetweenListingAndOpeningAreReadCompressed) {
  addStore();
  const auto part = addFile("lan0", kStart + 180 * kSecond, 500, 1'000'000, false, ".part");
  auto finished = part;
  finished.replace_extension();
  auto listing = listingOf(files_);
  listing.push_back({part, "lan0", true});
  auto listed = files_;
  listed.push_back(part);
  const auto expectedPackets = expected(listed, "");
  fs::rename(part, finished);
  compressLikeTheDaemon(finished, compress::Compression::zstd);
  compressLikeTheDaemon(files_[0], compress::Compression::gzip);

  const auto out = work_ / "compressed-meanwhile.pcap";
  {
    const auto report = extractListed(listing, out);
    EXPECT_FALSE(report.failed);
    EXPECT_TRUE(report.problems.empty()) << report.problems.front();
    EXPECT_EQ(report.filesVanished, 0u);
  }
  EXPECT_EQ(packetsOf(out), expectedPackets);
}

// The compression renames NAME.zst into place before it removes NAME (and a failed removal
// leaves NAME until the next start): while both are there, each packet is extracted once.
TEST_F(ExtractTest, AFileBesideItsCompressedCopyIsReadOnce) {
  addStore();
  const auto expectedPackets = expected(files_, "");
  const auto kept = work_ / "kept.pcap";
  fs::copy_file(files_[0], kept);
  compressLikeTheDaemon(files_[0], compress::Compression::zstd);
  fs::copy_file(kept, files_[0]);
  const auto out = work_ / "both-there.pcap";
  const auto result = extract(" -- " + quoted(""), out);
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_EQ(packetsOf(out), expectedPackets);
}

class ExtractCompressedTest : public ExtractTest {
 protected:
  // The output of each query of a set (filters, windows, interfaces), byte for byte.
  std::vector<std::vector<std::byte>> answers(const std::string& expectInSummary = "") {
    std::vector<std::vector<std::byte>> outputs;
    const std::pair<std::string, std::string> queries[] = {
        {"", ""},
        {"", "host 10.0.0.1"},
        {"--interface lan1", "port 80"},
        {"", "udp or icmp6"},
        {"--since 2026-12-01T10:01:30Z --until 2026-12-01T10:02:10Z", "host 10.0.1.7 or ip6"},
        {"--since @1796119230.5 --until @1796119231", ""},
        {"", "vlan and tcp"},
        {"", "tcp[13] & 2 != 0"}};
    for (const auto& [options, filter] : queries) {
      const auto out = work_ / "answer.pcap";
      const auto result = extract(options + " -- " + quoted(filter), out);
      EXPECT_EQ(result.status, 0) << options << " " << filter << ": " << result.output;
      if (!expectInSummary.empty()) {
        EXPECT_NE(result.output.find(expectInSummary), std::string::npos)
            << filter << ": " << result.output;
      }
      outputs.push_back(readFile(out));
    }
    return outputs;
  }

  void expectSameAnswersWhenCompressed(compress::Compression compression,
                                       const std::string& expectInSummary) {
    addStore();
    ASSERT_EQ(capture(kCtl + " index --config " + config_.string()).status, 0);
    const auto uncompressed = answers();
    std::uint64_t storeBytes = 0;
    for (auto& file : files_) {
      storeBytes += fs::file_size(file);
      file = compressLikeTheDaemon(file, compression);
      ASSERT_TRUE(fs::exists(file.string() + ".idx"));
    }
    ASSERT_GT(storeBytes, 6 * 2 * compress::kFrameBytes) << "files of several frames";
    const auto compressed = answers(expectInSummary);
    ASSERT_EQ(compressed.size(), uncompressed.size());
    for (std::size_t i = 0; i < compressed.size(); ++i) {
      EXPECT_GT(uncompressed[i].size(), 24u) << "query " << i << " matches something";
      EXPECT_TRUE(compressed[i] == uncompressed[i]) << "query " << i;
    }
    // Without their indexes (rebuilt from the compressed files, and saved), the same again.
    for (const auto& file : files_) fs::remove(file.string() + ".idx");
    const auto rebuilt = answers();
    for (std::size_t i = 0; i < rebuilt.size(); ++i) {
      EXPECT_TRUE(rebuilt[i] == uncompressed[i]) << "query " << i << " after rebuilding";
    }
    for (const auto& file : files_) EXPECT_TRUE(fs::exists(file.string() + ".idx")) << file;
  }
};

TEST_F(ExtractCompressedTest, ZstdFilesGiveByteForByteWhatTheUncompressedFilesGive) {
  expectSameAnswersWhenCompressed(compress::Compression::zstd, "zstd frames decompressed");
}

TEST_F(ExtractCompressedTest, GzipFilesGiveByteForByteWhatTheUncompressedFilesGive) {
  expectSameAnswersWhenCompressed(compress::Compression::gzip, "packets written");
}

// A gzip file is read through a decompressed copy: one outside the query's window (by its index)
// is not decompressed at all, so neither its size nor damage to it costs the query anything.
TEST_F(ExtractCompressedTest, AGzipFileOutsideTheWindowIsNotDecompressed) {
  addStore();
  ASSERT_EQ(capture(kCtl + " index --config " + config_.string()).status, 0);
  for (auto& file : files_) file = compressLikeTheDaemon(file, compress::Compression::gzip);
  const auto listing = listingOf(files_);
  const auto run = [&](const std::vector<ctl::StoreFile>& files, const fs::path& out) {
    // From the last two files on.
    return extractListed(files, out, static_cast<std::int64_t>(kStart + 115 * kSecond));
  };
  const auto before = run(listing, work_ / "before.pcap");
  ASSERT_TRUE(before.problems.empty()) << before.problems.front();
  EXPECT_EQ(before.filesOutside, 4u);
  // What the two files in the window cost alone, and the headers of the other four indexes.
  const auto inWindow = run(listingOf({files_[4], files_[5]}), work_ / "in-window.pcap");
  EXPECT_EQ(before.bytesRead, inWindow.bytesRead + 4 * 96);
  fs::resize_file(files_[0], fs::file_size(files_[0]) / 2);  // damaged, outside the window

  const auto after = run(listing, work_ / "after.pcap");
  EXPECT_FALSE(after.failed);
  EXPECT_TRUE(after.problems.empty()) << after.problems.front();
  EXPECT_GT(after.packets, 0u);
  EXPECT_EQ(readFile(work_ / "after.pcap"), readFile(work_ / "before.pcap"));
}

// The index header of a gzip file decides its place in the query before the file is read; an
// index that turns out to describe another file (replaced by hand) is said, not passed over.
TEST_F(ExtractCompressedTest, AGzipFileWhoseIndexDescribesAnotherFileIsReported) {
  addStore();
  ASSERT_EQ(capture(kCtl + " index --config " + config_.string()).status, 0);
  for (auto& file : files_) file = compressLikeTheDaemon(file, compress::Compression::gzip);
  // lan0's second file gets the index of its first (same pcap header, other records).
  fs::copy_file(files_[0].string() + ".idx", files_[2].string() + ".idx",
                fs::copy_options::overwrite_existing);
  const auto report = extractListed(listingOf(files_), work_ / "stale.pcap");
  ASSERT_FALSE(report.problems.empty());
  EXPECT_NE(report.problems.front().find("its index describes another file"), std::string::npos)
      << report.problems.front();
}

TEST_F(ExtractCompressedTest, AFewPacketsOfALargeZstdFileDecompressOnlyTheFramesHoldingThem) {
  // 40 MB of 1400-byte frames over 100 s, one packet of a rare host in the middle.
  std::vector<StoredRecord> records;
  PacketSpec rare = randomPacket(random_);
  rare.network = PacketSpec::Network::ipv4;
  rare.source = {198, 51, 100, 7};
  rare.vlans.clear();  // `host` looks at untagged frames only
  rare.laterFragment = false;
  for (int i = 0; i < 30000; ++i) {
    auto spec = i == 17000 ? rare : randomPacket(random_);
    spec.frameBytes = 1400;
    records.push_back(record(spec, kStart + i * 3'333'333ull));
  }
  const auto plain = store_ / "lan0-20261201T100000.pcap";
  writeFile(plain, pcapFileBytes(records, false));
  ASSERT_EQ(capture(kCtl + " index --config " + config_.string()).status, 0);
  const auto run = [&](const fs::path& file, const fs::path& out, const std::string& filter) {
    const util::UniqueFd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ctl::ExtractRequest request;
    request.outputFd = fd.get();
    request.filter = filter;
    return ctl::extract({{file, "lan0", false}}, request);
  };
  const auto before = run(plain, work_ / "plain.pcap", "host 198.51.100.7");
  ASSERT_EQ(before.packets, 1u);
  EXPECT_EQ(before.framesDecompressed, 0u);
  const auto zst = compressLikeTheDaemon(plain, compress::Compression::zstd);
  std::string problem;
  const util::UniqueFd fd(::open(zst.c_str(), O_RDONLY | O_CLOEXEC));
  const auto table = compress::readSeekTable(fd.get(), fs::file_size(zst), problem);
  ASSERT_TRUE(table) << problem;
  ASSERT_GE(table->frames.size(), 38u);

  const auto after = run(zst, work_ / "zst.pcap", "host 198.51.100.7");
  EXPECT_TRUE(after.problems.empty()) << after.problems.front();
  EXPECT_EQ(after.packets, 1u);
  EXPECT_EQ(readFile(work_ / "zst.pcap"), readFile(work_ / "plain.pcap"));
  // The one block that may hold the host lies in at most two frames (the pcap header comes from
  // decoding only the start of the first); far less than the file is read.
  EXPECT_EQ(after.blocksSearched, before.blocksSearched);
  EXPECT_LE(after.framesDecompressed, 2u * after.blocksSearched);
  EXPECT_LE(after.framesDecompressed, 4u);
  EXPECT_LT(after.bytesRead, fs::file_size(zst) / 8);

  // A whole-file query decompresses each frame once.
  const auto whole = run(zst, work_ / "all.pcap", "");
  EXPECT_EQ(whole.packets, records.size());
  EXPECT_EQ(whole.framesDecompressed, table->frames.size());
}

}  // namespace
}  // namespace pcap_recorder::testing
