// libFuzzer target: any bytes as a `.part` file left by a killed daemon, through scanPcap() (in
// memory and through a ReadAt that returns short reads) and repairPartFile() on a real file.
//
// Checked for every input:
// - the scan agrees with a plain reference walk written from the rules in repair.hpp (header,
//   then records while each is plausible and lies within the file): same header verdict, same
//   records, same completeBytes; completeBytes <= size; a tail problem exactly when it stopped
//   short of the end;
// - a scan through a reader returning a few bytes at a time gives the same result;
// - the complete part re-scans as valid with the same records and no tail problem;
// - repairPartFile() renames a file with a valid header to its final name, cut to exactly the
//   complete part (byte for byte the input's prefix), which re-scans clean with the same records;
//   a file with a damaged header is set aside as `.damaged`, byte for byte unchanged; a file of
//   zero bytes is removed; nothing else is left in the directory.
//
// The files live in one temporary directory made at start (under $TMPDIR, else /dev/shm, where
// the fsyncs the repair does cost nothing) and removed at exit.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "pcap_recorder/pcap/format.hpp"
#include "pcap_recorder/pcap/repair.hpp"

namespace {

namespace pcap = pcap_recorder::pcap;
namespace fs = std::filesystem;

constexpr const char* kPartName = "capture.pcap.part";
constexpr const char* kFinalName = "capture.pcap";
constexpr const char* kDamagedName = "capture.pcap.damaged";

void check(bool condition) {
  if (!condition) std::abort();
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "repair_fuzzer: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

// ---------------------------------------------------------------------------------------------
// The reference: the rules of repair.hpp, read as plainly as possible.

struct Expected {
  bool headerValid = false;
  bool byteSwapped = false;
  bool nano = false;
  std::uint32_t snaplen = 0;
  std::uint64_t completeBytes = 0;
  std::uint64_t records = 0;
};

std::uint32_t load32(std::span<const std::byte> bytes, std::size_t at, bool swap) {
  std::uint32_t value;
  std::memcpy(&value, bytes.data() + at, sizeof value);
  return swap ? __builtin_bswap32(value) : value;
}

std::uint16_t load16(std::span<const std::byte> bytes, std::size_t at, bool swap) {
  std::uint16_t value;
  std::memcpy(&value, bytes.data() + at, sizeof value);
  return swap ? __builtin_bswap16(value) : value;
}

Expected reference(std::span<const std::byte> file) {
  Expected expected;
  if (file.size() < 24) return expected;
  const std::uint32_t magic = load32(file, 0, false);
  if (magic == pcap::kMagicMicroseconds || magic == pcap::kMagicNanoseconds) {
    expected.nano = magic == pcap::kMagicNanoseconds;
  } else if (__builtin_bswap32(magic) == pcap::kMagicMicroseconds ||
             __builtin_bswap32(magic) == pcap::kMagicNanoseconds) {
    expected.byteSwapped = true;
    expected.nano = __builtin_bswap32(magic) == pcap::kMagicNanoseconds;
  } else {
    return expected;
  }
  const bool swap = expected.byteSwapped;
  const std::uint32_t snaplen = load32(file, 16, swap);
  if (load16(file, 4, swap) != 2 || load16(file, 6, swap) != 4 || snaplen == 0 ||
      snaplen > pcap::kMaxSnaplen || load32(file, 20, swap) != pcap::kLinkTypeEthernet) {
    return expected;
  }
  expected.headerValid = true;
  expected.snaplen = snaplen;
  const std::uint32_t second = expected.nano ? 1'000'000'000u : 1'000'000u;
  std::uint64_t offset = 24;
  while (file.size() - offset >= 16) {
    const std::uint32_t fraction = load32(file, offset + 4, swap);
    const std::uint32_t included = load32(file, offset + 8, swap);
    const std::uint32_t original = load32(file, offset + 12, swap);
    if (included > snaplen || included > original || original == 0 || fraction >= second) break;
    if (file.size() - offset - 16 < included) break;
    offset += 16 + included;
    ++expected.records;
  }
  expected.completeBytes = offset;
  return expected;
}

void checkScan(const pcap::ScanResult& scan, const Expected& expected, std::uint64_t size) {
  check(scan.headerValid == expected.headerValid);
  check(scan.completeBytes <= size);
  if (!scan.headerValid) {
    check(!scan.headerProblem.empty());
    check(scan.completeBytes == 0 && scan.records == 0 && scan.tailProblem.empty());
    return;
  }
  check(scan.headerProblem.empty());
  check(scan.byteSwapped == expected.byteSwapped);
  check((scan.unit == pcap::TimestampUnit::nanoseconds) == expected.nano);
  check(scan.snaplen == expected.snaplen);
  check(scan.completeBytes == expected.completeBytes && scan.records == expected.records);
  check(scan.completeBytes >= 24 + 16 * scan.records);
  check(scan.tailProblem.empty() == (scan.completeBytes == size));
}

bool sameScan(const pcap::ScanResult& a, const pcap::ScanResult& b) {
  return a.headerValid == b.headerValid && a.headerProblem == b.headerProblem && a.unit == b.unit &&
         a.byteSwapped == b.byteSwapped && a.snaplen == b.snaplen &&
         a.completeBytes == b.completeBytes && a.records == b.records &&
         a.tailProblem == b.tailProblem;
}

// ---------------------------------------------------------------------------------------------
// The real file

struct Scratch {
  fs::path path;
  int fd = -1;
};

Scratch scratch;

void removeScratch() {
  if (scratch.fd >= 0) ::close(scratch.fd);
  std::error_code ignored;
  fs::remove_all(scratch.path, ignored);
}

void makeScratch() {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = tmp && *tmp ? tmp : (fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp");
  std::string pattern = base + "/repair_fuzzer.XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) fail("mkdtemp");
  scratch.path = pattern;
  scratch.fd = ::open(pattern.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (scratch.fd < 0) fail("open scratch directory");
  std::atexit(removeScratch);
}

void writeFile(const char* name, std::span<const std::byte> bytes) {
  const int fd = ::openat(scratch.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) fail("create part file");
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) fail("write part file");
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

std::vector<std::byte> readFile(const char* name) {
  const int fd = ::openat(scratch.fd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open repaired file");
  std::vector<std::byte> bytes;
  std::byte buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) fail("read repaired file");
    if (n == 0) break;
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  ::close(fd);
  return bytes;
}

std::vector<std::string> entries() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(scratch.path)) {
    names.push_back(entry.path().filename());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  makeScratch();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);

  // In memory, against the reference.
  const pcap::ScanResult scan = pcap::scanPcap(input);
  checkScan(scan, reference(input), size);

  // Through short reads: a reader may return less than asked and the scan must keep asking.
  const std::size_t step = size == 0 ? 1 : 1 + data[0] % 13;
  const pcap::ReadAt shortReads = [&](std::uint64_t offset, std::span<std::byte> into) {
    if (offset >= size) return std::size_t{0};
    const std::size_t n = std::min<std::uint64_t>({into.size(), step, size - offset});
    std::memcpy(into.data(), data + offset, n);
    return n;
  };
  check(sameScan(pcap::scanPcap(shortReads, size), scan));

  // The complete part is a whole file.
  if (scan.headerValid) {
    const pcap::ScanResult kept = pcap::scanPcap(input.first(scan.completeBytes));
    check(kept.headerValid && kept.tailProblem.empty());
    check(kept.records == scan.records && kept.completeBytes == scan.completeBytes);
  }

  // On disk.
  writeFile(kPartName, input);
  const pcap::RepairResult repaired = pcap::repairPartFile(scratch.fd, kPartName);
  if (size == 0) {
    check(repaired.outcome == pcap::RepairOutcome::removedEmpty);
    check(entries().empty());
  } else if (scan.headerValid) {
    check(repaired.outcome == pcap::RepairOutcome::finished);
    check(repaired.finalName == kFinalName);
    check(repaired.recordsKept == scan.records && repaired.bytesKept == scan.completeBytes);
    check(repaired.bytesCut == size - scan.completeBytes);
    check(repaired.message == scan.tailProblem);
    const std::vector<std::byte> after = readFile(kFinalName);
    check(after.size() == scan.completeBytes);
    check(std::equal(after.begin(), after.end(), input.begin()));
    const pcap::ScanResult again = pcap::scanPcap(after);
    check(again.headerValid && again.tailProblem.empty() && again.records == scan.records);
    check(entries() == std::vector<std::string>{kFinalName});
    if (::unlinkat(scratch.fd, kFinalName, 0) != 0) fail("unlink repaired file");
  } else {
    check(repaired.outcome == pcap::RepairOutcome::setAside);
    check(repaired.finalName == kDamagedName);
    check(repaired.bytesKept == size && repaired.bytesCut == 0);
    check(repaired.message == scan.headerProblem);
    const std::vector<std::byte> after = readFile(kDamagedName);
    check(after.size() == size && std::equal(after.begin(), after.end(), input.begin()));
    check(entries() == std::vector<std::string>{kDamagedName});
    if (::unlinkat(scratch.fd, kDamagedName, 0) != 0) fail("unlink damaged file");
  }
  return 0;
}
