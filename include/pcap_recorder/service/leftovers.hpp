// What a killed run (kill -9, power loss, the OOM killer) left in an output directory, settled at
// start before capture begins: compressions it interrupted are finished or undone, and each
// `.part` capture file is cut to its last complete record and renamed (pcap/repair.hpp). A file
// so finished then takes the same way as any finished file: it is returned as a FinishJob for the
// finisher (index, compression, sha256, sidecar with reason "repaired", log line, FileFinished,
// hook, retention), on the finisher's thread so a large file's compression does not hold up the
// start. So is a file whose compression was undone, and one renamed but not yet stored (its
// storing marker, file_storage.hpp, still beside it). Only a file whose compressed copy was
// complete is kept as it is, perhaps without its sidecar and announcement (logged). A repaired file
// without a single packet is removed unless its interface keeps empty files
// (output.keep_empty_files).
#pragma once

#include <filesystem>
#include <vector>

#include "pcap_recorder/config/config.hpp"
#include "pcap_recorder/rotation/file_naming.hpp"
#include "pcap_recorder/service/file_finisher.hpp"

namespace pcap_recorder::service {

// The reason a file finished by start-up repair gives (sidecar, log line, hook).
inline constexpr std::string_view kRepairedReason = "repaired";

// Settles `directory`: only names `ownFiles` recognises are touched, listed and renamed through
// one descriptor of the directory. `interfaces` (of the whole config) say, for each file, whose
// it is and so how it is stored: the first interface writing into `directory` (as spelled there
// or as one of `otherSpellings`: a symbolic link, a `..`) whose template makes the name. Logs
// each file; returns the jobs to submit to the finisher. Never throws for a failed system call.
std::vector<FinishJob> repairLeftovers(
    const std::filesystem::path& directory, const rotation::OwnFileMatcher& ownFiles,
    const std::vector<config::InterfaceSettings>& interfaces,
    const std::vector<std::filesystem::path>& otherSpellings = {});

}  // namespace pcap_recorder::service
