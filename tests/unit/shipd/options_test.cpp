#include "options.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

namespace pcap_recorder::shipd {
namespace {

std::variant<Options, UsageError> parse(std::initializer_list<const char*> arguments) {
  std::vector<const char*> argv{"pcap-recorder-shipd"};
  argv.insert(argv.end(), arguments);
  return parseOptions(static_cast<int>(argv.size()), argv.data());
}

std::string problemWith(std::initializer_list<const char*> arguments) {
  const auto parsed = parse(arguments);
  const auto* error = std::get_if<UsageError>(&parsed);
  return error ? error->message : "(accepted)";
}

TEST(ShipdOptions, TheDefaultsAreTheInstalledService) {
  const auto options = std::get<Options>(parse({}));
  EXPECT_EQ(options.config, "/etc/pcap-recorder/pcap-recorder.yaml");
  EXPECT_EQ(options.partSize, 16u << 20);
  EXPECT_EQ(options.bus, dbus::BusKind::system);
  EXPECT_FALSE(options.rescan);
  EXPECT_FALSE(options.once);
}

TEST(ShipdOptions, APartSizeIsReadWithOrWithoutAUnit) {
  EXPECT_EQ(std::get<Options>(parse({"--part-size", "262144"})).partSize, 262144u);
  EXPECT_EQ(std::get<Options>(parse({"--part-size", "64MiB"})).partSize, 64u << 20);
  EXPECT_EQ(std::get<Options>(parse({"--part-size", "5GiB"})).partSize, 5ull << 30);
}

// Each part is held in memory, ship.parallel at a time: "-1" was read as 2^64 - 1 and a typo
// such as 16000000000 asked for 16 GB per part, ended by std::bad_alloc in the first upload.
TEST(ShipdOptions, APartSizeS3CannotTakeOrThatIsNotASizeIsRefusedNamingTheOption) {
  for (const char* wrong : {"-1", "0", "5GiB1", "6GiB", "16000000000", "sixteen", ""}) {
    SCOPED_TRACE(wrong);
    EXPECT_EQ(problemWith({"--part-size", wrong}),
              std::string("--part-size takes a size from 1 byte to 5GiB, not ") + wrong);
  }
}

TEST(ShipdOptions, ARescanIsWholeSecondsUpToADay) {
  EXPECT_EQ(std::get<Options>(parse({"--rescan", "3600"})).rescan, std::chrono::seconds(3600));
  for (const char* wrong : {"0", "-5", "5s", "86401", "99999999999999999999999"}) {
    SCOPED_TRACE(wrong);
    EXPECT_EQ(problemWith({"--rescan", wrong}),
              std::string("--rescan takes whole seconds from 1 to 86400, not ") + wrong);
  }
}

TEST(ShipdOptions, TheBusIsSystemUserOrNone) {
  EXPECT_EQ(std::get<Options>(parse({"--bus", "user"})).bus, dbus::BusKind::user);
  EXPECT_FALSE(std::get<Options>(parse({"--bus", "none"})).bus);
  EXPECT_EQ(problemWith({"--bus", "session"}), "--bus takes system, user or none, not session");
}

TEST(ShipdOptions, AnUnknownOptionOrAMissingValueIsNamed) {
  EXPECT_EQ(problemWith({"--onse"}), "unknown option --onse");
  EXPECT_EQ(problemWith({"--once", "--config"}), "--config needs a value");
}

TEST(ShipdOptions, ValuesAndFlagsAreKept) {
  const auto options =
      std::get<Options>(parse({"--config", "/tmp/c.yaml", "--state", "/tmp/s", "--host", "sensor1",
                               "--once", "--check-config", "--help"}));
  EXPECT_EQ(options.config, "/tmp/c.yaml");
  EXPECT_EQ(options.state, "/tmp/s");
  EXPECT_EQ(options.host, "sensor1");
  EXPECT_TRUE(options.once);
  EXPECT_TRUE(options.checkConfig);
  EXPECT_TRUE(options.showHelp);
}

}  // namespace
}  // namespace pcap_recorder::shipd
