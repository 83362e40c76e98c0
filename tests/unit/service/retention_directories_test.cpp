// Retention's directories: one per directory on the file system, however the interfaces writing
// there spell it, with every interface's files and the strictest of their limits.
#include "pcap_recorder/service/retention_directories.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace pcap_recorder::service {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// As the file system would answer where /srv/link is a symbolic link to /data/captures and
// /srv/locked cannot be looked into.
std::optional<fs::path> resolvedAsIfLinked(const fs::path& directory) {
  std::string path = directory.string();
  if (path.starts_with("/srv/locked")) return std::nullopt;
  if (path.starts_with("/srv/link")) path = "/data/captures" + path.substr(9);
  return fs::path(path).lexically_normal();
}

config::Config configOf(const std::string& interfaces) {
  return config::parse("output: {file_name: \"{interface}-%s.pcap\"}\ninterfaces:\n" + interfaces,
                       "test.yaml", resolvedAsIfLinked);
}

TEST(RetentionDirectories, InterfacesNamingOneDirectoryThroughALinkShareItsRetention) {
  const auto config = configOf(
      "  - {name: eth0, directory: /data/captures, max_files: 10}\n"
      "  - {name: eth1, directory: /srv/link, max_files: 3}\n"
      "  - {name: eth2, directory: /data/captures}\n");
  const auto directories = retentionDirectoriesOf(config, resolvedAsIfLinked);
  ASSERT_THAT(directories, SizeIs(1));
  const auto& shared = directories.front();
  EXPECT_EQ(shared.directory, "/data/captures") << "the first interface's spelling";
  EXPECT_THAT(shared.otherSpellings, ElementsAre("/srv/link"));
  EXPECT_EQ(shared.limits.maxFiles, 3u) << "the strictest";
  for (const char* name : {"eth0-1.pcap", "eth1-1.pcap", "eth2-1.pcap"}) {
    EXPECT_TRUE(shared.ownFiles.isFinishedFile(name)) << name;
  }
}

TEST(RetentionDirectories, DotDotAfterALinkIsWhereTheKernelGoesNotWhereTheLettersSay) {
  // /srv/link/../pcap is /data/pcap, not /srv/pcap.
  const auto config = configOf(
      "  - {name: eth0, directory: /srv/pcap}\n"
      "  - {name: eth1, directory: /srv/link/../pcap}\n"
      "  - {name: eth2, directory: /data/pcap}\n");
  const auto directories = retentionDirectoriesOf(config, resolvedAsIfLinked);
  ASSERT_THAT(directories, SizeIs(2));
  EXPECT_EQ(directories[0].directory, "/srv/pcap");
  EXPECT_THAT(directories[0].otherSpellings, IsEmpty());
  EXPECT_EQ(directories[1].directory, "/srv/link/../pcap");
  EXPECT_THAT(directories[1].otherSpellings, ElementsAre("/data/pcap"));
}

// Where the file system cannot tell, two spellings stay two directories: merging two that are
// not one would leave the second without retention, and a disk to fill.
TEST(RetentionDirectories, SpellingsTheFileSystemCannotResolveStaySeparate) {
  const auto config = configOf(
      "  - {name: eth0, directory: /srv/locked/a/../b}\n"
      "  - {name: eth1, directory: /srv/locked/b}\n");
  const auto directories = retentionDirectoriesOf(config, resolvedAsIfLinked);
  ASSERT_THAT(directories, SizeIs(2));
  EXPECT_EQ(directories[0].directory, "/srv/locked/a/../b");
  EXPECT_EQ(directories[1].directory, "/srv/locked/b");
}

TEST(RetentionDirectories, OneSpellingUsedTwiceIsListedOnce) {
  const auto config = configOf(
      "  - {name: eth0, directory: /data/captures}\n"
      "  - {name: eth1, directory: /data/captures}\n");
  const auto directories = retentionDirectoriesOf(config, {});
  ASSERT_THAT(directories, SizeIs(1));
  EXPECT_THAT(directories.front().otherSpellings, IsEmpty());
}

}  // namespace
}  // namespace pcap_recorder::service
