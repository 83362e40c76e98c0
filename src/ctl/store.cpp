#include "store.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>

#include "pcap_recorder/compress/compression.hpp"
#include "pcap_recorder/pcap/file_writer.hpp"
#include "pcap_recorder/rotation/retention.hpp"

namespace pcap_recorder::ctl {

namespace fs = std::filesystem;

std::vector<StoreFile> listStore(const config::Config& config,
                                 const std::vector<std::string>& interfaces,
                                 std::vector<std::string>& problems) {
  for (const auto& wanted : interfaces) {
    const bool known = std::any_of(config.interfaces.begin(), config.interfaces.end(),
                                   [&](const auto& interface) { return interface.name == wanted; });
    if (!known) {
      throw std::invalid_argument("no interface " + wanted + " in " + config.sourceFile.string());
    }
  }
  struct Owner {
    std::string interface;
    std::unique_ptr<rotation::OwnFileMatcher> matcher;
  };
  std::map<fs::path, std::vector<Owner>> directories;
  for (const auto& interface : config.interfaces) {
    if (!interfaces.empty() &&
        std::find(interfaces.begin(), interfaces.end(), interface.name) == interfaces.end()) {
      continue;
    }
    directories[interface.output.directory].push_back(
        {interface.name,
         std::make_unique<rotation::OwnFileMatcher>(
             std::vector<rotation::OwnFileTemplate>{{interface.output.fileName, interface.name}})});
  }
  std::vector<StoreFile> files;
  const std::string_view partSuffix = pcap::kPartSuffix;
  for (const auto& [directory, owners] : directories) {
    std::error_code error;
    fs::directory_iterator entries(directory, error);
    if (error) {
      problems.push_back("cannot read " + directory.string() + ": " + error.message());
      continue;
    }
    for (const auto& entry : entries) {
      std::error_code typeError;
      if (!entry.is_regular_file(typeError)) continue;
      std::string name = entry.path().filename().string();
      const bool part = name.ends_with(partSuffix);
      if (part) name.resize(name.size() - partSuffix.size());
      // A compression being written: its records are in the uncompressed file still there.
      if (part && compress::compressionOfName(name) != compress::Compression::none) continue;
      for (const auto& owner : owners) {
        if (owner.matcher->isFinishedFile(name)) {
          files.push_back({entry.path(), owner.interface, part});
          break;
        }
      }
    }
  }
  // A file beside its compressed copy (the compression's last step, or its unlink failed and the
  // next start removes it): the same records twice. The compressed copy is the one that stays.
  std::set<fs::path> compressedFrom;
  for (const auto& file : files) {
    const std::string name = file.path.filename().string();
    if (!file.part && compress::compressionOfName(name) != compress::Compression::none) {
      compressedFrom.insert(file.path.parent_path() /
                            std::string(compress::withoutCompressionSuffix(name)));
    }
  }
  std::erase_if(files, [&](const StoreFile& file) {
    return !file.part && compressedFrom.contains(file.path);
  });
  std::sort(files.begin(), files.end(),
            [](const StoreFile& a, const StoreFile& b) { return a.path < b.path; });
  return files;
}

}  // namespace pcap_recorder::ctl
