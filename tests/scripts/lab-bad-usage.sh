#!/usr/bin/env bash
# Test: scripts/lab answers bad usage with exit 2 and a one-line error on
# stderr (an unknown lab, an unknown option, no arguments), before running anything.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=""

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

cleanup() {
  [[ -z $TMP ]] || rm -rf -- "$TMP"
}

# expect_usage_error ARGS...: exit 2, nothing on stdout, one line on stderr.
expect_usage_error() {
  local status=0 lines
  "$ROOT/scripts/lab" "$@" >"$TMP/out" 2>"$TMP/err" || status=$?
  ((status == 2)) || fail "scripts/lab $* exited $status, not 2"
  [[ ! -s $TMP/out ]] || fail "scripts/lab $* printed on stdout: $(cat "$TMP/out")"
  lines=$(wc -l <"$TMP/err")
  ((lines == 1)) || fail "scripts/lab $* wrote $lines lines on stderr, not 1"
  echo "ok: scripts/lab $* -> exit 2: $(cat "$TMP/err")"
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  export NETLAB_RUNS_DIR=$TMP/runs
  expect_usage_error nosuchlab
  expect_usage_error ../framing
  expect_usage_error --no-such-option
  expect_usage_error framing --no-such-option
  expect_usage_error framing --port 70000
  expect_usage_error framing -- --json elsewhere.json
  [[ ! -e $TMP/runs ]] || fail "a bad usage created a run folder"
  local status=0
  "$ROOT/scripts/lab" >/dev/null 2>&1 || status=$?
  ((status == 2)) || fail "scripts/lab with no arguments exited $status, not 2"
  echo "ok: scripts/lab with no arguments -> exit 2"
}

main "$@"
