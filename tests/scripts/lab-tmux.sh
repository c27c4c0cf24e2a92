#!/usr/bin/env bash
# Test: `scripts/lab framing --tmux` with no terminal, watched with tmux
# itself (its own server, TMUX_TMPDIR in the test's folder): the session has
# the lab's pane, the ss pane, the server.log pane and, as root, the tcpdump
# pane; the ss pane shows a socket of the lab's port while the lab runs; the
# lab finishes in its pane and writes its run folder. Then the same lab is
# left mid-run (SIGTERM to scripts/lab, as Ctrl-C would): its pane gets
# Ctrl-C, the run folder says "interrupted". After each: no session, no tmux
# server, no pane process, no tcpdump on the port, nothing listening on it.
# (The framing lab makes no network namespace; scripts.leave-nothing-behind
# checks the labs that do. Other tests on the machine may add and remove
# namespaces meanwhile, so a before/after list would not be this test's.)
set -euo pipefail

# shellcheck source=lib.sh disable=SC2034  # LAB_NAME is lib.sh's
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SESSION=netlab-test-$$
PORT=""
LAB_PID=""

cleanup_tmux() {
  [[ -z $LAB_PID ]] || { kill "$LAB_PID" 2>/dev/null || true; wait "$LAB_PID" 2>/dev/null || true; }
  [[ -z $TMP ]] || tmux kill-session -t "=$SESSION" 2>/dev/null || true
  cleanup
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_lab ARGS...: scripts/lab framing --tmux ARGS in the background, as LAB_PID.
start_lab() {
  TMPDIR=$TMP NETLAB_RUNS_DIR=$TMP/runs NETLAB_TMUX_SESSION=$SESSION \
    "$ROOT/scripts/lab" framing --tmux --port "$PORT" "$@" >"$TMP/out.txt" 2>&1 &
  LAB_PID=$!
  LAB_NAME="framing --tmux"  # for fail (lib.sh)
}

# watch_panes [STOP]: while the lab runs (at most 120 s), every 0.2 s: the
# session's panes (titles) and the ss pane's screen, appended to files. With
# STOP, scripts/lab gets SIGTERM once the ss pane shows the port.
watch_panes() {
  local stop=${1-} i pane
  : >"$TMP/panes.txt"
  : >"$TMP/ss-screens.txt"
  for ((i = 0; i < 600; i++)); do
    kill -0 "$LAB_PID" 2>/dev/null || break
    if tmux list-panes -s -t "=$SESSION" -F '#{pane_id} #{pane_title}' >"$TMP/panes.now" 2>/dev/null; then
      (($(wc -l <"$TMP/panes.now") < $(wc -l <"$TMP/panes.txt"))) || cp "$TMP/panes.now" "$TMP/panes.txt"
      pane=$(awk '$2 == "ss" { print $1 }' "$TMP/panes.now")
      [[ -z $pane ]] || tmux capture-pane -p -t "$pane" >>"$TMP/ss-screens.txt" 2>/dev/null || true
      if [[ -n $stop ]] && grep -q "127.0.0.1:$PORT" "$TMP/ss-screens.txt"; then
        kill -TERM "$LAB_PID"
        stop=""
      fi
    fi
    sleep 0.2
  done
  local status=0
  wait "$LAB_PID" || status=$?
  LAB_PID=""
  return "$status"
}

check_panes() {
  local title
  for title in "scripts/lab framing" "ss $PORT" "server.log"; do
    grep -q " $title\$" "$TMP/panes.txt" || fail "no pane titled '$title' in: $(cat "$TMP/panes.txt")"
  done
  if ((EUID == 0)) && command -v tcpdump >/dev/null; then
    grep -q " tcpdump -l -nn -i lo port $PORT\$" "$TMP/panes.txt" || fail "no tcpdump pane as root: $(cat "$TMP/panes.txt")"
  fi
  grep -q "ESTAB [0-9]*   TIME-WAIT [0-9]*   CLOSE-WAIT [0-9]*" "$TMP/ss-screens.txt" ||
    fail "the ss pane shows no counts: $(tail -n 5 "$TMP/ss-screens.txt")"
  grep -Eq "^[A-Z-]+ +[0-9]+ +[0-9]+ +127\.0\.0\.1:$PORT " "$TMP/ss-screens.txt" ||
    fail "the ss pane never showed a socket of port $PORT: $(tail -n 5 "$TMP/ss-screens.txt")"
  echo "ok: panes $(cut -d' ' -f2- "$TMP/panes.txt" | paste -sd'|'), the ss pane showed port $PORT"
}

# check_nothing_left: the session, its tmux server and what ran in it are gone.
check_nothing_left() {
  local left
  ! tmux has-session -t "=$SESSION" 2>/dev/null || fail "the session $SESSION is still open"
  ! tmux list-sessions >/dev/null 2>&1 || fail "the test's tmux server still has sessions: $(tmux list-sessions)"
  left=$(pgrep -af -- "$TMP|tcpdump -l -nn -i lo port $PORT|tmux_ss_view" || true)
  [[ -z $left ]] || fail "left running: $left"
  [[ -z $(ss -Htln "sport = :$PORT") ]] || fail "something still listens on port $PORT"
  echo "ok: nothing left (no session, pane process, tcpdump, listener)"
}

main() {
  command -v tmux >/dev/null || { echo "skip: tmux is not installed (scripts/setup.sh installs it)"; exit 77; }
  command -v python3 >/dev/null || { echo "skip: python3 is not installed"; exit 77; }
  TMP=$(mktemp -d)
  trap cleanup_tmux EXIT INT TERM
  export TMUX_TMPDIR=$TMP/tmux
  mkdir -p "$TMUX_TMPDIR"
  unset TMUX
  local runs

  PORT=$(free_port)
  start_lab -- --messages 500
  watch_panes || fail "scripts/lab framing --tmux exited with an error"
  runs=("$TMP"/runs/*-framing)
  [[ -s ${runs[0]}/client.json && -s ${runs[0]}/index.html ]] || fail "the lab in the pane wrote no client.json and index.html"
  grep -q '^# interrupted' "${runs[0]}/summary.md" && fail "the finished run says interrupted"
  echo "ok: the lab ran in its pane: ${runs[0]##*/}"
  check_panes
  check_nothing_left

  # Left mid-run: many messages, so the lab is still running when stopped.
  rm -rf -- "$TMP/runs"
  PORT=$(free_port)
  start_lab -- --messages 100000
  local status=0
  watch_panes stop || status=$?
  ((status != 0)) || fail "scripts/lab --tmux stopped mid-run exited 0"
  runs=("$TMP"/runs/*-framing)
  grep -q '^# interrupted' "${runs[0]}/summary.md" || fail "the stopped run's summary.md does not say interrupted"
  echo "ok: stopped mid-run (status $status): the lab's summary says interrupted"
  check_nothing_left
}

main "$@"
