// The daemon's command line as an operator meets it: --help, --version, usage errors, and
// --check-config reporting FILE:LINE:COLUMN problems without writing anything.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "integration_support.hpp"
#include "pcap_recorder/version.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::testing {
namespace {

namespace fs = std::filesystem;

const std::string kDaemon = PCAPRECORDERD_PATH;
// EX_CONFIG: the config needs an edit (the unit does not restart on it); 1: the machine's state,
// which may pass (retried).
constexpr int kExitConfig = 78;

class CommandLineTest : public ::testing::Test {
 protected:
  fs::path config(const std::string& interfacesAndMore) {
    const auto path = work_ / "config.yaml";
    writeTextFile(path,
                  "output:\n  directory: " + (work_ / "out").string() + "\n" + interfacesAndMore);
    return path;
  }
  CommandResult checkConfig(const fs::path& path) {
    return capture(kDaemon + " --check-config --config " + path.string());
  }
  TempDir work_;
};

TEST_F(CommandLineTest, VersionPrintsTheProjectVersion) {
  const auto result = capture(kDaemon + " --version");
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.output, std::string("pcap-recorderd ") + kVersion + "\n");
}

TEST_F(CommandLineTest, HelpDescribesTheOptions) {
  const auto result = capture(kDaemon + " --help");
  EXPECT_EQ(result.status, 0);
  EXPECT_NE(result.output.find("--check-config"), std::string::npos);
  EXPECT_NE(result.output.find("/etc/pcap-recorder/pcap-recorder.yaml"), std::string::npos);
}

TEST_F(CommandLineTest, UnknownOptionGetsUsageAndExitStatusTwo) {
  const auto result = capture(kDaemon + " --frobnicate");
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.output.find("unknown option --frobnicate"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("Usage:"), std::string::npos);
  EXPECT_EQ(capture(kDaemon + " --config").status, 2);
  EXPECT_EQ(capture(kDaemon + " stray-argument").status, 2);
}

TEST_F(CommandLineTest, LogLevelOutsideTheOneVocabularyIsAUsageError) {
  const auto path = config("interfaces:\n  - name: lo\n");
  // spdlog's own short names are not ours: refused before anything runs, not half-accepted.
  for (const char* level : {"err", "crit", "verbose", "INFO"}) {
    const auto result =
        capture(kDaemon + " --check-config --log-level " + level + " --config " + path.string());
    EXPECT_EQ(result.status, 2) << level << ": " << result.output;
    EXPECT_NE(
        result.output.find(std::string("unknown log level ") + level +
                           " (use trace, debug, info, warning, warn, error, critical or off)"),
        std::string::npos)
        << result.output;
  }
  for (const char* level : {"warn", "warning", "error", "off"}) {
    const auto result =
        capture(kDaemon + " --check-config --log-level " + level + " --config " + path.string());
    EXPECT_EQ(result.status, 0) << level << ": " << result.output;
  }
}

TEST_F(CommandLineTest, CheckConfigAcceptsAValidConfigAndWritesNothing) {
  const auto path = config("interfaces:\n  - name: lo\n    filter: \"tcp port 443\"\n");
  const auto result = checkConfig(path);
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("configuration is valid (1 interface)"), std::string::npos);
  EXPECT_FALSE(fs::exists(work_ / "out")) << "--check-config must not create the directory";
}

TEST_F(CommandLineTest, CheckConfigRefusesAMetricsTextfileThatCannotBeWritten) {
  const auto missing = config("metrics:\n  textfile: " + (work_ / "nowhere" / "x.prom").string() +
                              "\ninterfaces:\n  - name: lo\n");
  auto result = checkConfig(missing);
  EXPECT_EQ(result.status, 1) << "node_exporter may be installed later: " << result.output;
  EXPECT_NE(result.output.find(missing.string() + ":4:13: metrics.textfile: " +
                               (work_ / "nowhere").string() + " is not a directory"),
            std::string::npos)
      << result.output;
  fs::create_directory(work_ / "textfile");
  const auto fine = config("metrics:\n  textfile: " + (work_ / "textfile" / "x.prom").string() +
                           "\ninterfaces:\n  - name: lo\n");
  result = checkConfig(fine);
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_FALSE(fs::exists(work_ / "textfile" / "x.prom")) << "--check-config writes nothing";
}

TEST_F(CommandLineTest, CheckConfigPointsAtTheLineOfAMisspelledKey) {
  const auto path = config("  snaplenn: 100\ninterfaces:\n  - name: lo\n");
  const auto result = checkConfig(path);
  EXPECT_EQ(result.status, kExitConfig);
  EXPECT_NE(result.output.find(path.string() + ":3:3: "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("did you mean \"snaplen\""), std::string::npos) << result.output;
}

TEST_F(CommandLineTest, CheckConfigReportsAnInvalidFilterWithLibpcapsMessage) {
  const auto path = config("interfaces:\n  - name: lo\n    filter: \"tcp port\"\n");
  const auto result = checkConfig(path);
  EXPECT_EQ(result.status, kExitConfig);
  EXPECT_NE(result.output.find(path.string() + ":5:13:"), std::string::npos) << result.output;
  EXPECT_NE(
      result.output.find(
          "interface lo: invalid filter \"tcp port\": can't parse filter expression: syntax error"),
      std::string::npos)
      << result.output;
}

// A 100,000-character file_name passed --check-config and then crashed the daemon (std::regex
// recursion); a 300-character one failed at start with ENAMETOOLONG.
TEST_F(CommandLineTest, CheckConfigRefusesFileNamesTooLongForTheFileSystem) {
  for (const std::size_t length : {300u, 100000u}) {
    const auto path = config("  file_name: \"" + std::string(length, 'a') +
                             "{seq}.pcap\"\ninterfaces:\n  - name: lo\n");
    const auto result = checkConfig(path);
    EXPECT_EQ(result.status, kExitConfig) << result.output.substr(0, 2000);
    EXPECT_NE(result.output.find("more than the 255 a file name may have"), std::string::npos)
        << result.output.substr(0, 2000);
  }
}

// ESC, TAB and newline in names, and filters echoed raw, reached the terminal as they were.
TEST_F(CommandLineTest, CheckConfigRefusesControlCharactersAndEscapesThemInMessages) {
  const auto name =
      checkConfig(config("  file_name: \"cap\\e[2J-{seq}.pcap\"\ninterfaces:\n  - name: lo\n"));
  EXPECT_EQ(name.status, kExitConfig);
  EXPECT_NE(name.output.find("control character \\x1b"), std::string::npos) << name.output;
  EXPECT_EQ(name.output.find('\x1b'), std::string::npos) << "raw ESC in: " << name.output;

  const auto filter =
      checkConfig(config("interfaces:\n  - name: lo\n    filter: \"tcp \\e[31m\"\n"));
  EXPECT_EQ(filter.status, kExitConfig);
  EXPECT_NE(filter.output.find("\\x1b[31m"), std::string::npos) << filter.output;
  EXPECT_EQ(filter.output.find('\x1b'), std::string::npos) << "raw ESC in: " << filter.output;
}

TEST_F(CommandLineTest, CheckConfigRefusesAFileNameEndingInPart) {
  const auto path = config("  file_name: \"{interface}-{seq}.part\"\ninterfaces:\n  - name: lo\n");
  const auto result = checkConfig(path);
  EXPECT_EQ(result.status, kExitConfig);
  EXPECT_NE(result.output.find("must not end in .part"), std::string::npos) << result.output;
}

TEST_F(CommandLineTest, CheckConfigReportsEveryProblemNotJustTheFirst) {
  const auto path = config(
      "  snaplen: 0\n  timestamp: pico\ncapture:\n  ring_size: lots\ninterfaces:\n"
      "  - name: lo\n  - name: lo\n");
  const auto result = checkConfig(path);
  EXPECT_EQ(result.status, kExitConfig);
  for (const auto& where : {":3:", ":4:", ":6:", ":9:"}) {
    EXPECT_NE(result.output.find(path.string() + where), std::string::npos) << where << " in\n"
                                                                            << result.output;
  }
}

TEST_F(CommandLineTest, AConfigFileOrOutputDirectoryWritableByOthersGetsAWarning) {
  fs::create_directories(work_ / "out");
  const auto path = config("interfaces:\n  - name: lo\n");
  EXPECT_EQ(checkConfig(path).output.find("warning"), std::string::npos);
  fs::permissions(path, fs::perms::others_write, fs::perm_options::add);
  fs::permissions(work_ / "out", fs::perms::others_write, fs::perm_options::add);
  const auto result = checkConfig(path);
  EXPECT_EQ(result.status, 0) << "a warning, not an error";
  EXPECT_NE(
      result.output.find("warning: config file " + path.string() + " is writable by every user"),
      std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("warning: output directory " + (work_ / "out").string() +
                               " is writable by every user"),
            std::string::npos)
      << result.output;
}

TEST_F(CommandLineTest, CheckConfigNotesAnInterfaceThatDoesNotExistYet) {
  const auto path = config("interfaces:\n  - name: prnotyet0\n");
  const auto result = checkConfig(path);
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("note: interface prnotyet0 does not exist now"), std::string::npos)
      << result.output;
}

TEST_F(CommandLineTest, CheckConfigRefusesAFifoInsteadOfWaitingForAWriter) {
  const auto fifo = work_ / "config.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // `timeout` turns the old hang (open() waiting for a writer) into a failure, status 124.
  const auto result =
      capture("timeout 20 " + kDaemon + " --check-config --config " + fifo.string());
  EXPECT_EQ(result.status, kExitConfig) << result.output;
  EXPECT_NE(result.output.find(fifo.string() + ": cannot read: is a FIFO, not a regular file"),
            std::string::npos)
      << result.output;
}

TEST_F(CommandLineTest, CheckConfigRefusesAFilterOverTheKernelsInstructionLimit) {
  std::string hosts;
  for (int i = 0; i < 1200; ++i) {
    hosts += (i > 0 ? " or " : "") + std::string("ip host 10.0.") + std::to_string(i / 256) + "." +
             std::to_string(i % 256);
  }
  const auto path = config("interfaces:\n  - name: lo\n    filter: \"" + hosts + "\"\n");
  const auto result = checkConfig(path);
  EXPECT_EQ(result.status, kExitConfig) << result.output;
  // Line 5, column 13: the filter's value, not just its interface.
  EXPECT_NE(result.output.find(path.string() + ":5:13: interface lo: invalid filter \"ip host "
                                               "10.0.0.0 or"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("(" + std::to_string(hosts.size()) + " characters)\": compiles to "),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("BPF instructions; the kernel attaches at most 4096"),
            std::string::npos)
      << result.output;
}

TEST_F(CommandLineTest, MissingConfigFileIsNamed) {
  const auto result = checkConfig(work_ / "nope.yaml");
  EXPECT_EQ(result.status, kExitConfig);
  EXPECT_NE(result.output.find((work_ / "nope.yaml").string()), std::string::npos);
  EXPECT_NE(result.output.find("No such file or directory"), std::string::npos) << result.output;
}

TEST_F(CommandLineTest, BrokenYamlIsReportedWithItsPosition) {
  const auto path = work_ / "broken.yaml";
  writeTextFile(path, "interfaces:\n  - name: [lo\n");
  const auto result = checkConfig(path);
  EXPECT_EQ(result.status, kExitConfig);
  EXPECT_NE(result.output.find(path.string() + ":"), std::string::npos) << result.output;
}

TEST_F(CommandLineTest, DaemonWithABadConfigExits78AndTouchesNoCaptureFile) {
  // The real daemon, outside any namespace the test made: so an interface no host has (were the
  // config taken, it would wait for it and capture nothing), no bus, and a time limit (were the
  // config taken, timeout's 124 fails the test instead of hanging it).
  const auto path = config("interfaces:\n  - name: prnotyet0\n    snaplen: 999999\n");
  const auto result = capture("timeout 20 " + kDaemon + " --bus none --config " + path.string());
  EXPECT_EQ(result.status, kExitConfig) << result.output;
  // Line 5, column 14: the snaplen's value, the problem line as --check-config prints it.
  EXPECT_NE(result.output.find(path.string() +
                               ":5:14: interface prnotyet0: snaplen must be between 1 and "
                               "262144, got \"999999\"\n"),
            std::string::npos)
      << result.output;
  EXPECT_FALSE(fs::exists(work_ / "out"));
}

}  // namespace
}  // namespace pcap_recorder::testing
