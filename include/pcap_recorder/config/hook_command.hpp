// post_finish_command as it is run: `/bin/sh -c 'COMMAND "$1"' NAME FILE`, the finished file's
// path added as the command's last argument (as tcpdump -z adds it). Shared by the config check,
// which refuses a command the path would not reach as an argument, and the hook runner.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pcap_recorder::config {

// The command as stored: without the trailing blanks and line ends a YAML block scalar (`|`, `>`)
// leaves, which would put the path on a line of its own.
std::string trimHookCommand(std::string_view command);

// Why the trimmed `command` would not get the file's path as its last argument, or nullopt: a
// second line, an unclosed quote, a comment (`#` at the start of a word), or a last character
// that ends the command, redirects to the path or escapes the space before it (`;` `&` `|`
// `<` `>` `\`).
std::optional<std::string> hookCommandProblem(std::string_view command);

// The script /bin/sh runs for `command`: the path, passed as $1, added as its last argument.
std::string hookScript(std::string_view command);

}  // namespace pcap_recorder::config
