#include "pcap_recorder/ship/credentials.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace pcap_recorder::ship {
namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

std::string where(std::string_view source, std::size_t line) {
  return std::string(source) + ":" + std::to_string(line) + ": ";
}

}  // namespace

Credentials parseCredentials(std::string_view text, std::string_view profile,
                             std::string_view source) {
  Credentials found;
  bool inProfile = false;
  bool sawProfile = false;
  std::size_t profileLine = 0;
  std::size_t lineNumber = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = std::min(text.find('\n', start), text.size());
    const std::string_view line = trim(text.substr(start, end - start));
    start = end + 1;
    ++lineNumber;
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        throw CredentialsError(where(source, lineNumber) + "a section header without ']'");
      }
      std::string_view name = trim(line.substr(1, line.size() - 2));
      // The SDKs' config file writes "[profile NAME]"; accept it here too.
      if (name.starts_with("profile ")) name = trim(name.substr(8));
      inProfile = name == profile;
      if (inProfile) {
        sawProfile = true;
        profileLine = lineNumber;
      }
      continue;
    }
    const auto equals = line.find('=');
    if (equals == std::string_view::npos) {
      throw CredentialsError(where(source, lineNumber) + "expected 'key = value'");
    }
    if (!inProfile) continue;
    const std::string_view key = trim(line.substr(0, equals));
    const std::string_view value = trim(line.substr(equals + 1));
    if (key == "aws_access_key_id") {
      found.accessKeyId = value;
    } else if (key == "aws_secret_access_key") {
      found.secretAccessKey = value;
    } else if (key == "aws_session_token") {
      found.sessionToken = value;
    }
  }
  if (!sawProfile) {
    throw CredentialsError(std::string(source) + ": no [" + std::string(profile) + "] profile");
  }
  for (const auto& [key, value] :
       {std::pair<std::string_view, const std::string&>{"aws_access_key_id", found.accessKeyId},
        {"aws_secret_access_key", found.secretAccessKey}}) {
    if (value.empty()) {
      throw CredentialsError(where(source, profileLine) + "profile [" + std::string(profile) +
                             "] has no " + std::string(key));
    }
  }
  return found;
}

Credentials loadCredentials(const std::filesystem::path& path, std::string_view profile) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CredentialsError(path.string() + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return parseCredentials(text.str(), profile, path.string());
}

std::string credentialsModeProblem(unsigned mode) {
  if (!S_ISREG(mode)) return "is not a regular file";
  if ((mode & (S_IROTH | S_IWOTH)) != 0) {
    return "is readable or writable by every user (mode " + [&] {
      char octal[8];
      std::snprintf(octal, sizeof octal, "%04o", mode & 07777);
      return std::string(octal);
    }() + "); chmod o-rwx it";
  }
  return {};
}

}  // namespace pcap_recorder::ship
