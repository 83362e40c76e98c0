#include "pcap_recorder/config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace pcap_recorder::config {

// Lets gtest show a failing Problem as text rather than bytes; ADL finds it here, next to Problem.
void PrintTo(const Problem& problem, std::ostream* out) {
  *out << format(problem);
}

namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr char kFile[] = "test.yaml";
constexpr char kOneInterface[] = "interfaces:\n  - name: eth0\n";

std::vector<Problem> problemsOf(const std::string& yaml, const DirectoryResolver& resolve = {}) {
  try {
    parse(yaml, kFile, resolve);
  } catch (const ConfigError& error) {
    return error.problems();
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << yaml;
  return {};
}

// The single problem `yaml` has; fails the test if it has none or several.
Problem problemOf(const std::string& yaml) {
  std::vector<Problem> problems = problemsOf(yaml);
  if (problems.size() != 1) {
    ADD_FAILURE() << "expected exactly one problem, got " << problems.size() << " for:\n" << yaml;
    for (const Problem& problem : problems) ADD_FAILURE() << format(problem);
    return {};
  }
  return problems.front();
}

// Matches a Problem at test.yaml:line:column whose message matches `message`.
template <typename MessageMatcher>
auto IsProblem(int line, int column, MessageMatcher message) {
  return AllOf(
      Field("where", &Problem::where,
            AllOf(Field("file", &Location::file, kFile), Field("line", &Location::line, line),
                  Field("column", &Location::column, column))),
      Field("message", &Problem::message, message));
}

// --- Defaults, inheritance and overrides -----------------------------------------------------

TEST(ConfigParse, GivesAMinimalConfigTheDocumentedDefaults) {
  const Config config = parse(kOneInterface, kFile);

  EXPECT_EQ(config.sourceFile, kFile);
  ASSERT_THAT(config.interfaces, SizeIs(1));
  const InterfaceSettings& eth0 = config.interfaces[0];
  EXPECT_EQ(eth0.name, "eth0");
  EXPECT_EQ(eth0.filter, "");
  EXPECT_EQ(eth0.output.directory, "/var/lib/pcap-recorder");
  EXPECT_EQ(eth0.output.fileName, "{interface}-%Y%m%dT%H%M%S.pcap");
  EXPECT_EQ(eth0.output.snaplen, 262144u);
  EXPECT_EQ(eth0.output.timestamp, TimestampPrecision::micro);
  EXPECT_EQ(eth0.capture.ringBytes, 33'554'432u);
  EXPECT_TRUE(eth0.capture.promiscuous);
  EXPECT_EQ(eth0.where.file, kFile);
  EXPECT_EQ(eth0.where.line, 2);
  EXPECT_EQ(eth0.where.column, 5);
}

TEST(ConfigParse, ReadsEveryKeyOfTheDocumentedExample) {
  const Config config = parse(
      "output:\n"
      "  directory: /srv/pcap\n"
      "  file_name: \"{interface}-%Y%m%dT%H%M%S-{seq}.pcap\"\n"
      "  snaplen: 65535\n"
      "  timestamp: nano\n"
      "capture:\n"
      "  ring_size: 64MiB\n"
      "  promiscuous: false\n"
      "interfaces:\n"
      "  - name: eth0\n"
      "    filter: \"tcp port 443 or udp port 53\"\n",
      kFile);

  ASSERT_THAT(config.interfaces, SizeIs(1));
  const InterfaceSettings& eth0 = config.interfaces[0];
  EXPECT_EQ(eth0.filter, "tcp port 443 or udp port 53");
  EXPECT_EQ(eth0.output.directory, "/srv/pcap");
  EXPECT_EQ(eth0.output.fileName, "{interface}-%Y%m%dT%H%M%S-{seq}.pcap");
  EXPECT_EQ(eth0.output.snaplen, 65535u);
  EXPECT_EQ(eth0.output.timestamp, TimestampPrecision::nano);
  EXPECT_EQ(eth0.capture.ringBytes, 64u << 20);
  EXPECT_FALSE(eth0.capture.promiscuous);
}

TEST(ConfigParse, LetsInterfacesInheritGlobalValuesAndOverrideThemFlatOrNested) {
  const Config config = parse(
      "output:\n"
      "  snaplen: 1500\n"
      "  directory: /srv/pcap\n"
      "capture:\n"
      "  ring_size: 64MiB\n"
      "  promiscuous: false\n"
      "interfaces:\n"
      "  - name: eth0\n"
      "  - name: eth1\n"
      "    snaplen: 128\n"
      "    timestamp: nano\n"
      "    capture: { promiscuous: true }\n"
      "  - name: eth2\n"
      "    output:\n"
      "      directory: /srv/other\n"
      "    ring_size: 1GiB\n",
      kFile);

  ASSERT_THAT(config.interfaces, SizeIs(3));
  const InterfaceSettings& eth0 = config.interfaces[0];
  EXPECT_EQ(eth0.output.snaplen, 1500u);
  EXPECT_EQ(eth0.output.directory, "/srv/pcap");
  EXPECT_EQ(eth0.output.timestamp, TimestampPrecision::micro);
  EXPECT_EQ(eth0.capture.ringBytes, 64u << 20);
  EXPECT_FALSE(eth0.capture.promiscuous);

  const InterfaceSettings& eth1 = config.interfaces[1];
  EXPECT_EQ(eth1.output.snaplen, 128u);
  EXPECT_EQ(eth1.output.timestamp, TimestampPrecision::nano);
  EXPECT_TRUE(eth1.capture.promiscuous);
  EXPECT_EQ(eth1.output.directory, "/srv/pcap");
  EXPECT_EQ(eth1.capture.ringBytes, 64u << 20);

  const InterfaceSettings& eth2 = config.interfaces[2];
  EXPECT_EQ(eth2.output.directory, "/srv/other");
  EXPECT_EQ(eth2.capture.ringBytes, 1u << 30);
  EXPECT_EQ(eth2.output.snaplen, 1500u);
  EXPECT_FALSE(eth2.capture.promiscuous);
}

TEST(ConfigParse, AppliesGlobalSectionsEvenWhenTheyComeAfterTheInterfaces) {
  const Config config = parse(
      "interfaces:\n"
      "  - name: eth0\n"
      "output:\n"
      "  snaplen: 96\n",
      kFile);

  ASSERT_THAT(config.interfaces, SizeIs(1));
  EXPECT_EQ(config.interfaces[0].output.snaplen, 96u);
}

TEST(ConfigParse, AcceptsEmptyGlobalSections) {
  const Config config = parse("output:\ncapture:\ninterfaces:\n  - name: eth0\n", kFile);

  ASSERT_THAT(config.interfaces, SizeIs(1));
  EXPECT_EQ(config.interfaces[0].output.snaplen, kMaxSnaplen);
}

TEST(ConfigParse, KeepsInterfacesInFileOrder) {
  const Config config = parse(
      "interfaces:\n"
      "  - name: wlan0\n"
      "  - name: eth0\n"
      "  - name: br-lan\n",
      kFile);

  ASSERT_THAT(config.interfaces, SizeIs(3));
  EXPECT_EQ(config.interfaces[0].name, "wlan0");
  EXPECT_EQ(config.interfaces[1].name, "eth0");
  EXPECT_EQ(config.interfaces[2].name, "br-lan");
  EXPECT_EQ(config.interfaces[2].where.line, 4);
}

TEST(ConfigParse, TreatsAMissingOrEmptyFilterAsRecordEverything) {
  const Config config = parse(
      "interfaces:\n"
      "  - name: eth0\n"
      "    filter:\n"
      "  - name: eth1\n"
      "    filter: \"\"\n"
      "  - name: eth2\n",
      kFile);

  ASSERT_THAT(config.interfaces, SizeIs(3));
  for (const InterfaceSettings& interface : config.interfaces) EXPECT_EQ(interface.filter, "");
}

TEST(ConfigParse, AcceptsTheUsualYamlSpellingsOfBooleans) {
  for (const char* yes : {"true", "True", "yes", "on"}) {
    const Config config =
        parse(std::string("capture: {promiscuous: ") + yes + "}\n" + kOneInterface, kFile);
    EXPECT_TRUE(config.interfaces.at(0).capture.promiscuous) << yes;
  }
  for (const char* no : {"false", "FALSE", "no", "off"}) {
    const Config config =
        parse(std::string("capture: {promiscuous: ") + no + "}\n" + kOneInterface, kFile);
    EXPECT_FALSE(config.interfaces.at(0).capture.promiscuous) << no;
  }
}

TEST(ConfigParse, AcceptsRingSizesAsPlainBytesOrWithAUnitWithinTheAllowedRange) {
  const Config config = parse(
      "capture: {ring_size: 1048576}\n"
      "interfaces:\n"
      "  - name: eth0\n"
      "  - name: eth1\n"
      "    ring_size: 16GiB\n"
      "  - name: eth2\n"
      "    ring_size: 1 GB\n",
      kFile);

  ASSERT_THAT(config.interfaces, SizeIs(3));
  EXPECT_EQ(config.interfaces[0].capture.ringBytes, 1u << 20);
  EXPECT_EQ(config.interfaces[1].capture.ringBytes, 16ull << 30);
  EXPECT_EQ(config.interfaces[2].capture.ringBytes, 1'000'000'000u);
}

TEST(ConfigParse, AcceptsSnaplenAtBothEndsOfItsRange) {
  const Config config = parse(
      "interfaces:\n"
      "  - {name: eth0, snaplen: 1}\n"
      "  - {name: eth1, snaplen: 262144}\n",
      kFile);

  ASSERT_THAT(config.interfaces, SizeIs(2));
  EXPECT_EQ(config.interfaces[0].output.snaplen, 1u);
  EXPECT_EQ(config.interfaces[1].output.snaplen, 262144u);
}

// --- Unknown and misplaced keys --------------------------------------------------------------

TEST(ConfigParse, SuggestsTheNearestKeyForAMisspelledOne) {
  EXPECT_THAT(problemOf("output:\n  snaplenn: 128\n" + std::string(kOneInterface)),
              IsProblem(2, 3, "unknown key \"snaplenn\" in output (did you mean \"snaplen\"?)"));
  EXPECT_THAT(
      problemOf("capture:\n  ring-size: 8MiB\n" + std::string(kOneInterface)),
      IsProblem(2, 3, "unknown key \"ring-size\" in capture (did you mean \"ring_size\"?)"));
}

TEST(ConfigParse, SuggestsAKeyThatDiffersOnlyInCase) {
  EXPECT_THAT(problemOf("output:\n  FILE_NAME: x.pcap\n" + std::string(kOneInterface)),
              IsProblem(2, 3, "unknown key \"FILE_NAME\" in output (did you mean \"file_name\"?)"));
}

TEST(ConfigParse, ReportsAnUnknownKeyWithoutASuggestionWhenNothingIsClose) {
  EXPECT_THAT(problemOf("output:\n  colour: blue\n" + std::string(kOneInterface)),
              IsProblem(2, 3, "unknown key \"colour\" in output"));
}

TEST(ConfigParse, ReportsUnknownTopLevelKeys) {
  EXPECT_THAT(problemOf("interface:\n  - name: eth0\n" + std::string(kOneInterface)),
              IsProblem(1, 1,
                        "unknown key \"interface\" at the top level (did you mean "
                        "\"interfaces\"?)"));
  EXPECT_THAT(problemOf(std::string(kOneInterface) + "statistics:\n  interval: 1h\n"),
              IsProblem(3, 1, "unknown key \"statistics\" at the top level"));
}

TEST(ConfigParse, SaysWhichSectionAMisplacedKeyBelongsIn) {
  EXPECT_THAT(problemOf("output:\n  promiscuous: false\n" + std::string(kOneInterface)),
              IsProblem(2, 3, "unknown key \"promiscuous\" in output (it belongs in capture)"));
  EXPECT_THAT(problemOf("snaplen: 64\n" + std::string(kOneInterface)),
              IsProblem(1, 1, "unknown key \"snaplen\" at the top level (it belongs in output)"));
}

TEST(ConfigParse, ReportsUnknownKeysInsideAnInterfaceAndItsNestedSections) {
  EXPECT_THAT(problemOf("interfaces:\n"
                        "  - name: eth0\n"
                        "    snaplenn: 128\n"),
              IsProblem(3, 5,
                        "unknown key \"snaplenn\" in interface eth0 (did you mean "
                        "\"snaplen\"?)"));
  EXPECT_THAT(problemOf("interfaces:\n"
                        "  - name: eth0\n"
                        "    capture: {promiscous: false}\n"),
              IsProblem(3, 15,
                        "unknown key \"promiscous\" in capture of interface eth0 (did you "
                        "mean \"promiscuous\"?)"));
  EXPECT_THAT(problemOf("interfaces:\n"
                        "  - name: eth0\n"
                        "    filtre: tcp\n"),
              IsProblem(3, 5,
                        "unknown key \"filtre\" in interface eth0 (did you mean "
                        "\"filter\"?)"));
}

TEST(ConfigParse, RejectsAKeyGivenTwiceInTheSameMap) {
  EXPECT_THAT(problemOf("output:\n"
                        "  snaplen: 128\n"
                        "  snaplen: 256\n" +
                        std::string(kOneInterface)),
              IsProblem(3, 3, "duplicate key \"snaplen\" in output (first given at line 2)"));
}

TEST(ConfigParse, RejectsAnInterfaceSettingTheSameKeyFlatAndNested) {
  EXPECT_THAT(problemOf("interfaces:\n"
                        "  - name: eth0\n"
                        "    snaplen: 128\n"
                        "    output:\n"
                        "      snaplen: 256\n"),
              IsProblem(5, 7, "interface eth0 sets snaplen twice (lines 3 and 5)"));
}

// --- Wrong types and values ------------------------------------------------------------------

TEST(ConfigParse, RejectsASnaplenThatIsNotANumber) {
  EXPECT_THAT(problemOf("output:\n  snaplen: \"abc\"\n" + std::string(kOneInterface)),
              IsProblem(2, 12, "output.snaplen must be a whole number, got \"abc\""));
  EXPECT_THAT(problemOf("output:\n  snaplen: 1.5\n" + std::string(kOneInterface)),
              IsProblem(2, 12, "output.snaplen must be a whole number, got \"1.5\""));
  EXPECT_THAT(problemOf("output:\n  snaplen: [1]\n" + std::string(kOneInterface)),
              IsProblem(2, 12, "output.snaplen must be a whole number, got a list"));
}

TEST(ConfigParse, RejectsASnaplenOutsideItsRange) {
  EXPECT_THAT(problemOf("output:\n  snaplen: 0\n" + std::string(kOneInterface)),
              IsProblem(2, 12, "output.snaplen must be between 1 and 262144, got \"0\""));
  EXPECT_THAT(problemOf("output:\n  snaplen: 300000\n" + std::string(kOneInterface)),
              IsProblem(2, 12, "output.snaplen must be between 1 and 262144, got \"300000\""));
  EXPECT_THAT(problemOf("output:\n  snaplen: -1\n" + std::string(kOneInterface)),
              IsProblem(2, 12, "output.snaplen must be between 1 and 262144, got \"-1\""));
  EXPECT_THAT(
      problemOf("output:\n  snaplen: 99999999999999999999999\n" + std::string(kOneInterface)),
      IsProblem(2, 12, HasSubstr("output.snaplen must be between 1 and 262144")));
}

TEST(ConfigParse, ValidatesPerInterfaceOverridesLikeGlobalValues) {
  EXPECT_THAT(
      problemsOf("interfaces:\n"
                 "  - name: eth0\n"
                 "    snaplen: 0\n"
                 "  - name: eth1\n"
                 "    capture: {promiscuous: maybe}\n"
                 "  - name: eth2\n"
                 "    ring_size: 512KiB\n"
                 "  - name: eth3\n"
                 "    output: {timestamp: milli}\n"),
      ElementsAre(
          IsProblem(3, 14, "interface eth0: snaplen must be between 1 and 262144, got \"0\""),
          IsProblem(5, 28,
                    "interface eth1: capture.promiscuous must be true or false, "
                    "got \"maybe\""),
          IsProblem(7, 16,
                    "interface eth2: ring_size must be between 1MiB and 16GiB, "
                    "got \"512KiB\""),
          IsProblem(9, 25,
                    "interface eth3: output.timestamp must be micro or nano, got "
                    "\"milli\"")));
}

TEST(ConfigParse, RejectsABooleanThatIsNeitherTrueNorFalse) {
  EXPECT_THAT(problemOf("capture:\n  promiscuous: maybe\n" + std::string(kOneInterface)),
              IsProblem(2, 16, "capture.promiscuous must be true or false, got \"maybe\""));
  EXPECT_THAT(problemOf("capture:\n  promiscuous: 1\n" + std::string(kOneInterface)),
              IsProblem(2, 16, "capture.promiscuous must be true or false, got \"1\""));
}

TEST(ConfigParse, RejectsATimestampPrecisionOtherThanMicroOrNano) {
  EXPECT_THAT(problemOf("output:\n  timestamp: milli\n" + std::string(kOneInterface)),
              IsProblem(2, 14, "output.timestamp must be micro or nano, got \"milli\""));
}

TEST(ConfigParse, ReadsDirectIoAutoByDefaultOnOrOffPerInterface) {
  const Config config = parse(
      "output:\n"
      "  direct_io: off\n"
      "interfaces:\n"
      "  - name: eth0\n"
      "  - name: eth1\n"
      "    output: {direct_io: on}\n",
      kFile);
  ASSERT_THAT(config.interfaces, SizeIs(2));
  EXPECT_EQ(config.interfaces[0].output.directIo, DirectIo::off);
  EXPECT_EQ(config.interfaces[1].output.directIo, DirectIo::on);
  EXPECT_EQ(parse(std::string(kOneInterface), kFile).interfaces[0].output.directIo,
            DirectIo::automatic);
  EXPECT_THAT(problemOf("output:\n  direct_io: yes\n" + std::string(kOneInterface)),
              IsProblem(2, 14, "output.direct_io must be auto, on or off, got \"yes\""));
}

TEST(ConfigParse, ReadsIndexOnByDefaultOffPerInterface) {
  const Config config = parse(
      "output:\n"
      "  index: false\n"
      "interfaces:\n"
      "  - name: eth0\n"
      "  - name: eth1\n"
      "    output: {index: true}\n"
      "  - name: eth2\n"
      "    index: no\n",
      kFile);
  ASSERT_THAT(config.interfaces, SizeIs(3));
  EXPECT_FALSE(config.interfaces[0].output.index);
  EXPECT_TRUE(config.interfaces[1].output.index);
  EXPECT_FALSE(config.interfaces[2].output.index);
  EXPECT_TRUE(parse(std::string(kOneInterface), kFile).interfaces[0].output.index);
  EXPECT_THAT(problemOf("output:\n  index: sometimes\n" + std::string(kOneInterface)),
              IsProblem(2, 10, "output.index must be true or false, got \"sometimes\""));
}

TEST(ConfigParse, RejectsAnUnparsableRingSize) {
  EXPECT_THAT(problemOf("capture:\n  ring_size: 32XB\n" + std::string(kOneInterface)),
              IsProblem(2, 14,
                        AllOf(StartsWith("capture.ring_size must be a size"),
                              HasSubstr("KiB, MiB, GiB or TiB; got \"32XB\""))));
  EXPECT_THAT(problemOf("capture:\n  ring_size: -1MiB\n" + std::string(kOneInterface)),
              IsProblem(2, 14, StartsWith("capture.ring_size must be a size")));
}

TEST(ConfigParse, RejectsARingSizeOutsideOneMebibyteToSixteenGibibytes) {
  EXPECT_THAT(
      problemOf("capture:\n  ring_size: 1048575\n" + std::string(kOneInterface)),
      IsProblem(2, 14, "capture.ring_size must be between 1MiB and 16GiB, got \"1048575\""));
  EXPECT_THAT(problemOf("capture:\n  ring_size: 17GiB\n" + std::string(kOneInterface)),
              IsProblem(2, 14, "capture.ring_size must be between 1MiB and 16GiB, got \"17GiB\""));
  EXPECT_THAT(problemOf("capture:\n  ring_size: 0\n" + std::string(kOneInterface)),
              IsProblem(2, 14, "capture.ring_size must be between 1MiB and 16GiB, got \"0\""));
}

TEST(ConfigParse, RejectsASectionThatIsNotAMap) {
  EXPECT_THAT(problemOf("capture: 5\n" + std::string(kOneInterface)),
              IsProblem(1, 10, "capture must be a map of capture settings, got \"5\""));
  EXPECT_THAT(problemOf("interfaces:\n"
                        "  - name: eth0\n"
                        "    output: [a]\n"),
              IsProblem(3, 13,
                        "interface eth0: output must be a map of output settings, got a "
                        "list"));
}

TEST(ConfigParse, RejectsAnEmptyOrNonStringDirectory) {
  EXPECT_THAT(problemOf("output:\n  directory: \"\"\n" + std::string(kOneInterface)),
              IsProblem(2, 14, "output.directory must not be empty"));
  EXPECT_THAT(problemOf("output:\n  directory:\n" + std::string(kOneInterface)),
              IsProblem(2, 3, "output.directory must not be empty"));
  EXPECT_THAT(problemOf("output:\n  directory: {a: b}\n" + std::string(kOneInterface)),
              IsProblem(2, 14, "output.directory must be a string, got a map"));
}

// --- The interfaces list ---------------------------------------------------------------------

TEST(ConfigParse, RequiresAnInterfacesList) {
  EXPECT_THAT(problemOf("output:\n  snaplen: 128\n"),
              IsProblem(1, 1, "interfaces is missing; list at least one interface to record"));
}

TEST(ConfigParse, RejectsAnEmptyInterfacesList) {
  EXPECT_THAT(problemOf("interfaces: []\n"),
              IsProblem(1, 13, "interfaces must list at least one interface to record"));
  EXPECT_THAT(problemOf("interfaces:\n"),
              IsProblem(1, 1, "interfaces must list at least one interface to record"));
}

TEST(ConfigParse, RejectsInterfacesGivenAsAMap) {
  EXPECT_THAT(problemOf("interfaces:\n  eth0: {}\n"),
              IsProblem(2, 3,
                        "interfaces must be a list, each item starting with `- name:`, got "
                        "a map"));
}

TEST(ConfigParse, RejectsAnInterfaceItemThatIsNotAMap) {
  EXPECT_THAT(problemOf("interfaces:\n  - eth0\n"),
              IsProblem(2, 5,
                        "interfaces[0] must be a map with at least a name, like `- name: "
                        "eth0`, got \"eth0\""));
}

TEST(ConfigParse, RejectsAnInterfaceWithoutAName) {
  EXPECT_THAT(problemOf("interfaces:\n"
                        "  - name: eth0\n"
                        "  - snaplen: 64\n"),
              IsProblem(3, 5,
                        "interfaces[1] has no name; every interface needs one, like `- "
                        "name: eth0`"));
  EXPECT_THAT(problemOf("interfaces:\n  - name:\n"),
              IsProblem(2, 5, "interfaces[0].name must not be empty"));
}

TEST(ConfigParse, NamesAnUnnamedInterfaceByItsIndexInOtherMessages) {
  EXPECT_THAT(problemsOf("interfaces:\n"
                         "  - name: eth0\n"
                         "  - snaplen: 0\n"),
              ElementsAre(IsProblem(3, 5, HasSubstr("interfaces[1] has no name")),
                          IsProblem(3, 14,
                                    "interfaces[1]: snaplen must be between 1 and 262144, "
                                    "got \"0\"")));
}

TEST(ConfigParse, RejectsInterfaceNamesLinuxWouldRefuse) {
  EXPECT_THAT(problemOf("interfaces:\n  - name: abcdefghijklmnop\n"),
              IsProblem(2, 11,
                        "interface name \"abcdefghijklmnop\" is too long (16 characters; "
                        "Linux allows at most 15)"));
  for (const char* bad : {"\"eth 0\"", "eth/0", "eth0:1", "\"eth0\\t\""}) {
    EXPECT_THAT(problemOf(std::string("interfaces:\n  - name: ") + bad + "\n"),
                IsProblem(2, 11, HasSubstr("must not contain '/', ':' or whitespace")))
        << bad;
  }
  EXPECT_THAT(problemOf("interfaces:\n  - name: ..\n"),
              IsProblem(2, 11, "interface name \"..\" is not a valid interface name"));
}

TEST(ConfigParse, AcceptsAFifteenCharacterInterfaceName) {
  const Config config = parse("interfaces:\n  - name: abcdefghijklmno\n", kFile);

  EXPECT_EQ(config.interfaces.at(0).name, "abcdefghijklmno");
}

TEST(ConfigParse, RejectsADuplicateInterfaceNamingBothLines) {
  EXPECT_THAT(problemOf("interfaces:\n"
                        "  - name: eth0\n"
                        "  - name: eth1\n"
                        "  - name: eth0\n"
                        "    snaplen: 64\n"),
              IsProblem(4, 5, "interface eth0 is listed twice, at lines 2 and 4"));
}

// --- File name templates ---------------------------------------------------------------------

TEST(ConfigParse, AcceptsFileNamesUsingSafeConversionsAndKnownPlaceholders) {
  const Config config = parse(
      "output:\n"
      "  file_name: \"{interface}_%F_%j_%s_%a%b%y_%%_{seq}.pcap\"\n" +
          std::string(kOneInterface),
      kFile);

  EXPECT_EQ(config.interfaces.at(0).output.fileName, "{interface}_%F_%j_%s_%a%b%y_%%_{seq}.pcap");
}

TEST(ConfigParse, RejectsAnEmptyFileName) {
  EXPECT_THAT(problemOf("output:\n  file_name: \"\"\n" + std::string(kOneInterface)),
              IsProblem(2, 14, "output.file_name must not be empty"));
}

TEST(ConfigParse, RejectsAFileNameContainingASlash) {
  EXPECT_THAT(
      problemOf("output:\n  file_name: \"{interface}/%s.pcap\"\n" + std::string(kOneInterface)),
      IsProblem(2, 14,
                "output.file_name \"{interface}/%s.pcap\" must be a plain file name "
                "without '/' (set the folder with directory)"));
}

TEST(ConfigParse, RejectsAnUnsafeOrUnknownTimeConversionAndSaysWhichOne) {
  EXPECT_THAT(
      problemOf("output:\n  file_name: \"{interface}-%Q.pcap\"\n" + std::string(kOneInterface)),
      IsProblem(2, 14,
                AllOf(StartsWith("output.file_name \"{interface}-%Q.pcap\" uses %Q, "
                                 "which is not an allowed time conversion (allowed: "
                                 "%a %A"),
                      HasSubstr("%Y"))));
  // %D expands to "11/23/25", which would turn into a subdirectory.
  EXPECT_THAT(
      problemOf("output:\n  file_name: \"{interface}-%D.pcap\"\n" + std::string(kOneInterface)),
      IsProblem(2, 14, HasSubstr("uses %D, which is not an allowed time conversion")));
  EXPECT_THAT(
      problemOf("output:\n  file_name: \"{interface}-%T.pcap\"\n" + std::string(kOneInterface)),
      IsProblem(2, 14, HasSubstr("uses %T, which is not an allowed time conversion")));
}

TEST(ConfigParse, RejectsAFileNameEndingInALonePercentSign) {
  EXPECT_THAT(
      problemOf("output:\n  file_name: \"{interface}-100%\"\n" + std::string(kOneInterface)),
      IsProblem(2, 14,
                "output.file_name \"{interface}-100%\" ends with a lone '%' (write "
                "%% for a literal percent sign)"));
}

TEST(ConfigParse, RejectsUnknownAndUnclosedPlaceholders) {
  EXPECT_THAT(
      problemOf("output:\n  file_name: \"{interface}-{foo}.pcap\"\n" + std::string(kOneInterface)),
      IsProblem(2, 14,
                "output.file_name \"{interface}-{foo}.pcap\" uses unknown "
                "placeholder {foo} (known: {interface} or {seq})"));
  EXPECT_THAT(
      problemOf("output:\n  file_name: \"{interface-%s.pcap\"\n" + std::string(kOneInterface)),
      IsProblem(2, 14,
                "output.file_name \"{interface-%s.pcap\" has a '{' without a closing "
                "'}'"));
}

TEST(ConfigParse, ReportsEveryProblemInOneFileName) {
  EXPECT_THAT(problemsOf("interfaces:\n"
                         "  - name: eth0\n"
                         "    file_name: \"a/%Q{x}\"\n"),
              ElementsAre(IsProblem(3, 16, HasSubstr("without '/'")),
                          IsProblem(3, 16, HasSubstr("uses %Q")),
                          IsProblem(3, 16, HasSubstr("unknown placeholder {x}"))));
}

// --- File name collisions --------------------------------------------------------------------

TEST(ConfigParse, RejectsTwoInterfacesWhoseFilesCouldCollideInOneDirectory) {
  EXPECT_THAT(problemOf("output:\n"
                        "  file_name: \"capture-%Y%m%d%H%M%S.pcap\"\n"
                        "interfaces:\n"
                        "  - name: eth0\n"
                        "  - name: eth1\n"),
              IsProblem(5, 5,
                        "interfaces eth0 (line 4) and eth1 both write to "
                        "\"/var/lib/pcap-recorder\" and their file names could collide; put "
                        "{interface} in both file_name templates, or start them with "
                        "different text"));
}

TEST(ConfigParse, ComparesDirectoriesAfterLexicalNormalization) {
  EXPECT_THAT(problemOf("output: {file_name: \"cap-%s.pcap\"}\n"
                        "interfaces:\n"
                        "  - {name: eth0, directory: /srv/pcap}\n"
                        "  - {name: eth1, directory: /srv/other/.././pcap/}\n"),
              IsProblem(4, 5, HasSubstr("eth1 both write to \"/srv/pcap\"")));
}

// Everything that groups or compares directories (retention, the finisher's files in progress,
// pcap-recorderctl) relies on one spelling per directory.
TEST(ConfigParse, ReadsEveryDirectoryInOneSpellingAndLeavesDotDotToTheKernel) {
  const Config config = parse(
      "output: {directory: /srv/pcap/.}\n"
      "interfaces:\n"
      "  - {name: eth0, file_name: \"a-%s.pcap\"}\n"
      "  - {name: eth1, file_name: \"b-%s.pcap\", directory: /srv/x/../pcap/}\n"
      "  - {name: eth2, file_name: \"c-%s.pcap\", directory: /captures//eth2/}\n"
      "  - {name: eth3, file_name: \"d-%s.pcap\", directory: /}\n",
      kFile);
  ASSERT_THAT(config.interfaces, SizeIs(4));
  EXPECT_EQ(config.interfaces[0].output.directory.string(), "/srv/pcap");
  EXPECT_EQ(config.interfaces[1].output.directory.string(), "/srv/x/../pcap");
  EXPECT_EQ(config.interfaces[2].output.directory.string(), "/captures/eth2");
  EXPECT_EQ(config.interfaces[3].output.directory.string(), "/");
}

// pcap-recorderctl and the shipper read the directory from their own working directory, the
// daemon under systemd from /: a relative one (or "~/pcap", which no shell expands here) would be
// three different directories.
TEST(ConfigParse, ARelativeOutputDirectoryIsRefused) {
  for (const char* directory : {"captures", "var/lib/pcap-recorder", "~/pcap", "./x"}) {
    EXPECT_THAT(problemOf("output:\n  directory: \"" + std::string(directory) + "\"\n" +
                          std::string(kOneInterface)),
                IsProblem(2, 14, HasSubstr("must be an absolute path")))
        << directory;
  }
}

// What the file system would answer for the next tests, where /srv/link is a symbolic link to
// /data/captures and /srv/locked cannot be looked into.
std::optional<std::filesystem::path> resolvedAsIfLinked(const std::filesystem::path& directory) {
  std::string path = directory.string();
  if (path.rfind("/srv/locked", 0) == 0) return std::nullopt;
  if (path.rfind("/srv/link", 0) == 0) path = "/data/captures" + path.substr(9);
  return std::filesystem::path(path).lexically_normal();
}

TEST(ConfigParse, FileNamesThatCollideThroughASymbolicLinkAreReported) {
  try {
    parse(
        "output: {file_name: \"cap-%s.pcap\"}\n"
        "interfaces:\n"
        "  - {name: eth0, directory: /data/captures}\n"
        "  - {name: eth1, directory: /srv/link}\n",
        kFile, resolvedAsIfLinked);
    ADD_FAILURE() << "no collision found";
  } catch (const ConfigError& error) {
    EXPECT_THAT(error.problems(),
                ElementsAre(IsProblem(4, 5,
                                      HasSubstr("interfaces eth0 (line 3) and eth1 both "
                                                "write to \"/data/captures\""))));
  }
}

TEST(ConfigParse, DotDotAfterASymbolicLinkIsWhereTheKernelGoesAndEveryDirectoryKeepsItsSpelling) {
  // /srv/link/../pcap is /data/pcap: no collision with /srv/pcap, which the lexical form says.
  const Config config = parse(
      "output: {file_name: \"cap-%s.pcap\"}\n"
      "interfaces:\n"
      "  - {name: eth0, directory: /srv/pcap}\n"
      "  - {name: eth1, directory: /srv/link/../pcap}\n"
      "  - {name: eth2, file_name: \"other-%s.pcap\", directory: /data/captures/}\n"
      "  - {name: eth3, file_name: \"more-%s.pcap\", directory: /srv/link}\n",
      kFile, resolvedAsIfLinked);
  ASSERT_THAT(config.interfaces, SizeIs(4));
  EXPECT_EQ(config.interfaces[1].output.directory.string(), "/srv/link/../pcap");
  EXPECT_EQ(config.interfaces[2].output.directory.string(), "/data/captures");
  EXPECT_EQ(config.interfaces[3].output.directory.string(), "/srv/link");
}

TEST(ConfigParse, WhereTheFileSystemCannotTellTheLexicalFormsAreCompared) {
  EXPECT_THAT(problemsOf("output: {file_name: \"cap-%s.pcap\"}\n"
                         "interfaces:\n"
                         "  - {name: eth0, directory: /srv/pcap}\n"
                         "  - {name: eth1, directory: /srv/locked/../pcap}\n",
                         resolvedAsIfLinked),
              ElementsAre(IsProblem(4, 5, HasSubstr("eth1 both write to \"/srv/pcap\""))));
}

TEST(ConfigParse, ReportsEachCollidingInterfaceOnceAgainstTheFirstItMeets) {
  EXPECT_THAT(problemsOf("output: {file_name: \"cap-%s.pcap\"}\n"
                         "interfaces:\n"
                         "  - name: eth0\n"
                         "  - name: eth1\n"
                         "  - name: eth2\n"),
              ElementsAre(IsProblem(4, 5, HasSubstr("interfaces eth0 (line 3) and eth1 both")),
                          IsProblem(5, 5, HasSubstr("interfaces eth0 (line 3) and eth2 both"))));
}

TEST(ConfigParse, LeavesDuplicateAndInvalidInterfacesOutOfTheCollisionCheck) {
  EXPECT_THAT(problemsOf("output: {file_name: \"cap-%s.pcap\"}\n"
                         "interfaces:\n"
                         "  - name: eth0\n"
                         "  - {name: eth0, directory: /elsewhere}\n"
                         "  - {name: eth1, snaplen: 0}\n"),
              ElementsAre(IsProblem(4, 5, "interface eth0 is listed twice, at lines 3 and 4"),
                          IsProblem(5, 27, HasSubstr("snaplen must be between"))));
}

TEST(ConfigParse, AllowsSharedDirectoriesWhenEveryTemplateContainsTheInterface) {
  const Config config = parse(
      "interfaces:\n"
      "  - {name: eth0, file_name: \"{interface}-%s.pcap\"}\n"
      "  - {name: eth1, file_name: \"x-{interface}-%s.pcap\"}\n",
      kFile);

  EXPECT_THAT(config.interfaces, SizeIs(2));
}

TEST(ConfigParse, AllowsSharedDirectoriesWhenLiteralPrefixesDiffer) {
  const Config config = parse(
      "output: {file_name: \"%s.pcap\"}\n"
      "interfaces:\n"
      "  - {name: eth0, file_name: \"uplink-%s.pcap\"}\n"
      "  - {name: eth1, file_name: \"downlink-%s.pcap\"}\n",
      kFile);

  EXPECT_THAT(config.interfaces, SizeIs(2));
}

TEST(ConfigParse, AllowsIdenticalTemplatesInDifferentDirectories) {
  const Config config = parse(
      "output: {file_name: \"cap-%s.pcap\"}\n"
      "interfaces:\n"
      "  - {name: eth0, directory: /srv/a}\n"
      "  - {name: eth1, directory: /srv/b}\n",
      kFile);

  EXPECT_THAT(config.interfaces, SizeIs(2));
}

TEST(ConfigParse, RejectsSharedDirectoriesWhenOnePrefixStartsTheOther) {
  EXPECT_THAT(problemOf("interfaces:\n"
                        "  - {name: eth0, file_name: \"cap-%s.pcap\"}\n"
                        "  - {name: eth1, file_name: \"cap-x-%s.pcap\"}\n"),
              IsProblem(3, 5, HasSubstr("interfaces eth0 (line 2) and eth1 both write to")));
}

TEST(ConfigParse, RejectsSharedDirectoriesWhenOnlyOneTemplateContainsTheInterface) {
  // eth1 writing "eth0-..." would land on eth0's names.
  EXPECT_THAT(problemOf("interfaces:\n"
                        "  - name: eth0\n"
                        "  - {name: eth1, file_name: \"eth0-%Y%m%dT%H%M%S.pcap\"}\n"),
              IsProblem(3, 5, HasSubstr("their file names could collide")));
}

TEST(ConfigParse, RejectsATemplateWithTheInterfaceAfterOneWithoutIt) {
  // eth0 writes "eth1-...", where eth1's default template puts its files.
  EXPECT_THAT(problemOf("interfaces:\n"
                        "  - {name: eth0, file_name: \"eth1-%Y%m%dT%H%M%S.pcap\"}\n"
                        "  - name: eth1\n"),
              IsProblem(3, 5, HasSubstr("interfaces eth0 (line 2) and eth1 both write to")));
}

// --- Documents that are not a config ---------------------------------------------------------

TEST(ConfigParse, ReportsBrokenYamlAtTheParsersPosition) {
  EXPECT_THAT(problemOf("output:\n  snaplen: [1\ninterfaces: []\n"),
              AllOf(Field("where", &Problem::where, Field("file", &Location::file, kFile)),
                    Field("message", &Problem::message, StartsWith("invalid YAML: "))));
  EXPECT_THAT(problemOf("output: {snaplen: 1}\n  capture: 2\n"),
              IsProblem(2, 3, "invalid YAML: end of map not found"));
  EXPECT_THAT(problemOf("output: *nowhere\n"),
              IsProblem(1, 9, "invalid YAML: the referenced anchor is not defined"));
}

TEST(ConfigParse, ReportsADocumentStartingWithACommaInsteadOfLoopingForever) {
  // yaml-cpp 0.7 never consumes the ',' and, asked for all documents, finds empty ones forever.
  EXPECT_THAT(problemOf(",interfaces:\n  - name: eth0\n"),
              IsProblem(1, 1, "invalid YAML: nothing can be read from here on (a stray ','?)"));
  EXPECT_THAT(problemOf("# a comment\n  , eth0\n"), IsProblem(2, 3, StartsWith("invalid YAML: ")));
  EXPECT_THAT(problemOf(std::string(kOneInterface) + "---\n,\n"),
              IsProblem(3, 1, StartsWith("a second YAML document starts here")));
}

TEST(ConfigParse, RejectsAnEmptyDocumentWithoutALineNumber) {
  for (const char* empty : {"", "\n", "# nothing but a comment\n", "~\n"}) {
    const Problem problem = problemOf(empty);
    EXPECT_EQ(problem.where.line, 0) << '"' << empty << '"';
    EXPECT_EQ(format(problem),
              "test.yaml: the configuration is empty; it needs at least an interfaces list");
  }
}

TEST(ConfigParse, RejectsATopLevelThatIsNotAMap) {
  EXPECT_THAT(problemOf("- name: eth0\n"),
              IsProblem(1, 1,
                        "the top level must be a map of output, capture, rotate, retention, log, "
                        "metrics, run_as, ship and interfaces, got a list"));
  EXPECT_THAT(problemOf("just some text\n"),
              IsProblem(1, 1, HasSubstr("the top level must be a map")));
}

TEST(ConfigParse, RejectsASecondYamlDocument) {
  EXPECT_THAT(problemOf(std::string(kOneInterface) + "---\noutput: {snaplen: 64}\n"),
              IsProblem(3, 1,
                        "a second YAML document starts here; the configuration must be a "
                        "single one"));
}

// --- Reporting -------------------------------------------------------------------------------

TEST(ConfigParse, CollectsEveryProblemInFileOrder) {
  const std::string yaml =
      "interfaces:\n"
      "  - name: eth0\n"
      "    snaplen: 0\n"
      "output:\n"
      "  timestamp: milli\n"
      "  snaplenn: 1\n"
      "capture:\n"
      "  promiscuous: maybe\n";
  try {
    parse(yaml, kFile);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_THAT(error.problems(),
                ElementsAre(IsProblem(3, 14, HasSubstr("snaplen must be between")),
                            IsProblem(5, 14, HasSubstr("output.timestamp")),
                            IsProblem(6, 3, HasSubstr("unknown key \"snaplenn\"")),
                            IsProblem(8, 16, HasSubstr("capture.promiscuous"))));
    std::string expected;
    for (const Problem& problem : error.problems()) {
      if (!expected.empty()) expected += '\n';
      expected += format(problem);
    }
    EXPECT_EQ(error.what(), expected);
    EXPECT_THAT(error.what(),
                StartsWith("test.yaml:3:14: interface eth0: snaplen must be between"));
  }
}

TEST(ConfigParse, KeepsEveryMessageOnOneLine) {
  const Problem problem =
      problemOf("output:\n  timestamp: \"milli\\nseconds\"\n" + std::string(kOneInterface));

  EXPECT_EQ(problem.message, "output.timestamp must be micro or nano, got \"milli\\nseconds\"");
}

// Built field by field: GCC 12 at -O2 warns (falsely) that a braced Problem temporary's string
// may be used uninitialized, and the build treats warnings as errors.
Problem problemAt(const std::string& file, int line, int column, const std::string& message) {
  Problem problem;
  problem.where.file = file;
  problem.where.line = line;
  problem.where.column = column;
  problem.message = message;
  return problem;
}

TEST(ProblemFormat, PrintsFileLineAndColumnLikeACompiler) {
  EXPECT_EQ(format(problemAt("/etc/pcap-recorder/config.yaml", 12, 7, "bad")),
            "/etc/pcap-recorder/config.yaml:12:7: bad");
}

TEST(ProblemFormat, LeavesOutAnUnknownPosition) {
  EXPECT_EQ(format(problemAt("config.yaml", 0, 0, "cannot read")), "config.yaml: cannot read");
  EXPECT_EQ(format(problemAt("config.yaml", 4, 0, "bad")), "config.yaml:4: bad");
}

// --- Loading files ---------------------------------------------------------------------------

class ConfigLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    directory_ = std::filesystem::temp_directory_path() /
                 ("config_test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directory(directory_);
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  std::filesystem::path write(const std::string& name, const std::string& text) {
    const std::filesystem::path file = directory_ / name;
    std::ofstream(file) << text;
    return file;
  }

  std::filesystem::path directory_;
};

TEST_F(ConfigLoad, FileNamesThatCollideThroughARealSymbolicLinkAreReported) {
  std::filesystem::create_directories(directory_ / "data" / "pcap");
  std::filesystem::create_directory_symlink(directory_ / "data" / "pcap", directory_ / "link");
  const std::string data = (directory_ / "data" / "pcap").string();
  const std::string link = (directory_ / "link").string();
  const std::string interfaces =
      "interfaces:\n"
      "  - {name: eth0, directory: " +
      data +
      "}\n"
      "  - {name: eth1, directory: " +
      link + "}\n";
  const Config config = load(write("config.yaml", interfaces));
  ASSERT_THAT(config.interfaces, SizeIs(2));
  EXPECT_EQ(config.interfaces[1].output.directory.string(), link);
  EXPECT_THROW(load(write("colliding.yaml", "output: {file_name: \"cap-%s.pcap\"}\n" + interfaces)),
               ConfigError);
}

TEST_F(ConfigLoad, ReadsAFileAndRemembersWhereItCameFrom) {
  const std::filesystem::path file = write("config.yaml", "interfaces:\n  - name: eth0\n");

  const Config config = load(file);

  EXPECT_EQ(config.sourceFile, file);
  ASSERT_THAT(config.interfaces, SizeIs(1));
  EXPECT_EQ(config.interfaces[0].where.file, file.string());
}

TEST_F(ConfigLoad, NamesTheFileInEveryProblem) {
  const std::filesystem::path file = write("config.yaml", "output: {snaplen: 0}\n");

  try {
    load(file);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    ASSERT_THAT(error.problems(), SizeIs(2));
    for (const Problem& problem : error.problems()) EXPECT_EQ(problem.where.file, file.string());
    EXPECT_THAT(error.what(), HasSubstr(file.string() + ":1:19: output.snaplen must be between"));
  }
}

TEST_F(ConfigLoad, ReportsAMissingFileWithoutALineNumber) {
  const std::filesystem::path file = directory_ / "missing.yaml";

  try {
    load(file);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    ASSERT_THAT(error.problems(), SizeIs(1));
    EXPECT_EQ(error.problems()[0].where.line, 0);
    EXPECT_EQ(std::string(error.what()),
              file.string() + ": cannot read: No such file or directory");
  }
}

TEST_F(ConfigLoad, ReportsADirectoryAsUnreadable) {
  try {
    load(directory_);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()), directory_.string() + ": cannot read: Is a directory");
  }
}

TEST_F(ConfigLoad, ReportsAnEmptyFile) {
  const std::filesystem::path file = write("empty.yaml", "");

  try {
    load(file);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()),
              file.string() + ": the configuration is empty; it needs at least an interfaces list");
  }
}

TEST_F(ConfigLoad, RefusesAFileTooLargeToBeAConfiguration) {
  const std::filesystem::path file = write("huge.yaml", std::string((4u << 20) + 1, '#'));

  try {
    load(file);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()), file.string() +
                                             ": cannot read: larger than 4MiB; that is not a "
                                             "configuration file");
  }
}

TEST_F(ConfigLoad, RefusesAFifoWithoutWaitingForAWriter) {
  const std::filesystem::path fifo = directory_ / "config.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Opening a FIFO for reading blocks until a writer comes; no writer ever comes here.
  try {
    load(fifo);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()),
              fifo.string() +
                  ": cannot read: is a FIFO, not a regular file; the configuration must be a file");
  }
}

TEST_F(ConfigLoad, RefusesACharacterDevice) {
  try {
    load("/dev/zero");
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("/dev/zero: cannot read: is a character device"));
  }
}

// --- Bounds on what any input costs -------------------------------------------------------------

TEST(ConfigBounds, ListsTheFirstHundredProblemsAndCountsTheRest) {
  std::string yaml = "interfaces:\n";
  for (int i = 0; i < 1000; ++i) yaml += "  - 1\n";
  const std::vector<Problem> problems = problemsOf(yaml);
  ASSERT_THAT(problems, SizeIs(101));
  EXPECT_THAT(problems[0], IsProblem(2, 5, HasSubstr("interfaces[0] must be a map")));
  EXPECT_THAT(problems[99], IsProblem(101, 5, HasSubstr("interfaces[99] must be a map")));
  // In file order like the rest: it stands where the first problem it counts is.
  EXPECT_EQ(format(problems[100]), "test.yaml:102:5: ... and 900 more problems from here on");
}

TEST(ConfigBounds, AHugeFlowListIsRefusedOnceWithoutBuildingIt) {
  // 4 MiB of `[1,1,...]` printed two million lines and took 1.6 GB; `[,,,...]` took 1.95 GB.
  for (const std::string item : {"1,", ","}) {
    std::string yaml = "interfaces: [";
    while (yaml.size() < (4u << 20) - 10) yaml += item;
    yaml += "]\n";
    const std::vector<Problem> problems = problemsOf(yaml);
    ASSERT_THAT(problems, SizeIs(1)) << item;
    EXPECT_THAT(problems[0].message,
                HasSubstr("more than 250000 YAML values (keys, values and list items)"));
    EXPECT_EQ(problems[0].where.line, 1);
  }
}

TEST(ConfigBounds, ValuesUpToTheCapAreRead) {
  // 40,000 interfaces with a name and a directory each (200,000 values) are a configuration.
  std::string yaml = "interfaces:\n";
  for (int i = 0; i < 40000; ++i) {
    yaml += "  - {name: e" + std::to_string(i) + ", directory: /srv/" + std::to_string(i) + "}\n";
  }
  EXPECT_THAT(parse(yaml, kFile).interfaces, SizeIs(40000));
}

TEST(ConfigBounds, CollisionsAreFoundAmongManyInterfacesOfOneDirectory) {
  // Distinct prefixes need no pairwise comparison; the one that starts another's is found.
  std::string yaml = "interfaces:\n";
  for (int i = 0; i < 20000; ++i) {
    yaml += "  - {name: e" + std::to_string(i) + ", file_name: \"p" + std::to_string(i) +
            "x-%s.pcap\"}\n";
  }
  yaml += "  - {name: late, file_name: \"p123x-more-%s.pcap\"}\n";
  EXPECT_THAT(problemOf(yaml),
              IsProblem(20002, 5, HasSubstr("interfaces e123 (line 125) and late both write to")));
}

TEST(ConfigBounds, ACollisionWithAShorterEarlierPrefixIsFound) {
  EXPECT_THAT(problemsOf("interfaces:\n"
                         "  - {name: eth0, file_name: \"other-%s.pcap\"}\n"
                         "  - {name: eth1, file_name: \"cap-%s.pcap\"}\n"
                         "  - {name: eth2, file_name: \"ca%s.pcap\"}\n"
                         "  - {name: eth3, file_name: \"capture-%s.pcap\"}\n"),
              ElementsAre(IsProblem(4, 5, HasSubstr("interfaces eth1 (line 3) and eth2 both")),
                          IsProblem(5, 5, HasSubstr("interfaces eth2 (line 4) and eth3 both"))));
}

}  // namespace
}  // namespace pcap_recorder::config
