// The daemon's configuration: YAML parsed once into plain structs that the other modules take.
//
// yaml-cpp never leaves this module. Loading collects every problem it finds (rather than stopping
// at the first) so `--check-config` can list them all, each as FILE:LINE:COLUMN: message.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pcap_recorder/compress/compression.hpp"

namespace pcap_recorder::config {

// Where in the config file a value came from; line and column are 1-based (0 = unknown).
struct Location {
  std::string file;
  int line = 0;
  int column = 0;
};

struct Problem {
  Location where;
  std::string message;
  // The machine's state rather than the config (an output directory on a disk not mounted yet):
  // it may pass by itself, so starting again unchanged is worth it.
  bool mayPass = false;
};

// "FILE:LINE:COLUMN: message", the form compilers use, so editors can jump to it.
std::string format(const Problem& problem);

// Thrown by load(): every problem found, in file order.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<Problem> problems);
  const std::vector<Problem>& problems() const noexcept { return problems_; }

 private:
  std::vector<Problem> problems_;
};

enum class TimestampPrecision { micro, nano };

// How capture files are written: `automatic` uses direct I/O where the file system takes it and
// the page cache elsewhere (tmpfs), `on` refuses to start where direct I/O is refused.
enum class DirectIo { automatic, on, off };

inline constexpr std::uint32_t kMaxSnaplen = 262144;

// The longest duration any key takes (rotate.interval, retention.max_age,
// output.post_finish_timeout, log.stats_interval): about ten years. Longer values are refused at
// load time: near the int64-nanosecond limit (106,752 days) they would wrap in clock arithmetic.
inline constexpr std::chrono::milliseconds kMaxDuration = std::chrono::days(3650);

// Keys of `output:`; each may be overridden per interface.
struct OutputSettings {
  // In one spelling, as read ("/srv//pcap/." is "/srv/pcap", util::tidyPath): compare and group
  // it as it is.
  std::filesystem::path directory = "/var/lib/pcap-recorder";
  std::string fileName = "{interface}-%Y%m%dT%H%M%S.pcap";
  std::uint32_t snaplen = kMaxSnaplen;
  TimestampPrecision timestamp = TimestampPrecision::micro;
  std::uint32_t fileMode = 0640;
  DirectIo directIo = DirectIo::automatic;
  // Write NAME.idx beside each finished file (on the finisher thread) for extract.
  bool index = true;
  std::string postFinishCommand;  // empty: none
  std::chrono::milliseconds postFinishTimeout{std::chrono::minutes(10)};
  // Hooks of this interface running at once; the others wait in order.
  std::uint32_t postFinishMaxRunning = 4;
  // output.keep_empty_files: a file that ends without a record (an interval or a stop without
  // packets) is kept as proof of silence rather than removed.
  bool keepEmptyFiles = false;
  // output.sha256: the sidecar's (and journal line's) SHA-256 of each finished file. Uncompressed
  // files are hashed as they are written, compressed ones from the compressor's output.
  bool sha256 = true;
  // Finished files compressed on the finisher thread: NAME.pcap.zst / NAME.pcap.gz.
  compress::Compression compression = compress::Compression::none;
  std::uint32_t compressionLevel = 0;  // 0: not given, the compression's default
  // zstd's frames: this much pcap each, so extract can seek; 0: one frame per file, which
  // Wireshark 4.0 (Debian 12) can open while it cannot open a file of several frames.
  std::uint64_t compressionFrameBytes = compress::kFrameBytes;

  bool operator==(const OutputSettings&) const = default;
};

// Keys of `rotate:`; each may be overridden per interface. 0 means no limit.
struct RotateSettings {
  std::uint64_t maxFileBytes = 1ull << 30;
  std::chrono::milliseconds interval{std::chrono::hours(1)};
  std::uint64_t maxPackets = 0;

  bool operator==(const RotateSettings&) const = default;
};

// Keys of `retention:`; each may be overridden per interface. 0 means no limit.
struct RetentionSettings {
  std::uint64_t maxFiles = 0;
  std::uint64_t maxTotalBytes = 0;
  std::chrono::milliseconds maxAge{0};
  std::uint64_t minFreeBytes = 1ull << 30;
  // keep_until_shipped: never delete a file the shipper has not confirmed uploaded (only
  // min_free_space may). Unset in the file: true when `ship:` is configured; load() decides.
  std::optional<bool> keepUntilShipped;

  bool operator==(const RetentionSettings&) const = default;
};

// Keys of `capture:`; each may be overridden per interface.
struct CaptureSettings {
  std::uint64_t ringBytes = 32ull << 20;
  bool promiscuous = true;

  bool operator==(const CaptureSettings&) const = default;
};

// One entry of `interfaces:` with the global sections already merged in.
struct InterfaceSettings {
  std::string name;
  std::string filter;  // tcpdump syntax; empty records everything
  OutputSettings output;
  CaptureSettings capture;
  RotateSettings rotate;
  RetentionSettings retention;
  Location where;                  // the list item, for messages about this interface
  Location filterWhere;            // the filter's value, for messages about it (line 0: not given)
  Location compressionLevelWhere;  // output.compression_level's value (line 0: not given)
};

enum class LogLevel { trace, debug, info, warning, error, critical, off };

// The one vocabulary of level names, for log.level and --log-level alike: trace, debug, info,
// warning (or warn), error, critical, off. Nothing for any other text (spdlog's own short names
// "err" and "crit" included: one spelling per level in configs and unit files).
std::optional<LogLevel> parseLogLevel(std::string_view text) noexcept;
// "trace, debug, info, warning, warn, error, critical or off", for messages.
std::string logLevelNames();

// Keys of `metrics:` (daemon-wide): Prometheus text for node_exporter's textfile collector.
struct MetricsSettings {
  std::filesystem::path textfile;  // empty: no metrics
  std::chrono::milliseconds interval{std::chrono::seconds(15)};
  Location textfileWhere;  // for messages about its directory (line 0: not given)
};

// Keys of `ship:`, read by pcap-recorder-shipd (not by pcap-recorderd): where finished files are
// uploaded. The endpoint's form and the prefix template are checked by the shipper, which owns
// those rules; here only that the required keys are there.
struct ShipSettings {
  bool configured = false;  // a `ship:` section is present
  std::string endpoint;     // https://host[:port]
  std::string bucket;
  std::string prefix = "{host}/{interface}/%Y/%m/%d";
  std::string region = "us-east-1";
  bool pathStyle = false;
  std::uint32_t parallel = 4;  // parts in flight at once, per file
  // Files in flight at once. 4 like rclone's --transfers: a file's own serial steps (its in-order
  // SHA-256, Complete, the verifying HEAD, a small file's single PUT) then overlap with others'.
  std::uint32_t parallelFiles = 1;
  std::uint64_t maxRate = 0;  // bytes per second for everything in flight together; 0: unlimited
  std::filesystem::path caFile;
  std::filesystem::path credentials;  // AWS shared-credentials format; the keys never in YAML
  // The shipper's durable record of what is confirmed uploaded; the daemon reads it for
  // retention.keep_until_shipped and delete_after_upload.
  std::filesystem::path state = "/var/lib/pcap-recorder-ship/state";
  bool deleteAfterUpload = false;  // the daemon deletes a file once its upload is confirmed
  // The shipper's metrics for node_exporter's textfile collector (*.prom); empty: none there.
  std::filesystem::path metricsTextfile;
};

// Settings of the daemon as a whole (not per interface).
struct DaemonSettings {
  LogLevel logLevel = LogLevel::info;                                // log.level
  std::chrono::milliseconds statsInterval{std::chrono::minutes(5)};  // log.stats_interval; 0: never
  // run_as: the user to switch to (needs root unless it is this one); empty: stay.
  std::string runAs;
  MetricsSettings metrics;
  ShipSettings ship;  // ship:
};

struct Config {
  std::filesystem::path sourceFile;
  DaemonSettings daemon;
  std::vector<InterfaceSettings> interfaces;
};

// Which directory an output.directory names, as one path for every spelling of it (symbolic
// links and `..` followed), for the file name collision check; nullopt when it cannot tell.
using DirectoryResolver =
    std::function<std::optional<std::filesystem::path>(const std::filesystem::path&)>;

// The file system's answer (std::filesystem::weakly_canonical of the absolute path: links and
// `..` as the kernel follows them, as far as the path exists), as this process sees it.
std::optional<std::filesystem::path> resolveDirectory(const std::filesystem::path& directory);

// Reads and validates the file: YAML syntax, known keys (with a near-miss suggestion for unknown
// ones), types, ranges, sizes and durations, duplicate interfaces, file names that could collide.
// File names are checked for collisions in directories as resolveDirectory() finds them (each
// directory keeps its spelling). It does not touch the network or create the output directory; see
// validateEnvironment() for that. Throws ConfigError listing every problem.
Config load(const std::filesystem::path& file);

// Same, for YAML text already in memory (the embedded default config, tests, the fuzzer);
// `displayName` is used as FILE in messages. Without `resolve` (or where it cannot tell), the
// collision check compares lexical forms ("/srv/x/../pcap" as "/srv/pcap", which errs on the
// side of a collision): nothing on the file system is looked at.
Config parse(const std::string& yamlText, const std::string& displayName,
             const DirectoryResolver& resolve = {});

}  // namespace pcap_recorder::config
