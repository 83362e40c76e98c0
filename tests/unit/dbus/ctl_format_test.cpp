// pcap-recorderctl's pure parts: its command line and everything it prints.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "command_line.hpp"
#include "format.hpp"

namespace pcap_recorder::ctl {
namespace {

using ::testing::HasSubstr;

std::optional<CommandLine> parse(std::vector<std::string> arguments,
                                 std::string* message = nullptr) {
  UsageError error;
  auto line = parseCommandLine(arguments, error);
  if (message) *message = error.message;
  return line;
}

TEST(CtlParseCommandLine, StatusTalksToTheSystemBusByDefault) {
  const auto line = parse({"status"});
  ASSERT_TRUE(line);
  EXPECT_EQ(line->command, Command::status);
  EXPECT_EQ(line->bus, dbus::BusKind::system);
}

TEST(CtlParseCommandLine, UserSelectsTheSessionBusBeforeOrAfterTheCommand) {
  EXPECT_EQ(parse({"--user", "status"})->bus, dbus::BusKind::user);
  EXPECT_EQ(parse({"reload", "--user"})->bus, dbus::BusKind::user);
}

TEST(CtlParseCommandLine, RotateTakesAnOptionalInterface) {
  EXPECT_EQ(parse({"rotate"})->interface, "");
  EXPECT_EQ(parse({"rotate", "eth0"})->interface, "eth0");
  EXPECT_EQ(parse({"rotate", "--", "-odd"})->interface, "-odd");
  std::string message;
  EXPECT_FALSE(parse({"rotate", "eth0", "eth1"}, &message));
  EXPECT_EQ(message, "unexpected argument eth1");
}

// `pcap-recorderctl rotate "$IFACE"` with IFACE unset: not every interface.
TEST(CtlParseCommandLine, AnEmptyInterfaceIsAMistakeNotEveryInterface) {
  std::string message;
  EXPECT_FALSE(parse({"rotate", ""}, &message));
  EXPECT_EQ(message, "rotate: the interface name is empty (rotate alone rotates every one)");
}

TEST(CtlParseCommandLine, JsonGoesWithStatsOnly) {
  EXPECT_TRUE(parse({"stats", "--json"})->json);
  EXPECT_FALSE(parse({"stats"})->json);
  std::string message;
  EXPECT_FALSE(parse({"status", "--json"}, &message));
  EXPECT_EQ(message, "--json goes with stats only");
}

TEST(CtlParseCommandLine, HelpAndVersionWinOverAnythingElse) {
  EXPECT_EQ(parse({"-h"})->command, Command::help);
  EXPECT_EQ(parse({"rotate", "eth0", "--help"})->command, Command::help);
  EXPECT_EQ(parse({"--version"})->command, Command::version);
  EXPECT_EQ(parse({"-V", "status"})->command, Command::version);
}

TEST(CtlParseCommandLine, MistakesAreNamed) {
  std::string message;
  EXPECT_FALSE(parse({}, &message));
  EXPECT_EQ(message, "missing command");
  EXPECT_FALSE(parse({"frobnicate"}, &message));
  EXPECT_EQ(message, "unknown command frobnicate");
  EXPECT_FALSE(parse({"--frobnicate", "status"}, &message));
  EXPECT_EQ(message, "unknown option --frobnicate");
  EXPECT_FALSE(parse({"status", "eth0"}, &message));
  EXPECT_EQ(message, "unexpected argument eth0");
}

TEST(CtlJson, StringsAreQuotedAndEscaped) {
  EXPECT_EQ(jsonString("plain"), "\"plain\"");
  EXPECT_EQ(jsonString("say \"hi\" \\ there"), "\"say \\\"hi\\\" \\\\ there\"");
  EXPECT_EQ(jsonString("a\nb\tc\rd\be\ff"), "\"a\\nb\\tc\\rd\\be\\ff\"");
  EXPECT_EQ(jsonString(std::string("nul\0x\x01\x1f\x7f", 8)),
            "\"nul\\u0000x\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(jsonString("caf\xC3\xA9 /"), "\"caf\xC3\xA9 /\"");
  EXPECT_EQ(jsonString(""), "\"\"");
}

TEST(CtlJson, ValuesAreWrittenByType) {
  EXPECT_EQ(jsonValue(std::uint64_t{18446744073709551615u}), "18446744073709551615");
  EXPECT_EQ(jsonValue(std::int64_t{-5}), "-5");
  EXPECT_EQ(jsonValue(true), "true");
  EXPECT_EQ(jsonValue(0.5), "0.5");
  EXPECT_EQ(jsonValue(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(jsonValue(std::string("x")), "\"x\"");
}

TEST(CtlText, KeysBecomeLowercaseLabels) {
  EXPECT_EQ(labelOf("PacketsLostToDisk"), "packets lost to disk");
  EXPECT_EQ(labelOf("FilesWithoutSha256"), "files without sha256");
  EXPECT_EQ(labelOf("State"), "state");
  EXPECT_EQ(labelOf("lowercase"), "lowercase");
}

TEST(CtlTable, ColumnsAlignLeftOrRightWithoutTrailingBlanks) {
  EXPECT_EQ(formatTable({{"NAME", "COUNT", "NOTE"}, {"a", "7", ""}, {"longer", "1234", "x"}},
                        {false, true, false}),
            "NAME    COUNT  NOTE\n"
            "a           7\n"
            "longer   1234  x\n");
}

TEST(CtlTable, WidthsCountCharactersNotBytes) {
  EXPECT_EQ(formatTable({{"caf\xC3\xA9", "x"}, {"abcde", "y"}}, {}),
            "caf\xC3\xA9   x\n"
            "abcde  y\n");
}

RecorderSnapshot sampleSnapshot() {
  RecorderSnapshot snapshot;
  snapshot.version = "1.2.3";
  snapshot.interfaces.push_back({"eth0",
                                 {{"State", std::string("capturing")},
                                  {"PacketsWritten", std::uint64_t{10}},
                                  {"KernelDrops", std::uint64_t{2}},
                                  {"PacketsLostToDisk", std::uint64_t{0}},
                                  {"FilesWritten", std::uint64_t{1}},
                                  {"CurrentFile", std::string("/d/eth0.pcap.part")}}});
  snapshot.interfaces.push_back({"wlan \"0\"", {{"State", std::string("stopped")}}});
  return snapshot;
}

TEST(CtlStatus, ShowsOneRowPerInterfaceAndADashForWhatIsMissing) {
  EXPECT_EQ(formatStatus(sampleSnapshot()),
            "pcap-recorderd 1.2.3\n"
            "INTERFACE  STATE      PACKETS WRITTEN  KERNEL DROPS  LOST TO DISK  FILES  CURRENT "
            "FILE\n"
            "eth0       capturing               10             2             0      1  "
            "/d/eth0.pcap.part\n"
            "wlan \"0\"   stopped                  -             -             -      -  -\n");
}

TEST(CtlStatus, SaysSoWhenNoInterfaceIsConfigured) {
  EXPECT_EQ(formatStatus({"1.2.3", {}}), "pcap-recorderd 1.2.3\nno interfaces\n");
  EXPECT_EQ(formatStats({"1.2.3", {}}), "pcap-recorderd 1.2.3\nno interfaces\n");
  EXPECT_EQ(formatStatsJson({"1.2.3", {}}), "{\"version\":\"1.2.3\",\"interfaces\":{}}\n");
}

TEST(CtlStats, JsonKeepsTheDaemonsKeysOrderAndTypes) {
  EXPECT_EQ(formatStatsJson(sampleSnapshot()),
            "{\"version\":\"1.2.3\",\"interfaces\":{\"eth0\":{\"State\":\"capturing\","
            "\"PacketsWritten\":10,\"KernelDrops\":2,\"PacketsLostToDisk\":0,\"FilesWritten\":1,"
            "\"CurrentFile\":\"/d/eth0.pcap.part\"},\"wlan \\\"0\\\"\":{\"State\":\"stopped\"}}}"
            "\n");
}

TEST(CtlStats, TextListsEveryFieldUnderItsInterface) {
  const std::string text = formatStats(sampleSnapshot());
  EXPECT_THAT(text, HasSubstr("\neth0\n  state                 capturing\n"
                              "  packets written       10\n"));
  EXPECT_THAT(text, HasSubstr("\nwlan \"0\"\n  state  stopped\n"));
}

}  // namespace
}  // namespace pcap_recorder::ctl
