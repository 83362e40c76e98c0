// TZ set for the scope of a test, and put back after it (a POSIX rule such as "EST5EDT" needs no
// time zone database).
#pragma once

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

namespace pcap_recorder::testing {

class TimeZone {
 public:
  explicit TimeZone(const char* rule) {
    if (const char* before = std::getenv("TZ")) before_ = before;
    ::setenv("TZ", rule, 1);
    ::tzset();
  }
  ~TimeZone() {
    if (before_) {
      ::setenv("TZ", before_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  TimeZone(const TimeZone&) = delete;
  TimeZone& operator=(const TimeZone&) = delete;

 private:
  std::optional<std::string> before_;
};

}  // namespace pcap_recorder::testing
