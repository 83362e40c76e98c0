// The ship line of `pcap-recorderctl status`: pcap-recorder-shipd's backlog, read from the status
// file it rewrites after every change (its metrics, metrics/ship_text.hpp). Why that file and not
// the bus or the state journal: the shipper's status must show also while pcap-recorderd is down,
// the file is replaced atomically and readable by every user (the journal is the shipper's own),
// and it lives in the shipper's RuntimeDirectory=, so it is gone when the shipper does not run.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pcap_recorder::ctl {

// One line for the file's `text`, `now` in seconds since the epoch; "" when `text` is none (no
// file: the shipper is not running or not configured).
std::string formatShipStatus(const std::optional<std::string>& text, double now);

// The file's content; none when it cannot be read.
std::optional<std::string> readShipStatusFile(const std::string& path);

}  // namespace pcap_recorder::ctl
