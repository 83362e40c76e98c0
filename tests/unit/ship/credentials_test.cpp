#include "pcap_recorder/ship/credentials.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "support/temp_dir.hpp"

namespace pcap_recorder::ship {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string messageOf(std::string_view text, std::string_view profile = "default") {
  try {
    parseCredentials(text, profile, "creds");
  } catch (const CredentialsError& error) {
    return error.what();
  }
  return "no error";
}

TEST(Credentials, TheNamedProfilesKeysAreRead) {
  const auto credentials = parseCredentials(
      "# written by aws configure\n"
      "[other]\naws_access_key_id = OTHER\naws_secret_access_key = othersecret\n\n"
      "[default]\r\n aws_access_key_id=AKIDEXAMPLE \r\n"
      "aws_secret_access_key = wJalr/K7MDENG+bPxRfiCY=\n"
      "; a comment\nregion = eu-west-1\n",
      "default", "creds");
  EXPECT_EQ(credentials.accessKeyId, "AKIDEXAMPLE");
  EXPECT_EQ(credentials.secretAccessKey, "wJalr/K7MDENG+bPxRfiCY=");
  EXPECT_EQ(credentials.sessionToken, "");
  EXPECT_EQ(parseCredentials("[profile ship]\naws_access_key_id=A\naws_secret_access_key=B\n"
                             "aws_session_token=T\n",
                             "ship", "creds")
                .sessionToken,
            "T");
}

TEST(Credentials, AMissingProfileOrKeyIsNamedWithFileAndLine) {
  EXPECT_EQ(messageOf("[other]\naws_access_key_id=A\n"), "creds: no [default] profile");
  EXPECT_EQ(messageOf("\n[default]\naws_access_key_id=A\n"),
            "creds:2: profile [default] has no aws_secret_access_key");
  EXPECT_EQ(messageOf("[default]\naws_access_key_id\n"), "creds:2: expected 'key = value'");
  EXPECT_EQ(messageOf("[default\n"), "creds:1: a section header without ']'");
}

TEST(Credentials, MessagesNeverCarryASecret) {
  const std::string message =
      messageOf("[default]\naws_secret_access_key = topsecretvalue\nbroken line\n");
  EXPECT_THAT(message, HasSubstr("creds:3"));
  EXPECT_THAT(message, Not(HasSubstr("topsecretvalue")));
}

TEST(Credentials, AFileIsReadAndItsModeJudged) {
  testing::TempDir dir;
  const auto path = dir / "credentials";
  std::ofstream(path) << "[default]\naws_access_key_id=A\naws_secret_access_key=B\n";
  EXPECT_EQ(loadCredentials(path).secretAccessKey, "B");
  EXPECT_THROW(loadCredentials(dir / "missing"), CredentialsError);
  EXPECT_EQ(credentialsModeProblem(S_IFREG | 0640), "");
  EXPECT_EQ(credentialsModeProblem(S_IFREG | 0600), "");
  EXPECT_THAT(credentialsModeProblem(S_IFREG | 0644), HasSubstr("0644"));
  EXPECT_THAT(credentialsModeProblem(S_IFDIR | 0700), HasSubstr("not a regular file"));
}

}  // namespace
}  // namespace pcap_recorder::ship
