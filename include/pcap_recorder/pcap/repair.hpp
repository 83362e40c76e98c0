// Recovering the `.part` files a killed daemon left behind (kill -9, power loss, OOM killer).
//
// The writer only ever appends whole records, but the kernel may have put any prefix of what it
// was given on disk: the file can end inside a record header or inside record data, or (after a
// power loss on a journalling file system) carry a tail of zeros. Every downstream tool reports
// such a file as "cut short in the middle of a packet", and a `.part` file is invisible to
// whoever collects finished captures. So on start-up each `.part` file is cut back to its last
// complete record and renamed to its final name, exactly as PcapFileWriter::finish() would have.
//
// A file whose 24-byte header is not ours cannot be told apart from someone else's data, so it is
// never cut or removed: it is renamed aside as `<final name>.damaged` for a human to look at.
//
// The scan reads only the file header and each record header, never the whole file: capture files
// are 1 GiB and more, and start-up must not wait for (or allocate) that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "pcap_recorder/pcap/file_writer.hpp"
#include "pcap_recorder/pcap/format.hpp"
#include "pcap_recorder/rotation/file_naming.hpp"

namespace pcap_recorder::pcap {

// Largest snaplen a file header may declare: libpcap's largest (262144) plus one VLAN tag, which
// the writer puts back into frames the kernel captured at full snaplen.
inline constexpr std::uint32_t kMaxSnaplen = 262144 + kVlanTagBytes;
inline constexpr const char* kDamagedSuffix = rotation::kDamagedSuffix.data();

// Reads up to `into.size()` bytes at `offset`; returns how many it read, fewer only at the end of
// the file. Reports I/O errors by throwing; scanPcap() lets the exception through.
using ReadAt = std::function<std::size_t(std::uint64_t offset, std::span<std::byte> into)>;

// A ReadAt over the file `fd` (pread, retried on EINTR); an error throws std::system_error that
// names `name`, which must outlive the ReadAt.
ReadAt preadAt(int fd, const std::string& name);

struct ScanResult {
  bool headerValid = false;
  std::string headerProblem;  // why the header is not valid; empty when it is
  TimestampUnit unit = TimestampUnit::microseconds;
  bool byteSwapped = false;  // written on a host of the other byte order
  std::uint32_t snaplen = 0;
  // End of the last complete, plausible record: 24 for a file with a header and no record, 0 when
  // the header is not valid. Everything from here on is to be cut.
  std::uint64_t completeBytes = 0;
  std::uint64_t records = 0;  // complete records before completeBytes
  // Of the first and the last of those records (nanoseconds whatever the file's unit); zero when
  // there is none. For the sidecar and the log of a file finished by repair.
  Timestamp firstPacket;
  Timestamp lastPacket;
  std::string tailProblem;  // why the scan stopped before the end of the file; empty if it did not
};

// Walks the file header and the record headers of a file of `fileSize` bytes, skipping record
// data. A record counts when its data lies within the file, incl_len <= snaplen, incl_len <=
// orig_len, orig_len > 0 (no frame is empty on the wire; a zero-filled tail is not a record) and
// its fraction of a second is below one second in the file's unit. The first record that fails
// any of these ends the good part of the file. Files in either byte order are understood.
ScanResult scanPcap(const ReadAt& readAt, std::uint64_t fileSize);

// The same over a file already in memory (tests, small files).
ScanResult scanPcap(std::span<const std::byte> wholeFile);

enum class RepairOutcome {
  finished,  // cut back to its complete records (if needed) and renamed to its final name
  setAside,  // header damaged: renamed, byte for byte unchanged, to `<final name>.damaged`
  // Zero bytes long: created by a run killed before it wrote the file header (open and write are
  // two system calls), or emptied by a power loss. Removed: there is nothing in it to keep.
  removedEmpty,
  failed,  // not renamed; see errnoValue and message. The `.part` file is still there (perhaps
           // already cut), and repairing it again later is safe.
};

struct RepairResult {
  RepairOutcome outcome = RepairOutcome::failed;
  // Name the file now has, relative to the directory: the final name, or the final name with a
  // collision counter (nameWithSuffix), or for a set-aside file nameWithSuffix(final, n) +
  // ".damaged" ("x.pcap.damaged", then "x_1.pcap.damaged", ...). Empty when failed or removed.
  std::string finalName;
  std::uint64_t recordsKept = 0;
  std::uint64_t bytesKept = 0;  // file size after the repair
  std::uint64_t bytesCut = 0;   // what was cut off the end; 0 for a set-aside file
  Timestamp firstPacket;        // of the records kept (see ScanResult)
  Timestamp lastPacket;
  int errnoValue = 0;  // when failed
  // For the log: why it failed, why the header is damaged, or why the tail was cut.
  std::string message;
};

// Repairs `partName` (which must end in ".part" and name an entry of `directoryFd` itself) and
// renames it, never overwriting anything: renameat2(RENAME_NOREPLACE) to the name without
// ".part", then nameWithSuffix(name, 1), 2, ... A valid file is cut to ScanResult::completeBytes
// and fsynced before the rename; the directory is fsynced after it. A symlink or anything but a
// regular file is left alone (failed). A file of zero bytes is removed (removedEmpty). Running it
// again after it was interrupted is safe.
//
// Does not throw for damaged files or failed system calls: a start-up loop over many files wants
// to log each failure and go on, so every error is reported in the result (std::bad_alloc aside).
RepairResult repairPartFile(int directoryFd, const std::string& partName);

}  // namespace pcap_recorder::pcap
