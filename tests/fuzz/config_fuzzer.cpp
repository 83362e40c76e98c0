// libFuzzer target: any bytes as the text of a configuration file, through config::parse().
//
// The contract under test: parse() either returns a Config whose every value is within the ranges
// the loader promises, or throws ConfigError with at least one well-formed problem. Any other
// exception, a crash, a sanitizer report, a hang or a runaway allocation is a finding. The result
// must also not depend on anything but the text (a second parse gives the same answer).
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "pcap_recorder/compress/compression.hpp"
#include "pcap_recorder/config/config.hpp"
#include "pcap_recorder/config/hook_command.hpp"
#include "pcap_recorder/rotation/file_naming.hpp"

namespace {

namespace compress = pcap_recorder::compress;
namespace config = pcap_recorder::config;
namespace rotation = pcap_recorder::rotation;
using namespace std::chrono_literals;

constexpr const char* kDisplayName = "fuzz.yaml";

// A broken promise: abort, which libFuzzer reports as a crash with the input that caused it.
void check(bool condition) {
  if (!condition) std::abort();
}

void checkDuration(std::chrono::milliseconds value, std::chrono::milliseconds min) {
  check(value.count() == 0 || value >= min);
}

bool isControl(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

// The loader's own rules find nothing in what it accepted, and a name the writer makes of it
// (the widest sequence number and collision counter, a long day and month) is one the recorder
// can create, finish and repair: within NAME_MAX with `.damaged`, printable, not a `.part`.
void checkFileName(const config::InterfaceSettings& settings) {
  const std::string& pattern = settings.output.fileName;
  check(rotation::templateProblems(pattern).empty());
  check(rotation::namingProblems(pattern, settings.name).empty());
  const auto wednesdayInSeptember = std::chrono::sys_days{std::chrono::year{2021} / 9 / 29} +
                                    std::chrono::hours(23) + std::chrono::minutes(59);
  const std::string name = rotation::withCounter(
      rotation::expandFileName(pattern, settings.name, UINT64_MAX, wednesdayInSeptember), UINT_MAX);
  check(name.size() + std::max(rotation::kPartSuffix.size(), rotation::kDamagedSuffix.size()) <=
        rotation::kNameMax);
  check(std::none_of(name.begin(), name.end(), isControl));
  check(name.find('/') == std::string::npos);
  check(!name.ends_with(rotation::kPartSuffix) && !name.ends_with(rotation::kDamagedSuffix));
}

// The file's path must reach the hook as its last argument (config/hook_command.hpp).
void checkHookCommand(const std::string& command) {
  if (command.empty()) return;  // none
  check(!config::hookCommandProblem(command));
  check(config::trimHookCommand(command) == command);
}

bool within(std::uint32_t value, int min, int max) {
  return std::cmp_greater_equal(value, min) && std::cmp_less_equal(value, max);
}

// 0 is the key left out; a level given is within the range of the compression it applies to.
void checkCompression(const config::OutputSettings& output) {
  const std::uint32_t level = output.compressionLevel;
  if (level != 0) {
    check(within(level, compress::kZstdMinLevel, compress::kZstdMaxLevel));
    if (output.compression == compress::Compression::gzip) {
      check(within(level, compress::kGzipMinLevel, compress::kGzipMaxLevel));
    }
  }
  check(output.compressionFrameBytes == 0 ||
        (output.compressionFrameBytes >= compress::kMinFrameBytes &&
         output.compressionFrameBytes <= compress::kMaxFrameBytes));
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
    checkFileName(settings);
    checkHookCommand(settings.output.postFinishCommand);
    checkCompression(settings.output);
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
