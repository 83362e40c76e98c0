#include "pcap_recorder/rotation/file_naming.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>

#include "support/time_zone.hpp"

namespace pcap_recorder::rotation {
namespace {

// 2026-11-23T17:58:44Z
const auto kSomeInstant = std::chrono::system_clock::time_point(std::chrono::seconds(1795456724));

TEST(FileNaming, ExpandsTheDefaultTemplateInUtc) {
  EXPECT_EQ(expandFileName("{interface}-%Y%m%dT%H%M%S.pcap", "eth0", 1, kSomeInstant),
            "eth0-20261123T175844.pcap");
}

// On a host whose local time is not UTC too: %s is the instant's seconds since the epoch.
TEST(FileNaming, EpochSecondsAndClockFieldsAreUtcWhateverTheLocalTimeZone) {
  const testing::TimeZone newYork("EST5EDT");
  EXPECT_EQ(expandFileName("{interface}-%s.pcap", "eth0", 1, kSomeInstant), "eth0-1795456724.pcap");
  EXPECT_EQ(expandFileName("%H%M", "eth0", 1, kSomeInstant), "1758");
}

TEST(FileNaming, SequenceIsZeroPaddedSoNamesSortInOrder) {
  EXPECT_EQ(expandFileName("cap-{seq}.pcap", "eth0", 42, kSomeInstant), "cap-000042.pcap");
  EXPECT_EQ(expandFileName("{seq}", "eth0", 1234567, kSomeInstant), "1234567");
}

TEST(FileNaming, PercentInAnInterfaceNameIsTakenLiterally) {
  EXPECT_EQ(expandFileName("{interface}.pcap", "odd%Yname", 1, kSomeInstant), "odd%Yname.pcap");
}

TEST(FileNaming, RepeatedPlaceholdersAreAllReplaced) {
  EXPECT_EQ(expandFileName("{interface}/{interface}", "lo", 1, kSomeInstant), "lo/lo");
}

TEST(FileNaming, LiteralPercentSurvives) {
  EXPECT_EQ(expandFileName("100%%-{seq}.pcap", "lo", 3, kSomeInstant), "100%-000003.pcap");
}

TEST(FileNaming, AnInterfaceNamedLikeAPlaceholderIsText) {
  EXPECT_EQ(expandFileName("{interface}-{seq}.pcap", "{seq}", 1, kSomeInstant),
            "{seq}-000001.pcap");
  const OwnFileMatcher matcher(std::vector<OwnFileTemplate>{{"{interface}-{seq}.pcap", "{seq}"}});
  EXPECT_TRUE(matcher.isFinishedFile("{seq}-000001.pcap"));
  EXPECT_FALSE(matcher.isFinishedFile("000001-000001.pcap"));
}

// std::regex recursed once per character and overflowed the stack on such a template.
TEST(FileNaming, AHundredThousandCharacterTemplateIsExpandedAndMatchedWithoutRecursion) {
  const std::string pattern = std::string(100000, 'a') + "%Y{seq}.pcap";
  const std::string name = expandFileName(pattern, "eth0", 1, kSomeInstant);
  EXPECT_EQ(name.size(), 100000u + 4 + 6 + 5);
  const OwnFileMatcher matcher(std::vector<OwnFileTemplate>{{pattern, "eth0"}});
  EXPECT_FALSE(matcher.isFinishedFile(name));  // longer than any file name can be
  EXPECT_FALSE(matcher.isFinishedFile("eth0.pcap"));
}

TEST(FileNaming, CounterGoesBeforeTheLastExtension) {
  EXPECT_EQ(withCounter("eth0-20260101T000000.pcap", 0), "eth0-20260101T000000.pcap");
  EXPECT_EQ(withCounter("eth0-20260101T000000.pcap", 2), "eth0-20260101T000000_002.pcap");
  EXPECT_EQ(withCounter("capture", 1), "capture_001");
  EXPECT_EQ(withCounter(".hidden", 1), ".hidden_001");
  EXPECT_EQ(withCounter("a.pcap", 12345), "a_12345.pcap");
  EXPECT_EQ(partNameOf("a.pcap"), "a.pcap.part");
}

TEST(TemplateProblems, AcceptsTheDefaultTemplate) {
  EXPECT_TRUE(templateProblems("{interface}-%Y%m%dT%H%M%S.pcap").empty());
}

TEST(TemplateProblems, RefusesControlCharacters) {
  for (const std::string bad : {"a\x1b[2Jb.pcap", "a\tb.pcap", "a\nb.pcap", "a\x7f.pcap"}) {
    const auto problems = templateProblems(bad);
    ASSERT_EQ(problems.size(), 1u) << bad;
    EXPECT_THAT(problems[0], ::testing::HasSubstr("control character")) << bad;
    // The message itself carries no control character to the terminal.
    for (const char c : problems[0]) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << bad;
  }
}

TEST(TemplateProblems, RefusesANameEndingInPartOrDamaged) {
  EXPECT_THAT(templateProblems("{seq}.part"),
              ::testing::ElementsAre(::testing::HasSubstr("must not end in .part")));
  EXPECT_THAT(templateProblems("{seq}.pcap.damaged"),
              ::testing::ElementsAre(::testing::HasSubstr("must not end in .damaged")));
}

TEST(TemplateProblems, RefusesWhatTheGrammarCannotRead) {
  EXPECT_EQ(templateProblems("{interface}-%T.pcap").size(), 1u);
  EXPECT_EQ(templateProblems("{host}-{seq}.pcap").size(), 1u);
  EXPECT_EQ(templateProblems("cap-{seq}%").size(), 1u);
  EXPECT_EQ(templateProblems("cap-{seq").size(), 1u);
  EXPECT_EQ(templateProblems("a/b").size(), 1u);
  EXPECT_EQ(templateProblems("").size(), 1u);
}

TEST(NamingProblems, RefusesNamesLongerThanTheFileSystemTakes) {
  // 255 bytes with the counter and .damaged: 255 - 11 - 8 = 236 of template.
  EXPECT_TRUE(namingProblems(std::string(236, 'a'), "eth0").empty());
  EXPECT_THAT(namingProblems(std::string(237, 'a'), "eth0"),
              ::testing::ElementsAre(::testing::HasSubstr("more than the 255")));
  std::string weekdays;
  for (int i = 0; i < 8000; ++i) weekdays += "%A";
  EXPECT_EQ(namingProblems(weekdays, "eth0").size(), 1u);
  // The interface's own length counts.
  EXPECT_TRUE(namingProblems(std::string(232, 'a') + "{interface}", "eth0").empty());
  EXPECT_EQ(namingProblems(std::string(233, 'a') + "{interface}", "eth0").size(), 1u);
}

TEST(NamingProblems, RefusesAnInterfaceThatMakesNamesEndInPart) {
  EXPECT_THAT(namingProblems("cap-{interface}", "x.part"),
              ::testing::ElementsAre(::testing::HasSubstr("ending in .part")));
  EXPECT_TRUE(namingProblems("{interface}.pcap", "x.part").empty());
}

TEST(NamingProblems, RefusesControlCharactersInTheInterfaceName) {
  EXPECT_THAT(namingProblems("{interface}.pcap", "e\x1bth"),
              ::testing::ElementsAre(::testing::HasSubstr("control character")));
}

// ---------------------------------------------------------------------------------------------
// The property: for any template and interface, every name the writer makes (expansion, then the
// collision counter) is one retention and repair recognise, and names around it are not.

class Generator {
 public:
  explicit Generator(unsigned seed) : random_(seed) {}

  std::size_t below(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(random_);
  }

  std::string pick(std::string_view alphabet, std::size_t minimum, std::size_t maximum) {
    std::string out;
    const std::size_t length = minimum + below(maximum - minimum + 1);
    for (std::size_t i = 0; i < length; ++i) out += alphabet[below(alphabet.size())];
    return out;
  }

  // Literals, conversions and placeholders in any order. No '_' (only the counter writes one)
  // and no '~' (nothing writes one), so the negative checks below are certain.
  std::string fileTemplate() {
    std::string out;
    const std::size_t pieces = 1 + below(8);
    for (std::size_t i = 0; i < pieces; ++i) {
      switch (below(5)) {
        case 0:
        case 1:
          out += pick("abcXYZ-.+=019", 1, 4);
          break;
        case 2:
          out += '%';
          out += kTimeConversions[below(kTimeConversions.size())];
          break;
        case 3:
          out += kInterfacePlaceholder;
          break;
        default:
          out += kSequencePlaceholder;
          break;
      }
    }
    if (!templateProblems(out).empty()) return "{interface}-{seq}.pcap";
    return out;
  }

  std::string interface() {
    if (below(10) == 0) return "{seq}";
    return pick("abcxyz019.-{}%", 1, 15);
  }

  std::chrono::system_clock::time_point time() {
    // 2001 to 2099: four-digit years.
    return std::chrono::system_clock::time_point(
        std::chrono::seconds(978307200 + static_cast<std::int64_t>(below(3124137600u))));
  }

  std::uint64_t sequence() { return below(3) == 0 ? 1 + below(10000000000u) : 1 + below(1000); }
  unsigned counter() { return below(2) == 0 ? 0 : static_cast<unsigned>(1 + below(20000)); }

 private:
  std::mt19937_64 random_;
};

TEST(FileNamingProperty, EveryNameTheWriterMakesIsRecognisedAndNamesAroundItAreNot) {
  Generator generate(20261202);
  for (int round = 0; round < 3000; ++round) {
    const std::string pattern = generate.fileTemplate();
    const std::string interface = generate.interface();
    if (!namingProblems(pattern, interface).empty()) continue;
    const OwnFileMatcher matcher(std::vector<OwnFileTemplate>{{pattern, interface}});
    for (int each = 0; each < 10; ++each) {
      const std::string expanded =
          expandFileName(pattern, interface, generate.sequence(), generate.time());
      const unsigned counter = generate.counter();
      const std::string name = withCounter(expanded, counter);
      const std::string context =
          "template \"" + pattern + "\", interface \"" + interface + "\", name \"" + name + "\"";
      ASSERT_LE(name.size() + kPartSuffix.size(), kNameMax) << context;
      ASSERT_TRUE(matcher.isFinishedFile(name)) << context;
      ASSERT_TRUE(matcher.isPartFile(partNameOf(name))) << context;
      EXPECT_FALSE(matcher.isFinishedFile(partNameOf(name))) << context;
      EXPECT_FALSE(matcher.isFinishedFile(name + std::string(kDamagedSuffix))) << context;
      EXPECT_FALSE(matcher.isPartFile(name)) << context;
      // A byte nothing writes, anywhere in the name.
      std::string planted = name;
      planted.insert(generate.below(name.size() + 1), 1, '~');
      EXPECT_FALSE(matcher.isFinishedFile(planted)) << context << " with a '~'";
      // Counters withCounter() never writes.
      for (const std::string wrong : {"_1", "_01", "_000"}) {
        const std::size_t dot = expanded.rfind('.');
        const std::size_t at = dot == std::string::npos || dot == 0 ? expanded.size() : dot;
        std::string odd = expanded;
        odd.insert(at, wrong);
        EXPECT_FALSE(matcher.isFinishedFile(odd)) << context << " with " << wrong;
      }
    }
  }
}

}  // namespace
}  // namespace pcap_recorder::rotation
