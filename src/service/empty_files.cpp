#include "pcap_recorder/service/empty_files.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace pcap_recorder::service {

bool finishesClosedFile(std::uint64_t records, bool writeFailed, bool keepEmptyFiles) noexcept {
  return records > 0 || writeFailed || keepEmptyFiles;
}

bool removeIfEmpty(pcap::ClosedFile& file, bool writeFailed, bool keepEmptyFiles,
                   int directoryFd) noexcept {
  if (finishesClosedFile(file.summary().packets, writeFailed, keepEmptyFiles)) return false;
  const auto part = file.partName();
  // Nothing in it to keep durable: no fsync, and the descriptor closes with `file`.
  ::unlinkat(directoryFd, part.c_str(), 0);
  spdlog::debug("removed {}: no packets (output.keep_empty_files is off)", part);
  return true;
}

}  // namespace pcap_recorder::service
