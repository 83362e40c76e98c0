# What the shell tests of the ship share, sourced after `set -euo pipefail` inside
# tests/support/s3-server run (which exports S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_ACCESS_KEY,
# S3_SECRET_KEY, S3_CREDENTIALS_FILE): a scratch directory `work`, removed on exit with the
# processes the test started (pids+=($!)); fail and check; curl with SigV4 against the bucket.
# shellcheck shell=bash

work=$(mktemp -d)
pids=()
# What the processes in pids are sent on exit; a test whose processes need not stop cleanly may
# say KILL.
stop_signal=TERM
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -"$stop_signal" "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The message, then the end of each log the test wrote in $work; exits 1.
fail() {
  echo "FAIL: $*"
  for log in "$work"/*.log; do [[ -f $log ]] && { echo "--- $log"; tail -n 25 "$log"; }; done
  exit 1
}
# usage: check WHAT COMMAND... — fails naming WHAT unless COMMAND succeeds.
check() { local what=$1; shift; "$@" || fail "$what"; echo "ok: $what"; }

# usage: s3 CURL-ARGS... — curl with SigV4 straight to the server; prints the HTTP status.
s3() {
  curl -sS -w '%{http_code}' --aws-sigv4 "aws:amz:$S3_REGION:s3" \
    --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
# usage: s3get KEY FILE — the object KEY of the bucket into FILE; prints the HTTP status.
s3get() { s3 -o "$2" "$S3_ENDPOINT/$S3_BUCKET/$1"; }
# usage: same_object KEY FILE — KEY is in the bucket, byte-identical to FILE.
same_object() {
  [[ $(s3get "$1" "$work/got") == 200 ]] && cmp -s "$2" "$work/got" &&
    [[ $(sha256sum <"$2") == $(sha256sum <"$work/got") ]]
}

# usage: bucket_config ENDPOINT — the first lines of a config's ship: section, which reach the test
# server's bucket through ENDPOINT ($S3_ENDPOINT, or a proxy in front); the test's own keys follow.
bucket_config() {
  cat <<YAML
ship:
  endpoint: $1
  bucket: $S3_BUCKET
  region: $S3_REGION
  path_style: true
YAML
}
