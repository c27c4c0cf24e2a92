#!/usr/bin/env bash
# Test: the lab scripts leave nothing behind. It runs `scripts/lab framing`
# and `scripts/lab closewait` to the end and interrupts `scripts/lab timewait`
# (as root: inside its namespace step) and `scripts/lab framing` with SIGINT,
# as Ctrl-C in a terminal would (to the run's whole process group). After
# each run: no process of the run's process group and no process naming the
# run's folder (server, client, tcpdump, ss sampler) remains; no network
# namespace, veth or nftables table that appeared during the run is left; an
# interrupted run's summary.md says it was interrupted, a finished one's not.
# Then it kills the lab's server with SIGKILL mid-run (as root: the timewait
# server inside its namespace): the lab exits non-zero, says which program died
# and how, and its run folder's summary.md says so and lists what the run made.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${NETLAB_BIN_DIR:?NETLAB_BIN_DIR is not set}"
TMP=""
PGID=""
LAB_NAME=""

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  [[ -z $TMP || ! -f $TMP/out.txt ]] || { echo "--- the lab said:" >&2; tail -n 30 "$TMP/out.txt" >&2; }
  exit 1
}

cleanup() {
  # Only what this test started: its lab's process group, then its temp dir.
  [[ -z $PGID ]] || kill -KILL -- "-$PGID" 2>/dev/null || true
  [[ -z $TMP ]] || rm -rf -- "$TMP"
}

# Names of the kernel objects a lab may create, one per line, sorted.
namespaces() { { ip netns list 2>/dev/null || true; } | awk '$1 ~ /^netlab/ {print $1}' | sort; }
veths() { { ip -o link show type veth 2>/dev/null || true; } | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort; }
nft_tables() {
  command -v nft >/dev/null || return 0
  { nft list tables 2>/dev/null || true; } | awk '$3 ~ /^netlab/ {print $2 " " $3}' | sort
}

snapshot() {
  namespaces >"$TMP/$1.netns"
  veths >"$TMP/$1.veth"
  nft_tables >"$TMP/$1.nft"
}

# Lines of after-file not in before-file: what the run created and left.
appeared() { comm -13 "$TMP/before.$1" "$TMP/after.$1"; }

# Polls (bounded, 20 s) until `$@` prints nothing; prints what is left then.
settle() {
  local i left
  for ((i = 0; i < 200; i++)); do
    left=$("$@")
    [[ -n $left ]] || return 0
    sleep 0.1
  done
  printf '%s\n' "$left"
}

leftover_processes() {
  { pgrep -g "$PGID" -a 2>/dev/null || true; }
  { pgrep -f -a -- "$TMP/runs" 2>/dev/null || true; } | grep -v -e "^$$ " || true
}
leftover_objects() { snapshot after; appeared netns; appeared veth; appeared nft; }

# start_lab LAB ARGS...: in the background, in its own process group (set -m).
start_lab() {
  local lab=$1
  shift
  LAB_NAME=$lab
  rm -rf -- "$TMP/runs"
  snapshot before
  set -m
  NETLAB_RUNS_DIR=$TMP/runs "$ROOT/scripts/lab" "$lab" --port 0 "$@" >"$TMP/out.txt" 2>&1 &
  LAB_PID=$!
  set +m
  PGID=$LAB_PID
}

# finish_lab: waits (bounded by ctest's timeout) and returns its exit status.
finish_lab() {
  local status=0
  wait "$LAB_PID" || status=$?
  return "$status"
}

run_folder() {
  local runs=("$TMP"/runs/*-"$1")
  if ((${#runs[@]} != 1)) || [[ ! -d ${runs[0]} ]]; then
    fail "$1: expected one run folder, found: ${runs[*]}"
  fi
  printf '%s\n' "${runs[0]}"
}

check_nothing_left() {
  local what=$1 left
  left=$(settle leftover_processes)
  [[ -z $left ]] || fail "$what: processes left behind:"$'\n'"$left"
  left=$(settle leftover_objects)
  [[ -z $left ]] || fail "$what: kernel objects left behind (netns / veth / nft):"$'\n'"$left"
  PGID=""
  echo "ok: $what left no process, namespace, veth or nftables table"
}

# waits (bounded, 90 s) until `$@` succeeds, failing the test otherwise.
wait_for() {
  local what=$1 i
  shift
  for ((i = 0; i < 900; i++)); do
    "$@" && return 0
    kill -0 "$LAB_PID" 2>/dev/null || fail "the lab ended before $what"
    sleep 0.1
  done
  fail "no $what within 90 s"
}

server_started() { compgen -G "$TMP/runs/*/server.log" >/dev/null && [[ -n $(cat "$TMP"/runs/*/server.log 2>/dev/null) ]]; }
namespace_appeared() { [[ -n $(comm -13 "$TMP/before.netns" <(namespaces)) ]]; }

finished_run() {
  local lab=$1
  shift
  start_lab "$lab" "$@"
  finish_lab || fail "scripts/lab $lab exited $?"
  local run
  run=$(run_folder "$lab")
  [[ -s $run/summary.md ]] || fail "$lab: summary.md is missing"
  ! grep -qi 'interrupted' "$run/summary.md" || fail "$lab: a finished run's summary.md says interrupted"
  check_nothing_left "scripts/lab $lab (finished)"
}

interrupted_run() {
  local lab=$1 when=$2 status=0
  shift 2
  start_lab "$lab" "$@"
  wait_for "$when" "$when"
  kill -INT -- "-$PGID"
  finish_lab || status=$?
  ((status != 0)) || fail "$lab: exit 0 after SIGINT (the run cannot have finished this soon)"
  local run
  run=$(run_folder "$lab")
  [[ -f $run/summary.md ]] || fail "$lab: the interrupted run has no summary.md"
  grep -qi 'interrupted' "$run/summary.md" || fail "$lab: the interrupted run's summary.md does not say so"
  check_nothing_left "scripts/lab $lab (SIGINT at: $when, exit $status)"
}

# killed_run LAB WHEN ARGS...: SIGKILL to the lab's server once WHEN holds.
killed_run() {
  local lab=$1 when=$2 status=0 pid said
  shift 2
  start_lab "$lab" "$@"
  wait_for "$when" "$when"
  wait_for "a running netlab-$lab-server" server_running
  pid=$(server_pid)
  kill -KILL "$pid"
  finish_lab || status=$?
  ((status != 0)) || fail "$lab: exit 0 although its server (pid $pid) was killed"
  said="netlab-$lab-server (pid $pid) had ended before the lab stopped it: it was killed by SIGKILL"
  grep -qF "$said" "$TMP/out.txt" || fail "$lab: the lab did not say: $said"
  local run
  run=$(run_folder "$lab")
  grep -qF "$said" "$run/summary.md" || fail "$lab: summary.md does not say: $said"
  { grep -q '^## Files' "$run/summary.md" && grep -q 'server.log' "$run/summary.md"; } ||
    fail "$lab: summary.md does not list the run folder's files"
  echo "ok: $lab: $said (exit $status; summary.md says so)"
  check_nothing_left "scripts/lab $lab (server killed at: $when, exit $status)"
}

# The pid of the lab's server, in the lab's process group (the newest one).
server_pid() { pgrep -n -g "$PGID" -f "netlab-$LAB_NAME-server" 2>/dev/null; }
server_running() { server_pid >/dev/null; }

main() {
  trap cleanup EXIT
  TMP=$(mktemp -d)
  finished_run framing -- --messages 200
  finished_run closewait -- --connections 3
  # Long enough runs that SIGINT lands in the middle of them.
  interrupted_run framing server_started -- --messages 20000
  if [[ $(id -u) == 0 ]] && command -v ip >/dev/null; then
    interrupted_run timewait namespace_appeared --decay 0 -- --requests 300
  else
    echo "skipped: the timewait namespace step needs root and ip; interrupting its host steps instead"
    interrupted_run timewait server_started --decay 0 -- --requests 300
  fi
  if [[ $(id -u) == 0 ]] && command -v ip >/dev/null; then
    killed_run timewait namespace_appeared --decay 0 -- --requests 300
  else
    killed_run framing server_started -- --messages 20000
  fi
}

main "$@"
