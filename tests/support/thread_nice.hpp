// The nice value of the calling thread, as the kernel has it (per thread on Linux), for tests
// that check which thread runs below which.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

namespace pcap_recorder::testing {

inline int niceOfThisThread() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
}

}  // namespace pcap_recorder::testing
