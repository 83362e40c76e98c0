#!/usr/bin/env bash
# The Debian package under a real systemd 252 (tests/support/systemd-harness), as an operator
# uses it: build the .deb (scripts/build-deb), lintian (no error), `apt-get install ./….deb`
# inside the sandbox; the user, output directory and conffile exist, the unit is enabled but not
# started; set an interface in /etc/pcap-recorder/pcap-recorder.yaml, `systemctl start`, send
# frames, `systemctl stop`, read the files with tshark; `apt-get purge` leaves no unit, user,
# group or config, and keeps the captures (owned by root); a second install and a purge with
# PCAP_RECORDER_PURGE_CAPTURES=1 removes them. Frames come from a namespace this test makes, over
# a veth into the sandbox's own namespace. Everything is removed on exit, also on failure.
#
# An existing build-deb/pcap-recorder_VERSION_*.deb is reused only when it is newer than every
# file git tracks (so not after a `git pull` or an edit); otherwise it is rebuilt with
# DEB_BUILD_OPTIONS=nocheck (the unit tests run in CI on their own). The caller holds the build
# lock, if any: this script takes none.
#
# The sandbox has its own network namespace and cannot reach the Debian archive, so the package's
# dependencies must already be installed where the sandbox gets its files from: the host (the
# sandbox is an overlay of its /). They are checked on the host and installed there with apt-get
# if missing; inside, `apt-get install ./….deb` then resolves everything locally.
#
# usage: deb_in_systemd.sh SOURCE_DIR SEND_FRAMES
set -euo pipefail
source_dir=$(realpath "$1") send_frames=$2
sandbox=${SD_SANDBOX_TOOL:-$(dirname "$(realpath "$0")")/../support/systemd-harness}

source "$(dirname "$0")/../support/sandbox.sh"
[[ $(id -u) == 0 ]] || skip "needs root to build the package and boot a systemd sandbox"
[[ -x $sandbox ]] || skip "no systemd-sandbox at $sandbox"
command -v tshark >/dev/null || skip "needs tshark"
command -v apt-get >/dev/null || skip "needs apt-get (Debian)"

sandbox_begin prdeb
started=$SECONDS

# --- Build (or reuse) the package ---------------------------------------------------------------
cd "$source_dir"
version=$(sed -n 's/^project(pcap-recorder VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
[[ -n $version ]] || fail "no project(VERSION) in CMakeLists.txt"
deb=$(ls build-deb/pcap-recorder_"$version"_*.deb 2>/dev/null | head -n 1 || true)
stale=yes
if [[ -n $deb ]] && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  sources=()
  while IFS= read -r -d '' file; do
    [[ -e $file ]] && sources+=("$file")
  done < <(git ls-files -z --cached)
  newer=$(find "${sources[@]}" -maxdepth 0 -newer "$deb" -print -quit)
  if [[ -z $newer ]]; then
    stale=""
  else
    echo "$deb is older than $newer: rebuilding"
  fi
fi
if [[ -n $stale ]]; then
  DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" scripts/build-deb --no-lintian >"$work/build.log" 2>&1 ||
    { tail -n 60 "$work/build.log"; fail "scripts/build-deb"; }
  deb=$(ls build-deb/pcap-recorder_"$version"_*.deb)
  echo "ok: built $deb in $((SECONDS - started)) s"
else
  echo "ok: reusing $deb (newer than every tracked file)"
fi
deb=$source_dir/$deb

# --- lintian ------------------------------------------------------------------------------------
if ! command -v lintian >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends lintian >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends lintian >/dev/null; } || fail "installing lintian"
fi
lintian_report=$(lintian --tag-display-limit 0 "$deb" 2>/dev/null) || true
[[ -z $lintian_report ]] || printf '%s\n' "$lintian_report"
check "lintian reports no error" test -z "$(grep '^E: ' <<<"$lintian_report" || true)"

# --- Dependencies on the host (the sandbox cannot download) --------------------------------------
plan=$(apt-get -s -q install "$deb" 2>&1) || { echo "$plan"; fail "apt-get cannot resolve $deb"; }
needed=$(awk '$1 == "Inst" && $2 != "pcap-recorder" {print $2}' <<<"$plan")
if [[ -n $needed ]]; then
  echo "installing the package's dependencies on the host for the sandbox: $needed"
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $needed >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q $needed >/dev/null; } || fail "installing $needed on the host"
fi

# --- Install in a real systemd --------------------------------------------------------------------
S up >/dev/null
S cp "$deb" "/var/tmp/$(basename "$deb")"
in_sandbox sh -c 'chmod 0644 /var/tmp/*.deb'
check "apt-get install ./$(basename "$deb")" in_sandbox sh -c \
  "cd /var/tmp && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ./pcap-recorder_*.deb >/var/tmp/apt.log 2>&1 || { cat /var/tmp/apt.log; exit 1; }"
in_sandbox sed -n '/^pcap-recorder is installed/,/^`systemctl start/p' /var/tmp/apt.log

check "package version is CMake's $version" \
  test "$(in_sandbox dpkg-query -W -f='${Version}' pcap-recorder)" = "$version"
check "pcap-recorderd --version says $version" \
  test "$(in_sandbox pcap-recorderd --version)" = "pcap-recorderd $version"
check "pcap-recorderctl --version says $version" \
  test "$(in_sandbox pcap-recorderctl --version)" = "pcap-recorderctl $version"
check "the config is a conffile" grep -q /etc/pcap-recorder/pcap-recorder.yaml \
  <<<"$(in_sandbox dpkg-query -W -f='${Conffiles}' pcap-recorder)"
for path in /usr/lib/systemd/system/pcap-recorder.service /usr/lib/sysusers.d/pcap-recorder.conf \
  /usr/lib/systemd/system/pcap-recorder-ship.service /usr/bin/pcap-recorder-shipd \
  /usr/lib/tmpfiles.d/pcap-recorder.conf /usr/share/dbus-1/system.d/org.pcaprecorder.Recorder1.conf \
  /usr/share/man/man8/pcap-recorderd.8.gz /usr/share/man/man1/pcap-recorderctl.1.gz \
  /usr/share/man/man5/pcap-recorder.yaml.5.gz /usr/share/bash-completion/completions/pcap-recorderctl; do
  check "installed $path" in_sandbox test -f "$path"
done
passwd_entry=$(in_sandbox getent passwd pcap-recorder) || fail "no user pcap-recorder after install"
check "user pcap-recorder from sysusers ($passwd_entry)" \
  grep -q ':/var/lib/pcap-recorder:/usr/sbin/nologin$' <<<"$passwd_entry"
check "group pcap-recorder-control from sysusers" in_sandbox getent group pcap-recorder-control
check "output directory 0750 pcap-recorder:pcap-recorder" test \
  "$(in_sandbox stat -c '%a %U:%G' /var/lib/pcap-recorder)" = "750 pcap-recorder:pcap-recorder"
check "unit enabled" test "$(in_sandbox systemctl is-enabled pcap-recorder || true)" = enabled
check "unit not started" test "$(in_sandbox systemctl is-active pcap-recorder || true)" = inactive
ship_entry=$(in_sandbox getent passwd pcap-recorder-ship) || fail "no user pcap-recorder-ship after install"
check "the shipper's user from sysusers ($ship_entry)" \
  grep -q ':/var/lib/pcap-recorder-ship:/usr/sbin/nologin$' <<<"$ship_entry"
check "  in the group that may read the captures" \
  grep -qw pcap-recorder <<<"$(in_sandbox id -nG pcap-recorder-ship)"
check "ship unit enabled" test "$(in_sandbox systemctl is-enabled pcap-recorder-ship || true)" = enabled
check "ship unit not started" \
  test "$(in_sandbox systemctl is-active pcap-recorder-ship || true)" = inactive
# Without a ship: section it starts as its user and exits at once, successfully.
check "systemctl start pcap-recorder-ship (no ship: section)" in_sandbox systemctl start pcap-recorder-ship
for ((i = 0; i < 50; i++)); do
  [[ $(in_sandbox systemctl is-active pcap-recorder-ship || true) == inactive ]] && break
  sleep 0.1
done
check "  it exited successfully" test \
  "$(in_sandbox systemctl show -P Result pcap-recorder-ship)" = success
check "  having said why" grep -q 'no ship section: nothing to ship' \
  <<<"$(in_sandbox journalctl -u pcap-recorder-ship --no-pager -q)"

# A sender namespace joined to the sandbox by a veth; frames go nowhere else.
ip netns add "$sender"
ip link add prds0 netns "$sender" type veth peer name prdc0 netns "$SD_SANDBOX_NAME"
ip -n "$sender" link set prds0 up
ip -n "$SD_SANDBOX_NAME" link set prdc0 up
for _ in $(seq 500); do
  ip -n "$sender" -o link show dev prds0 | grep -q 'state UP' && break
  sleep 0.02
done
check "prds0 has its carrier" bash -c "ip -n '$sender' -o link show dev prds0 | grep -q 'state UP'"

# As the operator: the shipped config with the interface changed, checked, then started.
in_sandbox sed -i 's/^  - name: eth0$/  - name: prdc0/' /etc/pcap-recorder/pcap-recorder.yaml
check "the config now names prdc0" in_sandbox grep -q '^  - name: prdc0$' \
  /etc/pcap-recorder/pcap-recorder.yaml
check "pcap-recorderd --check-config" in_sandbox pcap-recorderd --check-config
check "systemctl start pcap-recorder" in_sandbox systemctl start pcap-recorder
check "is-active" in_sandbox systemctl is-active --quiet pcap-recorder
ctl_status=$(in_sandbox pcap-recorderctl status) || fail "pcap-recorderctl status"
check "pcap-recorderctl status shows prdc0 (the bus policy works after install)" \
  grep -q prdc0 <<<"$ctl_status"

"$send_frames" "$sender" prds0 40 0
sleep 0.5
check "systemctl stop pcap-recorder" in_sandbox systemctl stop pcap-recorder
check "no .part left" test -z "$(in_sandbox sh -c 'ls /var/lib/pcap-recorder/*.part 2>/dev/null' || true)"

count_frames() {
  local total=0 file count
  for file in $(in_sandbox sh -c 'ls /var/lib/pcap-recorder/*.pcap 2>/dev/null' || true); do
    in_sandbox cat "$file" >"$work/copy.pcap"
    count=$(tshark -n -r "$work/copy.pcap" -Y 'udp.dstport == 5001' 2>/dev/null | wc -l)
    total=$((total + count))
  done
  echo "$total"
}
total=$(count_frames)
check "tshark reads all 40 frames from the finished files (got $total)" test "$total" = 40

# --- Purge ----------------------------------------------------------------------------------------
check "apt-get purge -y pcap-recorder" in_sandbox sh -c \
  'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q pcap-recorder >/var/tmp/purge.log 2>&1 || { cat /var/tmp/purge.log; exit 1; }'
check "package gone" test -z "$(in_sandbox dpkg-query -W -f='${Status}' pcap-recorder 2>/dev/null || true)"
check "no unit file" in_sandbox test ! -e /usr/lib/systemd/system/pcap-recorder.service
check "no enablement symlink" in_sandbox test ! -e /etc/systemd/system/multi-user.target.wants/pcap-recorder.service
check "systemd knows no pcap-recorder.service" \
  test -z "$(in_sandbox systemctl list-unit-files --no-legend pcap-recorder.service || true)"
check "no user pcap-recorder" test -z "$(in_sandbox getent passwd pcap-recorder || true)"
check "no user pcap-recorder-ship" test -z "$(in_sandbox getent passwd pcap-recorder-ship || true)"
check "no ship unit file" in_sandbox test ! -e /usr/lib/systemd/system/pcap-recorder-ship.service
check "no shipper state" in_sandbox test ! -e /var/lib/pcap-recorder-ship
check "no group pcap-recorder" test -z "$(in_sandbox getent group pcap-recorder || true)"
check "no group pcap-recorder-control" \
  test -z "$(in_sandbox getent group pcap-recorder-control || true)"
check "no /etc/pcap-recorder" in_sandbox test ! -e /etc/pcap-recorder
check "captures kept" test "$(count_frames)" = 40
check "kept captures owned by root" test -z \
  "$(in_sandbox find /var/lib/pcap-recorder ! -user root -print -quit)"

# --- Reinstall, then purge with PCAP_RECORDER_PURGE_CAPTURES=1 ------------------------------------
check "apt-get install again" in_sandbox sh -c \
  'cd /var/tmp && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ./pcap-recorder_*.deb >/dev/null 2>&1'
check "PCAP_RECORDER_PURGE_CAPTURES=1 apt-get purge" in_sandbox sh -c \
  'PCAP_RECORDER_PURGE_CAPTURES=1 DEBIAN_FRONTEND=noninteractive apt-get purge -y -q pcap-recorder >/dev/null 2>&1'
check "captures removed with PCAP_RECORDER_PURGE_CAPTURES=1" in_sandbox test ! -e /var/lib/pcap-recorder
check "no user pcap-recorder" test -z "$(in_sandbox getent passwd pcap-recorder || true)"

echo "all checks passed in $((SECONDS - started)) s"
