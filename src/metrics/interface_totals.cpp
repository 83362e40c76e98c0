#include "pcap_recorder/metrics/interface_totals.hpp"

#include <algorithm>

namespace pcap_recorder::metrics {

namespace {

void add(stats::InterfaceStats& sum, const stats::InterfaceStats& more) {
  sum.packetsReceived += more.packetsReceived;
  sum.kernelDrops += more.kernelDrops;
  sum.packetsWritten += more.packetsWritten;
  sum.bytesWritten += more.bytesWritten;
  sum.packetsLostToDisk += more.packetsLostToDisk;
  sum.filesWritten += more.filesWritten;
  sum.filesWithoutSha256 += more.filesWithoutSha256;
}

void raiseTo(stats::InterfaceStats& floor, stats::InterfaceStats& value) {
  for (auto member :
       {&stats::InterfaceStats::packetsReceived, &stats::InterfaceStats::kernelDrops,
        &stats::InterfaceStats::packetsWritten, &stats::InterfaceStats::bytesWritten,
        &stats::InterfaceStats::packetsLostToDisk, &stats::InterfaceStats::filesWritten,
        &stats::InterfaceStats::filesWithoutSha256}) {
    value.*member = std::max(value.*member, floor.*member);
    floor.*member = value.*member;
  }
}

}  // namespace

void InterfaceTotals::attach(const std::string& interface,
                             std::shared_ptr<const stats::InterfaceCounters> counters) {
  if (counters) totals_[interface].live.push_back(std::move(counters));
}

stats::InterfaceStats InterfaceTotals::total(const std::string& interface) {
  auto& totals = totals_[interface];
  // Only this object holds a retired recorder's counters once the recorder and the callbacks of
  // its last files are gone: nothing can change them any more, so they fold into `retired`.
  auto& live = totals.live;
  for (auto each = live.begin(); each != live.end();) {
    if (each->use_count() == 1) {
      add(totals.retired, (*each)->snapshot());
      each = live.erase(each);
    } else {
      ++each;
    }
  }
  stats::InterfaceStats sum = totals.retired;
  for (const auto& counters : live) add(sum, counters->snapshot());
  raiseTo(totals.reported, sum);
  return sum;
}

}  // namespace pcap_recorder::metrics
