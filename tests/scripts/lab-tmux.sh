#!/usr/bin/env bash
# Test: `scripts/lab framing --tmux --port 0` with no terminal, watched with
# tmux itself (its own server, TMUX_TMPDIR in the test's folder): the session
# has the lab's pane, the ss pane, the server.log pane and, as root, the
# tcpdump pane; the ss pane finds the port the server bound in its port file
# and shows a socket of it while the lab runs; the lab finishes in its pane
# and writes its run folder; as root the tcpdump pane captured on lo and,
# while the nagle-wire step ran between namespaces, inside the server's
# namespace (its "== tcpdump in PLACE" lines). Then the same lab on a given port is left mid-run
# (SIGTERM to scripts/lab, as Ctrl-C would): its pane gets Ctrl-C, the run
# folder says "interrupted". Then `scripts/lab tour --tmux --only framing
# --quick` as nobody (as root; else as this user): the tour's panes, its run
# and report card, and — the lab being in a user namespace of its own there —
# the ss pane looking inside it ("in: lab user ns") and showing port 7006.
# After each: no session, no tmux server, no pane process, no tcpdump on the
# port, nothing listening on it.
# (The framing lab makes no network namespace; scripts.leave-nothing-behind
# checks the labs that do. Other tests on the machine may add and remove
# namespaces meanwhile, so a before/after list would not be this test's.)
set -euo pipefail

# shellcheck source=lib.sh disable=SC2034  # LAB_NAME is lib.sh's
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SESSION=netlab-test-$$
PORT=""
LAB_PID=""
# The user the lab and tmux run as: empty (this one), or setpriv ... for nobody.
AS=()

cleanup_tmux() {
  [[ -z $LAB_PID ]] || { kill "$LAB_PID" 2>/dev/null || true; wait "$LAB_PID" 2>/dev/null || true; }
  [[ -z $TMP ]] || tmux_as kill-session -t "=$SESSION" 2>/dev/null || true
  cleanup
}

# tmux_as ARGS...: tmux as the user the lab runs as (its own tmux server).
tmux_as() { "${AS[@]}" env TMUX_TMPDIR="$TMUX_TMPDIR" tmux "$@"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_lab ARGS...: scripts/lab ARGS --tmux in the background, as LAB_PID.
start_lab() {
  "${AS[@]}" env TMPDIR="$TMP" TMUX_TMPDIR="$TMUX_TMPDIR" HOME="$TMP" NETLAB_BIN_DIR="$BIN" \
    NETLAB_RUNS_DIR="$TMP/runs" NETLAB_TMUX_SESSION="$SESSION" "$ROOT/scripts/lab" "$1" --tmux "${@:2}" >"$TMP/out.txt" 2>&1 &
  LAB_PID=$!
  LAB_NAME="$* --tmux"  # for fail (lib.sh)
}

# watch_panes [STOP]: while the lab runs (at most 120 s), every 0.2 s: the
# session's panes (titles) and the ss pane's screen, appended to files. With
# STOP, scripts/lab gets SIGTERM once the ss pane shows the port.
watch_panes() {
  local stop=${1-} i pane
  : >"$TMP/panes.txt"
  : >"$TMP/ss-screens.txt"
  : >"$TMP/tcpdump-places.txt"
  for ((i = 0; i < 600; i++)); do
    kill -0 "$LAB_PID" 2>/dev/null || break
    if tmux_as list-panes -s -t "=$SESSION" -F '#{pane_id} #{pane_title}' >"$TMP/panes.now" 2>/dev/null; then
      (($(wc -l <"$TMP/panes.now") < $(wc -l <"$TMP/panes.txt"))) || cp "$TMP/panes.now" "$TMP/panes.txt"
      pane=$(awk '$2 == "ss" { print $1 }' "$TMP/panes.now")
      [[ -z $pane ]] || tmux_as capture-pane -p -t "$pane" >>"$TMP/ss-screens.txt" 2>/dev/null || true
      pane=$(awk '$2 == "tcpdump" { print $1 }' "$TMP/panes.now")
      [[ -z $pane ]] || tmux_as capture-pane -p -S -200 -t "$pane" 2>/dev/null | grep '^== tcpdump in ' >>"$TMP/tcpdump-places.txt" || true
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

# check_panes WHAT SS_TITLE TCPDUMP_TITLE: the panes' titles (tcpdump's only
# where it runs: root, when not AS someone else), the ss pane's counts and a
# socket of PORT on it.
check_panes() {
  local title
  for title in "scripts/lab $1" "$2" "server.log"; do
    grep -qF " $title" "$TMP/panes.txt" || fail "no pane titled '$title' in: $(cat "$TMP/panes.txt")"
  done
  if ((EUID == 0 && ${#AS[@]} == 0)) && command -v tcpdump >/dev/null; then
    grep -qF " $3" "$TMP/panes.txt" || fail "no tcpdump pane '$3' as root: $(cat "$TMP/panes.txt")"
  fi
  grep -q "ESTAB [0-9]*   TIME-WAIT [0-9]*   CLOSE-WAIT [0-9]*" "$TMP/ss-screens.txt" ||
    fail "the ss pane shows no counts: $(tail -n 5 "$TMP/ss-screens.txt")"
  grep -Eq "^[A-Z-]+ +[0-9]+ +[0-9]+ +127\.0\.0\.1:$PORT " "$TMP/ss-screens.txt" ||
    fail "the ss pane never showed a socket of port $PORT: $(tail -n 5 "$TMP/ss-screens.txt")"
  echo "ok: panes $(cut -d' ' -f2- "$TMP/panes.txt" | paste -sd'|'), the ss pane showed port $PORT"
}

# check_tcpdump_places RUN: as root, the tcpdump pane captured on the host's
# loopback for the port, and — when a step of RUN ran across the wire between
# namespaces (a "path client" line in its env.txt) — inside the server's one.
check_tcpdump_places() {
  ((EUID == 0 && ${#AS[@]} == 0)) && command -v tcpdump >/dev/null || return 0
  grep -Eq "^== tcpdump in host \(-i lo\): (.* )?port $PORT( |$)" "$TMP/tcpdump-places.txt" ||
    fail "the tcpdump pane never captured on lo for port $PORT: $(cat "$TMP/tcpdump-places.txt")"
  local server
  server=$(awk '/^path client / { for (i = 1; i < NF; i++) if ($i == "server") print $(i + 1) }' "$1/env.txt" | head -n 1)
  if [[ -n $server ]]; then
    grep -q "^== tcpdump in $server (-i any): port " "$TMP/tcpdump-places.txt" ||
      fail "a step ran in $server but the tcpdump pane did not follow it there: $(cat "$TMP/tcpdump-places.txt")"
    echo "ok: the tcpdump pane captured on lo, then inside $server while the wire step ran"
  else
    echo "ok: the tcpdump pane captured on lo (no step of this run crossed the wire)"
  fi
}

# check_nothing_left: the session, its tmux server and what ran in it are gone.
check_nothing_left() {
  local left
  ! tmux_as has-session -t "=$SESSION" 2>/dev/null || fail "the session $SESSION is still open"
  ! tmux_as list-sessions >/dev/null 2>&1 || fail "the test's tmux server still has sessions: $(tmux_as list-sessions)"
  left=$(pgrep -af -- "$TMP|tcpdump -l -nn -i (lo|any) port $PORT|tmux_ss_view|tmux_tcpdump_view" || true)
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

  # --port 0: the panes read the port from the server's port file.
  PORT=0
  start_lab framing --port 0 -- --messages 500
  watch_panes || fail "scripts/lab framing --tmux --port 0 exited with an error"
  runs=("$TMP"/runs/*-framing)
  [[ -s ${runs[0]}/client.json && -s ${runs[0]}/index.html ]] || fail "the lab in the pane wrote no client.json and index.html"
  grep -q '^# interrupted' "${runs[0]}/summary.md" && fail "the finished run says interrupted"
  # The first step's port file (the framing lab writes one per step: port.raw, port.nagle-wire, ...).
  local port_files=("${runs[0]}"/port*)
  PORT=$(head -n 1 -- "${port_files[0]}")
  echo "ok: the lab ran in its pane: ${runs[0]##*/}, on port $PORT (from its port file)"
  check_panes framing "ss (the port from the port file)" "tcpdump -l -nn (the lab's ports, where its server is)"
  check_tcpdump_places "${runs[0]}"
  check_nothing_left

  # Left mid-run: many messages, so the lab is still running when stopped.
  rm -rf -- "$TMP/runs"
  PORT=$(free_port)
  start_lab framing --port "$PORT" -- --messages 100000
  local status=0
  watch_panes stop || status=$?
  ((status != 0)) || fail "scripts/lab --tmux stopped mid-run exited 0"
  runs=("$TMP"/runs/*-framing)
  grep -q '^# interrupted' "${runs[0]}/summary.md" || fail "the stopped run's summary.md does not say interrupted"
  echo "ok: stopped mid-run (status $status): the lab's summary says interrupted"
  check_nothing_left

  tour_tmux
}

# tour_tmux: scripts/lab tour --tmux --only framing --quick, as nobody when
# root (setpriv, as scripts.tour does), else as this user.
tour_tmux() {
  rm -rf -- "$TMP/runs"
  local who="this user" userns=0
  if ((EUID == 0)) && command -v setpriv >/dev/null &&
    setpriv --reuid=65534 --regid=65534 --clear-groups test -r "$BIN/netlab-report" -a -x "$ROOT/scripts/lab"; then
    AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    who=nobody
    chmod 777 "$TMP" "$TMUX_TMPDIR"
  fi
  # Not root, tcpdump there: the lab re-runs itself in a user namespace where it can.
  if ((EUID != 0 || ${#AS[@]} > 0)) && command -v tcpdump >/dev/null &&
    "${AS[@]}" unshare --map-current-user --net --mount --keep-caps true 2>/dev/null; then
    userns=1
  fi
  PORT=7006 # the framing lab's own port: the tour gives none
  start_lab tour --only framing --quick
  watch_panes || fail "scripts/lab tour --only framing --quick --tmux as $who exited with an error"
  grep -q 'Report card of the note' "$TMP/out.txt" 2>/dev/null ||
    [[ -n $(find "$TMP/runs" -name report-card.md -path '*-tour/*' -size +0) ]] || fail "the tour wrote no report card"
  runs=("$TMP"/runs/*-framing)
  [[ -s ${runs[0]}/client.json ]] || fail "the tour's framing run wrote no client.json"
  check_panes tour "ss 7006" "tcpdump -l -nn (the lab's ports, where its server is)"
  if ((userns)); then
    grep -q -- "— in: lab user ns (pid [0-9]*)" "$TMP/ss-screens.txt" ||
      fail "as $who the lab is in a user namespace, but the ss pane did not look inside it: $(grep -m3 -- '— in:' "$TMP/ss-screens.txt")"
    echo "ok: as $who the ss pane looked inside the lab's user namespace"
  fi
  echo "ok: scripts/lab tour --only framing --quick --tmux as $who"
  check_nothing_left
  AS=()
}

main "$@"
