#include "pcap_recorder/logging/journal_sink.hpp"

#include <sys/uio.h>

// Why: without this, sd-journal.h turns sd_journal_sendv into a macro adding CODE_FILE/CODE_LINE
// of this file to every entry, which would say nothing about the caller.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include <array>
#include <cerrno>

namespace pcap_recorder::logging {

int sendToJournal(const std::vector<std::string>& fields) {
  std::vector<iovec> entries;
  entries.reserve(fields.size());
  for (const auto& field : fields) {
    entries.push_back({const_cast<char*>(field.data()), field.size()});
  }
  // Why: a value may hold newlines or any byte; sd_journal_sendv takes each "NAME=value" as one
  // iovec and serialises it in journald's binary form when needed, unlike sd_journal_print.
  return sd_journal_sendv(entries.data(), static_cast<int>(entries.size()));
}

int syslogPriority(spdlog::level::level_enum level) noexcept {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return 7;  // LOG_DEBUG
    case spdlog::level::info:
      return 6;  // LOG_INFO
    case spdlog::level::warn:
      return 4;  // LOG_WARNING
    case spdlog::level::err:
      return 3;  // LOG_ERR
    case spdlog::level::critical:
      return 2;  // LOG_CRIT
    default:
      return 6;  // `off` is never logged; a defined answer all the same
  }
}

bool validFieldName(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64) return false;
  if (name.front() == '_' || (name.front() >= '0' && name.front() <= '9')) return false;
  for (const char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

namespace {

// Set by the sink itself: an event's field of the same name would make a second value.
bool reservedFieldName(std::string_view name) noexcept {
  constexpr std::array<std::string_view, 3> kReserved{"MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER"};
  for (const auto reserved : kReserved) {
    if (name == reserved) return true;
  }
  return false;
}

std::string concat(std::string_view name, std::string_view value) {
  std::string field;
  field.reserve(name.size() + 1 + value.size());
  field.append(name).append("=").append(value);
  return field;
}

}  // namespace

JournalSink::JournalSink(JournalWriter writer, std::string syslogIdentifier)
    : writer_(std::move(writer)), syslogIdentifier_(std::move(syslogIdentifier)) {}

void JournalSink::logWithFields(const spdlog::details::log_msg& message,
                                std::span<const Field> fields) {
  std::lock_guard lock(mutex_);
  send(message, fields);
}

void JournalSink::sink_it_(const spdlog::details::log_msg& message) {
  send(message, {});
}

void JournalSink::send(const spdlog::details::log_msg& message, std::span<const Field> fields) {
  std::vector<std::string> entry;
  entry.reserve(3 + fields.size());
  // The bare message: journald stamps the time, priority and identifier itself.
  entry.push_back(concat("MESSAGE", {message.payload.data(), message.payload.size()}));
  entry.push_back(concat("PRIORITY", std::to_string(syslogPriority(message.level))));
  entry.push_back(concat("SYSLOG_IDENTIFIER", syslogIdentifier_));
  for (const auto& field : fields) {
    if (!validFieldName(field.name) || reservedFieldName(field.name)) continue;
    entry.push_back(concat(field.name, field.value));
  }
  const int result = writer_(entry);
  if (result < 0) spdlog::throw_spdlog_ex("writing to the journal failed", -result);
}

}  // namespace pcap_recorder::logging
