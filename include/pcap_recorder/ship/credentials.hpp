// S3 keys from a file in the AWS shared-credentials format (what `aws configure` writes and
// rclone, s3cmd and the SDKs read), so they never stand in the YAML:
//
//   [default]
//   aws_access_key_id = AKIA...
//   aws_secret_access_key = ...
//   aws_session_token = ...        (optional)
//
// '#' and ';' start comment lines; other keys are ignored (the format has many). Messages name the
// file, line and key, never a key's value.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pcap_recorder::ship {

struct Credentials {
  std::string accessKeyId;
  std::string secretAccessKey;
  std::string sessionToken;  // empty: none
};

class CredentialsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The keys of `profile` in `text`, read from `source` (named in messages). Throws
// CredentialsError for a malformed line, a missing profile or a missing key.
Credentials parseCredentials(std::string_view text, std::string_view profile,
                             std::string_view source);

// parseCredentials over the file at `path`.
Credentials loadCredentials(const std::filesystem::path& path,
                            std::string_view profile = "default");

// What is wrong with a credentials file of mode `mode` for keeping secrets, or empty: readable or
// writable by others than its owner and group ("world-readable"), or not a regular file.
std::string credentialsModeProblem(unsigned mode);

}  // namespace pcap_recorder::ship
