#include "pcap_recorder/index/file_index.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "pcap_recorder/index/packet_keys.hpp"
#include "pcap_recorder/util/little_endian.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::index {

namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'P', 'C', 'A', 'P', 'R', 'I', 'D', 'X'};
constexpr std::size_t kHeaderBytes = 96;
constexpr std::size_t kBlockHeaderBytes = 48;
// An index larger than this is not ours (a 1 GiB pcap's index is a few MiB at most).
constexpr std::uint64_t kMaxIndexBytes = 1ull << 30;

[[noreturn]] void throwErrno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

class Writer {
 public:
  void u8(std::uint8_t value) { bytes_.push_back(std::byte{value}); }
  void u32(std::uint32_t value) { util::appendLittleEndian<std::uint32_t>(bytes_, value); }
  void u64(std::uint64_t value) { util::appendLittleEndian<std::uint64_t>(bytes_, value); }
  void raw(std::span<const std::byte> value) {
    bytes_.insert(bytes_.end(), value.begin(), value.end());
  }
  std::vector<std::byte>& bytes() { return bytes_; }

 private:
  std::vector<std::byte> bytes_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> bytes) : bytes_(bytes) {}
  bool has(std::size_t count) const { return count <= bytes_.size() - at_; }
  std::uint8_t u8() { return std::to_integer<std::uint8_t>(bytes_[at_++]); }
  std::uint32_t u32() { return littleEndian<std::uint32_t>(); }
  std::uint64_t u64() { return littleEndian<std::uint64_t>(); }
  void raw(std::span<std::byte> into) {
    std::memcpy(into.data(), bytes_.data() + at_, into.size());
    at_ += into.size();
  }
  void skip(std::size_t count) { at_ += count; }

 private:
  template <typename T>
  T littleEndian() {
    const T value = util::loadLittleEndian<T>(bytes_.data() + at_);
    at_ += sizeof(T);
    return value;
  }

  std::span<const std::byte> bytes_;
  std::size_t at_ = 0;
};

struct BloomPosition {
  std::uint64_t first;
  std::uint64_t step;
};

BloomPosition bloomPosition(std::uint64_t keyHash) {
  return {keyHash & 0xffffffffu, (keyHash >> 32) | 1u};
}

// Bit i of a key, (first + i·step) mod bits, stepped without a division per bit: the same bits
// (first and step are below 2^32, so first + i·step never wraps), a third of the cost.
struct BloomBits {
  BloomBits(std::uint64_t keyHash, std::uint64_t bits) : bits(bits) {
    const auto position = bloomPosition(keyHash);
    bit = position.first % bits;
    step = position.step % bits;
  }
  void next() noexcept {
    bit += step;
    if (bit >= bits) bit -= bits;
    ++index;
  }
  std::uint64_t bits;
  std::uint64_t bit;
  std::uint64_t step;
  unsigned index = 0;
};

class KeyCollector final : public KeySink {
 public:
  explicit KeyCollector(DistinctKeys& keys) : keys_(keys) {}
  void add(std::uint64_t keyHash) override { keys_.insert(keyHash); }

 private:
  DistinctKeys& keys_;
};

// `keys`: distinct.
void fillBloom(BlockSummary& block, const std::vector<std::uint64_t>& keys) {
  block.bloom.clear();
  if (keys.empty()) return;
  const std::uint64_t bits = (keys.size() * kBloomBitsPerKey + 63) / 64 * 64;
  block.bloom.assign(bits / 64, 0);
  for (const auto key : keys) {
    for (BloomBits bit(key, bits); bit.index < block.hashes; bit.next()) {
      block.bloom[bit.bit / 64] |= std::uint64_t{1} << (bit.bit % 64);
    }
  }
}

std::vector<std::byte> serializeHeader(const IndexHeader& header) {
  Writer out;
  out.raw(std::as_bytes(std::span(kMagic)));
  out.u32(kFormatVersion);
  out.u32(kHeaderBytes);
  out.u64(header.pcapBytes);
  out.raw(header.pcapHeader);
  out.u64(header.records);
  out.u64(header.minTimeNs);
  out.u64(header.maxTimeNs);
  out.u32(header.blockCount);
  out.u32(header.flags);
  out.u32(header.bodyBytes);
  out.u32(header.bodyCrc);
  out.u32(0);
  out.u32(crc32(out.bytes()));
  return std::move(out.bytes());
}

std::optional<IndexHeader> parseHeader(std::span<const std::byte> bytes, std::string& problem) {
  if (bytes.size() < kHeaderBytes) {
    problem = "shorter than an index header";
    return std::nullopt;
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    problem = "not a pcap-recorder index";
    return std::nullopt;
  }
  Reader in(bytes);
  in.skip(sizeof kMagic);
  const std::uint32_t version = in.u32();
  if (version < kOldestHeaderVersion || version > kFormatVersion) {
    problem = "index format version " + std::to_string(version) + ", this build reads " +
              std::to_string(kFormatVersion);
    return std::nullopt;
  }
  if (in.u32() != kHeaderBytes) {
    problem = "unexpected header size";
    return std::nullopt;
  }
  IndexHeader header;
  header.version = version;
  header.pcapBytes = in.u64();
  in.raw(header.pcapHeader);
  header.records = in.u64();
  header.minTimeNs = in.u64();
  header.maxTimeNs = in.u64();
  header.blockCount = in.u32();
  header.flags = in.u32();
  header.bodyBytes = in.u32();
  header.bodyCrc = in.u32();
  in.u32();
  const std::uint32_t stored = in.u32();
  if (stored != crc32(bytes.first(kHeaderBytes - 4))) {
    problem = "header checksum mismatch";
    return std::nullopt;
  }
  return header;
}

std::vector<std::byte> readWhole(const fs::path& path, std::string& problem) {
  util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    problem = errno == ENOENT ? "missing" : std::strerror(errno);
    return {};
  }
  struct stat status;
  if (::fstat(fd.get(), &status) != 0 || !S_ISREG(status.st_mode) ||
      static_cast<std::uint64_t>(status.st_size) > kMaxIndexBytes) {
    problem = "not a regular file of plausible size";
    return {};
  }
  std::vector<std::byte> bytes(static_cast<std::size_t>(status.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t got = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    done += static_cast<std::size_t>(got);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace

bool BlockSummary::mayContain(std::uint64_t keyHash) const noexcept {
  if (bloom.empty()) return false;
  for (BloomBits bit(keyHash, bloom.size() * 64); bit.index < hashes; bit.next()) {
    if ((bloom[bit.bit / 64] & (std::uint64_t{1} << (bit.bit % 64))) == 0) return false;
  }
  return true;
}

fs::path indexPathFor(const fs::path& pcapPath) {
  return fs::path(pcapPath.string() + kIndexSuffix);
}

void DistinctKeys::insert(std::uint64_t keyHash) {
  if (keyHash == 0) {
    if (!zero_) keys_.push_back(0);
    zero_ = true;
    return;
  }
  if ((keys_.size() + 1) * 2 > slots_.size()) grow();
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t slot = keyHash & mask;; slot = (slot + 1) & mask) {
    if (slots_[slot] == keyHash) return;
    if (slots_[slot] == 0) {
      slots_[slot] = keyHash;
      keys_.push_back(keyHash);
      return;
    }
  }
}

void DistinctKeys::grow() {
  slots_.assign(std::max<std::size_t>(1024, slots_.size() * 2), 0);
  const std::size_t mask = slots_.size() - 1;
  for (const auto key : keys_) {
    if (key == 0) continue;
    std::size_t slot = key & mask;
    while (slots_[slot] != 0) slot = (slot + 1) & mask;
    slots_[slot] = key;
  }
}

void DistinctKeys::clear() {
  keys_.clear();
  std::fill(slots_.begin(), slots_.end(), 0);
  zero_ = false;
}

void BlockBuilder::add(std::uint64_t offset, std::uint64_t storedBytes, std::uint64_t timeNs,
                       std::span<const std::byte> data) {
  KeyCollector collector(keys_);
  addRecord(offset, storedBytes, timeNs, extractKeys(data, collector));
}

void BlockBuilder::addRecord(std::uint64_t offset, std::uint64_t storedBytes, std::uint64_t timeNs,
                             std::uint32_t flags) {
  if (block_.records == 0) {
    block_.offset = offset;
    block_.minTimeNs = block_.maxTimeNs = timeNs;
  }
  block_.minTimeNs = std::min(block_.minTimeNs, timeNs);
  block_.maxTimeNs = std::max(block_.maxTimeNs, timeNs);
  block_.flags |= flags;
  ++block_.records;
  block_.endOffset = offset + storedBytes;
}

BlockSummary BlockBuilder::finish() {
  fillBloom(block_, keys_.keys());
  keys_.clear();
  BlockSummary done = std::move(block_);
  block_ = BlockSummary{};
  return done;
}

FileIndex buildIndex(int fd, const PcapFileInfo& info, std::uint64_t fileBytes) {
  return buildIndex(readerOf(fd), info, fileBytes);
}

FileIndex buildIndex(const ReadAt& read, const PcapFileInfo& info, std::uint64_t fileBytes) {
  FileIndex index;
  index.header.pcapHeader = info.rawHeader;
  index.header.minTimeNs = UINT64_MAX;
  RecordReader reader(read, info, sizeof(pcap::FileHeader), fileBytes);
  BlockBuilder builder;
  const auto close = [&] {
    if (builder.records() == 0) return;
    index.blocks.push_back(builder.finish());
    index.header.flags |= index.blocks.back().flags;
  };
  while (const auto record = reader.next()) {
    builder.add(record->offset, record->stored.size(), record->timeNs, record->data);
    index.header.minTimeNs = std::min(index.header.minTimeNs, record->timeNs);
    index.header.maxTimeNs = std::max(index.header.maxTimeNs, record->timeNs);
    ++index.header.records;
    if (builder.records() >= kBlockRecords || builder.bytes() >= kBlockBytes) close();
  }
  close();
  index.header.pcapBytes = reader.position();
  if (index.header.records == 0) index.header.minTimeNs = 0;
  index.header.blockCount = static_cast<std::uint32_t>(index.blocks.size());
  return index;
}

std::vector<std::byte> serialize(const FileIndex& index) {
  Writer body;
  for (const auto& block : index.blocks) {
    body.u64(block.offset);
    body.u64(block.endOffset);
    body.u64(block.minTimeNs);
    body.u64(block.maxTimeNs);
    body.u32(block.records);
    body.u32(block.flags);
    body.u32(static_cast<std::uint32_t>(block.bloom.size()));
    body.u8(block.hashes);
    body.u8(0);
    body.u8(0);
    body.u8(0);
    for (const auto word : block.bloom) body.u64(word);
  }
  IndexHeader header = index.header;
  header.blockCount = static_cast<std::uint32_t>(index.blocks.size());
  header.bodyBytes = static_cast<std::uint32_t>(body.bytes().size());
  header.bodyCrc = crc32(body.bytes());
  auto bytes = serializeHeader(header);
  bytes.insert(bytes.end(), body.bytes().begin(), body.bytes().end());
  return bytes;
}

bool describes(const IndexHeader& header, const PcapFileInfo& info, std::uint64_t fileBytes) {
  return header.pcapBytes == fileBytes && header.pcapHeader == info.rawHeader;
}

std::optional<IndexHeader> readIndexHeader(const fs::path& indexPath, std::string& problem) {
  util::UniqueFd fd(::open(indexPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    problem = errno == ENOENT ? "missing" : std::strerror(errno);
    return std::nullopt;
  }
  std::array<std::byte, kHeaderBytes> bytes;
  const ssize_t got = ::pread(fd.get(), bytes.data(), bytes.size(), 0);
  if (got != static_cast<ssize_t>(bytes.size())) {
    problem = "shorter than an index header";
    return std::nullopt;
  }
  return parseHeader(bytes, problem);
}

std::optional<FileIndex> readIndex(const fs::path& indexPath, std::string& problem) {
  const auto bytes = readWhole(indexPath, problem);
  if (!problem.empty()) return std::nullopt;
  auto header = parseHeader(bytes, problem);
  if (!header) return std::nullopt;
  if (header->version != kFormatVersion) {
    problem = "index format version " + std::to_string(header->version) +
              " (without the keys of fields captured in part), this build reads " +
              std::to_string(kFormatVersion);
    return std::nullopt;
  }
  const std::span<const std::byte> body = std::span(bytes).subspan(kHeaderBytes);
  if (body.size() != header->bodyBytes || crc32(body) != header->bodyCrc) {
    problem = "body checksum mismatch or truncated";
    return std::nullopt;
  }
  FileIndex index;
  index.header = *header;
  Reader in(body);
  for (std::uint32_t i = 0; i < header->blockCount; ++i) {
    if (!in.has(kBlockHeaderBytes)) {
      problem = "fewer blocks than the header says";
      return std::nullopt;
    }
    BlockSummary block;
    block.offset = in.u64();
    block.endOffset = in.u64();
    block.minTimeNs = in.u64();
    block.maxTimeNs = in.u64();
    block.records = in.u32();
    block.flags = in.u32();
    const std::uint32_t words = in.u32();
    block.hashes = in.u8();
    in.skip(3);
    if (!in.has(std::size_t{words} * 8) || block.endOffset < block.offset ||
        block.endOffset > header->pcapBytes) {
      problem = "block " + std::to_string(i) + " is inconsistent";
      return std::nullopt;
    }
    block.bloom.resize(words);
    for (auto& word : block.bloom) word = in.u64();
    index.blocks.push_back(std::move(block));
  }
  return index;
}

void writeIndex(const fs::path& indexPath, const FileIndex& index, unsigned mode) {
  const auto bytes = serialize(index);
  // Built step by step: GCC 12 at -O3 warns (-Wrestrict, a false positive) on "." + string.
  std::string hidden = ".";
  hidden += indexPath.filename().string();
  hidden += ".XXXXXX";
  std::string temporary = (indexPath.parent_path() / hidden).string();
  util::UniqueFd fd(::mkostemp(temporary.data(), O_CLOEXEC));
  if (!fd.valid()) throwErrno("cannot create a temporary file beside " + indexPath.string());
  try {
    if (::fchmod(fd.get(), mode) != 0) throwErrno("chmod " + temporary);
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t wrote = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote < 0) throwErrno("write " + temporary);
      done += static_cast<std::size_t>(wrote);
    }
    if (::rename(temporary.c_str(), indexPath.c_str()) != 0) {
      throwErrno("rename to " + indexPath.string());
    }
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
}

FileIndex indexFile(const fs::path& pcapPath) {
  util::UniqueFd fd(::open(pcapPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) throwErrno("open " + pcapPath.string());
  std::string problem;
  const auto info = readPcapHeader(fd.get(), problem);
  if (!info) throw std::runtime_error(pcapPath.string() + ": " + problem);
  struct stat status;
  if (::fstat(fd.get(), &status) != 0) throwErrno("stat " + pcapPath.string());
  auto index = buildIndex(fd.get(), *info, static_cast<std::uint64_t>(status.st_size));
  writeIndex(indexPathFor(pcapPath), index, status.st_mode & 0666);
  return index;
}

std::uint32_t crc32(std::span<const std::byte> bytes, std::uint32_t crc) noexcept {
  static constexpr auto kTable = [] {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t value = i;
      for (int bit = 0; bit < 8; ++bit) value = (value >> 1) ^ ((value & 1) ? 0xEDB88320u : 0);
      table[i] = value;
    }
    return table;
  }();
  crc = ~crc;
  for (const auto byte : bytes) {
    crc = kTable[(crc ^ std::to_integer<std::uint32_t>(byte)) & 0xff] ^ (crc >> 8);
  }
  return ~crc;
}

}  // namespace pcap_recorder::index
