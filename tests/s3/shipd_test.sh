#!/usr/bin/env bash
# pcap-recorder-shipd against the real S3 server (run inside tests/support/s3-server run):
# finished files only (not .part, not others' files, not one still being stored) arrive
# byte-identical under the key template, in one PUT or in parts; a second run sends nothing twice;
# a new file goes alone; several files at once (ship.parallel_files) each arrive once,
# byte-identical, each sidecar after its file; wrong credentials fail with the server's reason and
# no retry storm; the state survives.
# usage: shipd_test.sh PCAP-RECORDER-SHIPD
set -euo pipefail
shipd=$1
# shellcheck source=tests/s3/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$work/out"
{
  bucket_config "$S3_ENDPOINT"
  cat <<YAML
  prefix: site/{host}/{interface}/%Y/%m/%d
  parallel: 3
  parallel_files: 1  # first one file after the other, to see the finish order
  credentials: $S3_CREDENTIALS_FILE
output:
  directory: $work/out
interfaces:
  - name: eth0
YAML
} >"$work/config.yaml"
run_shipd() {  # LOG [ARGS...]
  local log=$1
  shift
  "$shipd" --config "$work/config.yaml" --state "$work/state" --host sensor1 --part-size 262144 \
    --once "$@" >"$work/$log.log" 2>&1
}

head -c 100000 /dev/urandom >"$work/out/eth0-20260105T100000.pcap"
head -c 700000 /dev/urandom >"$work/out/eth0-20260105T110000.pcap"  # 3 parts
head -c 5000 /dev/urandom >"$work/out/eth0-20260105T120000.pcap.part"
head -c 5000 /dev/urandom >"$work/out/notes.txt"
touch -d '2026-01-05 10:00:00 UTC' "$work/out/eth0-20260105T100000.pcap"
touch -d '2026-01-05 11:00:00 UTC' "$work/out/eth0-20260105T110000.pcap"

check "shipd --check-config accepts the ship section" \
  "$shipd" --config "$work/config.yaml" --check-config
check "the first run ships the backlog" run_shipd first
check "files go in finish order" \
  test "$(grep -o 'eth0-2026[0-9T]*\.pcap: shipped' "$work/first.log" | tr '\n' ' ')" = \
  "eth0-20260105T100000.pcap: shipped eth0-20260105T110000.pcap: shipped "
prefix=site/sensor1/eth0/2026/01/05
check "a small file arrives byte-identical" same_object "$prefix/eth0-20260105T100000.pcap" \
  "$work/out/eth0-20260105T100000.pcap"
check "a multipart file arrives byte-identical" same_object "$prefix/eth0-20260105T110000.pcap" \
  "$work/out/eth0-20260105T110000.pcap"
check "a file being written is not shipped" \
  test "$(s3get "$prefix/eth0-20260105T120000.pcap.part" /dev/null)" = 404
check "nor a file that is not a capture" test "$(s3get "$prefix/notes.txt" /dev/null)" = 404

check "a second run ships nothing twice" run_shipd second
check "  (no upload in its log)" bash -c "! grep -q shipped '$work/second.log'"

head -c 3000 /dev/urandom >"$work/out/eth0-20260105T130000.pcap"
touch -d "2026-01-05 13:00:00 UTC" "$work/out/eth0-20260105T130000.pcap"
check "a third run ships only the new file" run_shipd third
check "  (exactly one)" test "$(grep -c shipped "$work/third.log")" = 1
check "  byte-identical" same_object "$prefix/eth0-20260105T130000.pcap" \
  "$work/out/eth0-20260105T130000.pcap"

# A file the daemon is still storing (its NAME.storing marker beside it) waits until it is stored.
head -c 4000 /dev/urandom >"$work/out/eth0-20260105T133000.pcap"
touch -d "2026-01-05 13:30:00 UTC" "$work/out/eth0-20260105T133000.pcap"
touch "$work/out/eth0-20260105T133000.pcap.storing"
check "a file still being stored is not shipped" run_shipd storing
check "  (nothing in its log)" bash -c "! grep -q shipped '$work/storing.log'"
check "  (not in the bucket)" test "$(s3get "$prefix/eth0-20260105T133000.pcap" /dev/null)" = 404
rm "$work/out/eth0-20260105T133000.pcap.storing"
check "once stored it is shipped" run_shipd stored
check "  byte-identical" same_object "$prefix/eth0-20260105T133000.pcap" \
  "$work/out/eth0-20260105T133000.pcap"

# Several files at once: 8 multipart files, each with a sidecar (the daemon's form) whose SHA-256
# the upload checks.
sed -i 's/parallel_files: 1 .*/parallel_files: 4/' "$work/config.yaml"
parallel_names=()
for i in 0 1 2 3 4 5 6 7; do
  name=eth0-20260105T15${i}000.pcap
  parallel_names+=("$name")
  head -c $((600000 + i * 1000)) /dev/urandom >"$work/out/$name" # 3 parts of 256 KiB
  printf '{\n  "file": "%s",\n  "sha256": "%s"\n}\n' "$name" \
    "$(sha256sum <"$work/out/$name" | cut -d' ' -f1)" >"$work/out/$name.json"
  touch -d "2026-01-05 15:0$i:00 UTC" "$work/out/$name"
done
check "shipd ships 8 files with parallel_files 4" run_shipd parallel
check "  up to 4 at once (its log)" grep -q '8 finished files to ship, up to 4 at once' \
  "$work/parallel.log"
confirmed_names() {  # the file names of the journal's confirmations, in order (paths %-encoded)
  awk '$1 == "confirmed" {name = $2; sub(/.*%2F/, "", name); print name}' "$work/state"
}
# The journal: 'started KEY ID' before a multipart upload's first part, 'ended ID' after it.
max_open=$(awk '$1 == "started" {open++; if (open > max) max = open} $1 == "ended" {open--}
  END {print max + 0}' "$work/state")
check "  several multipart uploads were open at once ($max_open)" test "$max_open" -ge 2
check "  and every one of them ended" test "$(grep -c '^started ' "$work/state")" = \
  "$(grep -c '^ended ' "$work/state")"
for name in "${parallel_names[@]}"; do
  check "  $name arrived byte-identical" same_object "$prefix/$name" "$work/out/$name"
  check "  its sidecar too" same_object "$prefix/$name.json" "$work/out/$name.json"
  check "  shipped once (log)" test "$(grep -c "$name: shipped" "$work/parallel.log")" = 1
  check "  confirmed once, its sidecar after it (journal)" \
    test "$(confirmed_names | grep -xE "$name(\.json)?" | tr '\n' ' ')" = "$name $name.json "
done
check "a run after it ships nothing twice" run_shipd parallel-again
check "  (no upload in its log)" bash -c "! grep -q shipped '$work/parallel-again.log'"

# A name used again (the file of that name shipped and deleted, then `{seq}` counting again after
# a restart, or a time slot's name after one): the new file is shipped too, beside the old object
# (never over it), and a run that finds the new file's bytes already there ships nothing twice.
cp "$work/out/eth0-20260105T100000.pcap" "$work/first-capture"
rm "$work/out/eth0-20260105T100000.pcap"
head -c 2000 /dev/urandom >"$work/out/eth0-20260105T100000.pcap"
touch -d '2026-01-05 10:00:00 UTC' "$work/out/eth0-20260105T100000.pcap"
check "a new file under a shipped file's name is shipped" run_shipd reused
check "  (once)" test "$(grep -c 'eth0-20260105T100000.pcap: shipped' "$work/reused.log")" = 1
check "  the first capture is still in the bucket" \
  same_object "$prefix/eth0-20260105T100000.pcap" "$work/first-capture"
check "  the new one beside it" \
  same_object "$prefix/eth0-20260105T100000_001.pcap" "$work/out/eth0-20260105T100000.pcap"
sed -i '/eth0-20260105T100000_001.pcap/d' "$work/state"  # killed before it recorded the upload
check "a run that finds the file's bytes already in the bucket" run_shipd reused-again
check "  records them without sending them again" \
  grep -q "eth0-20260105T100000_001.pcap" "$work/state"
check "  (no second object)" test "$(s3get "$prefix/eth0-20260105T100000_002.pcap" /dev/null)" = 404

# The same with sidecars without a SHA-256 (output.sha256 false) and a new file of the same size:
# its changed sidecar has the file hashed, so it is not taken for the one shipped before.
nosha=eth0-20260105T170000.pcap
head -c 1500 /dev/urandom >"$work/out/$nosha"
touch -d "2026-01-05 17:00:00 UTC" "$work/out/$nosha"
printf '{\n  "file": "first",\n  "sha256": ""\n}\n' >"$work/out/$nosha.json"
check "a file whose sidecar has no SHA-256 is shipped" run_shipd nosha
head -c 1500 /dev/urandom >"$work/out/$nosha"
touch -d "2026-01-05 17:00:00 UTC" "$work/out/$nosha"
printf '{\n  "file": "second",\n  "sha256": ""\n}\n' >"$work/out/$nosha.json"
check "a new file of the same size under its name is shipped too" run_shipd nosha-reused
check "  beside the first" \
  same_object "$prefix/eth0-20260105T170000_001.pcap" "$work/out/$nosha"
check "  with its own sidecar" \
  same_object "$prefix/eth0-20260105T170000_001.pcap.json" "$work/out/$nosha.json"

printf '[default]\naws_access_key_id = %s\naws_secret_access_key = NotTheSecret42\n' \
  "$S3_ACCESS_KEY" >"$work/wrong-credentials"
chmod 600 "$work/wrong-credentials"
sed -i "s|credentials: .*|credentials: $work/wrong-credentials|" "$work/config.yaml"
head -c 3000 /dev/urandom >"$work/out/eth0-20260105T140000.pcap"
if run_shipd wrong; then fail "shipped with wrong credentials"; fi
echo "ok: wrong credentials fail"
check "  with the server's reason" grep -q "403 SignatureDoesNotMatch" "$work/wrong.log"
check "  and no retry" bash -c "! grep -q 'again in' '$work/wrong.log'"
check "  and the secret is not logged" bash -c "! grep -q NotTheSecret42 '$work/wrong.log'"

chmod 644 "$work/wrong-credentials"
check "a credentials file readable by everyone is refused" \
  bash -c "! '$shipd' --config '$work/config.yaml' --check-config 2>'$work/mode.log'"
check "  naming it" grep -q "wrong-credentials is readable or writable by every user" "$work/mode.log"
