#include "extract.hpp"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <queue>
#include <set>
#include <system_error>

#include "pcap_recorder/compress/decompressor.hpp"
#include "pcap_recorder/compress/seekable.hpp"
#include "pcap_recorder/index/block_query.hpp"
#include "pcap_recorder/index/file_index.hpp"
#include "pcap_recorder/pcap/file_writer.hpp"
#include "pcap_recorder/pcap/repair.hpp"
#include "pcap_recorder/rotation/file_naming.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::ctl {

namespace {

namespace fs = std::filesystem;
using index::BlockQuery;
using index::FileIndex;
using index::PcapFileInfo;

constexpr std::size_t kOutputBufferBytes = 1u << 20;
constexpr std::uint64_t kNoLimit = UINT64_MAX;

// The filter compiled by libpcap exactly as `tcpdump -r` compiles it for an Ethernet file.
class CompiledFilter {
 public:
  explicit CompiledFilter(const std::string& expression) {
    if (expression.empty()) return;
    std::unique_ptr<pcap_t, decltype(&pcap_close)> dead(
        pcap_open_dead(DLT_EN10MB, static_cast<int>(pcap::kMaxSnaplen)), &pcap_close);
    if (!dead) throw ExtractError("libpcap: cannot compile filters");
    if (pcap_compile(dead.get(), &program_, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      throw ExtractError("invalid filter: " + std::string(pcap_geterr(dead.get())));
    }
    compiled_ = true;
  }
  ~CompiledFilter() {
    if (compiled_) pcap_freecode(&program_);
  }
  CompiledFilter(const CompiledFilter&) = delete;
  CompiledFilter& operator=(const CompiledFilter&) = delete;

  bool matches(const index::RecordView& record) const {
    if (!compiled_) return true;
    pcap_pkthdr header{};
    header.caplen = record.header.includedLength;
    header.len = record.header.originalLength;
    return pcap_offline_filter(&program_, &header,
                               reinterpret_cast<const u_char*>(record.data.data())) != 0;
  }

 private:
  bpf_program program_{};
  bool compiled_ = false;
};

struct Window {
  std::uint64_t since = 0;
  std::uint64_t until = kNoLimit;
  bool contains(std::uint64_t timeNs) const { return timeNs >= since && timeNs < until; }
  bool overlaps(std::uint64_t first, std::uint64_t last) const {
    return last >= since && first < until;
  }
};

Window windowOf(const ExtractRequest& request) {
  Window window;
  if (request.sinceNs)
    window.since = static_cast<std::uint64_t>(std::max<std::int64_t>(0, *request.sinceNs));
  if (request.untilNs)
    window.until = static_cast<std::uint64_t>(std::max<std::int64_t>(0, *request.untilNs));
  return window;
}

struct Range {
  std::uint64_t begin;
  std::uint64_t end;
};

// One file of the query: opened once, so a rename or deletion meanwhile changes nothing.
struct Source {
  explicit Source(ExtractReport& report) : report(report) {}
  ~Source() { close(); }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  ExtractReport& report;
  StoreFile file;
  util::UniqueFd fd;
  // `read` reads `fd`, or a seekable .zst file's uncompressed bytes through `seekable`, or those
  // of another compressed file (gzip) from a decompressed `copy`.
  std::unique_ptr<compress::SeekableReader> seekable;
  util::UniqueFd copy;
  index::ReadAt read;
  PcapFileInfo info;
  std::uint64_t bytes = 0;
  std::uint64_t minTimeNs = 0;     // from the index; 0 for a `.part` file (read first)
  std::optional<FileIndex> index;  // kept when just built
  // A compressed file whose decompressed copy is made only when the merge reaches it, chosen by
  // the header of its index (the pcap header and time range in `info`, `minTimeNs`).
  bool copyDeferred = false;
  index::IndexHeader deferredBy;  // that header
  std::size_t order = 0;

  std::vector<Range> ranges;
  std::size_t nextRange = 0;
  std::optional<index::RecordReader> reader;
  std::optional<index::RecordView> head;

  // Done with the file: its fds and buffers go, what its decompression read goes to the report.
  void close() {
    reader.reset();
    if (seekable) {
      report.bytesRead += seekable->storedBytesRead();
      report.framesDecompressed += seekable->framesDecompressed();
      seekable.reset();
    }
    copy.reset();
    fd.reset();
  }
};

class Output {
 public:
  explicit Output(int fd) : fd_(fd) { buffer_.reserve(kOutputBufferBytes); }
  void append(const void* data, std::size_t count) {
    if (buffer_.size() + count > kOutputBufferBytes) flush();
    const auto* bytes = static_cast<const std::byte*>(data);
    buffer_.insert(buffer_.end(), bytes, bytes + count);
  }
  void flush() {
    std::size_t done = 0;
    while (done < buffer_.size()) {
      const ssize_t wrote = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote < 0) {
        throw ExtractError(errno == EPIPE
                               ? "the output was closed before the end"
                               : std::string("cannot write the output: ") + std::strerror(errno));
      }
      done += static_cast<std::size_t>(wrote);
    }
    buffer_.clear();
  }

 private:
  int fd_;
  std::vector<std::byte> buffer_;
};

// The uncompressed bytes of a compressed file, in an unnamed temporary file (gone when closed)
// under $TMPDIR, that the index and the record reader then read as they read any pcap.
// Only for files without a seek table (gzip; a .zst from elsewhere): a seekable .zst is read in
// place, frame by frame (openCompressed).
util::UniqueFd decompressedCopy(int fd, compress::Compression compression, std::uint64_t& bytes) {
  const char* directory = std::getenv("TMPDIR");
  if (directory == nullptr || *directory == '\0') directory = "/tmp";
  util::UniqueFd copy(::open(directory, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!copy.valid()) copy.reset(::memfd_create("pcap-recorderctl-extract", MFD_CLOEXEC));
  if (!copy.valid()) {
    throw std::system_error(errno, std::generic_category(), "cannot create a temporary file");
  }
  bytes = compress::decompressAll(fd, compression, copy.get());
  return copy;
}

// How the uncompressed bytes of the file behind `fd` (`bytes` long as stored) are read: by pread,
// through its seek table (`seekable`), or from a decompressed copy (`copy`). `bytes` becomes the
// uncompressed size; `storedBytesCopied` grows by the bytes read to make a copy.
index::ReadAt openCompressed(int fd, const std::string& name, std::uint64_t& bytes,
                             compress::FrameDecoder& decoder,
                             std::unique_ptr<compress::SeekableReader>& seekable,
                             util::UniqueFd& copy, std::uint64_t& storedBytesCopied) {
  const auto compression = compress::compressionOfName(name);
  if (compression == compress::Compression::zstd) {
    std::string noTable;
    if (auto table = compress::readSeekTable(fd, bytes, noTable)) {
      seekable = std::make_unique<compress::SeekableReader>(fd, std::move(*table), decoder);
      bytes = seekable->size();
      return [reader = seekable.get()](std::span<std::byte> into, std::uint64_t offset) {
        return reader->readAt(into, offset);
      };
    }
  }
  if (compression != compress::Compression::none) {
    storedBytesCopied += bytes;
    copy = decompressedCopy(fd, compression, bytes);
    return index::readerOf(copy.get());
  }
  return index::readerOf(fd);
}

// Opens the listed `file`, or where it went after it was listed: a `.part` finished meanwhile is
// under its final name, and a finished file compressed meanwhile (output.compression) under that
// name and the compression's suffix; `file` then names it. errno tells why not.
util::UniqueFd openWhereItWent(StoreFile& file) {
  util::UniqueFd fd(::open(file.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.valid() || errno != ENOENT) return fd;
  if (file.part) {
    file.path.replace_extension();
    file.part = false;
    fd.reset(::open(file.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.valid() || errno != ENOENT) return fd;
  }
  if (compress::compressionOfName(file.path.filename().string()) != compress::Compression::none) {
    errno = ENOENT;
    return fd;
  }
  for (const auto suffix : rotation::kCompressionSuffixes) {
    const std::filesystem::path compressed = file.path.string() + std::string(suffix);
    fd.reset(::open(compressed.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.valid()) {
      file.path = compressed;
      return fd;
    }
  }
  errno = ENOENT;
  return fd;
}

// Whether the compressed file behind `fd` is read through a decompressed copy: gzip, or a .zst
// without a seek table (one from elsewhere).
bool readThroughACopy(int fd, const std::string& name, std::uint64_t bytes) {
  const auto compression = compress::compressionOfName(name);
  if (compression == compress::Compression::none) return false;
  std::string noTable;
  return compression != compress::Compression::zstd || !compress::readSeekTable(fd, bytes, noTable);
}

// The pcap header as an index header keeps it.
std::optional<PcapFileInfo> pcapHeaderOf(const index::IndexHeader& header) {
  const auto raw = header.pcapHeader;
  const index::ReadAt fromHeader = [&raw](std::span<std::byte> into, std::uint64_t offset) {
    if (offset >= raw.size()) return std::size_t{0};
    const std::size_t count = std::min<std::size_t>(into.size(), raw.size() - offset);
    std::memcpy(into.data(), raw.data() + offset, count);
    return count;
  };
  std::string problem;
  return index::readPcapHeader(fromHeader, problem);
}

class Extraction {
 public:
  Extraction(const ExtractRequest& request, ExtractReport& report)
      : window_(windowOf(request)),
        filter_(request.filter),
        query_(request.filter),
        report_(report),
        output_(request.outputFd) {}

  void run(const std::vector<StoreFile>& files) {
    open(files);
    writeHeader();
    merge();
    output_.flush();
    sources_.clear();  // their decompression counts go to the report
  }

 private:
  void problem(const std::string& text) { report_.problems.push_back(text); }

  // Opens each file, checks its header, reads (or builds) its index header, and keeps the files
  // whose time range meets the window.
  void open(const std::vector<StoreFile>& files) {
    std::set<std::pair<dev_t, ino_t>> seen;
    for (const auto& file : files) {
      ++report_.files;
      auto source = std::make_unique<Source>(report_);
      source->file = file;
      source->fd = openWhereItWent(source->file);
      if (!source->fd.valid()) {
        if (errno == ENOENT) {
          ++report_.filesVanished;  // retention deleted it
        } else {
          problem(file.path.string() + ": " + std::strerror(errno));
        }
        continue;
      }
      struct stat status;
      if (::fstat(source->fd.get(), &status) != 0 ||
          !seen.insert({status.st_dev, status.st_ino}).second) {
        continue;  // listed twice (renamed while the directory was read)
      }
      source->bytes = static_cast<std::uint64_t>(status.st_size);
      std::string headerProblem;
      try {
        if (!source->file.part &&
            readThroughACopy(source->fd.get(), source->file.path.filename().string(),
                             source->bytes)) {
          const auto deferred = deferCopy(*source);
          if (deferred == Deferred::outside) continue;
          if (deferred == Deferred::yes) {
            source->order = sources_.size();
            sources_.push_back(std::move(source));
            continue;
          }
        }
        source->read =
            openCompressed(source->fd.get(), source->file.path.filename().string(), source->bytes,
                           decoder_, source->seekable, source->copy, report_.bytesRead);
        auto info = index::readPcapHeader(source->read, headerProblem);
        if (!info) {
          // A `.part` file may not have its header yet.
          if (!source->file.part) problem(source->file.path.string() + ": " + headerProblem);
          continue;
        }
        source->info = *info;
        if (!source->file.part && !selectFinished(*source)) continue;
      } catch (const std::exception& error) {
        problem(source->file.path.string() + ": " + error.what());
        report_.failed = true;
        continue;
      }
      source->order = sources_.size();
      sources_.push_back(std::move(source));
    }
  }

  enum class Deferred { no, outside, yes };
  // A finished file read through a decompressed copy: decompressing it whole (seconds per GiB of
  // gzip) only to learn it is outside the window, or to hold it while the merge reaches it, would
  // make every query cost the whole store. Its index's header says whether it meets the window
  // and gives its pcap header; the copy is made in activate(), which checks that header against
  // it. `no`: no readable index header, the copy is made now (to build the index).
  Deferred deferCopy(Source& source) {
    std::string problem;
    const auto header = index::readIndexHeader(index::indexPathFor(source.file.path), problem);
    if (!header) return Deferred::no;
    report_.bytesRead += 96;
    const auto info = pcapHeaderOf(*header);
    if (!info) return Deferred::no;
    if (header->records == 0 || !window_.overlaps(header->minTimeNs, header->maxTimeNs)) {
      ++report_.filesOutside;
      return Deferred::outside;
    }
    source.info = *info;
    source.minTimeNs = header->minTimeNs;
    source.copyDeferred = true;
    source.deferredBy = *header;
    return Deferred::yes;
  }

  // The decompressed copy deferCopy() put off, now that the merge reached the file.
  void makeDeferredCopy(Source& source) {
    source.copyDeferred = false;
    source.read =
        openCompressed(source.fd.get(), source.file.path.filename().string(), source.bytes,
                       decoder_, source.seekable, source.copy, report_.bytesRead);
    std::string headerProblem;
    const auto info = index::readPcapHeader(source.read, headerProblem);
    if (!info) throw std::runtime_error(headerProblem);
    if (info->rawHeader != source.info.rawHeader) {
      // The output's header was chosen by the index's: it no longer describes the file.
      throw std::runtime_error(
          "its index describes another file (pcap-recorderctl index "
          "rebuilds it)");
    }
    if (!index::describes(source.deferredBy, *info, source.bytes)) {
      // Its time range placed the file in the merge, and may have left out others like it: said,
      // so the answer is not taken for whole. Its records are read all the same (activate()
      // rebuilds its index).
      problem(source.file.path.string() +
              ": its index describes another file, so the answer may miss packets of such "
              "files or give them out of time order (pcap-recorderctl index rebuilds them)");
    }
  }

  // Whether the finished file meets the window, by its index (built now if missing or damaged).
  bool selectFinished(Source& source) {
    const auto indexPath = index::indexPathFor(source.file.path);
    std::string indexProblem;
    auto header = index::readIndexHeader(indexPath, indexProblem);
    report_.bytesRead += 96;
    if (!header || !index::describes(*header, source.info, source.bytes)) {
      source.index = rebuild(source);
      header = source.index->header;
    }
    if (header->records == 0 || !window_.overlaps(header->minTimeNs, header->maxTimeNs)) {
      ++report_.filesOutside;
      return false;
    }
    source.minTimeNs = header->minTimeNs;
    return true;
  }

  FileIndex rebuild(Source& source) {
    auto built = index::buildIndex(source.read, source.info, source.bytes);
    ++report_.indexesBuilt;
    if (!source.seekable) report_.bytesRead += source.bytes;
    try {
      // Saved for the next query when the directory lets us (it need not: readers may not write).
      struct stat status;
      if (::fstat(source.fd.get(), &status) == 0 && status.st_nlink > 0) {
        index::writeIndex(index::indexPathFor(source.file.path), built, status.st_mode & 0666);
      }
    } catch (const std::exception& error) {
      if (!savingRefused_) problem(std::string("index not saved: ") + error.what());
      savingRefused_ = true;
    }
    return built;
  }

  void writeHeader() {
    bool nanoseconds = false;
    std::uint32_t snaplen = 0;
    for (const auto& source : sources_) {
      nanoseconds = nanoseconds || source->info.nanoseconds;
      snaplen = std::max(snaplen, source->info.header.snaplen);
    }
    nanoseconds_ = nanoseconds;
    const auto header = pcap::makeFileHeader(
        nanoseconds ? pcap::TimestampUnit::nanoseconds : pcap::TimestampUnit::microseconds,
        snaplen == 0 ? config::kMaxSnaplen : snaplen);
    output_.append(&header, sizeof header);
  }

  // Reads the index (rebuilding it when damaged) and keeps the blocks that may match.
  void activate(Source& source) {
    if (source.copyDeferred) makeDeferredCopy(source);
    if (source.file.part) {
      struct stat status;
      // The flushed part as it is now; records written later belong to a later query.
      const std::uint64_t end = ::fstat(source.fd.get(), &status) == 0
                                    ? static_cast<std::uint64_t>(status.st_size)
                                    : source.bytes;
      source.ranges.push_back({sizeof(pcap::FileHeader), end});
      ++report_.blocksSearched;
    } else {
      if (!source.index) {
        std::string indexProblem;
        source.index = index::readIndex(index::indexPathFor(source.file.path), indexProblem);
        if (source.index) report_.bytesRead += 96 + source.index->header.bodyBytes;
        if (!source.index || !index::describes(source.index->header, source.info, source.bytes)) {
          source.index = rebuild(source);
        }
      }
      for (const auto& block : source.index->blocks) {
        if (!window_.overlaps(block.minTimeNs, block.maxTimeNs)) continue;
        if (!query_.mayMatch(block)) {
          ++report_.blocksSkipped;
          continue;
        }
        ++report_.blocksSearched;
        if (!source.ranges.empty() && source.ranges.back().end == block.offset) {
          source.ranges.back().end = block.endOffset;
        } else {
          source.ranges.push_back({block.offset, block.endOffset});
        }
      }
      source.index.reset();
    }
    if (!source.seekable) {
      for (const auto& range : source.ranges) report_.bytesRead += range.end - range.begin;
    }
    advance(source);
  }

  // Moves `source.head` to its next matching record, or clears it.
  void advance(Source& source) {
    source.head.reset();
    try {
      for (;;) {
        if (!source.reader) {
          if (source.nextRange == source.ranges.size()) return;
          const auto& range = source.ranges[source.nextRange++];
          source.reader.emplace(source.read, source.info, range.begin, range.end);
        }
        while (auto record = source.reader->next()) {
          if (window_.contains(record->timeNs) && filter_.matches(*record)) {
            source.head = record;
            return;
          }
        }
        source.reader.reset();
      }
    } catch (const std::exception& error) {
      problem(source.file.path.string() + ": " + error.what());
      report_.failed = true;
      source.head.reset();
    }
  }

  void write(const Source& source) {
    const auto& record = *source.head;
    pcap::RecordHeader header = record.header;
    if (nanoseconds_ && !source.info.nanoseconds) header.fraction *= 1000;
    output_.append(&header, sizeof header);
    output_.append(record.data.data(), record.data.size());
    ++report_.packets;
  }

  // A k-way merge by timestamp (ties: the file first in path order, as mergecap takes its inputs
  // in order). A file joins only once the merge reaches its first timestamp, so only the files
  // overlapping in time hold buffers at once.
  void merge() {
    std::vector<Source*> pending;
    for (const auto& source : sources_) pending.push_back(source.get());
    std::stable_sort(pending.begin(), pending.end(),
                     [](const Source* a, const Source* b) { return a->minTimeNs < b->minTimeNs; });
    const auto later = [](const Source* a, const Source* b) {
      if (a->head->timeNs != b->head->timeNs) return a->head->timeNs > b->head->timeNs;
      return a->order > b->order;
    };
    std::priority_queue<Source*, std::vector<Source*>, decltype(later)> heads(later);
    std::size_t nextPending = 0;
    for (;;) {
      while (nextPending < pending.size() &&
             (heads.empty() || pending[nextPending]->minTimeNs <= heads.top()->head->timeNs)) {
        Source* source = pending[nextPending++];
        try {
          activate(*source);
        } catch (const std::exception& error) {
          problem(source->file.path.string() + ": " + error.what());
          report_.failed = true;
          continue;
        }
        if (source->head) heads.push(source);
      }
      if (heads.empty()) break;
      Source* source = heads.top();
      heads.pop();
      write(*source);
      advance(*source);
      if (source->head)
        heads.push(source);
      else
        source->close();
    }
  }

  Window window_;
  compress::FrameDecoder decoder_;  // before sources_, which use it
  CompiledFilter filter_;
  BlockQuery query_;
  ExtractReport& report_;
  Output output_;
  std::vector<std::unique_ptr<Source>> sources_;
  bool nanoseconds_ = false;
  bool savingRefused_ = false;
};

}  // namespace

ExtractReport extract(const std::vector<StoreFile>& files, const ExtractRequest& request) {
  ExtractReport report;
  Extraction extraction(request, report);
  extraction.run(files);
  return report;
}

IndexReport indexStore(const std::vector<StoreFile>& files) {
  IndexReport report;
  compress::FrameDecoder decoder;
  for (const auto& file : files) {
    if (file.part) continue;
    try {
      util::UniqueFd fd(::open(file.path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd.valid()) {
        if (errno != ENOENT)
          report.problems.push_back(file.path.string() + ": " + std::strerror(errno));
        continue;
      }
      struct stat status;
      if (::fstat(fd.get(), &status) != 0) continue;
      auto bytes = static_cast<std::uint64_t>(status.st_size);
      // A compressed file's index describes its uncompressed bytes.
      std::unique_ptr<compress::SeekableReader> seekable;
      std::uint64_t copied = 0;
      util::UniqueFd copy;
      const auto read = openCompressed(fd.get(), file.path.filename().string(), bytes, decoder,
                                       seekable, copy, copied);
      std::string problem;
      const auto info = index::readPcapHeader(read, problem);
      if (!info) {
        report.problems.push_back(file.path.string() + ": " + problem);
        continue;
      }
      const auto indexPath = index::indexPathFor(file.path);
      std::string indexProblem;
      const auto current = index::readIndex(indexPath, indexProblem);
      if (current && index::describes(current->header, *info, bytes)) {
        ++report.upToDate;
        continue;
      }
      index::writeIndex(indexPath, index::buildIndex(read, *info, bytes), status.st_mode & 0666);
      ++report.indexed;
    } catch (const std::exception& error) {
      report.problems.push_back(file.path.string() + ": " + error.what());
    }
  }
  return report;
}

}  // namespace pcap_recorder::ctl
