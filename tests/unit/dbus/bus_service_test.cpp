// The D-Bus adaptor against a private dbus-daemon: each method reaches Control once and its
// failure comes back as the right D-Bus error, callers are checked, the properties read back,
// FileFinished arrives, and introspection lists every member.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <systemd/sd-bus.h>
#include <unistd.h>
#include <atomic>
#include <thread>

#include "pcap_recorder/dbus/bus_service.hpp"
#include "recorder_client.hpp"
#include "unit/dbus/private_bus.hpp"

namespace pcap_recorder::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct CallOutcome {
  bool ok = false;
  std::string errorName;
  std::string errorMessage;
};

// Calls a method of the recorder, with one string argument or none.
CallOutcome callMethod(sd_bus* client, const char* member,
                       const std::optional<std::string>& argument = std::nullopt) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  const int result =
      argument ? sd_bus_call_method(client, dbus::kBusName, dbus::kObjectPath, dbus::kInterface,
                                    member, &error, &reply, "s", argument->c_str())
               : sd_bus_call_method(client, dbus::kBusName, dbus::kObjectPath, dbus::kInterface,
                                    member, &error, &reply, "");
  CallOutcome outcome{result >= 0, error.name ? error.name : "",
                      error.message ? error.message : ""};
  sd_bus_error_free(&error);
  sd_bus_message_unref(reply);
  return outcome;
}

std::string readStringProperty(sd_bus* client, const char* property) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  char* value = nullptr;
  const int result = sd_bus_get_property_string(client, dbus::kBusName, dbus::kObjectPath,
                                                dbus::kInterface, property, &error, &value);
  std::string text =
      result >= 0 ? value : std::string("error: ") + (error.message ? error.message : "?");
  std::free(value);
  sd_bus_error_free(&error);
  return text;
}

std::vector<std::string> readStringListProperty(sd_bus* client, const char* property) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  char** values = nullptr;
  std::vector<std::string> list;
  if (sd_bus_get_property_strv(client, dbus::kBusName, dbus::kObjectPath, dbus::kInterface,
                               property, &error, &values) < 0) {
    list.push_back(std::string("error: ") + (error.message ? error.message : "?"));
  }
  for (char** value = values; value && *value; ++value) {
    list.emplace_back(*value);
    std::free(*value);
  }
  std::free(values);
  sd_bus_error_free(&error);
  return list;
}

std::string introspect(sd_bus* client) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  std::string xml;
  if (sd_bus_call_method(client, dbus::kBusName, dbus::kObjectPath,
                         "org.freedesktop.DBus.Introspectable", "Introspect", &error, &reply,
                         "") >= 0) {
    const char* text = nullptr;
    if (sd_bus_message_read(reply, "s", &text) >= 0) xml = text;
  }
  sd_bus_message_unref(reply);
  sd_bus_error_free(&error);
  return xml;
}

int onFileFinished(sd_bus_message* message, void* userdata, sd_bus_error*) {
  auto& received = *static_cast<std::optional<dbus::FileFinishedRecord>*>(userdata);
  dbus::FileFinishedRecord signal;
  const char* interface = nullptr;
  const char* path = nullptr;
  if (sd_bus_message_read(message, dbus::kFileFinishedSignature, &interface, &path, &signal.packets,
                          &signal.bytes, &signal.kernelDrops, &signal.firstPacketUsec,
                          &signal.lastPacketUsec) >= 0) {
    signal.interface = interface;
    signal.path = path;
    received = signal;
  }
  return 0;
}

// Processes the client connection until `received` is filled, for at most 20 s.
void waitFor(sd_bus* client, const std::optional<dbus::FileFinishedRecord>& received) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!received && std::chrono::steady_clock::now() < deadline) {
    const int result = sd_bus_process(client, nullptr);
    ASSERT_GE(result, 0);
    if (result == 0) sd_bus_wait(client, 1'000'000);
  }
}

service::FinishedFile sampleFinishedFile() {
  service::FinishedFile file;
  file.interface = "eth0";
  file.path = "/var/lib/pcap-recorder/eth0-20261123T170000.pcap";
  file.packets = 81234;
  file.bytes = 51234567;
  file.kernelDrops = 3;
  file.firstPacket = {1795453200, 123456789};
  file.lastPacket = {1795456799, 999999000};
  file.reason = "interval";
  return file;
}

class BusServiceTest : public BusTest {};

TEST_F(BusServiceTest, RotateWithAnEmptyNameAsksTheDaemonToRotateEveryInterface) {
  startService();
  const auto client = openClient();
  const auto outcome = callMethod(client.get(), "Rotate", "");
  EXPECT_TRUE(outcome.ok) << outcome.errorName << ": " << outcome.errorMessage;
  EXPECT_THAT(control_.rotations(), ElementsAre(""));
}

TEST_F(BusServiceTest, RotateOfOneInterfaceReachesTheDaemonWithItsName) {
  startService();
  const auto client = openClient();
  const auto outcome = callMethod(client.get(), "Rotate", "eth0");
  EXPECT_TRUE(outcome.ok) << outcome.errorName << ": " << outcome.errorMessage;
  EXPECT_THAT(control_.rotations(), ElementsAre("eth0"));
}

TEST_F(BusServiceTest, RotateOfAnUnknownInterfaceFailsWithUnknownInterfaceAndTheDaemonsMessage) {
  startService();
  const auto client = openClient();
  const auto outcome = callMethod(client.get(), "Rotate", "nope");
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.errorName, dbus::kErrorUnknownInterface);
  EXPECT_EQ(outcome.errorMessage, "no interface nope is configured");
  EXPECT_THAT(control_.rotations(), ElementsAre("nope"));
}

TEST_F(BusServiceTest, RotateThatFailsForAConfiguredInterfaceFailsWithFailed) {
  control_.failRotate("eth0", "eth0: cannot create the next file: No space left on device");
  startService();
  const auto client = openClient();
  const auto outcome = callMethod(client.get(), "Rotate", "eth0");
  EXPECT_EQ(outcome.errorName, dbus::kErrorFailed);
  EXPECT_EQ(outcome.errorMessage, "eth0: cannot create the next file: No space left on device");
}

// Calls Rotate and returns what the daemon said it did, or "error NAME: MESSAGE".
std::string rotate(sd_bus* client, const std::string& interface) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  std::string outcome;
  if (sd_bus_call_method(client, dbus::kBusName, dbus::kObjectPath, dbus::kInterface, "Rotate",
                         &error, &reply, "s", interface.c_str()) >= 0) {
    const char* text = nullptr;
    outcome = sd_bus_message_read(reply, "s", &text) > 0 ? text : "no outcome in the reply";
  } else {
    outcome = std::string("error ") + (error.name ? error.name : "?") + ": " +
              (error.message ? error.message : "");
  }
  sd_bus_error_free(&error);
  sd_bus_message_unref(reply);
  return outcome;
}

// A rotation of a file without packets is no error: the caller is told it was not done.
TEST_F(BusServiceTest, RotateRepliesWithWhatTheDaemonDid) {
  control_.rotateOutcome("eth0: not rotated: its current file has no packets");
  startService();
  const auto client = openClient();
  EXPECT_EQ(rotate(client.get(), "eth0"), "eth0: not rotated: its current file has no packets");
  EXPECT_THAT(control_.rotations(), ElementsAre("eth0"));
}

TEST_F(BusServiceTest, RotateIsLimitedToOneCallPerInterfacePerInterval) {
  std::atomic<int> elapsedMs{0};
  const auto start = std::chrono::steady_clock::now();
  startService(dbus::defaultCallerCheck(),
               {.interval = std::chrono::seconds(1),
                .clock = [&] { return start + std::chrono::milliseconds(elapsedMs.load()); }});
  const auto client = openClient();
  const std::string limited = std::string("error ") + dbus::kErrorLimitsExceeded + ": Rotate of ";
  EXPECT_EQ(rotate(client.get(), "eth0"), "");
  EXPECT_EQ(rotate(client.get(), "eth0"),
            limited + "eth0 refused: at most one rotation per interface every 1000 ms");
  EXPECT_EQ(rotate(client.get(), "lo"), "") << "another interface has its own limit";
  EXPECT_THAT(rotate(client.get(), ""), HasSubstr(limited)) << "\"\" counts for every interface";
  elapsedMs = 999;
  EXPECT_THAT(rotate(client.get(), "eth0"), HasSubstr(limited));
  elapsedMs = 1000;
  EXPECT_EQ(rotate(client.get(), ""), "");
  EXPECT_THAT(rotate(client.get(), "lo"), HasSubstr(limited));
  EXPECT_THAT(control_.rotations(), ElementsAre("eth0", "lo", ""));
  EXPECT_THAT(callMethod(client.get(), "Rotate", "nope").errorName, dbus::kErrorUnknownInterface)
      << "names that are not configured are not limited";
}

// The bus daemon restarts (a system update, a crash): the service connects again and takes its
// name back, and callers reach it as before.
TEST_F(BusServiceTest, TheServiceIsReachableAgainAfterTheBusRestarts) {
  // Without the guid the first bus printed: a new bus at the same path has another.
  const ScopedEnvironment sameAddress("DBUS_SESSION_BUS_ADDRESS",
                                      "unix:path=" + (work_.path() / "bus").string());
  startService();
  ASSERT_TRUE(callMethod(openClient().get(), "Reload").ok);
  bus_.reset();
  bus_ = std::make_unique<PrivateBus>(*dbusDaemon_, work_.path());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  CallOutcome outcome;
  while (std::chrono::steady_clock::now() < deadline) {
    outcome = callMethod(openClient().get(), "Reload");
    if (outcome.ok) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(outcome.ok) << outcome.errorName << ": " << outcome.errorMessage;
  EXPECT_EQ(control_.reloads(), 2);
  EXPECT_EQ(loop_->error(), "");
}

TEST_F(BusServiceTest, ReloadThatSucceedsReachesTheDaemonOnce) {
  startService();
  const auto client = openClient();
  const auto outcome = callMethod(client.get(), "Reload");
  EXPECT_TRUE(outcome.ok) << outcome.errorName << ": " << outcome.errorMessage;
  EXPECT_EQ(control_.reloads(), 1);
  EXPECT_TRUE(control_.rotations().empty());
}

TEST_F(BusServiceTest, ReloadThatFailsReturnsTheDaemonsMessageAsFailed) {
  control_.failReload("/etc/pcap-recorder/pcap-recorder.yaml:4:12: unknown key snaplenn");
  startService();
  const auto client = openClient();
  const auto outcome = callMethod(client.get(), "Reload");
  EXPECT_EQ(outcome.errorName, dbus::kErrorFailed);
  EXPECT_EQ(outcome.errorMessage,
            "/etc/pcap-recorder/pcap-recorder.yaml:4:12: unknown key snaplenn");
}

TEST_F(BusServiceTest, AnExceptionInTheDaemonBecomesAFailedErrorAndTheServiceGoesOn) {
  control_.throwOnReload("config thread went away");
  startService();
  const auto client = openClient();
  const auto outcome = callMethod(client.get(), "Reload");
  EXPECT_EQ(outcome.errorName, dbus::kErrorFailed);
  EXPECT_EQ(outcome.errorMessage, "config thread went away");
  EXPECT_TRUE(callMethod(client.get(), "Rotate", "").ok);
  EXPECT_EQ(loop_->error(), "");
}

TEST_F(BusServiceTest, ACallerTheCheckRefusesGetsAccessDeniedAndTheDaemonIsNotAsked) {
  startService([](const dbus::Caller&) { return false; });
  const auto client = openClient();
  const auto rotate = callMethod(client.get(), "Rotate", "eth0");
  EXPECT_EQ(rotate.errorName, SD_BUS_ERROR_ACCESS_DENIED);
  EXPECT_EQ(rotate.errorMessage, "Rotate needs root or membership of group pcap-recorder-control");
  const auto reload = callMethod(client.get(), "Reload");
  EXPECT_EQ(reload.errorName, SD_BUS_ERROR_ACCESS_DENIED);
  EXPECT_EQ(reload.errorMessage, "Reload needs root or membership of group pcap-recorder-control");
  EXPECT_TRUE(control_.rotations().empty());
  EXPECT_EQ(control_.reloads(), 0);
}

TEST_F(BusServiceTest, TheCredentialCheckSeesTheCallersUidAndGroups) {
  std::mutex mutex;
  std::vector<dbus::Caller> callers;
  startService([&](const dbus::Caller& caller) {
    std::lock_guard lock(mutex);
    callers.push_back(caller);
    return true;
  });
  const auto client = openClient();
  ASSERT_TRUE(callMethod(client.get(), "Rotate", "").ok);
  std::lock_guard lock(mutex);
  ASSERT_EQ(callers.size(), 1u);
  EXPECT_EQ(callers[0].uid, ::geteuid());
  EXPECT_THAT(callers[0].groups, ::testing::Contains(::getegid()));
}

TEST_F(BusServiceTest, TheDefaultCheckLetsTheDaemonsOwnUserCall) {
  startService(dbus::defaultCallerCheck());
  const auto client = openClient();
  EXPECT_TRUE(callMethod(client.get(), "Reload").ok);
}

TEST_F(BusServiceTest, VersionPropertyReadsTheDaemonsVersion) {
  startService();
  const auto client = openClient();
  EXPECT_EQ(readStringProperty(client.get(), "Version"), "0.1.0-test");
}

TEST_F(BusServiceTest, InterfacesPropertyListsTheConfiguredInterfacesInOrder) {
  startService();
  const auto client = openClient();
  EXPECT_THAT(readStringListProperty(client.get(), "Interfaces"), ElementsAre("eth0", "lo"));
}

TEST_F(BusServiceTest, StatisticsPropertyCarriesEveryCounterOfEveryInterface) {
  startService();
  ctl::RecorderClient client(dbus::BusKind::user);
  const auto snapshot = client.snapshot();
  EXPECT_EQ(snapshot.version, "0.1.0-test");
  ASSERT_EQ(snapshot.interfaces.size(), 2u);
  const auto& eth0 = snapshot.interfaces[0];
  EXPECT_EQ(eth0.name, "eth0");
  std::vector<std::string> keys;
  for (const auto& field : eth0.fields) keys.push_back(field.key);
  EXPECT_THAT(
      keys, ElementsAre("State", "PacketsReceived", "KernelDrops", "PacketsWritten", "BytesWritten",
                        "PacketsLostToDisk", "FilesWritten", "CurrentFile", "FilesWithoutSha256"));
  EXPECT_EQ(*eth0.find("State"), ctl::FieldValue(std::string("capturing")));
  EXPECT_EQ(*eth0.find("PacketsReceived"), ctl::FieldValue(std::uint64_t{1500}));
  EXPECT_EQ(*eth0.find("KernelDrops"), ctl::FieldValue(std::uint64_t{7}));
  EXPECT_EQ(*eth0.find("PacketsWritten"), ctl::FieldValue(std::uint64_t{1493}));
  EXPECT_EQ(*eth0.find("BytesWritten"), ctl::FieldValue(std::uint64_t{912345}));
  EXPECT_EQ(*eth0.find("PacketsLostToDisk"), ctl::FieldValue(std::uint64_t{0}));
  EXPECT_EQ(*eth0.find("FilesWritten"), ctl::FieldValue(std::uint64_t{12}));
  EXPECT_EQ(*eth0.find("CurrentFile"),
            ctl::FieldValue(std::string("/var/lib/pcap-recorder/eth0-20261123T170000.pcap.part")));
  EXPECT_EQ(*eth0.find("FilesWithoutSha256"), ctl::FieldValue(std::uint64_t{3}));
  const auto& lo = snapshot.interfaces[1];
  EXPECT_EQ(lo.name, "lo");
  EXPECT_EQ(*lo.find("State"), ctl::FieldValue(std::string("paused (cannot write)")));
  EXPECT_EQ(*lo.find("PacketsLostToDisk"), ctl::FieldValue(std::uint64_t{10}));
  EXPECT_EQ(*lo.find("CurrentFile"), ctl::FieldValue(std::string()));
  EXPECT_EQ(*lo.find("FilesWithoutSha256"), ctl::FieldValue(std::uint64_t{0}));
}

TEST_F(BusServiceTest, PropertiesAreOpenToCallersTheCheckRefuses) {
  startService([](const dbus::Caller&) { return false; });
  const auto client = openClient();
  EXPECT_EQ(readStringProperty(client.get(), "Version"), "0.1.0-test");
  EXPECT_THAT(readStringListProperty(client.get(), "Interfaces"), ElementsAre("eth0", "lo"));
}

TEST_F(BusServiceTest, StringsThatAreNotUtf8AreSentWithReplacementCharacters) {
  auto interfaces = sampleInterfaces();
  interfaces[0].currentFile = "/captures/caf\xe9.pcap.part";  // Latin-1 bytes in a path
  control_.setInterfaces(interfaces);
  startService();
  ctl::RecorderClient client(dbus::BusKind::user);
  const auto snapshot = client.snapshot();
  ASSERT_EQ(snapshot.interfaces.size(), 2u);
  EXPECT_EQ(*snapshot.interfaces[0].find("CurrentFile"),
            ctl::FieldValue(std::string("/captures/caf\xEF\xBF\xBD.pcap.part")));
}

TEST_F(BusServiceTest, FileFinishedReachesASubscribedClientWithItsValues) {
  startService();
  const auto client = openClient();
  std::optional<dbus::FileFinishedRecord> received;
  sd_bus_slot* slot = nullptr;
  ASSERT_GE(sd_bus_match_signal(client.get(), &slot, dbus::kBusName, dbus::kObjectPath,
                                dbus::kInterface, dbus::kFileFinished, onFileFinished, &received),
            0);
  bool queued = false;
  loop_->run([&] { queued = service_->emitFileFinished(sampleFinishedFile()); });
  EXPECT_TRUE(queued);
  waitFor(client.get(), received);
  sd_bus_slot_unref(slot);
  ASSERT_TRUE(received.has_value()) << "no FileFinished signal within 20 s";
  EXPECT_EQ(received->interface, "eth0");
  EXPECT_EQ(received->path, "/var/lib/pcap-recorder/eth0-20261123T170000.pcap");
  EXPECT_EQ(received->packets, 81234u);
  EXPECT_EQ(received->bytes, 51234567u);
  EXPECT_EQ(received->kernelDrops, 3u);
  EXPECT_EQ(received->firstPacketUsec, 1795453200123456u);
  EXPECT_EQ(received->lastPacketUsec, 1795456799999999u);
}

TEST_F(BusServiceTest, IntrospectionListsEveryMethodPropertyAndSignal) {
  startService();
  const auto client = openClient();
  const std::string xml = introspect(client.get());
  EXPECT_THAT(xml, HasSubstr("<interface name=\"org.pcaprecorder.Recorder1\">"));
  EXPECT_THAT(xml, HasSubstr("<method name=\"Rotate\">\n"
                             "   <arg type=\"s\" name=\"interface\" direction=\"in\"/>"));
  EXPECT_THAT(xml, HasSubstr("<method name=\"Reload\">"));
  EXPECT_THAT(xml, HasSubstr("<property name=\"Version\" type=\"s\" access=\"read\">"));
  EXPECT_THAT(xml, HasSubstr("<property name=\"Interfaces\" type=\"as\" access=\"read\">"));
  EXPECT_THAT(xml, HasSubstr("<property name=\"Statistics\" type=\"a{sa{sv}}\" access=\"read\">"));
  EXPECT_THAT(xml, HasSubstr("<signal name=\"FileFinished\">\n"
                             "   <arg type=\"s\" name=\"interface\"/>\n"
                             "   <arg type=\"s\" name=\"path\"/>\n"
                             "   <arg type=\"t\" name=\"packets\"/>\n"
                             "   <arg type=\"t\" name=\"bytes\"/>\n"
                             "   <arg type=\"t\" name=\"kernelDrops\"/>\n"
                             "   <arg type=\"t\" name=\"firstPacketUsec\"/>\n"
                             "   <arg type=\"t\" name=\"lastPacketUsec\"/>\n"));
}

TEST_F(BusServiceTest, BusctlIntrospectListsEveryMember) {
  if (::access("/usr/bin/busctl", X_OK) != 0) GTEST_SKIP() << "busctl is not installed";
  startService();
  const auto result = runCommand("busctl --user --no-pager introspect " +
                                 std::string(dbus::kBusName) + " " + dbus::kObjectPath);
  ASSERT_EQ(result.status, 0) << result.err;
  for (const char* member :
       {".Rotate", ".Reload", ".Version", ".Interfaces", ".Statistics", ".FileFinished"}) {
    EXPECT_THAT(result.out, HasSubstr(member));
  }
  EXPECT_THAT(result.out, HasSubstr("a{sa{sv}}"));
  EXPECT_THAT(result.out, HasSubstr("ssttttt"));
}

TEST_F(BusServiceTest, ASecondServiceCannotOwnTheNameAndSaysWhy) {
  startService();
  FakeControl other;
  try {
    dbus::BusService second(other, dbus::BusKind::user);
    FAIL() << "a second service took the name";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr("cannot own org.pcaprecorder.Recorder1 on the session "
                                        "bus: another process owns the name"));
  }
}

TEST_F(BusServiceTest, AServiceWithoutABusSaysWhichBusItCouldNotReach) {
  const ScopedEnvironment nowhere("DBUS_SESSION_BUS_ADDRESS",
                                  "unix:path=" + (work_.path() / "no-bus").string());
  try {
    dbus::BusService service(control_, dbus::BusKind::user);
    FAIL() << "connected to a bus that does not exist";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr("cannot connect to the session bus"));
  }
}

TEST(CallerPolicy, RootMayAlwaysControl) {
  EXPECT_TRUE(dbus::mayControl({.uid = 0, .groups = {}},
                               {.daemonUid = 999, .operatorGroup = std::nullopt}));
}

TEST(CallerPolicy, TheDaemonsOwnUserMayControl) {
  EXPECT_TRUE(dbus::mayControl({.uid = 999, .groups = {999}},
                               {.daemonUid = 999, .operatorGroup = std::nullopt}));
}

TEST(CallerPolicy, AMemberOfTheOperatorGroupMayControl) {
  EXPECT_TRUE(dbus::mayControl({.uid = 1000, .groups = {1000, 27, 120}},
                               {.daemonUid = 999, .operatorGroup = 120}));
}

TEST(CallerPolicy, AnyoneElseMayNot) {
  EXPECT_FALSE(dbus::mayControl({.uid = 1000, .groups = {1000, 27}},
                                {.daemonUid = 999, .operatorGroup = 120}));
  EXPECT_FALSE(dbus::mayControl({.uid = 1000, .groups = {1000}},
                                {.daemonUid = 999, .operatorGroup = std::nullopt}));
}

// Reading captures (group pcap-recorder) and controlling the recorder (pcap-recorder-control)
// are separate privileges: a Rotate makes retention delete old files.
TEST(CallerPolicy, AMemberOfTheGroupThatReadsCapturesOnlyMayNotControl) {
  const auto policy = dbus::callerPolicy(999, [](const char* name) -> std::optional<gid_t> {
    if (std::string(name) == "pcap-recorder") return 120;
    if (std::string(name) == "pcap-recorder-control") return 121;
    return std::nullopt;
  });
  EXPECT_FALSE(dbus::mayControl({.uid = 1000, .groups = {1000, 120}}, policy));
  EXPECT_TRUE(dbus::mayControl({.uid = 1001, .groups = {1001, 121}}, policy));
  EXPECT_TRUE(dbus::mayControl({.uid = 999, .groups = {120}}, policy)) << "the daemon's own user";
}

TEST(CallerPolicy, WithoutTheControlGroupOnlyRootAndTheDaemonsUserMayControl) {
  const auto policy = dbus::callerPolicy(999, [](const char* name) -> std::optional<gid_t> {
    if (std::string(name) == "pcap-recorder") return 120;
    return std::nullopt;
  });
  EXPECT_FALSE(dbus::mayControl({.uid = 1000, .groups = {120}}, policy));
  EXPECT_TRUE(dbus::mayControl({.uid = 0, .groups = {0}}, policy));
}

TEST(CallerPolicy, ACallerOfUnknownUidMayNot) {
  EXPECT_FALSE(dbus::mayControl({.uid = static_cast<uid_t>(-1), .groups = {7}},
                                {.daemonUid = static_cast<uid_t>(-1), .operatorGroup = 7}));
}

}  // namespace
}  // namespace pcap_recorder::testing
