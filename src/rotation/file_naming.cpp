#include "pcap_recorder/rotation/file_naming.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "pcap_recorder/util/printable.hpp"

namespace pcap_recorder::rotation {

namespace {

using Atom = OwnFileMatcher::Atom;

constexpr std::array<std::string_view, 7> kShortDays = {"Sun", "Mon", "Tue", "Wed",
                                                        "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                       "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kShortMonths = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 12> kLongMonths = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};
constexpr std::array<std::string_view, 2> kHalves = {"AM", "PM"};
// gmtime_r names its zone "GMT"; "UTC" too, should the C library ever say so.
constexpr std::array<std::string_view, 2> kZones = {"GMT", "UTC"};

// The widest a number can be written: 2^64 has 20 digits.
constexpr std::size_t kWidestNumber = 20;
constexpr std::size_t kWidestCounter = 1 + 10;  // "_" and an unsigned int

bool isControl(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// The fixed number of digits of a numeric conversion; 0 for the others.
std::size_t digitsOf(char conversion) {
  switch (conversion) {
    case 'C':  // century
    case 'd':  // day of month
    case 'g':  // ISO 8601 week-based year without century
    case 'H':
    case 'I':
    case 'm':
    case 'M':
    case 'S':
    case 'U':  // week of the year
    case 'V':
    case 'W':
    case 'y':
      return 2;
    case 'j':  // day of the year
      return 3;
    case 'G':
    case 'Y':
      return 4;
    default:
      return 0;
  }
}

// The most bytes strftime writes for `conversion` (in the C locale, in UTC).
std::size_t widestOutput(char conversion) {
  if (const std::size_t digits = digitsOf(conversion)) return digits;
  switch (conversion) {
    case 'a':
    case 'b':
    case 'h':
    case 'Z':
      return 3;
    case 'A':  // Wednesday
    case 'B':  // September
      return 9;
    case 'F':
      return 10;
    case 'p':
      return 2;
    case 's':
      return kWidestNumber;
    case 'z':
      return 5;
    default:  // u, w, %
      return 1;
  }
}

std::string describeTemplateError(std::string_view pattern, const std::string& problem) {
  return "file name template \"" + util::printable(pattern.substr(0, 100)) +
         (pattern.size() > 100 ? "..." : "") + "\" " + problem;
}

// Parses `pattern` into `out`; returns every grammar problem (after a lone '%' or an unclosed
// '{' there is nothing more to read).
std::vector<std::string> parse(std::string_view pattern, std::vector<TemplatePiece>& out) {
  std::vector<std::string> problems;
  const auto addText = [&](std::string_view text) {
    if (out.empty() || out.back().kind != TemplatePiece::Kind::text) {
      out.push_back({TemplatePiece::Kind::text, {}, 0});
    }
    out.back().text += text;
  };
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '%') {
      if (i + 1 == pattern.size()) {
        problems.push_back("ends with a lone '%' (write %% for a literal percent sign)");
        break;
      }
      const char conversion = pattern[++i];
      if (kTimeConversions.find(conversion) == std::string_view::npos) {
        std::string allowed;
        for (const char each : kTimeConversions) {
          if (!allowed.empty()) allowed += ' ';
          allowed += '%';
          allowed += each;
        }
        problems.push_back("uses %" + util::printable(std::string_view(&conversion, 1)) +
                           ", which is not an allowed time conversion (allowed: " + allowed + ")");
      } else if (conversion == '%') {
        addText("%");
      } else {
        out.push_back({TemplatePiece::Kind::time, {}, conversion});
      }
    } else if (c == '{') {
      const std::size_t close = pattern.find('}', i);
      if (close == std::string_view::npos) {
        problems.push_back("has a '{' without a closing '}'");
        break;
      }
      const std::string_view placeholder = pattern.substr(i, close - i + 1);
      if (placeholder == kInterfacePlaceholder) {
        out.push_back({TemplatePiece::Kind::interface, {}, 0});
      } else if (placeholder == kSequencePlaceholder) {
        out.push_back({TemplatePiece::Kind::sequence, {}, 0});
      } else {
        problems.push_back("uses unknown placeholder " +
                           util::printable(placeholder.substr(0, 40)) +
                           (placeholder.size() > 40 ? "..." : "") +
                           " (known: " + std::string(kInterfacePlaceholder) + " or " +
                           std::string(kSequencePlaceholder) + ")");
      }
      i = close;
    } else {
      addText(std::string_view(&c, 1));
    }
  }
  return problems;
}

std::string sequenceText(std::uint64_t sequence) {
  std::string text = std::to_string(sequence);
  if (text.size() < kSequenceDigits) text.insert(0, kSequenceDigits - text.size(), '0');
  return text;
}

// The atoms of the names one template makes for one interface, with the optional counter where
// withCounter() puts it. Every atom but the counter stands for at least one byte, so the atom
// index of a literal '.' before the counter is its offset in the name.
std::vector<Atom> atomsOf(const FileNameTemplate& parsed, std::string_view interface) {
  std::vector<Atom> atoms;
  const auto addBytes = [&](std::string_view bytes) {
    for (const char c : bytes) atoms.push_back({Atom::Kind::byte, c});
  };
  for (const TemplatePiece& piece : parsed.pieces()) {
    switch (piece.kind) {
      case TemplatePiece::Kind::text:
        addBytes(piece.text);
        break;
      case TemplatePiece::Kind::interface:
        addBytes(interface);
        break;
      case TemplatePiece::Kind::sequence:
        atoms.push_back({Atom::Kind::sequence, 0});
        break;
      case TemplatePiece::Kind::time:
        atoms.push_back({Atom::Kind::time, piece.conversion});
        break;
    }
  }
  // Conversions never write a '.', so the last '.' atom is the last '.' of every name.
  std::size_t counterAt = atoms.size();
  for (std::size_t i = atoms.size(); i-- > 1;) {
    if (atoms[i].kind == Atom::Kind::byte && atoms[i].value == '.') {
      counterAt = i;
      break;
    }
  }
  atoms.insert(atoms.begin() + static_cast<std::ptrdiff_t>(counterAt),
               Atom{Atom::Kind::counter, 0});
  return atoms;
}

// --- Matching: for each atom, every offset where its text can end, from every offset where
// the previous one could. Sets of offsets rather than backtracking: no recursion, and the work
// is bounded by atoms x name length x the longest run an atom can take.

using Offsets = std::vector<char>;  // Offsets[i]: the name's first i bytes can be matched

std::size_t digitRun(std::string_view name, std::size_t at) {
  std::size_t end = at;
  while (end < name.size() && isDigit(name[end])) ++end;
  return end - at;
}

template <std::size_t N>
void markWords(const std::array<std::string_view, N>& words, std::string_view name, std::size_t at,
               Offsets& next) {
  for (const std::string_view word : words) {
    if (name.substr(at).starts_with(word)) next[at + word.size()] = 1;
  }
}

// A number written without leading zeros (or "0"): %s.
void markPlainNumber(std::string_view name, std::size_t at, Offsets& next) {
  const std::size_t run = digitRun(name, at);
  if (run == 0) return;
  if (name[at] == '0') {
    next[at + 1] = 1;
    return;
  }
  for (std::size_t length = 1; length <= run; ++length) next[at + length] = 1;
}

// A number zero-padded to `minimum` digits: exactly `minimum` digits, or more without a leading
// zero, as "%0*llu" writes it.
void markPaddedNumber(std::string_view name, std::size_t at, std::size_t minimum, Offsets& next) {
  const std::size_t run = digitRun(name, at);
  if (run < minimum) return;
  next[at + minimum] = 1;
  if (name[at] == '0') return;
  for (std::size_t length = minimum + 1; length <= run; ++length) next[at + length] = 1;
}

void markTime(char conversion, std::string_view name, std::size_t at, Offsets& next) {
  if (const std::size_t digits = digitsOf(conversion)) {
    if (digitRun(name, at) >= digits) next[at + digits] = 1;
    return;
  }
  const auto charAt = [&](std::size_t i) { return at + i < name.size() ? name[at + i] : '\0'; };
  switch (conversion) {
    case 'a':
      return markWords(kShortDays, name, at, next);
    case 'A':
      return markWords(kLongDays, name, at, next);
    case 'b':
    case 'h':
      return markWords(kShortMonths, name, at, next);
    case 'B':
      return markWords(kLongMonths, name, at, next);
    case 'p':
      return markWords(kHalves, name, at, next);
    case 'Z':
      return markWords(kZones, name, at, next);
    case 'F':
      if (digitRun(name, at) >= 4 && charAt(4) == '-' && digitRun(name, at + 5) >= 2 &&
          charAt(7) == '-' && digitRun(name, at + 8) >= 2) {
        next[at + 10] = 1;
      }
      return;
    case 's':
      return markPlainNumber(name, at, next);
    case 'u':
      if (charAt(0) >= '1' && charAt(0) <= '7') next[at + 1] = 1;
      return;
    case 'w':
      if (charAt(0) >= '0' && charAt(0) <= '6') next[at + 1] = 1;
      return;
    case 'z':
      if ((charAt(0) == '+' || charAt(0) == '-') && digitRun(name, at + 1) >= 4) next[at + 5] = 1;
      return;
    default:
      return;
  }
}

void markAtom(const Atom& atom, std::string_view name, std::size_t at, Offsets& next) {
  switch (atom.kind) {
    case Atom::Kind::byte:
      if (at < name.size() && name[at] == atom.value) next[at + 1] = 1;
      return;
    case Atom::Kind::time:
      return markTime(atom.value, name, at, next);
    case Atom::Kind::sequence:
      return markPaddedNumber(name, at, kSequenceDigits, next);
    case Atom::Kind::counter:
      next[at] = 1;  // no counter
      // "_001" on: counter 0 is never written.
      if (at < name.size() && name[at] == '_') {
        Offsets counter(next.size(), 0);
        markPaddedNumber(name, at + 1, kCounterDigits, counter);
        for (std::size_t end = at + 1 + kCounterDigits; end < counter.size(); ++end) {
          if (!counter[end]) continue;
          const std::string_view digits = name.substr(at + 1, end - at - 1);
          if (digits.find_first_not_of('0') != std::string_view::npos) next[end] = 1;
        }
      }
      return;
  }
}

bool matches(const std::vector<Atom>& atoms, std::string_view name) {
  Offsets reached(name.size() + 1, 0);
  Offsets next(name.size() + 1, 0);
  reached[0] = 1;
  for (const Atom& atom : atoms) {
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (std::size_t at = 0; at <= name.size(); ++at) {
      if (!reached[at]) continue;
      markAtom(atom, name, at, next);
      any = true;
    }
    if (!any) return false;
    reached.swap(next);
  }
  return reached[name.size()] != 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

FileNameTemplate::FileNameTemplate(std::string_view pattern) {
  if (const auto problems = parse(pattern, pieces_); !problems.empty()) {
    throw std::invalid_argument(describeTemplateError(pattern, problems.front()));
  }
}

bool FileNameTemplate::namesInterface() const noexcept {
  return std::any_of(pieces_.begin(), pieces_.end(), [](const TemplatePiece& piece) {
    return piece.kind == TemplatePiece::Kind::interface;
  });
}

std::string FileNameTemplate::expand(std::string_view interface, std::uint64_t sequence,
                                     std::chrono::system_clock::time_point openedAt) const {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(openedAt);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  std::string name;
  for (const TemplatePiece& piece : pieces_) {
    switch (piece.kind) {
      case TemplatePiece::Kind::text:
        name += piece.text;
        break;
      case TemplatePiece::Kind::interface:
        name += interface;
        break;
      case TemplatePiece::Kind::sequence:
        name += sequenceText(sequence);
        break;
      case TemplatePiece::Kind::time: {
        if (piece.conversion == 's') {
          // Not strftime's: glibc computes %s with mktime(), which reads the fields as local time.
          name += std::to_string(seconds);
          break;
        }
        const char format[] = {'%', piece.conversion, '\0'};
        char text[64];
        name.append(text, std::strftime(text, sizeof text, format, &utc));
        break;
      }
    }
  }
  return name;
}

std::size_t FileNameTemplate::longestOnDisk(std::string_view interface) const {
  std::size_t bytes = kWidestCounter + std::max(kPartSuffix.size(), kDamagedSuffix.size());
  for (const TemplatePiece& piece : pieces_) {
    switch (piece.kind) {
      case TemplatePiece::Kind::text:
        bytes += piece.text.size();
        break;
      case TemplatePiece::Kind::interface:
        bytes += interface.size();
        break;
      case TemplatePiece::Kind::sequence:
        bytes += kWidestNumber;
        break;
      case TemplatePiece::Kind::time:
        bytes += widestOutput(piece.conversion);
        break;
    }
  }
  return bytes;
}

std::vector<std::string> templateProblems(std::string_view pattern) {
  std::vector<std::string> problems;
  if (pattern.empty()) problems.push_back("must not be empty");
  if (pattern == "." || pattern == "..") problems.push_back("must be a file name, not . or ..");
  if (pattern.find('/') != std::string_view::npos) {
    problems.push_back("must be a plain file name without '/' (set the folder with directory)");
  }
  const auto control = std::find_if(pattern.begin(), pattern.end(), isControl);
  if (control != pattern.end()) {
    problems.push_back("contains the control character " +
                       util::printable(std::string_view(&*control, 1)) + " at byte " +
                       std::to_string(control - pattern.begin() + 1) +
                       " (file names must be printable)");
  }
  for (const std::string_view suffix : {kPartSuffix, kDamagedSuffix}) {
    if (pattern.ends_with(suffix)) {
      problems.push_back("must not end in " + std::string(suffix) +
                         " (the recorder's mark of unfinished or damaged files)");
    }
  }
  std::vector<TemplatePiece> pieces;
  for (std::string& problem : parse(pattern, pieces)) problems.push_back(std::move(problem));
  return problems;
}

std::vector<std::string> namingProblems(std::string_view pattern, std::string_view interface) {
  std::vector<std::string> problems;
  const auto control = std::find_if(interface.begin(), interface.end(), isControl);
  if (control != interface.end()) {
    problems.push_back("cannot name files of interface \"" + util::printable(interface) +
                       "\": its name contains a control character");
  }
  std::vector<TemplatePiece> pieces;
  if (!parse(pattern, pieces).empty()) return problems;  // templateProblems() tells of it
  const FileNameTemplate parsed(pattern);
  if (const std::size_t longest = parsed.longestOnDisk(interface); longest > kNameMax) {
    problems.push_back("makes names of up to " + std::to_string(longest) + " bytes for " +
                       "interface " + util::printable(interface) +
                       " (with a collision counter and .damaged), more than the " +
                       std::to_string(kNameMax) + " a file name may have");
  }
  // The name's fixed ending, interface included: a name that ends in ".part" is never finished.
  std::string ending;
  for (const TemplatePiece& piece : parsed.pieces()) {
    if (piece.kind == TemplatePiece::Kind::text) {
      ending += piece.text;
    } else if (piece.kind == TemplatePiece::Kind::interface) {
      ending += interface;
    } else {
      ending.clear();
    }
  }
  for (const std::string_view suffix : {kPartSuffix, kDamagedSuffix}) {
    if (ending.ends_with(suffix) && !pattern.ends_with(suffix)) {
      problems.push_back("makes names ending in " + std::string(suffix) + " for interface " +
                         util::printable(interface) + ", which would never be finished");
    }
  }
  return problems;
}

std::string expandFileName(std::string_view pattern, std::string_view interface,
                           std::uint64_t sequence, std::chrono::system_clock::time_point openedAt) {
  return FileNameTemplate(pattern).expand(interface, sequence, openedAt);
}

std::string withCounter(std::string_view name, unsigned counter) {
  if (counter == 0) return std::string(name);
  const auto dot = name.rfind('.');
  const std::size_t stemEnd = dot == std::string_view::npos || dot == 0 ? name.size() : dot;
  char digits[16];
  std::snprintf(digits, sizeof digits, "_%0*u", kCounterDigits, counter);
  return std::string(name.substr(0, stemEnd)) + digits + std::string(name.substr(stemEnd));
}

std::string partNameOf(std::string_view finalName) {
  return std::string(finalName) + std::string(kPartSuffix);
}

OwnFileMatcher::OwnFileMatcher(const std::vector<OwnFileTemplate>& templates) {
  for (const OwnFileTemplate& entry : templates) {
    std::vector<Atom> atoms = atomsOf(FileNameTemplate(entry.fileName), entry.interface);
    const bool known = std::any_of(patterns_.begin(), patterns_.end(), [&](const auto& pattern) {
      return std::equal(
          pattern.begin(), pattern.end(), atoms.begin(), atoms.end(),
          [](const Atom& a, const Atom& b) { return a.kind == b.kind && a.value == b.value; });
    });
    if (!known) patterns_.push_back(std::move(atoms));
  }
}

bool OwnFileMatcher::isUncompressedFile(std::string_view name) const {
  if (name.empty() || name.size() > kNameMax) return false;
  // Why: config refuses templates ending so, but the file being written is never ours to touch.
  if (name.ends_with(kPartSuffix) || name.ends_with(kDamagedSuffix)) return false;
  return std::any_of(patterns_.begin(), patterns_.end(),
                     [&](const std::vector<Atom>& atoms) { return matches(atoms, name); });
}

bool OwnFileMatcher::isFinishedFile(std::string_view name) const {
  if (isUncompressedFile(name)) return true;
  for (const std::string_view suffix : kCompressionSuffixes) {
    if (name.size() <= kNameMax && name.ends_with(suffix) &&
        isUncompressedFile(name.substr(0, name.size() - suffix.size()))) {
      return true;
    }
  }
  return false;
}

bool OwnFileMatcher::isPartFile(std::string_view name) const {
  return name.ends_with(kPartSuffix) &&
         isUncompressedFile(name.substr(0, name.size() - kPartSuffix.size()));
}

bool OwnFileMatcher::isCompressionPartFile(std::string_view name) const {
  if (!name.ends_with(kPartSuffix)) return false;
  const std::string_view stored = name.substr(0, name.size() - kPartSuffix.size());
  return !isUncompressedFile(stored) && isFinishedFile(stored);
}

}  // namespace pcap_recorder::rotation
