// The recorder's D-Bus API as both sides know it: pcap-recorderd publishes it
// (dbus/bus_service.hpp), pcap-recorderctl calls it. Names, the bus to use, and the FileFinished
// signal's record; no sd-bus, no daemon types, so a client includes this and nothing of the
// server. Its own module (pr_dbus_protocol, header only) so that linking it brings nothing else.
//
// The object /org/pcaprecorder/Recorder1 (interface org.pcaprecorder.Recorder1) under the bus
// name org.pcaprecorder.Recorder1:
//
//   methods     Rotate(s interface) -> (s outcome)   "" = every interface; outcome says, one line
//                                     per interface, whether it was rotated (a file without
//                                     packets is not: coalesced)
//               Reload()
//   properties  Version    s          const
//               Interfaces as         read on demand, no PropertiesChanged
//               Statistics a{sa{sv}}  read on demand, no PropertiesChanged (the counters change
//                                     with every block; clients poll); per interface the keys
//                                     the README lists: new ones are added after the others,
//                                     none is renamed or retyped (FilesWithoutSha256 came last)
//   signal      FileFinished(s interface, s path, t packets, t bytes, t kernelDrops,
//                            t firstPacketUsec, t lastPacketUsec)   times: µs since the epoch, UTC
//
// Errors: kErrorFailed carries the daemon's message; kErrorUnknownInterface when Rotate names an
// interface the daemon does not record; kErrorLimitsExceeded when Rotate is called too often.
#pragma once

#include <cstdint>
#include <string>

namespace pcap_recorder::dbus {

inline constexpr const char* kBusName = "org.pcaprecorder.Recorder1";
inline constexpr const char* kObjectPath = "/org/pcaprecorder/Recorder1";
inline constexpr const char* kInterface = "org.pcaprecorder.Recorder1";
inline constexpr const char* kErrorFailed = "org.pcaprecorder.Recorder1.Error.Failed";
inline constexpr const char* kErrorUnknownInterface =
    "org.pcaprecorder.Recorder1.Error.UnknownInterface";
inline constexpr const char* kErrorLimitsExceeded = "org.freedesktop.DBus.Error.LimitsExceeded";
// Members may call the methods (Rotate, Reload).
inline constexpr const char* kOperatorGroup = "pcap-recorder-control";

// The system bus for the installed service; the user's session bus for tests and trials
// (pcap-recorderd --bus user, pcap-recorderctl --user).
enum class BusKind { system, user };

// "system bus" / "session bus", for messages.
constexpr const char* busDescription(BusKind kind) noexcept {
  return kind == BusKind::system ? "system bus" : "session bus";
}

// The FileFinished signal: its member name, its D-Bus signature and the values it carries, in
// signature order.
inline constexpr const char* kFileFinished = "FileFinished";
inline constexpr const char* kFileFinishedSignature = "ssttttt";
struct FileFinishedRecord {
  std::string interface;
  std::string path;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t kernelDrops = 0;      // during this file
  std::uint64_t firstPacketUsec = 0;  // µs since the epoch, UTC
  std::uint64_t lastPacketUsec = 0;
};

}  // namespace pcap_recorder::dbus
