#!/usr/bin/env bash
# pcap-recorderd and pcap-recorder-shipd together against the real S3 server (run inside
# tests/support/s3-server run, as root: its network namespace has only lo, which the daemon
# records). Shows: a finished file is shipped on the daemon's FileFinished signal, long before the
# shipper's rescan; with ship.delete_after_upload a file (and its sidecar and index) is deleted
# locally only once confirmed in the bucket; while the server is stopped retention
# (keep_until_shipped, the default with ship:) keeps every unshipped file past max_files; once the
# server is back, every file arrives, byte-identical and once.
# usage: shipd_flow_test.sh PCAP-RECORDERD PCAP-RECORDER-SHIPD
set -euo pipefail
daemon=$1
shipd=$2
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root (records lo in the server's namespace)"; exit 77; }
command -v dbus-daemon >/dev/null || { echo "SKIP: needs dbus-daemon"; exit 77; }
# shellcheck source=tests/s3/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# usage: within SECONDS COMMAND... — polls COMMAND every 0.2 s.
within() {
  local limit=$(($1 * 5)) i
  shift
  for ((i = 0; i < limit; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}
key_of() { echo "flow/lo/$(basename "$1")"; }
in_bucket() { [[ $(s3get "$(key_of "$1")" /dev/null) == 200 ]]; }
pcaps() { find "$work/out" -maxdepth 1 -name 'lo-*.pcap' -printf '%f\n' | sort; }

ip link set lo up
# A bus of our own for FileFinished (the daemon and the shipper on --bus user).
DBUS_SESSION_BUS_ADDRESS=$(dbus-daemon --session --fork --print-address=1 --print-pid=3 \
  3>"$work/bus.pid" | head -n 1)
export DBUS_SESSION_BUS_ADDRESS
pids+=("$(cat "$work/bus.pid")")

mkdir -p "$work/out"
{
  bucket_config "$S3_ENDPOINT"
  cat <<YAML
  prefix: flow/{interface}
  credentials: $S3_CREDENTIALS_FILE
  state: $work/state
  delete_after_upload: true
output:
  directory: $work/out
rotate:
  interval: 1s
retention:
  max_files: 2
  min_free_space: 0
interfaces:
  - name: lo
    filter: icmp
YAML
} >"$work/config.yaml"

# The shipper first, with a rescan far longer than the test: only the signal can make it ship.
"$shipd" --config "$work/config.yaml" --bus user --rescan 3600 >"$work/shipd.log" 2>&1 &
pids+=($!)
check "the shipper listens for FileFinished" \
  within 10 grep -q "listening for FileFinished on the session bus" "$work/shipd.log"
"$daemon" --config "$work/config.yaml" --bus user >"$work/daemon.log" 2>&1 &
pids+=($!)
ping -q -i 0.2 127.0.0.1 >/dev/null 2>&1 &
pids+=($!)

check "a finished file is shipped on FileFinished, without a rescan" \
  within 30 grep -q "lo-.*\.pcap: shipped to s3://" "$work/shipd.log"
first=$(grep -o "[^ ]*/lo-[^ ]*\.pcap: shipped" "$work/shipd.log" | head -n 1 | sed 's/: shipped//')
check "  its sidecar after it" within 10 grep -q "$first.json: sidecar uploaded" "$work/shipd.log"
check "  and deleted locally once confirmed (delete_after_upload)" \
  within 30 bash -c "[[ ! -e '$first' && ! -e '$first.json' ]]"
check "  deleted by the daemon for that reason" \
  grep -q "deleted $(basename "$first") .*confirmed uploaded (ship.delete_after_upload)" \
  "$work/daemon.log"
s3get "$(key_of "$first").json" "$work/sidecar.json" >/dev/null
check "  the sidecar in the bucket names the file's sha256" \
  grep -q "\"sha256\": \"$(grep -o 'sha256 [0-9a-f]*' <<<"$(grep "$first: shipped" "$work/shipd.log")" | cut -d' ' -f2)\"" \
  "$work/sidecar.json"

# The server stops: nothing can be confirmed, so neither max_files nor delete_after_upload may
# delete anything finished from now on.
"$S3_SERVER" rgw stop
stopped_at=$(pcaps | tail -n 1)
check "while the server is stopped, files accumulate past max_files 2" \
  within 30 bash -c "(( \$(find '$work/out' -maxdepth 1 -name 'lo-*.pcap' | wc -l) >= 6 ))"
pcaps >"$work/kept"
# (Names sort in time order; the newest at the stop may have been confirmed just before it.)
deleted_since_stop() {
  grep -o 'deleted lo-[0-9T]*\.pcap' "$work/daemon.log" | sed 's/^deleted //' |
    awk -v s="$stopped_at" '$0 > s'
}
check "  and none finished since is deleted" test -z "$(deleted_since_stop)"
"$S3_SERVER" rgw start

# Every file kept arrives (the shipper tries again after its failure back-off), then goes.
for name in $(cat "$work/kept"); do
  check "$name arrives once the server is back" within 90 in_bucket "$work/out/$name"
done
kill "${pids[-1]}"  # the pings: no new files
unset 'pids[-1]'
for name in $(cat "$work/kept"); do
  check "$name is deleted locally after its upload" within 30 test ! -e "$work/out/$name"
done
check "no file was shipped twice" \
  test -z "$(grep -o 'lo-[0-9T]*\.pcap: shipped' "$work/shipd.log" | sort | uniq -d)"
check "the shipper's journal forgets a file once it is deleted locally" \
  bash -c "! grep -q '$(basename "$first")' '$work/state'"
check "no unshipped file was deleted (no min_free_space warning)" \
  bash -c "! grep -q 'not yet confirmed uploaded' '$work/daemon.log'"
# What arrived is what was recorded: the last file still local (the one being written aside)
# compared byte for byte with its object.
last=$(grep -o "[^ ]*/lo-[^ ]*\.pcap: shipped" "$work/shipd.log" | tail -n 1 | sed 's/: shipped//')
s3get "$(key_of "$last")" "$work/got" >/dev/null
check "the last shipped file is byte-identical in the bucket (sha256 from the log)" \
  test "$(sha256sum <"$work/got" | cut -d' ' -f1)" = \
  "$(grep "$last: shipped" "$work/shipd.log" | grep -o 'sha256 [0-9a-f]*' | cut -d' ' -f2)"

# A sidecar whose sha256 is not the file's: the shipper hashes what it sends and refuses it. The
# wake-up comes from dbus-send, not from the daemon: any FileFinished only starts a scan.
bad=$work/out/lo-20260101T000000.pcap
head -c 2000 /dev/urandom >"$bad"
printf '{\n  "sha256": "%s"\n}\n' "$(printf '0%.0s' {1..64})" >"$bad.json"
dbus-send --session --type=signal /org/pcaprecorder/Recorder1 \
  org.pcaprecorder.Recorder1.FileFinished string:lo string:"$bad"
check "a file whose sidecar has another sha256 fails clearly" \
  within 30 grep -q "$bad: not shipped: .*its SHA-256 is .*, not 0\{64\} as recorded" \
  "$work/shipd.log"
check "  is not in the bucket" test "$(s3get "$(key_of "$bad")" /dev/null)" = 404
check "  and stays on disk (unconfirmed)" test -e "$bad"
