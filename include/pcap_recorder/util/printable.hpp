// Text from users (config values, interface names, filters) shown in messages and logs: control
// characters are escaped so a value can neither break a message into lines nor send escape
// sequences to a terminal.
#pragma once

#include <string>
#include <string_view>

namespace pcap_recorder::util {

// `text` with "\n", "\t", "\r" and "\\xNN" (other bytes below 0x20, and 0x7f) in place of control
// characters; every other byte, UTF-8 included, as it is.
std::string printable(std::string_view text);

// `text` as valid UTF-8, for outputs that must be (D-Bus strings, JSON, Prometheus labels) while
// paths and interface names are bytes: each byte that does not start a valid sequence becomes
// U+FFFD; valid text is returned as it is.
std::string validUtf8(std::string_view text);

}  // namespace pcap_recorder::util
