#!/usr/bin/env bash
# pcap-recorder-shipd against the real S3 server (run inside tests/support/s3-server run):
# finished files only (not .part, not others' files) arrive byte-identical under the key template,
# in one PUT or in parts; a second run sends nothing twice; a new file goes alone; wrong
# credentials fail with the server's reason and no retry storm; the state survives.
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
