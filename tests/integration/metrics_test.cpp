// Metrics end to end: pcap-recorderd records frames sent across a veth and writes its textfile;
// Prometheus' promtool checks it, and Debian's node_exporter serves it over HTTP inside the test's
// namespace, read back with curl. And no empty files: intervals without traffic.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "daemon_process.hpp"
#include "recorder_fixture.hpp"
#include "support/file_bytes.hpp"
#include "support/frames.hpp"

namespace pcap_recorder::testing {
namespace {

using namespace std::chrono_literals;
using MetricsTest = RecorderTest;

// A program run in the background for the length of a test, killed and reaped at the end.
class BackgroundProgram {
 public:
  BackgroundProgram(const std::vector<std::string>& argv, const fs::path& log) {
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  ~BackgroundProgram() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  BackgroundProgram(const BackgroundProgram&) = delete;
  BackgroundProgram& operator=(const BackgroundProgram&) = delete;

 private:
  pid_t pid_ = -1;
};

// The value of the sample `series` ("name{label=\"value\"}") in Prometheus text.
std::optional<double> valueOf(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

// Reads the textfile until `series` has `wanted`; every value seen along the way goes to `seen`.
bool waitForValue(const fs::path& textfile, const std::string& series, double wanted,
                  std::vector<double>& seen) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const auto value = valueOf(readText(textfile), series)) {
      if (seen.empty() || seen.back() != *value) seen.push_back(*value);
      if (*value == wanted) return true;
    }
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

std::uint64_t recordsIn(const std::vector<fs::path>& files) {
  std::uint64_t records = 0;
  for (const auto& file : files) records += readPcapFile(file).records.size();
  return records;
}

TEST_F(MetricsTest, CountersSurviveARestartAndNodeExporterServesThemAsPromtoolWants) {
  NamespacePair hosts;
  const auto metricsDirectory = work_ / "textfile";
  fs::create_directory(metricsDirectory);
  const auto textfile = metricsDirectory / "pcap-recorder.prom";
  const std::string metrics = "metrics:\n  textfile: " + textfile.string() + "\n  interval: 1s\n";
  const auto config = writeConfig("  - name: prc0\n", "", metrics);
  const auto started = std::chrono::system_clock::now();
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string(), "--bus", "none"},
                       work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  auto sender = hosts.senderOn();
  for (std::uint32_t i = 0; i < 300; ++i) sender.send(buildUdpFrame({.sequence = i}));

  // Written every interval while capturing.
  const std::string written = "pcap_recorder_packets_written_total{interface=\"prc0\"}";
  std::vector<double> seen;
  ASSERT_TRUE(waitForValue(textfile, written, 300, seen)) << readText(textfile) << daemon.log();
  EXPECT_EQ(valueOf(readText(textfile), "pcap_recorder_interface_up{interface=\"prc0\"}"), 1);

  // A new snaplen restarts the interface: a new recorder, whose own counts start at 0.
  writeConfig("  - name: prc0\n", "  snaplen: 1500\n", metrics);
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.waitForLog("1 restarted")) << daemon.log();
  for (std::uint32_t i = 300; i < 500; ++i) sender.send(buildUdpFrame({.sequence = i}));
  ASSERT_TRUE(waitForValue(textfile, written, 500, seen)) << readText(textfile) << daemon.log();
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()))
      << "the counter went back: " << ::testing::PrintToString(seen);
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();

  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  ASSERT_EQ(recordsIn(files), 500u);
  std::uint64_t fileBytes = 0;
  for (const auto& file : files) fileBytes += fs::file_size(file);

  const auto check = capture("promtool check metrics < " + textfile.string());
  EXPECT_EQ(check.status, 0) << check.output << readText(textfile);
  EXPECT_EQ(check.output, "") << readText(textfile);

  // node_exporter with the textfile collector alone, on the loopback of the test's namespace.
  const std::string address = "127.0.0.1:9100";
  BackgroundProgram exporter(
      {"ip", "netns", "exec", hosts.captureNamespace(), "prometheus-node-exporter",
       "--collector.disable-defaults", "--collector.textfile",
       "--collector.textfile.directory=" + metricsDirectory.string(),
       "--web.listen-address=" + address},
      work_ / "node-exporter.log");
  CommandResult scrape;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  do {
    std::this_thread::sleep_for(100ms);
    scrape = captureStdout("ip netns exec " + hosts.captureNamespace() + " curl -sf http://" +
                           address + "/metrics");
  } while (scrape.status != 0 && std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(scrape.status, 0) << readText(work_ / "node-exporter.log");
  const auto& served = scrape.output;
  EXPECT_EQ(valueOf(served, "node_textfile_scrape_error"), 0) << served;
  EXPECT_EQ(valueOf(served, written), 500) << served;
  EXPECT_EQ(valueOf(served, "pcap_recorder_bytes_written_total{interface=\"prc0\"}"),
            static_cast<double>(fileBytes))
      << served;
  EXPECT_EQ(valueOf(served, "pcap_recorder_files_finished_total{interface=\"prc0\"}"),
            static_cast<double>(files.size()))
      << served;
  EXPECT_EQ(files.size(), 2u) << "one finished by the restart, one by the stop";
  EXPECT_EQ(valueOf(served, "pcap_recorder_kernel_drops_total{interface=\"prc0\"}"), 0) << served;
  EXPECT_EQ(valueOf(served, "pcap_recorder_packets_lost_to_disk_total{interface=\"prc0\"}"), 0)
      << served;
  EXPECT_EQ(valueOf(served, "pcap_recorder_files_without_sha256_total{interface=\"prc0\"}"), 0)
      << served;
  EXPECT_EQ(valueOf(served, "pcap_recorder_interface_up{interface=\"prc0\"}"), 0)
      << "stopped: " << served;
  const std::string directory = "{directory=\"" + outputDirectory().string() + "\"}";
  EXPECT_GT(valueOf(served, "pcap_recorder_output_free_bytes" + directory).value_or(0), 0)
      << served;
  const auto oldest = valueOf(served, "pcap_recorder_oldest_file_timestamp_seconds" + directory);
  ASSERT_TRUE(oldest) << served;
  const double startedAt = std::chrono::duration<double>(started.time_since_epoch()).count();
  EXPECT_GE(*oldest, startedAt - 1) << "the first frame's time";
  EXPECT_LE(*oldest, startedAt + 60);
  EXPECT_NE(served.find("pcap_recorder_info{version=\""), std::string::npos) << served;
}

// How many times `text` is in the daemon's log so far.
std::size_t countInLog(const DaemonProcess& daemon, const std::string& text) {
  const auto log = daemon.log();
  std::size_t count = 0;
  for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++count;
  return count;
}

bool waitForLogCount(const DaemonProcess& daemon, const std::string& text, std::size_t count) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (countInLog(daemon, text) < count && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  return countInLog(daemon, text) >= count;
}

TEST_F(MetricsTest, IntervalsWithoutTrafficLeaveNoEmptyFile) {
  NamespacePair hosts;
  const auto config = writeConfig("  - name: prc0\n", "", "rotate:\n  interval: 1s\n");
  DaemonProcess daemon(hosts.captureNamespace(),
                       {"--config", config.string(), "--bus", "none", "--log-level", "debug"},
                       work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  ASSERT_TRUE(waitForLogCount(daemon, "no packets (output.keep_empty_files is off)", 2))
      << daemon.log();
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();
  EXPECT_EQ(listDirectory(outputDirectory()), std::vector<std::string>{}) << daemon.log();
}

TEST_F(MetricsTest, KeepEmptyFilesLeavesOneHeaderOnlyFilePerInterval) {
  NamespacePair hosts;
  const auto config =
      writeConfig("  - name: prc0\n", "  keep_empty_files: true\n", "rotate:\n  interval: 1s\n");
  DaemonProcess daemon(hosts.captureNamespace(), {"--config", config.string(), "--bus", "none"},
                       work_.path());
  ASSERT_TRUE(daemon.waitReady()) << daemon.log();
  ASSERT_TRUE(waitForLogCount(daemon, "(interval): no packets", 2)) << daemon.log();
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();
  const auto files = finishedFilesOf(outputDirectory(), "prc0");
  EXPECT_GE(files.size(), 3u) << "two intervals and the stop";
  EXPECT_EQ(files.size(), countInLog(daemon, ": no packets, ")) << daemon.log();
  for (const auto& file : files) EXPECT_EQ(fs::file_size(file), 24u) << file;
}

}  // namespace
}  // namespace pcap_recorder::testing
