# Shared by the tests that boot a real systemd (tests/support/systemd-harness: systemd-nspawn over
# an overlay of the host's /) and send frames into it from a namespace of their own. Source it,
# then call sandbox_begin NAME after the skip checks: it names the sandbox and the sender
# namespace, makes $work, and removes all three on exit, also on failure. The caller sets $sandbox
# (the tool, which SD_SANDBOX_TOOL may replace) first.

skip() { echo "SKIP: $*"; exit 77; }
S() { "$sandbox" "$@"; }
in_sandbox() { "$sandbox" exec "$@"; }

sandbox_cleanup() {
  S down >/dev/null 2>&1 || true
  ip netns delete "$sender" 2>/dev/null || true
  rm -rf "$work"
}

# usage: sandbox_begin NAME; sets SD_SANDBOX_NAME=NAME$$, sender=NAMEsend$$ and work.
sandbox_begin() {
  command -v systemd-nspawn >/dev/null ||
    skip "needs systemd-nspawn to boot systemd: install the Debian package systemd-container (scripts/install-deps)"
  export SD_SANDBOX_NAME=$1$$
  sender=$1send$$
  work=$(mktemp -d)
  trap sandbox_cleanup EXIT
}

fail() {
  echo "FAIL: $*"
  in_sandbox journalctl --no-pager -u pcap-recorder -n 60 2>/dev/null || true
  exit 1
}
check() { local what=$1; shift; "$@" || fail "$what"; echo "ok: $what"; }
