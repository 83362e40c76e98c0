#!/usr/bin/env bash
# The S3 test server (tests/support/s3-server) works as the ship tests assume: run inside
# `s3-server run`. A new bucket, an object PUT and read back byte-identical with curl's own SigV4,
# a wrong secret refused with 403, and the gateway stopped and started again with its data kept.
set -euo pipefail

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
check() { local what=$1; shift; "$@" || fail "$what"; echo "ok: $what"; }

# usage: s3 SECRET CURL-ARGS... — prints the HTTP status; the body goes to $work/body.
s3() {
  local secret=$1
  shift
  curl -sS -o "$work/body" -w '%{http_code}' --aws-sigv4 "aws:amz:$S3_REGION:s3" \
    --user "$S3_ACCESS_KEY:$secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

head -c 300000 /dev/urandom >"$work/object"
bucket=$S3_ENDPOINT/smoke-bucket
check "a new bucket is created" test "$(s3 "$S3_SECRET_KEY" -X PUT "$bucket")" = 200
check "an object is stored" test "$(s3 "$S3_SECRET_KEY" -T "$work/object" "$bucket/a/b.pcap")" = 200
check "the object is read back" test "$(s3 "$S3_SECRET_KEY" "$bucket/a/b.pcap")" = 200
check "byte-identical" cmp -s "$work/object" "$work/body"
check "a wrong secret key is refused with 403" test "$(s3 wrong-secret "$bucket/a/b.pcap")" = 403

"$S3_SERVER" rgw stop
check "a stopped gateway refuses connections" \
  test "$(s3 "$S3_SECRET_KEY" "$bucket/a/b.pcap" 2>/dev/null || true)" = 000
"$S3_SERVER" rgw start
check "after a restart the object is still there" test "$(s3 "$S3_SECRET_KEY" "$bucket/a/b.pcap")" = 200
check "still byte-identical" cmp -s "$work/object" "$work/body"
