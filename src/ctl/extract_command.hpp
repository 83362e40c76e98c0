// The command lines of `pcap-recorderctl extract` and `pcap-recorderctl index`, which read the
// store directly instead of asking the daemon.
//
// Exit status: 0 done, 1 an error (bad config or filter, unreadable files, output), 2 usage.
#pragma once

#include <string>
#include <vector>

namespace pcap_recorder::ctl {

// Whether `arguments` (without the program name) name one of these commands.
bool isStoreCommand(const std::vector<std::string>& arguments);

// Runs it; messages go to standard error, the pcap to -w or standard output.
int runStoreCommand(const std::string& program, const std::vector<std::string>& arguments);

std::string storeCommandsUsage();

}  // namespace pcap_recorder::ctl
