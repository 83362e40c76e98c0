#!/usr/bin/env bash
# `cmake --install` into a scratch DESTDIR, as packages use it (prefix /usr) and as a hand install
# does (another prefix): the daemon, the ctl, the shipper and both units are there, the units run
# what was installed, and the sysusers.d file makes the shipper's user, in the group that may read
# the captures.
# usage: install_layout.sh BUILD_DIR
set -euo pipefail
build=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
check() { local what=$1; shift; "$@" || fail "$what"; echo "ok: $what"; }

DESTDIR=$work/usr-root cmake --install "$build" --prefix /usr >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "cmake --install --prefix /usr"; }
root=$work/usr-root
for path in /usr/bin/pcap-recorderd /usr/bin/pcap-recorderctl /usr/bin/pcap-recorder-shipd; do
  check "installed $path" test -x "$root$path"
done
for path in /usr/lib/systemd/system/pcap-recorder.service \
  /usr/lib/systemd/system/pcap-recorder-ship.service /usr/lib/sysusers.d/pcap-recorder.conf \
  /usr/lib/tmpfiles.d/pcap-recorder.conf /etc/pcap-recorder/pcap-recorder.yaml; do
  check "installed $path" test -f "$root$path"
done
check "the ship unit runs /usr/bin/pcap-recorder-shipd" \
  grep -qx 'ExecStart=/usr/bin/pcap-recorder-shipd' "$root/usr/lib/systemd/system/pcap-recorder-ship.service"
check "  as pcap-recorder-ship, in the group pcap-recorder" bash -c \
  "grep -qx 'User=pcap-recorder-ship' '$root/usr/lib/systemd/system/pcap-recorder-ship.service' &&
   grep -qx 'Group=pcap-recorder' '$root/usr/lib/systemd/system/pcap-recorder-ship.service'"
check "sysusers.d makes pcap-recorder-ship" grep -q '^u pcap-recorder-ship ' "$root/usr/lib/sysusers.d/pcap-recorder.conf"
check "  a member of pcap-recorder" grep -qx 'm pcap-recorder-ship pcap-recorder' \
  "$root/usr/lib/sysusers.d/pcap-recorder.conf"
check "tmpfiles.d makes its state directory" grep -q '^d /var/lib/pcap-recorder-ship 0750 pcap-recorder-ship pcap-recorder ' \
  "$root/usr/lib/tmpfiles.d/pcap-recorder.conf"

DESTDIR=$work/opt-root cmake --install "$build" --prefix /opt/pcap-recorder >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "cmake --install --prefix /opt/pcap-recorder"; }
check "under another prefix the ship unit runs the installed shipper and config" grep -qx \
  'ExecStart=/opt/pcap-recorder/bin/pcap-recorder-shipd --config /opt/pcap-recorder/etc/pcap-recorder/pcap-recorder.yaml' \
  "$work/opt-root/opt/pcap-recorder/lib/systemd/system/pcap-recorder-ship.service"
echo "all checks passed"
