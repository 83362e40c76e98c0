#include "pcap_recorder/config/hook_command.hpp"

namespace pcap_recorder::config {

namespace {

bool isBlank(char c) {
  return c == ' ' || c == '\t';
}

// Where a `#` starts a comment in sh: at the start of a word.
bool startsWord(std::string_view command, std::size_t at) {
  if (at == 0) return true;
  const char before = command[at - 1];
  return isBlank(before) || before == ';' || before == '&' || before == '|' || before == '(' ||
         before == ')' || before == '<' || before == '>';
}

}  // namespace

std::string trimHookCommand(std::string_view command) {
  const auto end = command.find_last_not_of(" \t\r\n");
  return std::string(end == std::string_view::npos ? std::string_view{}
                                                   : command.substr(0, end + 1));
}

std::optional<std::string> hookCommandProblem(std::string_view command) {
  if (command.empty()) return std::nullopt;
  char quote = 0;            // the quote open at this point, if any
  bool lastEscaped = false;  // the last character is taken literally (after a backslash)
  for (std::size_t at = 0; at < command.size(); ++at) {
    const char c = command[at];
    if (c == '\n' || c == '\r') {
      return "has more than one line: only the last would get the file's path; put the commands "
             "in a script and name the script here";
    }
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
      return "holds a control character (byte " + std::to_string(static_cast<int>(c)) + ")";
    }
    if (quote == '\'') {
      if (c == '\'') quote = 0;
    } else if (c == '\\') {
      ++at;  // escapes the next character, also within double quotes
      lastEscaped = at == command.size() - 1;
    } else if (quote == '"') {
      if (c == '"') quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '#' && startsWord(command, at)) {
      return "has a comment (from '#'), which would hide the file's path added at its end";
    }
  }
  if (quote != 0) {
    return std::string("has an unclosed ") + (quote == '\'' ? "single" : "double") + " quote";
  }
  if (lastEscaped) return std::nullopt;
  switch (command.back()) {
    case ';':
    case '&':
    case '|':
    case '<':
    case '>':
    case '\\':
    // A subshell or a group: `(cd /srv && ./upload) "$1"` is a syntax error for sh.
    case ')':
    case '}':
      return std::string("ends in '") + command.back() +
             "', so the file's path added at its end would not be its argument";
    default:
      break;
  }
  // The same for a compound command's last word: `... done "$1"` is a syntax error for sh.
  // npos + 1 is 0: a command of one word.
  const std::string_view lastWord = command.substr(command.find_last_of(" \t;&|(") + 1);
  for (const std::string_view keyword : {"done", "fi", "esac"}) {
    if (lastWord == keyword) {
      return "ends in '" + std::string(keyword) +
             "', so the file's path added at its end would not be its argument";
    }
  }
  return std::nullopt;
}

std::string hookScript(std::string_view command) {
  return std::string(command) + " \"$1\"";
}

}  // namespace pcap_recorder::config
