#include "pcap_recorder/ship/ship_state.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "pcap_recorder/ship/object_key.hpp"
#include "pcap_recorder/util/system_error.hpp"
#include "pcap_recorder/util/tidy_path.hpp"

namespace pcap_recorder::ship {
namespace {

std::vector<std::string_view> splitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (start <= line.size()) {
    const auto space = std::min(line.find(' ', start), line.size());
    fields.push_back(line.substr(start, space - start));
    start = space + 1;
  }
  return fields;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool decode(std::string_view field, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] != '%') {
      out += field[i];
      continue;
    }
    if (i + 2 >= field.size()) return false;
    const int high = hexValue(field[i + 1]);
    const int low = hexValue(field[i + 2]);
    if (high < 0 || low < 0) return false;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return true;
}

void writeAllAt(int fd, std::string_view data, off_t offset, const std::string& what) {
  while (!data.empty()) {
    const ssize_t written = ::pwrite(fd, data.data(), data.size(), offset);
    if (written < 0) {
      if (errno == EINTR) continue;
      util::throwErrno(what);
    }
    data.remove_prefix(static_cast<std::size_t>(written));
    offset += written;
  }
}

void writeAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      util::throwErrno(what);
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
}

void syncDirectoryOf(const std::filesystem::path& file) {
  const auto directory =
      file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
  util::UniqueFd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) util::throwErrno(directory.string() + ": open");
  util::checked(::fsync(dir.get()), directory.string() + ": fsync");
}

}  // namespace

std::string formatConfirmed(const ConfirmedUpload& upload) {
  return "confirmed " + encodeQueryValue(upload.localPath) + " " + encodeQueryValue(upload.key) +
         " " + std::to_string(upload.size) + " " + encodeQueryValue(upload.sha256) + " " +
         encodeQueryValue(upload.etag) + "\n";
}

std::string formatStarted(const OpenMultipartUpload& upload) {
  return "started " + encodeQueryValue(upload.key) + " " + encodeQueryValue(upload.uploadId) + "\n";
}

std::string formatEnded(std::string_view uploadId) {
  return "ended " + encodeQueryValue(uploadId) + "\n";
}

ShipStateRecords parseShipState(std::string_view text, std::string_view source) {
  ShipStateRecords records;
  std::size_t start = 0;
  std::size_t lineNumber = 0;
  while (true) {
    const auto newline = text.find('\n', start);
    if (newline == std::string_view::npos) break;  // a torn last line: never confirmed
    const std::string_view line = text.substr(start, newline - start);
    ++lineNumber;
    const auto bad = [&](std::string_view why) {
      return ShipStateError(std::string(source) + ":" + std::to_string(lineNumber) + ": " +
                            std::string(why));
    };
    const auto fields = splitFields(line);
    std::vector<std::string> values(fields.size());
    for (std::size_t i = 1; i < fields.size(); ++i) {
      if (!decode(fields[i], values[i])) throw bad("a field with a bad %-escape");
    }
    if (fields[0] == "confirmed" && fields.size() == 6) {
      ConfirmedUpload upload{values[1], values[2], 0, values[4], values[5]};
      const auto [end, error] =
          std::from_chars(values[3].data(), values[3].data() + values[3].size(), upload.size);
      if (error != std::errc{} || end != values[3].data() + values[3].size()) {
        throw bad("a size that is not a number");
      }
      // Paths written before the config read each directory in one spelling ("/srv/pcap/./f"):
      // found again under the spelling the shipper now looks them up by, not shipped twice.
      upload.localPath = util::tidyPath(upload.localPath).string();
      records.confirmed[upload.localPath] = upload;
    } else if (fields[0] == "started" && fields.size() == 3) {
      records.openUploads.push_back({values[1], values[2]});
    } else if (fields[0] == "ended" && fields.size() == 2) {
      std::erase_if(records.openUploads,
                    [&](const OpenMultipartUpload& open) { return open.uploadId == values[1]; });
    } else {
      throw bad("not a record this version writes ('confirmed', 'started', 'ended')");
    }
    start = newline + 1;
    records.validBytes = start;
  }
  return records;
}

ShipState::ShipState(std::filesystem::path file) : file_(std::move(file)) {
  const bool existed = std::filesystem::exists(file_);
  fd_ = util::UniqueFd(::open(file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640));
  if (!fd_.valid()) util::throwErrno(file_.string() + ": open");
  std::string text;
  char buffer[65536];
  while (true) {
    const ssize_t got = ::read(fd_.get(), buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      util::throwErrno(file_.string() + ": read");
    }
    if (got == 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  records_ = parseShipState(text, file_.string());
  if (records_.validBytes != text.size()) {
    util::checked(::ftruncate(fd_.get(), static_cast<off_t>(records_.validBytes)),
                  file_.string() + ": dropping a torn last line");
    util::checked(::fdatasync(fd_.get()), file_.string() + ": fdatasync");
  }
  if (!existed) syncDirectoryOf(file_);
}

const ConfirmedUpload* ShipState::confirmed(const std::string& localPath) const {
  std::lock_guard lock(mutex_);
  const auto found = records_.confirmed.find(localPath);
  return found == records_.confirmed.end() ? nullptr : &found->second;
}

void ShipState::append(const std::string& line) {
  // Written where the last whole line ends, and cut back there should the write fail part-way (a
  // full disk): a line written after a torn one would join it into one no reader takes, and the
  // shipper, and the daemon's retention, would stop at it. Callers hold mutex_.
  const auto end = static_cast<off_t>(records_.validBytes);
  try {
    if (tornTail_) {
      util::checked(::ftruncate(fd_.get(), end), file_.string() + ": dropping a torn last line");
      tornTail_ = false;
    }
    writeAllAt(fd_.get(), line, end, file_.string() + ": write");
    util::checked(::fdatasync(fd_.get()), file_.string() + ": fdatasync");
  } catch (const std::system_error&) {
    tornTail_ = ::ftruncate(fd_.get(), end) != 0;  // else cut at the next line, before it
    throw;
  }
  records_.validBytes += line.size();
}

void ShipState::recordConfirmed(const ConfirmedUpload& upload) {
  std::lock_guard lock(mutex_);
  append(formatConfirmed(upload));
  records_.confirmed[upload.localPath] = upload;
}

void ShipState::recordStarted(const OpenMultipartUpload& upload) {
  std::lock_guard lock(mutex_);
  append(formatStarted(upload));
  records_.openUploads.push_back(upload);
}

void ShipState::recordEnded(std::string_view uploadId) {
  std::lock_guard lock(mutex_);
  append(formatEnded(uploadId));
  std::erase_if(records_.openUploads,
                [&](const OpenMultipartUpload& open) { return open.uploadId == uploadId; });
}

void ShipState::forget(const std::string& localPath) {
  std::lock_guard lock(mutex_);
  if (records_.confirmed.erase(localPath) == 0) return;
  rewrite();
}

void ShipState::forget(const std::vector<std::string>& localPaths) {
  std::lock_guard lock(mutex_);
  std::size_t erased = 0;
  for (const auto& path : localPaths) erased += records_.confirmed.erase(path);
  if (erased > 0) rewrite();
}

void ShipState::rewrite() {
  std::string text;
  for (const auto& [path, upload] : records_.confirmed) text += formatConfirmed(upload);
  for (const auto& open : records_.openUploads) text += formatStarted(open);
  const std::filesystem::path temporary = file_.string() + ".new";
  util::UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (!fd.valid()) util::throwErrno(temporary.string() + ": open");
  writeAll(fd.get(), text, temporary.string() + ": write");
  util::checked(::fsync(fd.get()), temporary.string() + ": fsync");
  util::checked(::rename(temporary.c_str(), file_.c_str()), file_.string() + ": rename");
  syncDirectoryOf(file_);
  fd_ = std::move(fd);
  tornTail_ = false;
  records_.validBytes = text.size();
}

}  // namespace pcap_recorder::ship
