// libFuzzer target: any bytes as the text of a configuration file, through config::parse().
//
// The contract under test: parse() either returns a Config whose every value is within the ranges
// the loader promises, or throws ConfigError with at least one well-formed problem. Any other
// exception, a crash, a sanitizer report, a hang or a runaway allocation is a finding. The result
// must also not depend on anything but the text (a second parse gives the same answer).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <tuple>

#include "pcap_recorder/config/config.hpp"

namespace {

namespace config = pcap_recorder::config;
using namespace std::chrono_literals;

constexpr const char* kDisplayName = "fuzz.yaml";

// A broken promise: abort, which libFuzzer reports as a crash with the input that caused it.
void check(bool condition) {
  if (!condition) std::abort();
}

void checkDuration(std::chrono::milliseconds value, std::chrono::milliseconds min) {
  check(value.count() == 0 || value >= min);
}

void checkValid(const config::Config& parsed) {
  check(!parsed.interfaces.empty());
  check(parsed.daemon.statsInterval.count() >= 0);
  std::set<std::string> names;
  for (const config::InterfaceSettings& settings : parsed.interfaces) {
    check(!settings.name.empty());
    check(settings.name.find('\0') == std::string::npos);
    check(names.insert(settings.name).second);  // duplicates are refused
    check(settings.filter.find('\0') == std::string::npos);
    check(!settings.output.directory.empty());
    check(!settings.output.fileName.empty());
    check(settings.output.fileName.find('/') == std::string::npos);
    check(settings.output.snaplen >= 1 && settings.output.snaplen <= config::kMaxSnaplen);
    check(settings.output.fileMode <= 0777 && (settings.output.fileMode & 0600) == 0600);
    checkDuration(settings.output.postFinishTimeout, 1s);
    check(settings.capture.ringBytes >= (1ull << 20) &&
          settings.capture.ringBytes <= (16ull << 30));
    checkDuration(settings.rotate.interval, 1s);
    checkDuration(settings.retention.maxAge, 1s);
  }
}

void checkError(const config::ConfigError& error, std::size_t textBytes) {
  const auto& problems = error.problems();
  check(!problems.empty());
  for (std::size_t i = 0; i < problems.size(); ++i) {
    const config::Problem& problem = problems[i];
    check(problem.where.file == kDisplayName);
    check(!problem.message.empty());
    check(problem.where.line >= 0 && problem.where.column >= 0);
    // A line past the end of the text cannot be shown to anyone.
    check(static_cast<std::size_t>(problem.where.line) <= textBytes + 1);
    if (i > 0) {  // documented: in file order
      const config::Location& before = problems[i - 1].where;
      check(std::tie(before.line, before.column) <=
            std::tie(problem.where.line, problem.where.column));
    }
    check(!config::format(problem).empty());
  }
}

// Everything a Config says, for comparing two parses of the same text.
bool sameConfig(const config::Config& a, const config::Config& b) {
  if (a.interfaces.size() != b.interfaces.size()) return false;
  if (a.daemon.logLevel != b.daemon.logLevel || a.daemon.statsInterval != b.daemon.statsInterval ||
      a.daemon.runAs != b.daemon.runAs) {
    return false;
  }
  for (std::size_t i = 0; i < a.interfaces.size(); ++i) {
    const auto& x = a.interfaces[i];
    const auto& y = b.interfaces[i];
    if (x.name != y.name || x.filter != y.filter || !(x.output == y.output) ||
        !(x.capture == y.capture) || !(x.rotate == y.rotate) || !(x.retention == y.retention) ||
        x.where.line != y.where.line || x.where.column != y.where.column) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const config::Config first = config::parse(text, kDisplayName);
    checkValid(first);
    const config::Config second = config::parse(text, kDisplayName);
    check(sameConfig(first, second));
  } catch (const config::ConfigError& error) {
    checkError(error, size);
    try {
      config::parse(text, kDisplayName);
      check(false);  // valid the second time round
    } catch (const config::ConfigError& again) {
      check(std::string(again.what()) == error.what());
    }
  }
  // Anything else thrown leaves this function: libFuzzer reports it as a crash.
  return 0;
}
