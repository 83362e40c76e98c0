#include "extract_command.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>

#include "extract.hpp"
#include "extract_time.hpp"
#include "pcap_recorder/config/config.hpp"
#include "pcap_recorder/index/file_index.hpp"
#include "pcap_recorder/util/unique_fd.hpp"

namespace pcap_recorder::ctl {

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr const char* kDefaultConfig = "/etc/pcap-recorder/pcap-recorder.yaml";

struct Options {
  std::string command;
  std::string config = kDefaultConfig;
  std::optional<std::int64_t> since;
  std::optional<std::int64_t> until;
  std::vector<std::string> interfaces;
  std::string output = "-";
  std::vector<std::string> filterWords;
  bool help = false;
};

struct Usage {
  std::string message;
};

std::int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Options parse(const std::vector<std::string>& arguments) {
  Options options;
  const std::int64_t now = nowNs();
  bool optionsEnded = false;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    std::string argument = arguments[i];
    if (optionsEnded || argument.size() < 2 || argument[0] != '-') {
      if (options.command.empty()) {
        options.command = argument;
      } else {
        options.filterWords.push_back(argument);
      }
      continue;
    }
    if (argument == "--") {
      optionsEnded = true;
      continue;
    }
    if (argument == "-h" || argument == "--help") {
      options.help = true;
      continue;
    }
    std::string value;
    bool hasValue = false;
    if (const auto equals = argument.find('=');
        argument.starts_with("--") && equals != std::string::npos) {
      value = argument.substr(equals + 1);
      argument.resize(equals);
      hasValue = true;
    }
    const bool known = argument == "--config" || argument == "--since" || argument == "--until" ||
                       argument == "--interface" || argument == "-w" ||
                       (argument == "-i" && options.command == "extract");
    if (!known) throw Usage{"unknown option " + argument};
    if (!hasValue) {
      if (i + 1 == arguments.size()) throw Usage{argument + " needs a value"};
      value = arguments[++i];
    }
    if (options.command == "index" && argument != "--config" && argument != "--interface") {
      throw Usage{argument + " goes with extract only"};
    }
    if (argument == "--config") {
      options.config = value;
    } else if (argument == "--since" || argument == "--until") {
      std::string error;
      const auto time = parseTime(value, now, error);
      if (!time) throw Usage{argument + ": " + error};
      (argument == "--since" ? options.since : options.until) = time;
    } else if (argument == "--interface" || argument == "-i") {
      options.interfaces.push_back(value);
    } else {
      options.output = value;
    }
  }
  if (options.command == "index" && !options.filterWords.empty()) {
    throw Usage{"unexpected argument " + options.filterWords.front()};
  }
  return options;
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) {
    if (!text.empty()) text += ' ';
    text += word;
  }
  return text;
}

void raiseFileLimit() {
  // Every file of the window stays open for the query (so retention cannot pull it away).
  rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Where extract must not write, and why: into an output directory of the store (retention, the
// shipper and the daemon's repair look there, and a name there may be one a recorder is about to
// take), or into a stored file, its index or sidecar by another name (a hard link elsewhere),
// which it would empty before reading it. By the inodes of the file opened for writing.
struct Store {
  std::vector<std::filesystem::path> directories;  // of every interface
  std::vector<StoreFile> files;                    // of every interface
};

std::optional<std::string> whyNotWriteInto(int fd, const struct stat& outputStatus,
                                           const std::string& output, const Store& store) {
  const auto same = [&](const std::filesystem::path& path) {
    struct stat status {};
    return ::stat(path.c_str(), &status) == 0 && status.st_dev == outputStatus.st_dev &&
           status.st_ino == outputStatus.st_ino;
  };
  for (const auto& file : store.files) {
    for (const auto& path : {file.path, index::indexPathFor(file.path),
                             std::filesystem::path(file.path.string() + ".json")}) {
      if (same(path)) return "it is " + path.string() + ", a file of the store";
    }
  }
  // Where the opened file really is (a symlink may lead into the store), by its descriptor.
  std::filesystem::path where = output;
  std::error_code error;
  const auto real = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), error);
  if (!error && real.is_absolute()) where = real;
  auto parent = where.parent_path();
  if (parent.empty()) parent = ".";
  struct stat parentStatus {};
  if (S_ISREG(outputStatus.st_mode) && ::stat(parent.c_str(), &parentStatus) == 0) {
    for (const auto& directory : store.directories) {
      struct stat status {};
      if (::stat(directory.c_str(), &status) == 0 && status.st_dev == parentStatus.st_dev &&
          status.st_ino == parentStatus.st_ino) {
        return "it is in the store's output directory " + directory.string() +
               "; write it elsewhere";
      }
    }
  }
  return std::nullopt;
}

int runExtract(const std::string& program, const Options& options,
               const std::vector<StoreFile>& files, const Store& store,
               std::vector<std::string>& problems) {
  ExtractRequest request;
  request.sinceNs = options.since;
  request.untilNs = options.until;
  request.filter = joined(options.filterWords);
  util::UniqueFd outputFile;
  if (options.output == "-") {
    if (::isatty(STDOUT_FILENO)) {
      std::cerr << program
                << ": extract: refusing to write a pcap to a terminal; use -w FILE or "
                   "a pipe\n";
      return kExitUsage;
    }
    request.outputFd = STDOUT_FILENO;
  } else {
    // 0600, as dumpcap makes its files: packets are as private as the store they come from
    // (0640, group pcap-recorder), and the umask may not say so. Emptied only once it is known
    // not to be part of the store: a check by name before opening could be raced.
    bool created = true;
    outputFile.reset(::open(options.output.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!outputFile.valid() && errno == EEXIST) {
      // Still O_CREAT: the kernel's protected_regular/protected_fifos checks (a file another
      // user planted in /tmp) apply only to it.
      created = false;
      outputFile.reset(::open(options.output.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    }
    if (!outputFile.valid()) {
      std::cerr << program << ": cannot create " << options.output << ": " << std::strerror(errno)
                << '\n';
      return kExitFailed;
    }
    struct stat outputStatus {};
    if (::fstat(outputFile.get(), &outputStatus) != 0) {
      std::cerr << program << ": cannot stat " << options.output << ": " << std::strerror(errno)
                << '\n';
      return kExitFailed;
    }
    if (const auto why = whyNotWriteInto(outputFile.get(), outputStatus, options.output, store)) {
      if (created) ::unlink(options.output.c_str());
      std::cerr << program << ": extract: refusing to write into " << options.output << ": " << *why
                << '\n';
      return kExitUsage;
    }
    // Only a regular file: /dev/stdout, a FIFO or /dev/null are written as they are.
    if (!created && S_ISREG(outputStatus.st_mode) && ::ftruncate(outputFile.get(), 0) != 0) {
      std::cerr << program << ": cannot empty " << options.output << ": " << std::strerror(errno)
                << '\n';
      return kExitFailed;
    }
    request.outputFd = outputFile.get();
  }
  ::signal(SIGPIPE, SIG_IGN);
  raiseFileLimit();
  const auto report = extract(files, request);
  problems.insert(problems.end(), report.problems.begin(), report.problems.end());
  for (const auto& problem : problems) std::cerr << program << ": warning: " << problem << '\n';
  std::cerr << program << ": extract: " << report.files << " files, "
            << report.files - report.filesOutside - report.filesVanished << " in the window; "
            << report.blocksSearched << " blocks searched, " << report.blocksSkipped
            << " skipped by the index; " << report.packets << " packets written; "
            << (report.bytesRead + (1u << 19)) / (1u << 20) << " MiB read";
  if (report.indexesBuilt > 0) std::cerr << "; " << report.indexesBuilt << " indexes built";
  if (report.framesDecompressed > 0) {
    std::cerr << "; " << report.framesDecompressed << " zstd frames decompressed";
  }
  std::cerr << '\n';
  return report.failed ? kExitFailed : 0;
}

int runIndex(const std::string& program, const std::vector<StoreFile>& files,
             std::vector<std::string>& problems) {
  const auto report = indexStore(files);
  problems.insert(problems.end(), report.problems.begin(), report.problems.end());
  for (const auto& problem : problems) std::cerr << program << ": warning: " << problem << '\n';
  std::cout << "indexed " << report.indexed << " files, " << report.upToDate << " already indexed, "
            << report.problems.size() << " failed\n";
  return report.problems.empty() ? 0 : kExitFailed;
}

}  // namespace

bool isStoreCommand(const std::vector<std::string>& arguments) {
  for (const auto& argument : arguments) {
    if (argument.empty() || argument[0] == '-') continue;
    return argument == "extract" || argument == "index";
  }
  return false;
}

std::string storeCommandsUsage() {
  return "  extract [--config PATH] [--since TIME] [--until TIME] [--interface NAME]...\n"
         "          [-w FILE] [FILTER...]\n"
         "                     the stored packets of a time window matching a tcpdump\n"
         "                     filter, merged into one pcap (to FILE, or a pipe)\n"
         "  index [--config PATH] [--interface NAME]...\n"
         "                     index the finished files that lack an index\n";
}

int runStoreCommand(const std::string& program, const std::vector<std::string>& arguments) {
  Options options;
  try {
    options = parse(arguments);
  } catch (const Usage& usage) {
    std::cerr << program << ": " << usage.message << "\nUsage:\n" << storeCommandsUsage();
    return kExitUsage;
  }
  if (options.help) {
    std::cout << "Usage:\n" << storeCommandsUsage();
    return 0;
  }
  std::vector<StoreFile> files;
  Store store;
  std::vector<std::string> problems;
  try {
    const auto config = config::load(options.config);
    files = listStore(config, options.interfaces, problems);
    if (options.command == "extract" && options.output != "-") {
      for (const auto& interface : config.interfaces) {
        store.directories.push_back(interface.output.directory);
      }
      std::vector<std::string> ignored;  // said already, or not among the files asked for
      store.files = options.interfaces.empty() ? files : listStore(config, {}, ignored);
    }
  } catch (const config::ConfigError& error) {
    for (const auto& problem : error.problems()) {
      std::cerr << program << ": " << config::format(problem) << '\n';
    }
    return kExitFailed;
  } catch (const std::exception& error) {
    std::cerr << program << ": " << error.what() << '\n';
    return kExitFailed;
  }
  try {
    if (options.command == "index") return runIndex(program, files, problems);
    return runExtract(program, options, files, store, problems);
  } catch (const std::exception& error) {
    std::cerr << program << ": " << error.what() << '\n';
    return kExitFailed;
  }
}

}  // namespace pcap_recorder::ctl
