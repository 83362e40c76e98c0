#include "support/pcap_reader.hpp"

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <cstring>
#include <fstream>
#include <memory>

namespace pcap_recorder::testing {

ReadFile readPcapFile(const std::filesystem::path& path) {
  ReadFile out;
  {
    std::ifstream raw(path, std::ios::binary);
    raw.read(reinterpret_cast<char*>(&out.magic), sizeof out.magic);
  }
  const bool nano = out.magic == 0xA1B23C4D;
  char error[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, decltype(&pcap_close)> handle(
      pcap_open_offline_with_tstamp_precision(
          path.c_str(), nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO, error),
      &pcap_close);
  if (!handle) {
    ADD_FAILURE() << "libpcap cannot open " << path << ": " << error;
    return out;
  }
  out.snaplen = static_cast<std::uint32_t>(pcap_snapshot(handle.get()));
  out.linkType = pcap_datalink(handle.get());
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int status;
  while ((status = pcap_next_ex(handle.get(), &header, &data)) == 1) {
    ReadRecord record;
    record.seconds = static_cast<std::uint32_t>(header->ts.tv_sec);
    record.fraction = static_cast<std::uint32_t>(header->ts.tv_usec);
    record.includedLength = header->caplen;
    record.originalLength = header->len;
    record.data.resize(header->caplen);
    std::memcpy(record.data.data(), data, header->caplen);
    out.records.push_back(std::move(record));
  }
  if (status == PCAP_ERROR) {
    ADD_FAILURE() << "libpcap error reading " << path << ": " << pcap_geterr(handle.get());
  }
  return out;
}

}  // namespace pcap_recorder::testing
