// file_name in the config: what would fail at run time is refused when the config is read.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pcap_recorder/config/config.hpp"

namespace pcap_recorder::config {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> messagesOf(const std::string& yaml) {
  try {
    parse(yaml, "test.yaml");
  } catch (const ConfigError& error) {
    std::vector<std::string> messages;
    for (const Problem& problem : error.problems()) messages.push_back(format(problem));
    return messages;
  }
  return {};
}

TEST(FileNameConfig, RefusesATemplateWhoseNamesWouldBeTooLong) {
  EXPECT_THAT(messagesOf("output:\n  file_name: \"" + std::string(300, 'a') +
                         ".pcap\"\ninterfaces:\n  - name: eth0\n"),
              ::testing::ElementsAre(HasSubstr("more than the 255 a file name may have")));
  std::string weekdays;
  for (int i = 0; i < 8000; ++i) weekdays += "%A";
  EXPECT_THAT(
      messagesOf("output:\n  file_name: \"" + weekdays + "\"\ninterfaces:\n  - name: eth0\n"),
      ::testing::ElementsAre(HasSubstr("more than the 255")));
}

TEST(FileNameConfig, CountsTheInterfaceNameInTheLength) {
  const std::string yaml = "output:\n  file_name: \"" + std::string(230, 'a') +
                           "{interface}\"\ninterfaces:\n  - name: e\n  - name: eth0.1234\n";
  EXPECT_THAT(messagesOf(yaml), ::testing::ElementsAre(HasSubstr("interface \"eth0.1234\"")));
}

TEST(FileNameConfig, RefusesControlCharactersAndShowsThemEscaped) {
  const auto messages =
      messagesOf("output:\n  file_name: \"a\\tb\\e.pcap\"\ninterfaces:\n  - name: eth0\n");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_THAT(messages[0], HasSubstr("\"a\\tb\\x1b.pcap\""));
  EXPECT_THAT(messages[0], HasSubstr("control character"));
}

TEST(FileNameConfig, RefusesControlCharactersInAnInterfaceName) {
  EXPECT_THAT(messagesOf("interfaces:\n  - name: \"e\\eth\"\n"),
              ::testing::ElementsAre(HasSubstr("control character")));
}

TEST(FileNameConfig, RefusesATemplateEndingInPart) {
  EXPECT_THAT(
      messagesOf("output:\n  file_name: \"{interface}.part\"\ninterfaces:\n  - name: eth0\n"),
      ::testing::ElementsAre(HasSubstr("must not end in .part")));
  EXPECT_THAT(messagesOf("output:\n  file_name: \"{interface}\"\ninterfaces:\n  - name: x.part\n"),
              ::testing::ElementsAre(HasSubstr("ending in .part")));
}

// Braces in an interface name are text to the grammar: nothing to refuse.
TEST(FileNameConfig, AcceptsAnInterfaceNamedLikeAPlaceholder) {
  EXPECT_THAT(messagesOf("interfaces:\n  - name: \"{seq}\"\n"), ::testing::IsEmpty());
}

}  // namespace
}  // namespace pcap_recorder::config
