// The fixture of the integration tests that run pcap-recorderd: a work directory the daemon (also
// as another user) can read, a config writer, and checks on the files it leaves.
#pragma once

#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <cctype>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "integration_support.hpp"
#include "netns.hpp"
#include "support/pcap_reader.hpp"
#include "support/temp_dir.hpp"

namespace pcap_recorder::testing {

namespace fs = std::filesystem;

class RecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canCreateNamespaces()) GTEST_SKIP() << "needs root and iproute2 to create namespaces";
    fs::permissions(work_.path(), fs::perms::owner_all | fs::perms::group_read |
                                      fs::perms::group_exec | fs::perms::others_read |
                                      fs::perms::others_exec);
  }

  fs::path outputDirectory() const { return work_ / "out"; }

  // An empty output directory that the user nobody owns, for a daemon running as nobody; false
  // when it cannot be made so.
  bool giveOutputDirectoryToNobody() const {
    fs::remove_all(outputDirectory());
    fs::create_directory(outputDirectory());
    return runCommand("chown nobody " + outputDirectory().string()) == 0;
  }

  // A config with the given `interfaces:` entries (YAML lines, indented two spaces), more keys
  // of `output:` (indented), and more sections.
  fs::path writeConfig(const std::string& interfaces, const std::string& outputExtra = "",
                       const std::string& sections = "") {
    const auto path = work_ / "pcap-recorder.yaml";
    // No hourly rotation unless a test asks: a test running across hh:00:00 must not see 2 files.
    const std::string rotate =
        sections.find("rotate:") == std::string::npos ? "rotate:\n  interval: 0\n" : "";
    // 32 blocks of 1 MiB: with little traffic the kernel hands a block over every 50 ms, so the
    // ring rides out 1.6 s of a capture thread held up on a loaded machine before it drops.
    writeTextFile(path, "output:\n  directory: " + outputDirectory().string() + "\n" + outputExtra +
                            "capture:\n  ring_size: 32MiB\n" + rotate + sections + "interfaces:\n" +
                            interfaces);
    ::chmod(path.c_str(), 0644);
    return path;
  }

  // The one finished file of `interface` (its index aside); fails when there is not exactly one, or
  // a .part is left.
  fs::path onlyFileOf(const std::string& interface) {
    std::vector<std::string> matching;
    for (const auto& name : listDirectory(outputDirectory())) {
      EXPECT_FALSE(name.ends_with(".part")) << "unfinished file left behind: " << name;
      if (name.ends_with(".idx") || name.ends_with(".json")) continue;  // its index, sidecar
      if (name.starts_with(interface + "-")) matching.push_back(name);
    }
    EXPECT_EQ(matching.size(), 1u) << "files of " << interface;
    return matching.empty() ? fs::path() : outputDirectory() / matching.front();
  }

  // The name of the one `.part` of `interface` being written; empty when there is none.
  std::string onlyPartOf(const std::string& interface) {
    std::vector<std::string> parts;
    for (const auto& name : listDirectory(outputDirectory())) {
      if (name.starts_with(interface + "-") && name.ends_with(".part")) parts.push_back(name);
    }
    EXPECT_EQ(parts.size(), 1u) << ::testing::PrintToString(parts);
    return parts.empty() ? std::string() : parts.front();
  }

  TempDir work_;
};

// Direct I/O is about disks: tests of it run where the work directory is not in memory.
inline bool onTmpfs(const fs::path& path) {
  struct statfs fileSystem {};
  return ::statfs(path.c_str(), &fileSystem) == 0 &&
         (fileSystem.f_type == TMPFS_MAGIC || fileSystem.f_type == RAMFS_MAGIC);
}

// capinfos and tshark open the file, count `packets`, and say nothing about damage.
inline void expectWiresharkReadsCleanly(const fs::path& file, std::size_t packets) {
  const auto info = capture("capinfos -M -c " + file.string());
  EXPECT_EQ(info.status, 0) << info.output;
  EXPECT_NE(info.output.find("Number of packets:   " + std::to_string(packets)), std::string::npos)
      << info.output;
  const auto read = capture("tshark -n -r " + file.string() + " -T fields -e frame.number");
  EXPECT_EQ(read.status, 0) << read.output;
  std::size_t lines = 0;
  std::string problems;
  std::istringstream in(read.output);
  for (std::string line; std::getline(in, line);) {
    // tshark's notice about running as root is about the test runner, not the file.
    if (line.find("Running as user") != std::string::npos) continue;
    if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) {
      ++lines;
    } else if (!line.empty()) {
      problems += line + "\n";
    }
  }
  EXPECT_EQ(lines, packets);
  EXPECT_EQ(problems, "") << "tshark complained";
}

// Every finished file of `interface`, in name order; fails when a `.part` is left.
inline std::vector<fs::path> finishedFilesOf(const fs::path& directory,
                                             const std::string& interface) {
  std::vector<fs::path> files;
  for (const auto& name : listDirectory(directory)) {
    EXPECT_FALSE(name.ends_with(".part")) << "unfinished file left behind: " << name;
    if (name.starts_with(interface + "-") && name.ends_with(".pcap"))
      files.push_back(directory / name);
  }
  return files;
}

// first, first+1, ... first+count-1: the sequence numbers a test sent.
inline std::vector<std::uint32_t> range(std::uint32_t first, std::uint32_t count) {
  std::vector<std::uint32_t> out(count);
  for (std::uint32_t i = 0; i < count; ++i) out[i] = first + i;
  return out;
}

// The test frames' sequence numbers across `files`, in file order then record order.
inline std::vector<std::uint32_t> sequencesAcross(const std::vector<fs::path>& files) {
  std::vector<std::uint32_t> all;
  for (const auto& file : files) {
    const auto sequences = sequencesIn(readPcapFile(file));
    all.insert(all.end(), sequences.begin(), sequences.end());
  }
  return all;
}

}  // namespace pcap_recorder::testing
