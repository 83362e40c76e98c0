// The TIME arguments of `pcap-recorderctl extract --since/--until`: RFC 3339
// (2026-12-01T10:00:00Z, 2026-12-01T10:00:00.250+01:00), a date-time without zone in local time
// (2026-12-01 10:00[:00[.fraction]], 2026-12-01), @EPOCH[.fraction], or relative to now (now,
// -15m, -2h, -30s, -1d, -1w; fractions allowed). Pure apart from the local time zone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pcap_recorder::ctl {

// Nanoseconds since the epoch; nullopt with `error` set when `text` is none of the forms.
std::optional<std::int64_t> parseTime(std::string_view text, std::int64_t nowNs,
                                      std::string& error);

}  // namespace pcap_recorder::ctl
