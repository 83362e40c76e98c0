#include "pcap_recorder/util/tidy_path.hpp"

namespace pcap_recorder::util {

std::filesystem::path tidyPath(const std::filesystem::path& path) {
  std::filesystem::path tidy = path.root_path();
  // The relative part element by element: "//" between names yields none, a trailing "/" an
  // empty one.
  for (const std::filesystem::path& element : path.relative_path()) {
    if (element.empty() || element == ".") continue;
    tidy /= element;
  }
  return tidy.empty() ? std::filesystem::path(".") : tidy;
}

}  // namespace pcap_recorder::util
