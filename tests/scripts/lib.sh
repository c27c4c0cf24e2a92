# shellcheck shell=bash
# What every lab script test shares: where the programs are, a temporary folder
# for the run, `run_lab` to run `scripts/lab <lab>` into it, and `fail`, which
# shows the end of what the lab said. Sourced; the test sets its own trap
# (`trap cleanup EXIT INT TERM` after `TMP=$(mktemp -d)`).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN="${NETLAB_BIN_DIR:?NETLAB_BIN_DIR is not set}"
TMP=""
RUN=""
LAB_NAME=""

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  if [[ -f $TMP/out.txt ]]; then
    echo "--- scripts/lab $LAB_NAME said (last 60 lines):" >&2
    tail -n 60 "$TMP/out.txt" >&2
  fi
  exit 1
}

cleanup() {
  [[ -z $TMP ]] || rm -rf -- "$TMP"
}

# run_lab LAB [OPTIONS...]: scripts/lab LAB into $TMP/runs; sets RUN to its one run folder.
run_lab() {
  LAB_NAME=$1
  local status=0 runs
  NETLAB_RUNS_DIR=$TMP/runs "$ROOT/scripts/lab" "$@" >"$TMP/out.txt" 2>&1 || status=$?
  ((status == 0)) || fail "scripts/lab $* exited $status"
  runs=("$TMP"/runs/*-"$LAB_NAME")
  if ((${#runs[@]} != 1)) || [[ ! -d ${runs[0]} ]]; then
    fail "expected one run folder, found: ${runs[*]}"
  fi
  RUN=${runs[0]}
  echo "ok: scripts/lab $* -> ${RUN##*/}"
}

# verdict ID [FILE]: the verdict of the check with this id in FILE (default the run's client.json).
verdict() {
  local found
  found=$("$BIN/netlab-report" checks "${2:-$RUN/client.json}" | awk -F'\t' -v id="$1" '$2 == id { print $3; exit }')
  [[ -n $found ]] || fail "${2:-client.json} has no check $1"
  echo "$found"
}
