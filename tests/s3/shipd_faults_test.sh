#!/usr/bin/env bash
# pcap-recorder-shipd when things go wrong, against the real S3 server (run inside
# tests/support/s3-server run), with tests/tools/s3_fault_proxy.py between them where the server
# must misbehave. One case a run, each a few seconds:
#   unavailable  every request is first answered 503 (ServiceUnavailable, then SlowDown) and the
#                server is slow: the shipper retries with back-off and every file arrives
#                byte-identical, each exactly once; its metrics say so (promtool clean).
#   credentials  a wrong secret key: the server's reason in the log, no hot loop (the requests the
#                proxy saw over 8 s are counted), the backlog in the metrics and in
#                pcap-recorderctl status; after the credentials file is fixed and the shipper
#                restarted, everything arrives.
#   killed       SIGKILL in the middle of two multipart uploads at once (ship.parallel_files): the
#                server lists both open; a start whose credentials may not abort them says so and
#                uploads both files again; the next start aborts each, ships nothing twice, and no
#                multipart upload is left open.
# usage: shipd_faults_test.sh CASE PCAP-RECORDER-SHIPD S3_FAULT_PROXY PCAP-RECORDERCTL
set -euo pipefail
case_name=$1 shipd=$2 proxy=$3 ctl=$4
# shellcheck source=tests/s3/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stop_signal=KILL
open_uploads() {  # ListMultipartUploads: how many the bucket has open
  local status
  status=$(s3 -o "$work/uploads.xml" "$S3_ENDPOINT/$S3_BUCKET/?uploads=")
  [[ $status == 200 ]] || { echo "ListMultipartUploads: HTTP $status" >&2; return 1; }
  grep -o '<UploadId>' "$work/uploads.xml" | wc -l
}
metric() {  # NAME: its value in the shipper's metrics file
  awk -v name="$1" '$1 == name {print $2}' "$work/metrics/ship.prom"
}

start_proxy() {  # [FAULT OPTIONS...]: sets proxy_endpoint
  rm -f "$work/proxy.port"
  python3 "$proxy" --upstream "$S3_ENDPOINT" --port-file "$work/proxy.port" \
    --log "$work/requests.txt" "$@" 2>"$work/proxy.log" &
  pids+=($!)
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s $work/proxy.port ]] && break
    sleep 0.1
  done
  [[ -s $work/proxy.port ]] || fail "the proxy did not start"
  proxy_endpoint=http://127.0.0.1:$(cat "$work/proxy.port")
}

write_config() {  # ENDPOINT CREDENTIALS
  {
    bucket_config "$1"
    cat <<YAML
  prefix: site/{host}/{interface}
  parallel: 3
  parallel_files: 2  # the killed case kills two uploads in flight
  credentials: $2
  metrics_textfile: $work/metrics/ship.prom
output:
  directory: $work/out
interfaces:
  - name: eth0
YAML
  } >"$work/config.yaml"
}
shipd_args=(--config "$work/config.yaml" --state "$work/state" --host sensor1 --part-size 262144 --bus none)
prefix=site/sensor1/eth0

capture_file() {  # NAME BYTES HOUR: a finished capture with its finish time
  head -c "$2" /dev/urandom >"$work/out/$1"
  touch -d "2026-01-05 $3:00:00 UTC" "$work/out/$1"
}

mkdir -p "$work/out" "$work/metrics"

case $case_name in
  unavailable)
    capture_file eth0-20260105T100000.pcap 40000 10
    capture_file eth0-20260105T110000.pcap 700000 11 # 3 parts
    capture_file eth0-20260105T120000.pcap 3000 12
    start_proxy --fail-first 2 --delay 0.1
    write_config "$proxy_endpoint" "$S3_CREDENTIALS_FILE"
    check "shipd ships everything through 503s and a slow server" \
      "$shipd" "${shipd_args[@]}" --once >"$work/shipd.log" 2>&1
    check "  it retried with back-off after ServiceUnavailable" \
      grep -q 'attempt 1 failed (HTTP 503 ServiceUnavailable.*); again in [0-9]* ms' "$work/shipd.log"
    check "  and after SlowDown" grep -q 'attempt 2 failed (HTTP 503 SlowDown.*); again in' "$work/shipd.log"
    check "  every kind of request met a 503 (PUT, HEAD, POST)" bash -c \
      "for m in PUT HEAD POST; do grep -q \" \$m .* 503\$\" '$work/requests.txt' || exit 1; done"
    for name in eth0-20260105T100000.pcap eth0-20260105T110000.pcap eth0-20260105T120000.pcap; do
      check "$name arrived byte-identical" same_object "$prefix/$name" "$work/out/$name"
      check "  shipped once (log)" test "$(grep -c "$name: shipped" "$work/shipd.log")" = 1
    done
    check "each single PUT succeeded exactly once" test "$(grep -cE \
      " PUT /$S3_BUCKET/$prefix/eth0-20260105T1[02]0000.pcap 200$" "$work/requests.txt")" = 2
    check "the multipart upload was created and completed exactly once" test \
      "$(grep -cE " POST /$S3_BUCKET/$prefix/eth0-20260105T110000.pcap\?(uploads=|uploadId=[^ ]*) 200$" \
        "$work/requests.txt")" = 2
    check "  its 3 parts each stored once" test "$(grep -cE \
      " PUT /$S3_BUCKET/$prefix/eth0-20260105T110000.pcap\?partNumber=[0-9]+&uploadId=[^ ]* 200$" \
      "$work/requests.txt")" = 3
    check "no multipart upload left open" test "$(open_uploads)" = 0
    check "the metrics file passes promtool check metrics" \
      bash -c "promtool check metrics <'$work/metrics/ship.prom' >'$work/promtool.log' 2>&1 && ! test -s '$work/promtool.log'"
    check "  3 files shipped" test "$(metric pcap_recorder_ship_files_total)" = 3
    check "  743000 bytes" test "$(metric pcap_recorder_ship_bytes_total)" = 743000
    check "  no failed file (the retries succeeded)" test "$(metric pcap_recorder_ship_failures_total)" = 0
    check "  nothing in the backlog" test "$(metric pcap_recorder_ship_backlog_files)" = 0
    # shellcheck disable=SC2016 # awk's own $1, $2
    check "  a last success" awk '$1 == "pcap_recorder_ship_last_success_timestamp_seconds" {exit !($2 > 1.7e9)}' \
      "$work/metrics/ship.prom"
    : >"$work/requests.txt"
    check "a second run ships nothing" "$shipd" "${shipd_args[@]}" --once >"$work/second.log" 2>&1
    check "  (no PUT or POST reached the proxy)" bash -c "! grep -qE ' (PUT|POST) ' '$work/requests.txt'"
    ;;

  credentials)
    capture_file eth0-20260105T100000.pcap 30000 10
    capture_file eth0-20260105T110000.pcap 30000 11
    printf '[default]\naws_access_key_id = %s\naws_secret_access_key = NotTheSecret42\n' \
      "$S3_ACCESS_KEY" >"$work/wrong-credentials"
    chmod 600 "$work/wrong-credentials"
    start_proxy
    write_config "$proxy_endpoint" "$work/wrong-credentials"
    "$shipd" "${shipd_args[@]}" >"$work/shipd.log" 2>&1 &
    shipd_pid=$!
    pids+=("$shipd_pid")
    sleep 8
    check "shipd keeps running with wrong credentials" kill -0 "$shipd_pid"
    check "  the log names the file and the server's reason" \
      grep -q 'eth0-20260105T100000.pcap: not shipped: .*403 SignatureDoesNotMatch' "$work/shipd.log"
    requests=$(wc -l <"$work/requests.txt")
    check "  no hot loop: $requests requests in 8 s (at most 2)" test "$requests" -le 2
    check "  no retry of the refused request" bash -c "! grep -q 'again in' '$work/shipd.log'"
    check "  the secret is not logged" bash -c "! grep -q NotTheSecret42 '$work/shipd.log'"
    check "  metrics: one failure" test "$(metric pcap_recorder_ship_failures_total)" = 1
    check "  metrics: both files in the backlog" test "$(metric pcap_recorder_ship_backlog_files)" = 2
    status=$("$ctl" --user status --ship-status "$work/metrics/ship.prom" 2>/dev/null || true)
    check "  pcap-recorderctl status shows the backlog ($status)" \
      grep -q '^ship: 2 files waiting for upload, no upload since the shipper started, 1 failed' \
      <<<"$status"
    kill -TERM "$shipd_pid"
    wait "$shipd_pid" || true
    printf '[default]\naws_access_key_id = NOSUCHKEY0000000000\naws_secret_access_key = x\n' \
      >"$work/wrong-credentials"
    if "$shipd" "${shipd_args[@]}" --once >"$work/unknown-key.log" 2>&1; then
      fail "shipped with an unknown access key"
    fi
    check "an unknown access key is named as such" grep -q '403 InvalidAccessKeyId' "$work/unknown-key.log"
    cp "$S3_CREDENTIALS_FILE" "$work/wrong-credentials"
    chmod 600 "$work/wrong-credentials"
    : >"$work/requests.txt"
    "$shipd" "${shipd_args[@]}" >"$work/fixed.log" 2>&1 &
    shipd_pid=$!
    pids+=("$shipd_pid")
    for ((i = 0; i < 100; i++)); do
      [[ $(metric pcap_recorder_ship_backlog_files) == 0 ]] && break
      sleep 0.1
    done
    check "after fixing the credentials and a restart, the backlog is empty" \
      test "$(metric pcap_recorder_ship_backlog_files)" = 0
    for name in eth0-20260105T100000.pcap eth0-20260105T110000.pcap; do
      check "  $name arrived byte-identical" same_object "$prefix/$name" "$work/out/$name"
    done
    status=$("$ctl" --user status --ship-status "$work/metrics/ship.prom" 2>/dev/null || true)
    check "  pcap-recorderctl status shows it ($status)" \
      grep -q '^ship: 0 files waiting for upload, last upload ' <<<"$status"
    kill -TERM "$shipd_pid"
    check "  shipd stops on SIGTERM with status 0" wait "$shipd_pid"
    ;;

  killed)
    capture_file eth0-20260105T100000.pcap 6000000 10 # 23 parts of 256 KiB
    capture_file eth0-20260105T110000.pcap 6000000 11 # in flight beside it
    start_proxy --part-delay 0.3
    write_config "$proxy_endpoint" "$S3_CREDENTIALS_FILE"
    "$shipd" "${shipd_args[@]}" >"$work/shipd.log" 2>&1 &
    shipd_pid=$!
    pids+=("$shipd_pid")
    parts_done() { grep -cE ' PUT [^ ]*partNumber=[0-9]+[^ ]* 200$' "$work/requests.txt" || true; }
    for ((i = 0; i < 200; i++)); do
      (($(parts_done) >= 4)) && break
      sleep 0.05
    done
    kill -KILL "$shipd_pid"
    wait "$shipd_pid" 2>/dev/null || true
    done_parts=$(parts_done)
    check "shipd was killed mid-upload ($done_parts of 2 x 23 parts stored)" \
      test "$done_parts" -ge 4 -a "$done_parts" -lt 46
    check "  the server lists both uploads as open" test "$(open_uploads)" = 2
    for name in eth0-20260105T100000.pcap eth0-20260105T110000.pcap; do
      check "  $name is not complete in the bucket yet" test \
        "$(s3 -o /dev/null "$S3_ENDPOINT/$S3_BUCKET/$prefix/$name")" = 404
    done
    # Credentials without s3:AbortMultipartUpload: the refusal is said and shipping goes on.
    start_proxy --deny-abort
    write_config "$proxy_endpoint" "$S3_CREDENTIALS_FILE"
    check "a restarted shipd that may not abort ships the files all the same" \
      "$shipd" "${shipd_args[@]}" --once >"$work/denied.log" 2>&1
    check "  says which upload it could not abort and why" \
      grep -q 'cannot abort the multipart upload of .*403 AccessDenied' "$work/denied.log"
    for name in eth0-20260105T100000.pcap eth0-20260105T110000.pcap; do
      check "  $name arrived byte-identical" same_object "$prefix/$name" "$work/out/$name"
      check "  shipped once" test "$(grep -c "$name: shipped" "$work/denied.log")" = 1
    done
    check "  the killed run's two uploads stay open on the server" test "$(open_uploads)" = 2
    write_config "$S3_ENDPOINT" "$S3_CREDENTIALS_FILE" # straight to the server: no delays
    check "the next start, allowed to, aborts them" \
      "$shipd" "${shipd_args[@]}" --once >"$work/restart.log" 2>&1
    check "  both uploads the killed run left" \
      grep -q 'aborted 2 multipart uploads a previous run left unfinished' "$work/restart.log"
    check "  and ships nothing again" test "$(grep -c ': shipped' "$work/restart.log")" = 0
    check "  no multipart upload left open" test "$(open_uploads)" = 0
    check "a third run ships nothing" "$shipd" "${shipd_args[@]}" --once >"$work/third.log" 2>&1
    check "  (nothing shipped, nothing aborted)" bash -c "! grep -qE 'shipped|aborted' '$work/third.log'"
    ;;

  *)
    echo "unknown case $case_name"
    exit 2
    ;;
esac
echo "all checks passed"
