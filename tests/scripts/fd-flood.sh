#!/usr/bin/env bash
# Test: every TCP server under a flood, started with `ulimit -n 64` (issue 23).
# For each server, in one run (tests/scripts/fd-flood.py is the client side):
#   - a flood of bad requests (BAD_REQUESTS connections, each with the
#     server's own kind of bad input): its log stays under a bound made from
#     the run's own figures — (whole seconds the server ran + 1) x (kinds of
#     line it logged) x (lines of a kind let through a second + its one
#     summary line) + 20 for the start and stop — and holds a summary line
#     saying how many were not logged (common/program/logging.hpp);
#   - 200 connections at once: the server lowered its connection limit to what
#     64 descriptors leave room for (44, common/io/serve.cpp reserved_fds),
#     held that many and refused every other one with its clear refusal (ERR
#     server busy / 503 / a TLS alert), logging at most one "refusing" line a
#     second; netlab-closewait-server --bug (no limit: its lesson) instead
#     meets EMFILE: its accept fails, logged once and then at most once a
#     second (the kind "emfile" below);
#   - it never spins: its CPU time (/proc/PID/stat utime + stime, in 10 ms
#     ticks) over HOLD (0.5) seconds while the connections are held, against
#     the same HOLD seconds on the same server just before the flood, with one
#     good connection served. An idle server spends 0 or 1 tick. The test
#     requires held + 1 <= MAX_CPU_RATIO (5) x (quiet + 1), the +1 being the
#     tick's resolution. A server whose accept loop retried at once instead of
#     after 100 ms (closewait --bug at EMFILE, tried once) spent 12 ticks in
#     0.3 s on this shared 2-core machine, ~20 in HOLD: 4 times the bound. The
#     ratio is printed for every server (a figure, not a timing threshold);
#   - once the connections go, a good request is served (retried every 0.1 s,
#     at most 50 times); closewait --bug keeps what it served, so there it is
#     only printed.
# Locally, a pyenv shim in PATH costs ~2 s a python3 start; /usr/bin/python3 does not.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BAD_REQUESTS=${FD_FLOOD_BAD_REQUESTS:-2000} CONNECTIONS=200 HOLD=0.5 MAX_CPU_RATIO=5
readonly PER_KIND=5  # log_lines_per_kind in common/program/logging.hpp
FLOOD=$(dirname "${BASH_SOURCE[0]}")/fd-flood.py
SERVER_PID=""
PORT=""
STARTED=0

cleanup_all() {
  [[ -z $SERVER_PID ]] || kill -TERM "$SERVER_PID" 2>/dev/null || true
  cleanup
}

# start KIND PROGRAM ARGS...: netlab-PROGRAM with 64 descriptors, its log in $TMP/KIND.log.
start() {
  local kind=$1 program=$2
  shift 2
  rm -f -- "$TMP/port"
  STARTED=$SECONDS
  (ulimit -n 64 && exec "$BIN/netlab-$program" --port 0 --port-file "$TMP/port" "$@") >/dev/null 2>"$TMP/$kind.log" &
  SERVER_PID=$!
  PORT=$(port_when_listening "netlab-$program" "$SERVER_PID" "$TMP/port" "$TMP/$kind.log")
}

stop() {
  stop_server "netlab-$1" "$SERVER_PID"
  SERVER_PID=""
}

# kinds LOG: how many kinds of line LOG holds (its text after "name: ", digits
# as one), summary lines left out.
kinds() {
  sed -E 's/^[^ ]+ +[^ ]+ +[^ ]+: //; s/[0-9]+/#/g' "$1" | grep -v 'not logged (at most' | sort -u | wc -l
}

# flood KIND PROGRAM ARGS...: the whole sequence above against one server.
flood() {
  local kind=$1 program=$2 bad log result before refused held quiet burst hold ratio after lines bytes bound seconds limit
  log=$TMP/$kind.log
  # At EMFILE the sanitizers' runtime fails too: UBSan's vptr check tests that
  # memory is readable through a pipe(2) of its own, gets EMFILE, and reports
  # "invalid vptr" (seen in fmt's buffer). That case runs in the default build.
  if [[ $kind == emfile ]] && grep -qa __ubsan_handle_dynamic_type_cache_miss "$BIN/netlab-$program"; then
    echo "skipped: $kind: at EMFILE the sanitizer runtime cannot open its own pipe (UBSan's vptr check); the default build runs it"
    return 0
  fi
  start "$@"

  # closewait --bug keeps every connection it served (its lesson): no bad-request flood there.
  bad=$BAD_REQUESTS
  [[ $kind != emfile ]] || bad=0
  seconds=$(python3 "$FLOOD" bad "$kind" "$PORT" "$bad")
  result=$(python3 "$FLOOD" flood "$kind" "$PORT" "$SERVER_PID" "$CONNECTIONS" "$HOLD")
  kill -0 "$SERVER_PID" 2>/dev/null || fail "$kind: netlab-$program died under the flood: $(tail -n 5 "$log")"
  stop "$program"

  read -r before refused held quiet burst hold after <<<"$result"
  [[ $before == True ]] || fail "$kind: a good request was not served before the flood: $result"
  if [[ $kind == emfile ]]; then
    grep -q 'accept: Too many open files (the process is at its limit of 64 descriptors' "$log" ||
      fail "$kind: no EMFILE line: $(tail -n 5 "$log")"
    (($(grep -c 'accept: Too many open files' "$log") <= SECONDS - STARTED + 1)) ||
      fail "$kind: EMFILE logged more than once a second: $(grep -c 'accept: Too many open files' "$log") lines in $((SECONDS - STARTED)) s"
    ((refused == 0)) || fail "$kind: without a limit, $refused connections were refused"
  else
    limit=$(sed -nE 's/.*at most ([0-9]+) connections at once, not .*/\1/p' "$log" | head -n 1)
    [[ -n $limit ]] || fail "$kind: no line says the connection limit was lowered for ulimit -n 64: $(head -n 5 "$log")"
    ((limit >= 32)) || fail "$kind: ulimit -n 64 leaves only $limit connections"
    ((held == limit && refused == CONNECTIONS - limit)) ||
      fail "$kind: limit $limit: $held held and $refused refused of $CONNECTIONS: $result"
    (($(grep -c 'refusing .* connections open, the maximum' "$log") <= SECONDS - STARTED + 1)) ||
      fail "$kind: more than one refusal line a second: $(grep -c 'refusing' "$log")"
  fi
  ratio=$(awk -v h="$hold" -v q="$quiet" 'BEGIN { printf "%.1f", (h + 1) / (q + 1) }')
  ((hold + 1 <= MAX_CPU_RATIO * (quiet + 1))) ||
    fail "$kind: $hold CPU ticks over ${HOLD} s holding $CONNECTIONS connections, against $quiet without them (ratio $ratio > $MAX_CPU_RATIO): it spins"
  # closewait --bug never closes what it served: its descriptors stay gone and
  # it cannot serve again (the lab's lesson); it still ran until stopped.
  [[ $kind == emfile ]] || ((after > 0)) ||
    fail "$kind: no good request served within 5 s once the connections had gone: $result"
  lines=$(wc -l <"$log")
  bytes=$(wc -c <"$log")
  bound=$(((SECONDS - STARTED + 1) * $(kinds "$log") * (PER_KIND + 1) + 20))
  ((lines <= bound)) ||
    fail "$kind: $lines log lines after $bad bad requests and the flood over $((SECONDS - STARTED)) s, above the bound $bound; the most frequent kinds: $(sed -E 's/^[^ ]+ //; s/[0-9]+/#/g' "$log" | sort | uniq -c | sort -rn | head -n 3)"
  if [[ $kind != handshake && $kind != emfile ]]; then
    grep -q 'not logged (at most' "$log" ||
      fail "$kind: $BAD_REQUESTS bad requests and no line says how many were not logged: $(tail -n 5 "$log")"
  fi

  printf 'ok: %-9s %s bad requests in %s s -> log %s lines, %s bytes (bound %s lines); %s connections: %s held, %s refused; CPU ticks: %s to take them, over %s s %s quiet and %s held (ratio %s); served again at attempt %s\n' \
    "$kind" "$bad" "$seconds" "$lines" "$bytes" "$bound" "$CONNECTIONS" "$held" "$refused" "$burst" "$HOLD" "$quiet" "$hold" \
    "$ratio" "$after"
}

# Each server: its kind (what fd-flood.py sends it), then its program and options.
readonly SERVERS=(
  "framing framing-server --codec length"
  "emfile closewait-server --bug"
  "timewait timewait-server"
  "closewait closewait-server --fixed"
  "teardown teardown-server"
  "handshake handshake-server --backlog 256"
  "transport transport-server --proto tcp"
  "http http-server"
  "rpc rpc-server"
  "https https-server --cert-dir @TMP@/pki"
)

# fd-flood.sh [KIND...]: every server, or only those named.
main() {
  local line
  local -a server
  TMP=$(mktemp -d)
  trap cleanup_all EXIT INT TERM
  export NETLAB_CA=$TMP/pki/ca.pem
  for line in "${SERVERS[@]}"; do
    read -r -a server <<<"${line//@TMP@/$TMP}"
    if (($# == 0)) || [[ " $* " == *" ${server[0]} "* ]]; then flood "${server[@]}"; fi
  done
  echo "PASS: at ulimit -n 64: log bounded, refusals or EMFILE said, no spinning, served again"
}

main "$@"
