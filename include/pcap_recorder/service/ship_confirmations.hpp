// What pcap-recorder-shipd has confirmed uploaded, as the daemon's retention sees it
// (retention.keep_until_shipped, ship.delete_after_upload): read from the shipper's durable
// state journal (ship.state, ship/ship_state.hpp), which the daemon may read (group
// pcap-recorder) but never writes. Reading what the shipper already keeps durably needs no new
// privilege, no channel that can lose a message, and survives a restart of either side: a file
// counts as confirmed exactly when the shipper would not send it again.
//
// The journal is read again only when it changed (inode, size or modification time). A journal
// that cannot be read confirms nothing, so nothing unconfirmed is ever deleted because of it.
// One owner (the finisher's retention thread, pr-retention).
#pragma once

#include <sys/types.h>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace pcap_recorder::service {

class ShipConfirmations {
 public:
  explicit ShipConfirmations(std::filesystem::path stateFile);

  // Reads the journal again when it changed. Logs (once per change of the problem) a journal
  // that cannot be read; then nothing counts as confirmed.
  void refresh();
  // Whether `file` (a path as the config names it; compared lexically normalised) is confirmed
  // as a file of `bytes` bytes and, when given, that `sha256`. Why more than the path: the
  // daemon names a new file as an earlier one that was shipped and deleted (`{seq}` counting
  // again after a restart, a time slot's name after one); the new one is not shipped.
  bool confirmed(const std::filesystem::path& file, std::uint64_t bytes,
                 std::optional<std::string_view> sha256 = std::nullopt) const;
  const std::filesystem::path& stateFile() const noexcept { return stateFile_; }

 private:
  std::filesystem::path stateFile_;
  struct Confirmed {
    std::uint64_t bytes = 0;
    std::string sha256;
  };
  std::map<std::string, Confirmed> confirmed_;  // by lexically normal path
  // What was read last, to read again only after a change.
  dev_t device_ = 0;
  ino_t inode_ = 0;
  off_t size_ = -1;
  timespec modified_{};
  std::string problem_;  // the last problem logged; empty when the journal was read
};

}  // namespace pcap_recorder::service
