#include "pcap_recorder/logging/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>

namespace pcap_recorder::logging {

void logEvent(spdlog::level::level_enum level, std::initializer_list<Field> fields,
              std::string message) {
  spdlog::logger* logger = spdlog::default_logger_raw();
  if (logger == nullptr || level == spdlog::level::off || !logger->should_log(level)) return;
  // Why not logger->log(): it hands one log_msg to every sink and has no room for fields, so the
  // journal sink would get the message without them (or twice). The message is given to each sink
  // here instead, as spdlog's logger does, with the sink's own level respected.
  const spdlog::details::log_msg entry(logger->name(), level, message);
  const std::span<const Field> structured(fields.begin(), fields.size());
  const bool flush = level >= logger->flush_level();
  for (const auto& sink : logger->sinks()) {
    if (!sink->should_log(level)) continue;
    try {
      if (auto* journal = dynamic_cast<JournalSink*>(sink.get())) {
        journal->logWithFields(entry, structured);
      } else {
        sink->log(entry);
      }
      if (flush) sink->flush();
    } catch (const std::exception& error) {
      // A log call never throws into the caller (spdlog's logger catches likewise).
      std::fprintf(stderr, "pcap-recorderd: logging failed: %s\n", error.what());
    }
  }
}

bool isJournalStream(const char* journalStream, int fd) {
  if (journalStream == nullptr) return false;
  const std::string_view value(journalStream);
  const auto colon = value.find(':');
  if (colon == std::string_view::npos) return false;
  const auto parse = [](std::string_view digits, unsigned long long& number) {
    const auto* end = digits.data() + digits.size();
    const auto [stop, error] = std::from_chars(digits.data(), end, number);
    return !digits.empty() && error == std::errc{} && stop == end;
  };
  unsigned long long device = 0;
  unsigned long long inode = 0;
  if (!parse(value.substr(0, colon), device) || !parse(value.substr(colon + 1), inode)) {
    return false;
  }
  struct stat status {};
  if (::fstat(fd, &status) != 0) return false;
  return status.st_dev == device && status.st_ino == inode;
}

bool stderrIsJournal() {
  return isJournalStream(std::getenv("JOURNAL_STREAM"), STDERR_FILENO);
}

std::shared_ptr<spdlog::logger> makeLogger(bool journal) {
  std::shared_ptr<spdlog::logger> logger;
  if (journal) {
    logger = std::make_shared<spdlog::logger>("pcap-recorderd", std::make_shared<JournalSink>());
  } else {
    logger = std::make_shared<spdlog::logger>("pcap-recorderd",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l: %v");
  }
  logger->flush_on(spdlog::level::info);
  return logger;
}

std::optional<std::uint64_t> RateLimiter::allow(Clock::time_point now) {
  if (lastAllowed_ && now - *lastAllowed_ < interval_) {
    ++suppressed_;
    return std::nullopt;
  }
  lastAllowed_ = now;
  return std::exchange(suppressed_, 0);
}

}  // namespace pcap_recorder::logging
