#!/usr/bin/env bash
# Test: netlab-report merges results into steps with every check tagged by its
# step, renders the Markdown summary and the terminal table, reads values by
# JSON pointer, and fails with exit 1 and one line on a missing or bad file.
set -euo pipefail

REPORT="${NETLAB_BIN_DIR:?NETLAB_BIN_DIR is not set}/netlab-report"
TMP=""

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

cleanup() {
  [[ -z $TMP ]] || rm -rf -- "$TMP"
}

write_inputs() {
  cat >"$TMP/raw.json" <<'JSON'
{"lab":"framing","role":"client","params":{"codec":"raw"},"observed":{"writes":10,"reads":3,"read_sizes":[5,3,2]},
 "checks":[{"id":"write-is-not-read","note":"one write is not one read","expected":"merges or splits","observed":"10 writes, 3 reads","verdict":"confirmed","evidence":"server read log"}]}
JSON
  cat >"$TMP/plain.json" <<'JSON'
{"lab":"framing","role":"client","params":{},"observed":{"mismatches":0,"rate":12.5},
 "checks":[{"id":"a|b","note":"pipe | in a cell","expected":"x","observed":"y","verdict":"nuanced","evidence":"z"},
           {"id":"second","note":"second claim","expected":"x","observed":"y","verdict":"refuted","evidence":"z"}]}
JSON
  printf '{"lab":"framing",' >"$TMP/broken.json"
  printf '{"lab":"framing","observed":{}}\n' >"$TMP/nochecks.json"
}

# expect VALUE POINTER: the merged result holds VALUE at POINTER.
expect() {
  local got
  got=$("$REPORT" get "$TMP/merged.json" "$2") || fail "get $2 failed"
  [[ $got == "$1" ]] || fail "$2 is '$got', not '$1'"
}

check_merge() {
  "$REPORT" merge --lab framing "$TMP/raw.json" "$TMP/plain.json" >"$TMP/merged.json"
  expect framing /lab
  expect client /role
  expect raw /observed/steps/0/params/codec
  expect 0 /observed/steps/1/observed/mismatches
  expect write-is-not-read /checks/0/id
  expect raw /checks/0/step
  expect plain.json /checks/1/step
  expect second /checks/2/id
  # A lab script's client-STEP.json is named by its STEP, whatever its params say.
  cp "$TMP/raw.json" "$TMP/client-short-client.json"
  "$REPORT" merge --lab timewait "$TMP/client-short-client.json" >"$TMP/steps.json"
  [[ $("$REPORT" get "$TMP/steps.json" /checks/0/step) == short-client ]] || fail "client-STEP.json not named by its step"
  if "$REPORT" get "$TMP/merged.json" /checks/3 >/dev/null 2>&1; then fail "more than 3 checks merged"; fi
  echo "ok: merge"
}

check_summary() {
  local out
  out=$("$REPORT" summary --lab framing "$TMP/merged.json")
  grep -Fxq '| check | verdict | observed | evidence |' <<<"$out" || fail "no table header in summary"
  grep -Fq '**confirmed**' <<<"$out" || fail "no confirmed verdict in summary"
  # A check of the table of claims is named in the table's words, with its source,
  # and anchored for the report card's link; one the table lacks keeps its own words.
  grep -Fq '| <a id="write-is-not-read"></a>(note) TCP is a byte stream: one write is not one read' <<<"$out" ||
    fail "summary: write-is-not-read not in the table's words, or without its anchor"
  grep -Fq 'pipe \| in a cell' <<<"$out" || fail "a '|' inside a cell is not escaped"
  grep -Eq '^- \*\*raw\*\*: .*reads=3' <<<"$out" || fail "no observed numbers for the raw step"
  echo "ok: summary"
}

check_table() {
  local out
  out=$("$REPORT" table "$TMP/merged.json")
  printf '%s\n' "$out"
  (($(wc -l <<<"$out") == 4)) || fail "table is not a header and 3 rows"
  # Aligned: the verdict column starts at the same offset on every line.
  local column
  column=$(awk '{ print index($0, $3) }' <<<"$out" | sort -u | wc -l)
  ((column == 1)) || fail "table columns are not aligned"
  echo "ok: table"
}

# expect_failure ARGS...: exit 1 and one line on stderr.
expect_failure() {
  local status=0
  "$REPORT" "$@" >/dev/null 2>"$TMP/err" || status=$?
  ((status == 1)) || fail "netlab-report $* exited $status, not 1"
  (($(wc -l <"$TMP/err") == 1)) || fail "netlab-report $* did not write one line on stderr"
  echo "ok: netlab-report $* -> exit 1: $(cat "$TMP/err")"
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  write_inputs
  check_merge
  check_summary
  check_table
  expect_failure table "$TMP/missing.json"
  expect_failure summary --lab framing "$TMP/broken.json"
  expect_failure merge --lab framing "$TMP/raw.json" "$TMP/nochecks.json"
  local status=0
  "$REPORT" table --no-such-option >/dev/null 2>&1 || status=$?
  ((status == 2)) || fail "a wrong option exited $status, not 2"
  echo "ok: a wrong option -> exit 2"
}

main "$@"
