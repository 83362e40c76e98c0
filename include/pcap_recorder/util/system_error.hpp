// Turning a failed system call into an exception that says what was being done.
#pragma once

#include <string>
#include <system_error>

namespace pcap_recorder::util {

// std::system_error for the current errno: "<what>: <strerror>".
[[noreturn]] void throwErrno(const std::string& what);

// Same for an errno value already saved.
[[noreturn]] void throwErrno(int errnoValue, const std::string& what);

// Returns `result`, or throws for errno when it is negative.
int checked(int result, const std::string& what);

}  // namespace pcap_recorder::util
