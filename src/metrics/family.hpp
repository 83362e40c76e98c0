// A metric family of the Prometheus text format and the "# HELP"/"# TYPE" lines that introduce
// it; shared by the recorder's text and the shipper's. Private to the metrics module.
#pragma once

#include <string>

namespace pcap_recorder::metrics::detail {

struct Family {
  const char* name;
  const char* type;
  const char* help;
};

inline void writeHeader(std::string& out, const Family& family) {
  out += "# HELP ";
  out += family.name;
  out += ' ';
  out += family.help;
  out += "\n# TYPE ";
  out += family.name;
  out += ' ';
  out += family.type;
  out += '\n';
}

}  // namespace pcap_recorder::metrics::detail
