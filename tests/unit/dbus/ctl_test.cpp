// pcap-recorderctl run as an operator would, against a BusService on a private bus: what it
// prints, its exit status, and (as root) the system bus policy it meets as an ordinary user.
#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <fstream>
#include <sstream>

#include "pcap_recorder/version.hpp"
#include "unit/dbus/private_bus.hpp"

namespace pcap_recorder::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kCtl = PCAP_RECORDERCTL_PATH;

class CtlTest : public BusTest {};

TEST_F(CtlTest, StatusPrintsTheVersionAndAnAlignedRowPerInterface) {
  startService();
  const auto result = runCommand(kCtl + " --user status");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out,
            "pcap-recorderd 0.1.0-test\n"
            "INTERFACE  STATE                  PACKETS WRITTEN  KERNEL DROPS  LOST TO DISK  FILES  "
            "CURRENT FILE\n"
            "eth0       capturing                         1493             7             0     12  "
            "/var/lib/pcap-recorder/eth0-20261123T170000.pcap.part\n"
            "lo         paused (cannot write)               30             0            10      1  "
            "-\n");
  EXPECT_EQ(result.err, "");
}

TEST_F(CtlTest, StatsJsonPrintsOneObjectWithEveryCounterOfEveryInterface) {
  startService();
  const auto result = runCommand(kCtl + " --user stats --json");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out,
            "{\"version\":\"0.1.0-test\",\"interfaces\":{"
            "\"eth0\":{\"State\":\"capturing\",\"PacketsReceived\":1500,\"KernelDrops\":7,"
            "\"PacketsWritten\":1493,\"BytesWritten\":912345,\"PacketsLostToDisk\":0,"
            "\"FilesWritten\":12,"
            "\"CurrentFile\":\"/var/lib/pcap-recorder/eth0-20261123T170000.pcap.part\","
            "\"FilesWithoutSha256\":3},"
            "\"lo\":{\"State\":\"paused (cannot write)\",\"PacketsReceived\":40,\"KernelDrops\":0,"
            "\"PacketsWritten\":30,\"BytesWritten\":4000,\"PacketsLostToDisk\":10,"
            "\"FilesWritten\":1,\"CurrentFile\":\"\",\"FilesWithoutSha256\":0}}}\n");
}

TEST_F(CtlTest, StatsPrintsEveryCounterOfEveryInterfaceOnItsOwnLine) {
  startService();
  const auto result = runCommand(kCtl + " --user stats");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out,
            "pcap-recorderd 0.1.0-test\n"
            "\n"
            "eth0\n"
            "  state                 capturing\n"
            "  packets received      1500\n"
            "  kernel drops          7\n"
            "  packets written       1493\n"
            "  bytes written         912345\n"
            "  packets lost to disk  0\n"
            "  files written         12\n"
            "  current file          /var/lib/pcap-recorder/eth0-20261123T170000.pcap.part\n"
            "  files without sha256  3\n"
            "\n"
            "lo\n"
            "  state                 paused (cannot write)\n"
            "  packets received      40\n"
            "  kernel drops          0\n"
            "  packets written       30\n"
            "  bytes written         4000\n"
            "  packets lost to disk  10\n"
            "  files written         1\n"
            "  current file          -\n"
            "  files without sha256  0\n");
}

TEST_F(CtlTest, RotateWithoutAnInterfaceRotatesEveryInterfaceAndSaysSo) {
  startService();
  const auto result = runCommand(kCtl + " --user rotate");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out,
            "rotated every interface: the current files are being finished, new ones started\n");
  EXPECT_THAT(control_.rotations(), ElementsAre(""));
}

TEST_F(CtlTest, RotateOfOneInterfaceRotatesItAndSaysSo) {
  startService();
  const auto result = runCommand(kCtl + " --user rotate eth0");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, "rotated eth0: the current file is being finished, a new one started\n");
  EXPECT_THAT(control_.rotations(), ElementsAre("eth0"));
}

TEST_F(CtlTest, RotatePrintsWhatTheDaemonDidWhenItSays) {
  control_.rotateOutcome(
      "rotated eth0: the current file is being finished, a new one started\n"
      "lo: not rotated: its current file has no packets");
  startService();
  const auto result = runCommand(kCtl + " --user rotate");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out,
            "rotated eth0: the current file is being finished, a new one started\n"
            "lo: not rotated: its current file has no packets\n");
}

TEST_F(CtlTest, RotateOfAnUnknownInterfacePrintsTheDaemonsMessageAndExitsOne) {
  startService();
  const auto result = runCommand(kCtl + " --user rotate nope");
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "pcap-recorderctl: no interface nope is configured\n");
}

TEST_F(CtlTest, ReloadSaysSo) {
  startService();
  const auto result = runCommand(kCtl + " --user reload");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, "reloaded the configuration\n");
  EXPECT_EQ(control_.reloads(), 1);
}

TEST_F(CtlTest, ReloadOfAnInvalidConfigPrintsTheProblemsAndExitsOne) {
  control_.failReload(
      "the configuration is invalid; running on unchanged:\n"
      "/etc/pcap-recorder/pcap-recorder.yaml:4:12: unknown key snaplenn (did you mean snaplen?)");
  startService();
  const auto result = runCommand(kCtl + " --user reload");
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.err,
            "pcap-recorderctl: the configuration is invalid; running on unchanged:\n"
            "/etc/pcap-recorder/pcap-recorder.yaml:4:12: unknown key snaplenn (did you mean "
            "snaplen?)\n");
}

TEST_F(CtlTest, WithoutTheDaemonOnTheSessionBusItSaysSoAndExitsThree) {
  const auto result = runCommand(kCtl + " --user status");
  EXPECT_EQ(result.status, 3);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err,
            "pcap-recorderctl: pcap-recorderd is not running (no org.pcaprecorder.Recorder1 on "
            "the session bus)\n");
}

TEST_F(CtlTest, WithoutTheDaemonOnTheSystemBusItSaysSoAndExitsThree) {
  const auto result =
      runCommand("DBUS_SYSTEM_BUS_ADDRESS=" + bus_->address() + " " + kCtl + " rotate");
  EXPECT_EQ(result.status, 3);
  EXPECT_EQ(result.err,
            "pcap-recorderctl: pcap-recorderd is not running (no org.pcaprecorder.Recorder1 on "
            "the system bus)\n");
}

TEST_F(CtlTest, WithoutABusItSaysTheDaemonIsNotReachableAndExitsThree) {
  const auto result =
      runCommand("DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + (work_.path() / "no-bus").string() + " " +
                 kCtl + " status");
  EXPECT_EQ(result.status, 3);
  EXPECT_THAT(result.err, HasSubstr("pcap-recorderctl: pcap-recorderd is not reachable: cannot "
                                    "connect to the system bus: "));
}

TEST(CtlCommandLine, VersionPrintsTheProjectVersion) {
  const auto result = runCommand(kCtl + " --version");
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.out, std::string("pcap-recorderctl ") + kVersion + "\n");
}

TEST(CtlCommandLine, HelpListsEveryCommand) {
  const auto result = runCommand(kCtl + " --help");
  EXPECT_EQ(result.status, 0);
  for (const char* word : {"status", "stats [--json]", "rotate [INTERFACE]", "reload", "--user"}) {
    EXPECT_THAT(result.out, HasSubstr(word));
  }
}

TEST(CtlCommandLine, UsageErrorsPrintTheUsageAndExitTwo) {
  for (const char* arguments : {"", "frobnicate", "--frobnicate status", "status extra",
                                "rotate eth0 eth1", "reload --json"}) {
    const auto result = runCommand(kCtl + " " + arguments);
    EXPECT_EQ(result.status, 2) << arguments;
    EXPECT_THAT(result.err, HasSubstr("Usage: pcap-recorderctl")) << arguments;
    EXPECT_EQ(result.out, "") << arguments;
  }
}

// A bus that user nobody can reach too, so that pcap-recorderctl can run as another user
// (through setpriv). Needs root.
class OtherUserTest : public BusTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "these tests switch to user nobody: root only";
    if (::access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "setpriv is not installed";
    fs::permissions(work_.path(), fs::perms::owner_all | fs::perms::group_read |
                                      fs::perms::group_exec | fs::perms::others_read |
                                      fs::perms::others_exec);
    BusTest::SetUp();
    if (IsSkipped()) return;
    // A copy nobody can surely run, whatever the permissions of the build tree.
    fs::copy_file(kCtl, work_.path() / "pcap-recorderctl");
  }

  // The <policy> elements of the bus.
  virtual std::string policies() = 0;

  std::optional<fs::path> busConfig() override {
    const auto path = work_.path() / "bus.conf";
    std::ofstream(path)
        << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
           " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
           "<busconfig>\n"
           "  <listen>unix:path="
        << (work_.path() / "bus").string()
        << "</listen>\n"
           "  <auth>EXTERNAL</auth>\n"
        << policies() << "</busconfig>\n";
    return path;
  }

  // `command` as user nobody, group nogroup, with `groups` as its supplementary groups.
  std::string asNobody(const std::string& command, const std::string& groups = "") {
    return "setpriv --reuid=nobody --regid=nogroup " +
           (groups.empty() ? std::string("--clear-groups") : "--groups=" + groups) + " -- " +
           command;
  }
  std::string ctl() const { return (work_.path() / "pcap-recorderctl").string(); }
};

// A bus that lets everyone do anything: only the daemon's own credential check stands.
class CredentialCheckTest : public OtherUserTest {
 protected:
  std::string policies() override {
    return "  <policy context=\"default\">\n"
           "    <allow user=\"*\"/>\n"
           "    <allow own=\"*\"/>\n"
           "    <allow send_destination=\"*\"/>\n"
           "    <allow receive_sender=\"*\"/>\n"
           "  </policy>\n";
  }
};

TEST_F(CredentialCheckTest, SeesAnotherUsersUidAndSupplementaryGroups) {
  std::mutex mutex;
  std::vector<dbus::Caller> callers;
  startService([&](const dbus::Caller& caller) {
    std::lock_guard lock(mutex);
    callers.push_back(caller);
    return true;
  });
  const auto result = runCommand(asNobody(ctl() + " --user rotate", "4242,4343"));
  EXPECT_EQ(result.status, 0) << result.err;
  std::lock_guard lock(mutex);
  ASSERT_EQ(callers.size(), 1u);
  EXPECT_EQ(callers[0].uid, 65534u);
  EXPECT_THAT(callers[0].groups, ::testing::IsSupersetOf({65534u, 4242u, 4343u}));
}

TEST_F(CredentialCheckTest, LetsAMemberOfTheOperatorGroupRotate) {
  const dbus::CallerPolicy policy{.daemonUid = 0, .operatorGroup = 4242};
  startService([policy](const dbus::Caller& caller) { return dbus::mayControl(caller, policy); });
  const auto result = runCommand(asNobody(ctl() + " --user rotate eth0", "4242"));
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_THAT(control_.rotations(), ElementsAre("eth0"));
}

TEST_F(CredentialCheckTest, RefusesAnotherUserOutsideTheGroupWithAClearMessage) {
  const dbus::CallerPolicy policy{.daemonUid = 0, .operatorGroup = 4242};
  startService([policy](const dbus::Caller& caller) { return dbus::mayControl(caller, policy); });
  const auto rotate = runCommand(asNobody(ctl() + " --user rotate eth0", "4343"));
  EXPECT_EQ(rotate.status, 1);
  EXPECT_EQ(rotate.err,
            "pcap-recorderctl: Rotate needs root or membership of group "
            "pcap-recorder-control\n");
  const auto reload = runCommand(asNobody(ctl() + " --user reload"));
  EXPECT_EQ(reload.status, 1);
  EXPECT_EQ(reload.err,
            "pcap-recorderctl: Reload needs root or membership of group "
            "pcap-recorder-control\n");
  EXPECT_TRUE(control_.rotations().empty());
  EXPECT_EQ(control_.reloads(), 0);
}

// The shipped system bus policy, under the default policy of Debian's system bus
// (/usr/share/dbus-1/system.conf).
class SystemPolicyTest : public OtherUserTest {
 protected:
  std::string policies() override {
    return "  <policy context=\"default\">\n"
           "    <allow user=\"*\"/>\n"
           "    <deny own=\"*\"/>\n"
           "    <deny send_type=\"method_call\"/>\n"
           "    <allow send_type=\"signal\"/>\n"
           "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
           "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
           "    <allow receive_type=\"method_call\"/>\n"
           "    <allow receive_type=\"method_return\"/>\n"
           "    <allow receive_type=\"error\"/>\n"
           "    <allow receive_type=\"signal\"/>\n"
           "    <allow send_destination=\"org.freedesktop.DBus\"\n"
           "           send_interface=\"org.freedesktop.DBus\"/>\n"
           "    <allow send_destination=\"org.freedesktop.DBus\"\n"
           "           send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
           "  </policy>\n"
           "  <include>" PCAP_RECORDER_SOURCE_DIR
           "/systemd/org.pcaprecorder.Recorder1.conf</include>\n";
  }
};

TEST_F(SystemPolicyTest, LetsRootOwnTheNameAndCallTheMethods) {
  startService();
  const auto result = runCommand(ctl() + " --user rotate eth0");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_THAT(control_.rotations(), ElementsAre("eth0"));
}

TEST_F(SystemPolicyTest, LetsAnyUserReadTheStatusAndStatistics) {
  startService();
  const auto status = runCommand(asNobody(ctl() + " --user status"));
  EXPECT_EQ(status.status, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("eth0       capturing"));
  const auto stats = runCommand(asNobody(ctl() + " --user stats --json"));
  EXPECT_EQ(stats.status, 0) << stats.err;
  EXPECT_THAT(stats.out, HasSubstr("\"PacketsWritten\":1493"));
}

TEST_F(SystemPolicyTest, LetsAnyUserIntrospectTheObject) {
  if (::access("/usr/bin/busctl", X_OK) != 0) GTEST_SKIP() << "busctl is not installed";
  startService();
  const auto result = runCommand(asNobody("busctl --user --no-pager introspect " +
                                          std::string(dbus::kBusName) + " " + dbus::kObjectPath));
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr(".Rotate"));
  EXPECT_THAT(result.out, HasSubstr(".FileFinished"));
}

TEST_F(SystemPolicyTest, RefusesRotateAndReloadFromOtherUsers) {
  startService();
  const auto rotate = runCommand(asNobody(ctl() + " --user rotate"));
  EXPECT_EQ(rotate.status, 1);
  EXPECT_THAT(rotate.err, HasSubstr("pcap-recorderctl: rotate needs root or membership of group "
                                    "pcap-recorder-control (the bus refused the call: "));
  const auto reload = runCommand(asNobody(ctl() + " --user reload"));
  EXPECT_EQ(reload.status, 1);
  EXPECT_THAT(reload.err, HasSubstr("pcap-recorderctl: reload needs root or membership of group "
                                    "pcap-recorder-control"));
  EXPECT_TRUE(control_.rotations().empty());
  EXPECT_EQ(control_.reloads(), 0);
}

// The gid of `name` on this system, if it has that group.
std::optional<gid_t> groupId(const char* name) {
  if (const group* found = ::getgrnam(name)) return found->gr_gid;
  return std::nullopt;
}

// The shipped policy with group pcap-recorder-control played by group games (dbus-daemon skips
// a group that does not exist, and takes no numeric ids); group users plays pcap-recorder, the
// group that reads captures. Both exist on every Debian system; nobody is in neither.
class ControlGroupPolicyTest : public SystemPolicyTest {
 protected:
  void SetUp() override {
    if (!groupId("games") || !groupId("users")) GTEST_SKIP() << "needs groups games and users";
    SystemPolicyTest::SetUp();
  }
  std::string policies() override {
    std::ifstream in(PCAP_RECORDER_SOURCE_DIR "/systemd/org.pcaprecorder.Recorder1.conf");
    std::stringstream text;
    text << in.rdbuf();
    std::string policy = text.str();
    const std::string group = "group=\"pcap-recorder-control\"";
    const auto at = policy.find(group);
    EXPECT_NE(at, std::string::npos) << "the shipped policy names no control group";
    if (at != std::string::npos) policy.replace(at, group.size(), "group=\"games\"");
    const auto path = work_.path() / "recorder-policy.conf";
    std::ofstream(path) << policy;
    std::string all = SystemPolicyTest::policies();
    all.replace(all.find("<include>"), std::string::npos,
                "<include>" + path.string() + "</include>\n");
    return all;
  }
};

TEST_F(ControlGroupPolicyTest, RefusesRotateToAMemberOfTheCaptureGroupOnly) {
  const gid_t control = *groupId("games");
  const std::string reading = std::to_string(*groupId("users"));
  const dbus::CallerPolicy policy{.daemonUid = 0, .operatorGroup = control};
  startService([policy](const dbus::Caller& caller) { return dbus::mayControl(caller, policy); });
  const auto reader = runCommand(asNobody(ctl() + " --user rotate eth0", reading));
  EXPECT_EQ(reader.status, 1);
  EXPECT_THAT(reader.err, HasSubstr("rotate needs root or membership of group "
                                    "pcap-recorder-control"));
  EXPECT_TRUE(control_.rotations().empty());
  const auto status = runCommand(asNobody(ctl() + " --user status", reading));
  EXPECT_EQ(status.status, 0) << "reading the status stays open: " << status.err;
  const auto controller =
      runCommand(asNobody(ctl() + " --user rotate eth0", std::to_string(control)));
  EXPECT_EQ(controller.status, 0) << controller.err;
  EXPECT_THAT(control_.rotations(), ElementsAre("eth0"));
}

TEST_F(SystemPolicyTest, RefusesTheNameToOtherUsers) {
  if (::access("/usr/bin/busctl", X_OK) != 0) GTEST_SKIP() << "busctl is not installed";
  const auto result =
      runCommand(asNobody("busctl --user call org.freedesktop.DBus /org/freedesktop/DBus "
                          "org.freedesktop.DBus RequestName su org.pcaprecorder.Recorder1 0"));
  EXPECT_NE(result.status, 0) << result.out;
  EXPECT_THAT(result.err, HasSubstr("Access denied"));
}

}  // namespace
}  // namespace pcap_recorder::testing
