#!/usr/bin/env bash
# Offline checks of the shipped systemd files, no running systemd needed:
#   - `systemd-analyze verify` on the unit, pointed at the built daemon (verify checks that the
#     ExecStart=/ExecReload= binaries exist), with no warning at all;
#   - `systemd-analyze security` exposure at most THRESHOLD, so a lost hardening option fails CI;
#   - the same two for pcap-recorder-ship.service, pointed at the built shipper;
#   - the sysusers.d file creates a system user with a nologin shell (in a scratch root), and the
#     shipper's user pcap-recorder-ship in the group pcap-recorder; as root, the tmpfiles.d file
#     creates their directories 0750 owned by them (the shipper's with the group pcap-recorder).
# Usage: unit_checks.sh SYSTEMD_DIR PCAP_RECORDERD PCAP_RECORDER_SHIPD
# Exit 77 (skipped) without systemd-analyze.
set -euo pipefail

# Exposure ×10, as `--threshold` takes it: the unit scores 1.4, rounded up to the next 0.5. Not
# more: at 1.9, ProtectSystem=, ProtectHome= and PrivateDevices= could all go unnoticed.
readonly THRESHOLD=15

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze not found: install the Debian package systemd to check the unit"
  exit 77
fi

systemd_dir=$(realpath "${1:?usage: unit_checks.sh SYSTEMD_DIR PCAP_RECORDERD}")
daemon=$(realpath "${2:?usage: unit_checks.sh SYSTEMD_DIR PCAP_RECORDERD}")
shipd=$(realpath "${3:?usage: unit_checks.sh SYSTEMD_DIR PCAP_RECORDERD PCAP_RECORDER_SHIPD}")

[[ -x $daemon ]] || { echo "FAIL: $daemon is not an executable (build pcap-recorderd first)"; exit 1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The unit as installed, but running the daemon just built. The file name must stay
# pcap-recorder.service: verify and security take the unit's name from it.
unit=$scratch/pcap-recorder.service
sed "s#/usr/bin/pcap-recorderd#$daemon#g" "$systemd_dir/pcap-recorder.service" >"$unit"
grep -q "^ExecStart=$daemon\$" "$unit" || fail "ExecStart= is not /usr/bin/pcap-recorderd"

echo "== systemd-analyze verify"
# Why the output is checked too: verify exits 0 on unknown keys and bad values, it only warns.
if ! output=$(systemd-analyze verify --recursive-errors=no "$unit" 2>&1); then
  fail "systemd-analyze verify failed"
fi
if [[ -n $output ]]; then
  echo "$output"
  fail "systemd-analyze verify reported problems"
fi

echo "== systemd-analyze security (threshold $THRESHOLD)"
security_status=0
security=$(systemd-analyze security --offline=true --threshold="$THRESHOLD" --no-pager "$unit" 2>&1) ||
  security_status=$?
echo "$security" | grep -E '✗|Overall' || echo "$security"
if ((security_status != 0)); then
  fail "exposure above $(awk "BEGIN { print $THRESHOLD / 10 }"): a hardening option was lost"
fi

echo "== pcap-recorder-ship.service: verify and security"
ship_unit=$scratch/pcap-recorder-ship.service
sed "s#/usr/bin/pcap-recorder-shipd#$shipd#g" "$systemd_dir/pcap-recorder-ship.service" >"$ship_unit"
grep -q "^ExecStart=$shipd\$" "$ship_unit" || fail "ship: ExecStart= is not /usr/bin/pcap-recorder-shipd"
output=$(systemd-analyze verify --recursive-errors=no "$ship_unit" 2>&1) || fail "ship: verify failed"
[[ -z $output ]] || { echo "$output"; fail "ship: systemd-analyze verify reported problems"; }
if ! security=$(systemd-analyze security --offline=true --threshold="$THRESHOLD" --no-pager \
  "$ship_unit" 2>&1); then
  echo "$security" | grep -E '✗|Overall' || echo "$security"
  fail "ship: exposure above $(awk "BEGIN { print $THRESHOLD / 10 }"): a hardening option was lost"
fi
echo "$security" | grep Overall || true

echo "== sysusers.d"
mkdir -p "$scratch/root/etc"
sysusers_ok=true
sysusers_output=$(systemd-sysusers --root="$scratch/root" "$systemd_dir/pcap-recorder.sysusers" 2>&1) ||
  sysusers_ok=false
# As root a failure is the file's (CI runs as root); without root it may be the permissions'.
if ! $sysusers_ok && [[ $(id -u) == 0 ]]; then
  echo "$sysusers_output"
  fail "systemd-sysusers refused pcap-recorder.sysusers"
fi
if $sysusers_ok; then
  passwd_line=$(grep '^pcap-recorder:' "$scratch/root/etc/passwd" || true)
  echo "$passwd_line"
  IFS=: read -r _ _ uid _ _ home shell <<<"$passwd_line"
  ((uid > 0 && uid < 1000)) || fail "pcap-recorder is not a system user (uid ${uid:-none})"
  [[ $home == /var/lib/pcap-recorder ]] || fail "home is '$home'"
  [[ $shell == */nologin ]] || fail "shell is '$shell', not nologin"
  grep -q '^pcap-recorder:' "$scratch/root/etc/group" || fail "no group pcap-recorder"
  grep -q '^pcap-recorder-control:' "$scratch/root/etc/group" || fail "no group pcap-recorder-control"
  ship_line=$(grep '^pcap-recorder-ship:' "$scratch/root/etc/passwd" || true)
  echo "$ship_line"
  IFS=: read -r _ _ ship_uid _ _ ship_home ship_shell <<<"$ship_line"
  ((ship_uid > 0 && ship_uid < 1000)) || fail "pcap-recorder-ship is not a system user (uid ${ship_uid:-none})"
  [[ $ship_home == /var/lib/pcap-recorder-ship ]] || fail "pcap-recorder-ship's home is '$ship_home'"
  [[ $ship_shell == */nologin ]] || fail "pcap-recorder-ship's shell is '$ship_shell'"
  grep -qE '^pcap-recorder:[^:]*:[0-9]+:(.*,)?pcap-recorder-ship(,|$)' "$scratch/root/etc/group" ||
    fail "pcap-recorder-ship is not in the group pcap-recorder (it could not read the captures)"

  echo "== tmpfiles.d"
  if [[ $(id -u) == 0 ]]; then
    systemd-tmpfiles --root="$scratch/root" --create "$systemd_dir/pcap-recorder.tmpfiles" ||
      fail "systemd-tmpfiles failed"
    numeric=$(stat -c '%a %u %g' "$scratch/root/var/lib/pcap-recorder" 2>/dev/null || true)
    echo "/var/lib/pcap-recorder: mode, uid, gid: $numeric"
    [[ $numeric == "750 $uid $uid" ]] || fail "state directory is '$numeric', not '750 $uid $uid'"
    numeric=$(stat -c '%a %u %g' "$scratch/root/var/lib/pcap-recorder-ship" 2>/dev/null || true)
    echo "/var/lib/pcap-recorder-ship: mode, uid, gid: $numeric"
    recorder_gid=$(awk -F: '$1 == "pcap-recorder" {print $3}' "$scratch/root/etc/group")
    [[ $numeric == "750 $ship_uid $recorder_gid" ]] ||
      fail "the shipper's state directory is '$numeric', not '750 $ship_uid $recorder_gid'"
  else
    echo "tmpfiles.d: not checked (needs root to chown)"
  fi
elif [[ $(id -u) != 0 ]]; then
  # Without root, sysusers may not be able to write even a scratch root's files.
  echo "sysusers.d: not checked (systemd-sysusers failed; needs root)"
fi

if ((failures > 0)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all systemd unit checks passed"
