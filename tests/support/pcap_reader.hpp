// Reading a pcap file back with libpcap, the way every downstream tool will.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace pcap_recorder::testing {

struct ReadRecord {
  std::uint32_t seconds = 0;
  std::uint32_t fraction = 0;  // in the file's unit
  std::uint32_t includedLength = 0;
  std::uint32_t originalLength = 0;
  std::vector<std::byte> data;
};

struct ReadFile {
  std::uint32_t magic = 0;  // as stored, host order
  std::uint32_t snaplen = 0;
  int linkType = 0;
  std::vector<ReadRecord> records;
};

// Reads the whole file with pcap_open_offline (in the file's own timestamp precision); fails the
// calling test (ADD_FAILURE) and returns what it read when libpcap reports an error.
ReadFile readPcapFile(const std::filesystem::path& path);

}  // namespace pcap_recorder::testing
