#!/usr/bin/env bash
# pcap-recorder.service under a real systemd 252 (tests/support/systemd-harness): install the
# built binaries, unit, sysusers, tmpfiles and D-Bus policy; start; check the user, capabilities,
# journal fields, D-Bus Rotate, pcap-recorderctl, a refused reload, an unauthorized call; stop;
# read the files with tshark. Frames come from a namespace this test makes, over a veth into the
# sandbox's own namespace. Everything is removed on exit, also on failure.
#
# usage: service_in_systemd.sh SOURCE_DIR DAEMON CTL SEND_FRAMES
set -euo pipefail
source_dir=$1 daemon=$2 ctl=$3 send_frames=$4
sandbox=${SD_SANDBOX_TOOL:-$(dirname "$(realpath "$0")")/../support/systemd-harness}

source "$(dirname "$0")/../support/sandbox.sh"
[[ $(id -u) == 0 ]] || skip "needs root to boot a systemd sandbox"
[[ -x $sandbox ]] || skip "no systemd-sandbox at $sandbox"
command -v tshark >/dev/null || skip "needs tshark"

sandbox_begin prsd

S up >/dev/null
# Installed as a package would install them.
S cp "$daemon" /usr/bin/pcap-recorderd
S cp "$ctl" /usr/bin/pcap-recorderctl
S cp "$source_dir/systemd/pcap-recorder.service" /etc/systemd/system/pcap-recorder.service
# For the sanitizer build: LeakSanitizer cannot stop threads under the unit's system call filter
# (no ptrace) and would fail every exit, ExecReload's --check-config included. Leaks are checked
# by the other tests; this drop-in changes nothing for a normal build.
printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' >"$work/sanitizer.conf"
in_sandbox mkdir -p /etc/systemd/system/pcap-recorder.service.d
S cp "$work/sanitizer.conf" /etc/systemd/system/pcap-recorder.service.d/sanitizer.conf
S cp "$source_dir/systemd/pcap-recorder.sysusers" /usr/lib/sysusers.d/pcap-recorder.conf
S cp "$source_dir/systemd/pcap-recorder.tmpfiles" /usr/lib/tmpfiles.d/pcap-recorder.conf
in_sandbox systemd-sysusers
in_sandbox systemd-tmpfiles --create /usr/lib/tmpfiles.d/pcap-recorder.conf
S cp "$source_dir/systemd/org.pcaprecorder.Recorder1.conf" \
  /usr/share/dbus-1/system.d/org.pcaprecorder.Recorder1.conf
in_sandbox busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
in_sandbox systemctl daemon-reload

# A sender namespace joined to the sandbox by a veth; frames go nowhere else.
ip netns add "$sender"
# The capture end up first: the end brought up second can send at once. Then wait for its carrier
# all the same: until the kernel has started its queue, frames sent there are dropped silently.
ip link add prs0 netns "$sender" type veth peer name prc0 netns "$SD_SANDBOX_NAME"
ip -n "$SD_SANDBOX_NAME" link set prc0 up
ip -n "$sender" link set prs0 up
for _ in $(seq 500); do
  ip -n "$sender" -o link show dev prs0 | grep -q 'state UP' && break
  sleep 0.02
done
check "prs0 has its carrier" bash -c "ip -n '$sender' -o link show dev prs0 | grep -q 'state UP'"

# How many frames prc0 has written so far (pcap-recorderctl stats --json).
written_on_prc0() {
  in_sandbox pcap-recorderctl stats --json | grep -o '"PacketsWritten":[0-9]*' | head -1 |
    cut -d: -f2
}
# Waits until prc0 has written at least $1 frames (read a baseline before sending: prc0 has no
# filter, and the sandbox's own frames count too): the capture thread takes a block when the
# kernel hands it over, which a loaded machine may do after a fixed sleep would have ended.
wait_until_written() {
  local written=0
  for _ in $(seq 200); do
    written=$(written_on_prc0 || echo 0)
    ((${written:-0} >= $1)) && return 0
    sleep 0.1
  done
  echo "prc0 wrote ${written:-0} frames, not $1" >&2
  return 1
}
# Waits until the journal holds more than $1 lines "prc0: new settings applied" (systemctl reload
# returns once its kill -HUP did, before the daemon has applied anything).
applied_count() {
  in_sandbox journalctl --sync
  in_sandbox journalctl --no-pager -o cat -u pcap-recorder | grep -c 'prc0: new settings applied' ||
    true
}
wait_until_applied() {
  for _ in $(seq 200); do
    (($(applied_count) > $1)) && return 0
    sleep 0.1
  done
  return 1
}

cat >"$work/config.yaml" <<'YAML'
output:
  directory: /var/lib/pcap-recorder
  # Leaves a process in a session of its own behind: it must die at the hook's timeout all the
  # same, under the unit's sandbox (ProtectProc=invisible, the system call filter).
  post_finish_command: "setsid sleep 1000 & echo $! > /var/lib/pcap-recorder/hook.pid; :"
  post_finish_timeout: 1s
rotate:
  interval: 0
interfaces:
  - name: prc0
YAML
S cp "$work/config.yaml" /etc/pcap-recorder/pcap-recorder.yaml

check "systemctl start" in_sandbox systemctl start pcap-recorder
check "is-active" in_sandbox systemctl is-active --quiet pcap-recorder
pid=$(in_sandbox systemctl show -p MainPID --value pcap-recorder)
status=$(in_sandbox cat "/proc/$pid/status")
uid=$(awk '/^Uid:/ {print $2}' <<<"$status")
check "main process is not root (uid $uid)" test "$uid" != 0
cap_eff=$(awk '/^CapEff:/ {print $2}' <<<"$status")
check "CapEff is exactly CAP_NET_RAW|CAP_NET_ADMIN ($cap_eff)" test "$cap_eff" = 0000000000003000
# The finisher runs nice +10 below capture; the unit's SystemCallFilter must leave it setpriority.
finisher_nice() {
  in_sandbox sh -c "for task in /proc/$pid/task/*; do
    [ \"\$(cat \$task/comm)\" = pr-finisher ] && cut -d')' -f2 \$task/stat | awk '{print \$17}'
  done" 2>/dev/null || true
}
for _ in $(seq 50); do [ "$(finisher_nice)" = 10 ] && break; sleep 0.1; done
check "the pr-finisher thread runs at nice 10 ($(finisher_nice))" test "$(finisher_nice)" = 10

in_sandbox journalctl --sync
journal=$(in_sandbox journalctl --no-pager -u pcap-recorder INTERFACE=prc0 -o verbose)
check "journal has the startup line with INTERFACE=prc0" grep -q 'MESSAGE=prc0: capturing' <<<"$journal"

written_before=$(written_on_prc0) || fail "pcap-recorderctl stats --json gave no PacketsWritten for prc0"
"$send_frames" "$sender" prs0 25 0
check "the daemon wrote the 25 frames" wait_until_written $((written_before + 25))
rotated=$(in_sandbox busctl call org.pcaprecorder.Recorder1 /org/pcaprecorder/Recorder1 \
  org.pcaprecorder.Recorder1 Rotate s "") || fail "busctl Rotate failed"
check "busctl Rotate rotated prc0 ($rotated)" grep -q 'rotated prc0' <<<"$rotated"
finished=""
for _ in $(seq 200); do
  finished=$(in_sandbox sh -c 'ls /var/lib/pcap-recorder/*.pcap 2>/dev/null' || true)
  [[ -n $finished ]] && break
  sleep 0.1
done
check "Rotate made a finished file appear" test -n "$finished"

ctl_status=$(in_sandbox pcap-recorderctl status)
echo "$ctl_status"
check "pcap-recorderctl status shows prc0" grep -q prc0 <<<"$ctl_status"

# An unprivileged user may read properties but not rotate.
check "anyone may read the statistics" in_sandbox setpriv --reuid=nobody --regid=nogroup \
  --clear-groups busctl get-property org.pcaprecorder.Recorder1 /org/pcaprecorder/Recorder1 \
  org.pcaprecorder.Recorder1 Version
if in_sandbox setpriv --reuid=nobody --regid=nogroup --clear-groups busctl call \
  org.pcaprecorder.Recorder1 /org/pcaprecorder/Recorder1 org.pcaprecorder.Recorder1 Rotate s "" \
  2>"$work/denied"; then
  fail "an unprivileged Rotate was accepted"
fi
check "an unprivileged Rotate is refused ($(head -c 120 "$work/denied"))" \
  grep -qi 'denied\|not allowed\|rejected' "$work/denied"

# Reading captures is not controlling the recorder: group pcap-recorder (which reads the files)
# is refused Rotate, group pcap-recorder-control may call it.
reader_gid=$(in_sandbox getent group pcap-recorder | cut -d: -f3)
control_gid=$(in_sandbox getent group pcap-recorder-control | cut -d: -f3)
check "sysusers made group pcap-recorder-control (gid $control_gid)" test -n "$control_gid"
if in_sandbox setpriv --reuid=nobody --regid=nogroup --groups="$reader_gid" busctl call \
  org.pcaprecorder.Recorder1 /org/pcaprecorder/Recorder1 org.pcaprecorder.Recorder1 Rotate s prc0 \
  2>"$work/denied-reader"; then
  fail "a member of group pcap-recorder only was allowed to rotate"
fi
check "a member of group pcap-recorder only is refused Rotate" \
  grep -qi 'denied\|not allowed\|rejected' "$work/denied-reader"
sleep 1.1 # Rotate is limited to one call per interface per second
check "a member of group pcap-recorder-control may rotate" in_sandbox setpriv --reuid=nobody \
  --regid=nogroup --groups="$control_gid" busctl call org.pcaprecorder.Recorder1 \
  /org/pcaprecorder/Recorder1 org.pcaprecorder.Recorder1 Rotate s prc0

hook_pid=""
for _ in $(seq 50); do
  hook_pid=$(in_sandbox cat /var/lib/pcap-recorder/hook.pid 2>/dev/null || true)
  [[ -n $hook_pid ]] && break
  sleep 0.1
done
check "the hook ran and left a process behind (pid $hook_pid)" test -n "$hook_pid"
for _ in $(seq 100); do
  in_sandbox test -e "/proc/$hook_pid" || break
  sleep 0.1
done
check "the hook's setsid process was killed at its timeout" in_sandbox test ! -e "/proc/$hook_pid"

# A broken config: reload fails, the daemon runs on, unchanged.
printf 'interfaces:\n  - name: prc0\n    snaplenn: 5\n' >"$work/broken.yaml"
S cp "$work/broken.yaml" /etc/pcap-recorder/pcap-recorder.yaml
if in_sandbox systemctl reload pcap-recorder; then fail "reload with a broken config succeeded"; fi
check "still active after the refused reload" in_sandbox systemctl is-active --quiet pcap-recorder
check "same main process" test "$(in_sandbox systemctl show -p MainPID --value pcap-recorder)" = "$pid"
S cp "$work/config.yaml" /etc/pcap-recorder/pcap-recorder.yaml

written_before=$(written_on_prc0) || fail "pcap-recorderctl stats --json gave no PacketsWritten for prc0"
"$send_frames" "$sender" prs0 25 25
check "the daemon wrote the 25 frames more" wait_until_written $((written_before + 25))

# A vlan filter through a reload: compiled for the interface under the unit's restrictions, it
# must see the tag the kernel took out of the frame (as tcpdump's does).
sed 's/  - name: prc0/  - name: prc0\n    filter: "vlan 100"/' "$work/config.yaml" >"$work/vlan.yaml"
S cp "$work/vlan.yaml" /etc/pcap-recorder/pcap-recorder.yaml
applied_before=$(applied_count)
check "reload with a vlan filter" in_sandbox systemctl reload pcap-recorder
check "the daemon applied the vlan filter" wait_until_applied "$applied_before"
"$send_frames" "$sender" prs0 10 100 100
"$send_frames" "$sender" prs0 10 200 200
"$send_frames" "$sender" prs0 10 300
sleep 0.3
check "systemctl stop" in_sandbox systemctl stop pcap-recorder
check "no .part left" test -z "$(in_sandbox sh -c 'ls /var/lib/pcap-recorder/*.part 2>/dev/null' || true)"

total=0 vlan100=0 others=0
for file in $(in_sandbox sh -c 'ls /var/lib/pcap-recorder/*.pcap'); do
  in_sandbox cat "$file" >"$work/copy.pcap"
  count=$(tshark -n -r "$work/copy.pcap" -Y 'udp.dstport == 5001 && !vlan' 2>/dev/null | wc -l)
  total=$((total + count))
  count=$(tshark -n -r "$work/copy.pcap" -Y 'vlan.id == 100' 2>/dev/null | wc -l)
  vlan100=$((vlan100 + count))
  count=$(tshark -n -r "$work/copy.pcap" -Y 'vlan.id == 200' 2>/dev/null | wc -l)
  others=$((others + count))
done
check "tshark reads all 50 untagged frames from before the vlan filter (got $total)" \
  test "$total" = 50
check "the vlan 100 filter kept the 10 frames of VLAN 100 (got $vlan100)" test "$vlan100" = 10
check "and none of VLAN 200 (got $others)" test "$others" = 0

# A config that does not load at start: exit 78 (EX_CONFIG), and the unit waits for an edit
# rather than failing the same way every 5 s (RestartSec) for good.
S cp "$work/broken.yaml" /etc/pcap-recorder/pcap-recorder.yaml
if in_sandbox systemctl start pcap-recorder; then fail "start with a broken config succeeded"; fi
status=$(in_sandbox systemctl show -p ExecMainStatus --value pcap-recorder)
check "a broken config exits 78 (got $status)" test "$status" = 78
sleep 6
state=$(in_sandbox systemctl show -p ActiveState --value pcap-recorder)
restarts=$(in_sandbox systemctl show -p NRestarts --value pcap-recorder)
check "and stays failed, not restarted, 6 s later ($state, $restarts restarts)" \
  test "$state/$restarts" = failed/0
echo "all checks passed"
