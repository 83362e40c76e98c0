#include "pcap_recorder/service/reload_plan.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pcap_recorder::service {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

config::Config configOf(const std::string& yaml) {
  return config::parse(yaml, "test.yaml");
}

const char* kTwo = "interfaces:\n  - name: eth0\n    filter: tcp\n  - name: eth1\n";

TEST(ReloadPlan, TheSameConfigChangesNothing) {
  const auto plan = planReload(configOf(kTwo), configOf(kTwo));
  EXPECT_THAT(plan.unchanged, ElementsAre("eth0", "eth1"));
  EXPECT_THAT(plan.added, IsEmpty());
  EXPECT_THAT(plan.removed, IsEmpty());
  EXPECT_THAT(plan.changedInPlace, IsEmpty());
  EXPECT_THAT(plan.restarted, IsEmpty());
}

TEST(ReloadPlan, MovingAnInterfaceInTheFileIsNoChange) {
  const auto plan =
      planReload(configOf(kTwo),
                 configOf("\n\ninterfaces:\n  - name: eth1\n  - name: eth0\n    filter: tcp\n"));
  EXPECT_THAT(plan.unchanged, ElementsAre("eth1", "eth0"));
}

TEST(ReloadPlan, NewInterfacesStartAndMissingOnesStop) {
  const auto plan =
      planReload(configOf(kTwo), configOf("interfaces:\n  - name: eth0\n    filter: tcp\n"
                                          "  - name: eth2\n"));
  EXPECT_THAT(plan.added, ElementsAre("eth2"));
  EXPECT_THAT(plan.removed, ElementsAre("eth1"));
  EXPECT_THAT(plan.unchanged, ElementsAre("eth0"));
}

TEST(ReloadPlan, FilterRotationRetentionAndFileSettingsChangeInPlace) {
  for (const std::string change :
       {"    filter: udp\n", "    max_file_size: 10MiB\n", "    max_files: 4\n",
        "    file_name: \"x-{interface}-{seq}.pcap\"\n", "    timestamp: nano\n",
        "    directory: /srv/pcap\n", "    post_finish_command: gzip\n"}) {
    const auto next = std::string("interfaces:\n  - name: eth0\n") +
                      (change.find("filter") == std::string::npos ? "    filter: tcp\n" : "") +
                      change + "  - name: eth1\n";
    const auto plan = planReload(configOf(kTwo), configOf(next));
    EXPECT_THAT(plan.changedInPlace, ElementsAre("eth0")) << change;
    EXPECT_THAT(plan.unchanged, ElementsAre("eth1")) << change;
  }
}

TEST(ReloadPlan, RingSizePromiscuousModeAndSnaplenNeedANewSocket) {
  for (const std::string change :
       {"    ring_size: 64MiB\n", "    promiscuous: false\n", "    snaplen: 96\n"}) {
    const auto next =
        std::string("interfaces:\n  - name: eth0\n    filter: tcp\n") + change + "  - name: eth1\n";
    EXPECT_THAT(planReload(configOf(kTwo), configOf(next)).restarted, ElementsAre("eth0"))
        << change;
  }
}

TEST(ReloadPlan, AGlobalChangeReachesEveryInterfaceThatInheritsIt) {
  const auto plan =
      planReload(configOf(kTwo), configOf(std::string("rotate:\n  interval: 5m\n") + kTwo));
  EXPECT_THAT(plan.changedInPlace, ElementsAre("eth0", "eth1"));
}

}  // namespace
}  // namespace pcap_recorder::service
