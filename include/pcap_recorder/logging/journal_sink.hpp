// An spdlog sink that sends each message to journald as native fields (MESSAGE=, PRIORITY=,
// SYSLOG_IDENTIFIER= and any structured fields of the event), so `journalctl -u pcap-recorder
// INTERFACE=eth0` selects by field. The writer is injected: production passes sendToJournal
// (sd_journal_sendv), tests a function that records the fields. Thread-safe through base_sink's
// mutex; the writer is called with that mutex held.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <concepts>
#include <filesystem>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pcap_recorder::logging {

// Integers a field value may be given as (not bool or char, which would read as numbers).
template <typename T>
concept FieldNumber = std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char>;

// One structured journal field of an event: name without '=', e.g. {"INTERFACE", "eth0"}.
// Names users rely on: INTERFACE, PCAP_FILE, PACKETS, BYTES, DROPS, REASON.
struct Field {
  Field(std::string_view fieldName, std::string fieldValue)
      : name(fieldName), value(std::move(fieldValue)) {}
  Field(std::string_view fieldName, std::string_view fieldValue)
      : name(fieldName), value(fieldValue) {}
  Field(std::string_view fieldName, const char* fieldValue) : name(fieldName), value(fieldValue) {}
  Field(std::string_view fieldName, const std::filesystem::path& path)
      : name(fieldName), value(path.string()) {}
  template <FieldNumber Number>
  Field(std::string_view fieldName, Number number)
      : name(fieldName), value(std::to_string(number)) {}

  std::string_view name;  // must outlive the call: in practice a string literal
  std::string value;
};

// Receives one entry as "NAME=value" strings; returns 0 or a negative errno (as sd_journal_sendv).
using JournalWriter = std::function<int(const std::vector<std::string>& fields)>;

// The real journal: sd_journal_sendv. When no journald runs (no socket) it returns 0 and the entry
// is lost, as libsystemd does; it never blocks for a missing journal.
int sendToJournal(const std::vector<std::string>& fields);

// trace/debug 7, info 6, warn 4, error 3, critical 2 (syslog's LOG_DEBUG … LOG_CRIT).
int syslogPriority(spdlog::level::level_enum level) noexcept;

// journald's rule for a field name a client may set: 1..64 of A-Z, 0-9 and '_', not starting with
// a digit or '_' (a leading '_' marks fields only journald itself sets).
bool validFieldName(std::string_view name) noexcept;

class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit JournalSink(JournalWriter writer = sendToJournal,
                       std::string syslogIdentifier = "pcap-recorderd");

  // One entry with the event's own fields besides MESSAGE=, PRIORITY= and SYSLOG_IDENTIFIER=.
  // Fields with an invalid name, or one of those three names, are left out. Throws
  // spdlog::spdlog_ex when the writer fails, as spdlog's sinks do (the logger reports it).
  void logWithFields(const spdlog::details::log_msg& message, std::span<const Field> fields);

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override;
  void flush_() override {}

 private:
  void send(const spdlog::details::log_msg& message, std::span<const Field> fields);

  JournalWriter writer_;
  std::string syslogIdentifier_;
};

}  // namespace pcap_recorder::logging
