// compress_files zstd|gzip [LEVEL] FILE...: compresses finished capture files where they lie, as
// pcap-recorderd's finisher does with `output.compression` (compress::compressFile: 1 MiB zstd
// frames and their seek table; `NAME.idx` moved to the stored name). For the retrieval benchmark
// (bench/retrieve/run-retrieve-benchmark --compress), which builds its store without a daemon.
// Prints one line per file: NAME, input bytes, stored bytes, seconds.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>

#include "pcap_recorder/compress/compression.hpp"
#include "pcap_recorder/compress/file_compressor.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace fs = std::filesystem;
using namespace pcap_recorder;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: compress_files zstd|gzip [LEVEL] FILE...\n");
    return 2;
  }
  const auto compression = compress::parseCompression(argv[1]);
  if (!compression || *compression == compress::Compression::none) {
    std::fprintf(stderr, "compress_files: %s: not zstd or gzip\n", argv[1]);
    return 2;
  }
  int first = 2;
  int level = 0;
  if (argv[2][0] >= '0' && argv[2][0] <= '9') {
    level = std::atoi(argv[2]);
    first = 3;
  }
  for (int i = first; i < argc; ++i) {
    const fs::path file = argv[i];
    try {
      const util::UniqueFd directory(
          ::open(file.parent_path().empty() ? "." : file.parent_path().c_str(),
                 O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      const auto began = std::chrono::steady_clock::now();
      const auto result =
          compress::compressFile(directory.get(), file.filename().string(), *compression,
                                 compress::effectiveLevel(*compression, level), 0640);
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
      const auto index = fs::path(file.string() + ".idx");
      if (fs::exists(index)) fs::rename(index, file.parent_path() / (result.name + ".idx"));
      std::printf("%s %llu %llu %.3f\n", result.name.c_str(),
                  static_cast<unsigned long long>(result.inputBytes),
                  static_cast<unsigned long long>(result.storedBytes), took.count());
    } catch (const std::exception& error) {
      std::fprintf(stderr, "compress_files: %s: %s\n", file.c_str(), error.what());
      return 1;
    }
  }
  return 0;
}
