// count_frames COUNT FILE...: reads pcap files with libpcap, in the order given, and tells how
// the test frames with sequence numbers 0 to COUNT-1 (support/frames.hpp, as send_burst sends
// them) came out, as one JSON line on stdout:
//   unique           distinct sequence numbers found (COUNT when nothing was lost)
//   dups             frames found more than once
//   reorder          frames found after a frame with a higher sequence number
//   caplen_short     records cut short of the frame (included length < original length)
//   truncated_files  files that end inside a record
//   bad_files        files libpcap cannot open or read
//   others           frames that are not test frames of this run (IPv6 neighbour discovery...)
// The frame counter of the benchmark smoke (bench/run-benchmarks --smoke).
#include <pcap/pcap.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "support/frames.hpp"

namespace {

struct Counts {
  std::uint64_t unique = 0;
  std::uint64_t dups = 0;
  std::uint64_t reorder = 0;
  std::uint64_t caplenShort = 0;
  std::uint64_t truncatedFiles = 0;
  std::uint64_t badFiles = 0;
  std::uint64_t others = 0;
};

struct PcapClose {
  void operator()(pcap_t* handle) const { pcap_close(handle); }
};

class FrameCounter {
 public:
  explicit FrameCounter(std::uint64_t count) : seen_(count, false) {}

  void readFile(const char* path) {
    char error[PCAP_ERRBUF_SIZE] = {};
    std::unique_ptr<pcap_t, PcapClose> handle(pcap_open_offline(path, error));
    if (!handle) {
      std::fprintf(stderr, "count_frames: %s\n", error);
      ++counts_.badFiles;
      return;
    }
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    int status = 0;
    while ((status = pcap_next_ex(handle.get(), &header, &data)) == 1) {
      record(*header, data);
    }
    if (status == PCAP_ERROR) {
      const char* message = pcap_geterr(handle.get());
      std::fprintf(stderr, "count_frames: %s: %s\n", path, message);
      // libpcap says "truncated dump file" when a file ends inside a record.
      if (std::strstr(message, "truncated") != nullptr) {
        ++counts_.truncatedFiles;
      } else {
        ++counts_.badFiles;
      }
    }
  }

  const Counts& counts() const { return counts_; }

 private:
  void record(const pcap_pkthdr& header, const u_char* data) {
    if (header.caplen < header.len) ++counts_.caplenShort;
    const auto sequence = pcap_recorder::testing::sequenceOf(
        std::span(reinterpret_cast<const std::byte*>(data), header.caplen));
    if (!sequence || *sequence >= seen_.size()) {
      ++counts_.others;
      return;
    }
    if (seen_[*sequence]) {
      ++counts_.dups;
    } else {
      seen_[*sequence] = true;
      ++counts_.unique;
    }
    if (highest_ && *sequence < *highest_) ++counts_.reorder;
    if (!highest_ || *sequence > *highest_) highest_ = *sequence;
  }

  std::vector<bool> seen_;
  std::optional<std::uint32_t> highest_;
  Counts counts_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s COUNT [FILE...]\n", argv[0]);
    return 2;
  }
  char* end = nullptr;
  const auto count = std::strtoull(argv[1], &end, 10);
  if (end == argv[1] || *end != '\0') {
    std::fprintf(stderr, "count_frames: COUNT is not a number: %s\n", argv[1]);
    return 2;
  }
  FrameCounter counter(count);
  for (int i = 2; i < argc; ++i) counter.readFile(argv[i]);
  const Counts& c = counter.counts();
  std::printf(
      "{\"unique\": %llu, \"dups\": %llu, \"reorder\": %llu, \"caplen_short\": %llu, "
      "\"truncated_files\": %llu, \"bad_files\": %llu, \"others\": %llu}\n",
      static_cast<unsigned long long>(c.unique), static_cast<unsigned long long>(c.dups),
      static_cast<unsigned long long>(c.reorder), static_cast<unsigned long long>(c.caplenShort),
      static_cast<unsigned long long>(c.truncatedFiles),
      static_cast<unsigned long long>(c.badFiles), static_cast<unsigned long long>(c.others));
  return 0;
}
