// The call-site logging API: structured events on spdlog's default logger, the logger itself
// (journal under systemd, stderr otherwise) and a rate limiter for repeated warnings.
// No state of its own: the logger lives in spdlog's registry.
#pragma once

#include <spdlog/spdlog.h>

#include "pcap_recorder/logging/journal_sink.hpp"

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace pcap_recorder::logging {

// Logs `message` at `level` on spdlog's default logger. A JournalSink of that logger receives the
// fields too; every other sink gets the plain message, as from spdlog::info(). The message must
// read well on its own ("eth0: finished …: 81234 packets"): on stderr the fields are not shown.
// Never throws: a failing sink is reported on stderr.
void logEvent(spdlog::level::level_enum level, std::initializer_list<Field> fields,
              std::string message);

// The same with fmt formatting: logEvent(info, {{"INTERFACE", name}}, "{}: started", name).
template <typename First, typename... Rest>
void logEvent(spdlog::level::level_enum level, std::initializer_list<Field> fields,
              fmt::format_string<First, Rest...> format, First&& first, Rest&&... rest) {
  const spdlog::logger* logger = spdlog::default_logger_raw();
  if (logger == nullptr || !logger->should_log(level)) return;  // no formatting for nothing
  logEvent(level, fields,
           fmt::format(format, std::forward<First>(first), std::forward<Rest>(rest)...));
}

// True when stderr is connected to the journal: $JOURNAL_STREAM ("DEVICE:INODE", set by systemd
// for StandardError=journal) names the device and inode of fd 2 (sd-daemon's documented check;
// a child that inherited the variable but not the stream must not take it).
bool stderrIsJournal();
// The same check for any fd and value, for tests.
bool isJournalStream(const char* journalStream, int fd);

// The "pcap-recorderd" logger, not registered: a JournalSink when `journal`, otherwise stderr
// with "%Y-%m-%dT%H:%M:%S.%e %l: %v". Flushes on info. The daemon installs it with
// spdlog::set_default_logger(makeLogger(stderrIsJournal())).
std::shared_ptr<spdlog::logger> makeLogger(bool journal);

// At most one event per interval; counts the events it suppressed in between, so a warning such
// as kernel drops can say "(N more since)". Pure (time is passed in), not thread-safe: one per
// thread that warns.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateLimiter(Clock::duration interval) : interval_(interval) {}

  // The number suppressed since the last allowed event when this one may be logged (0 for the
  // first); nothing when it is suppressed (and counted).
  std::optional<std::uint64_t> allow(Clock::time_point now);
  std::uint64_t suppressed() const noexcept { return suppressed_; }

 private:
  Clock::duration interval_;
  std::optional<Clock::time_point> lastAllowed_;
  std::uint64_t suppressed_ = 0;
};

}  // namespace pcap_recorder::logging
