#include "pcap_recorder/util/system_error.hpp"

#include <cerrno>

namespace pcap_recorder::util {

void throwErrno(const std::string& what) {
  throwErrno(errno, what);
}

void throwErrno(int errnoValue, const std::string& what) {
  throw std::system_error(errnoValue, std::generic_category(), what);
}

int checked(int result, const std::string& what) {
  if (result < 0) throwErrno(what);
  return result;
}

}  // namespace pcap_recorder::util
