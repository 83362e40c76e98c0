// The file-name grammar, in one place: what a `file_name` template may hold, how it becomes a
// name ({interface}, {seq}, strftime conversions in UTC), the `_NNN` collision counter, the
// `.part` and `.damaged` suffixes, and the matcher that recognises the names made here. Config
// validation, the writer, retention and crash repair all use this module, so a name the writer
// can make is exactly a name retention and repair accept.
//
// Templates are parsed once into pieces, never interpreted by a regular expression engine or
// re-read after substitution: an interface called "{seq}" or "%Y" is text like any other, and
// a template of any length costs time linear in its length, with no recursion.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pcap_recorder::rotation {

// {seq} is written with at least this many digits, so names sort in order.
inline constexpr int kSequenceDigits = 6;
// The collision counter: "_002" (at least this many digits).
inline constexpr int kCounterDigits = 3;
inline constexpr std::string_view kPartSuffix = ".part";        // being written
inline constexpr std::string_view kDamagedSuffix = ".damaged";  // set aside by repair
// Beside a finished file still owed its storing (service/file_storage.hpp): "x.pcap.storing".
inline constexpr std::string_view kStoringSuffix = ".storing";
// What output.compression adds to a finished name (compress/compression.hpp): "x.pcap.zst".
inline constexpr std::string_view kCompressionSuffixes[] = {".zst", ".gz"};
// NAME_MAX of Linux file systems: the longest name, in bytes, of one directory entry.
inline constexpr std::size_t kNameMax = 255;

inline constexpr std::string_view kInterfacePlaceholder = "{interface}";
inline constexpr std::string_view kSequencePlaceholder = "{seq}";

// Conversions whose output (in the C locale) has no '/', '.', whitespace or ':', so a name stays
// one path component that shells and scp take without quoting, and the last '.' of a name is
// always the template's or the interface's. Left out on purpose: %D and %x ('/'), %c, %e, %k,
// %l, %n, %t (whitespace), %T, %R, %r, %X (':'), and the %E/%O modifiers and glibc flags such as
// %-d, whose meaning depends on the C library.
inline constexpr std::string_view kTimeConversions = "aAbBCdFgGhHIjmMpsSuUVwWyYzZ%";

// One piece of a parsed template.
struct TemplatePiece {
  enum class Kind { text, time, interface, sequence };
  Kind kind = Kind::text;
  std::string text;     // Kind::text: literal bytes ("%%" already made one '%')
  char conversion = 0;  // Kind::time: the strftime conversion letter
};

// A `file_name` template, parsed.
class FileNameTemplate {
 public:
  // Throws std::invalid_argument for a template the grammar cannot read (an unknown conversion
  // or placeholder, a lone '%', an unclosed '{'). See problemsOf() for the rest of the rules.
  explicit FileNameTemplate(std::string_view pattern);

  const std::vector<TemplatePiece>& pieces() const noexcept { return pieces_; }
  bool namesInterface() const noexcept;

  // The name of one file of `interface`: {interface} becomes the name as it is, {seq} the file's
  // sequence number within this run (zero-padded), and conversions take `openedAt` in UTC.
  std::string expand(std::string_view interface, std::uint64_t sequence,
                     std::chrono::system_clock::time_point openedAt) const;

  // The most bytes a name of `interface` can take on disk: the expansion at its widest, with the
  // widest collision counter and the longer of `.part` and `.damaged`.
  std::size_t longestOnDisk(std::string_view interface) const;

 private:
  std::vector<TemplatePiece> pieces_;
};

// Everything wrong with `pattern` as a `file_name` template, each as a phrase that follows the
// quoted template in a config message ("uses %Q, which is not an allowed time conversion ...").
// Empty when it is valid. Covers the grammar, '/', "." and "..", control characters, and a name
// ending in `.part` or `.damaged` (those would never be finished, retained or repaired).
std::vector<std::string> templateProblems(std::string_view pattern);

// What keeps a valid template from making usable names for `interface`: control characters in
// the interface name, names longer than kNameMax bytes on disk, an expansion ending in `.part` or
// `.damaged`. Empty when every name will do.
std::vector<std::string> namingProblems(std::string_view pattern, std::string_view interface);

// Expands `pattern` (see FileNameTemplate::expand); throws std::invalid_argument as the
// constructor does.
std::string expandFileName(std::string_view pattern, std::string_view interface,
                           std::uint64_t sequence, std::chrono::system_clock::time_point openedAt);

// "name.pcap" with the collision counter before the last extension: withCounter("a.pcap", 2) is
// "a_002.pcap"; 0 leaves the name as it is. A name without a '.' after its first byte gets the
// counter at its end. Before the extension so Wireshark's file sets still recognise the files.
std::string withCounter(std::string_view name, unsigned counter);

// The name a file has while it is written.
std::string partNameOf(std::string_view finalName);

// One interface writing into a directory: its `file_name` template and its name.
struct OwnFileTemplate {
  std::string fileName;   // "{interface}-%Y%m%dT%H%M%S.pcap"
  std::string interface;  // "eth0"
};

// Recognises the names the given interfaces' templates make: the expansion for some time and
// sequence number, with or without a collision counter as withCounter() puts it. Everything else
// is not ours: other interfaces' files, other extensions, hand-made files. Linear in the name's
// length times the template's, without recursion; names longer than kNameMax are never ours.
class OwnFileMatcher {
 public:
  // Throws std::invalid_argument for a template the grammar cannot read: a matcher that cannot
  // read a template must not guess.
  explicit OwnFileMatcher(const std::vector<OwnFileTemplate>& templates);

  // A finished file: an own name, or one followed by a compression suffix (`.zst`, `.gz`); never
  // one ending in `.part` or `.damaged`.
  bool isFinishedFile(std::string_view name) const;
  // A file being written, or left by a killed run: an own (uncompressed) name followed by `.part`.
  bool isPartFile(std::string_view name) const;
  // A compression being written, or left by a killed run: `x.pcap.zst.part`, `x.pcap.gz.part`.
  bool isCompressionPartFile(std::string_view name) const;

  // What one name can be: a literal byte, a conversion's output, the sequence number, or the
  // optional collision counter. Public for the matcher's helpers only.
  struct Atom {
    enum class Kind { byte, time, sequence, counter };
    Kind kind = Kind::byte;
    char value = 0;  // the byte, or the conversion letter
  };

 private:
  bool isUncompressedFile(std::string_view name) const;
  std::vector<std::vector<Atom>> patterns_;
};

}  // namespace pcap_recorder::rotation
