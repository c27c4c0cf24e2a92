#!/usr/bin/env bash
# Test: slowhttptest (Debian's, a tool nobody here wrote) against the HTTP
# servers, with a short idle timeout (2 s): slow headers (slowloris, -H), a slow
# body (R-U-Dead-Yet, -B), a range attack (-R) and a slow read (-X, a tiny
# receive window) against netlab-http-server; -H and -B against the rpc
# server's HTTP side; -H against netlab-https-server. For each attack:
#   - the server closed every slow connection itself: its own count of idle
#     (or request) timeouts covers the attack's connections (the range
#     attack's header, over the 8 KiB limit, is answered 431), and slowhttptest
#     ends with "No open connections left" long before its test length — for
#     the slow read, the server's descriptors are back to what they were while
#     the reader still reads (the kernel finishes the orphaned sockets);
#   - slowhttptest's own probe found the service available every second;
#   - a well-behaved client run during the attack gets every answer (exit 0,
#     its failures counted: 0).
# How much slower the good client is under attack is a ratio for
# scripts/bench.sh, not a threshold here.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly CONNECTIONS=40 TIMEOUT=2 LENGTH=20
SERVER_PID=""
PORT=""

cleanup_all() {
  [[ -z $SERVER_PID ]] || kill -TERM "$SERVER_PID" 2>/dev/null || true
  cleanup
}

# start SERVER ARGS...: netlab-SERVER on a free port, its result in $TMP/SERVER.json.
start() {
  local name=$1
  shift
  rm -f -- "$TMP/port"
  "$BIN/netlab-$name" --port 0 --port-file "$TMP/port" --json "$TMP/$name.json" --log-level warn "$@" \
    >"$TMP/$name.log" 2>&1 &
  SERVER_PID=$!
  PORT=$(port_when_listening "netlab-$name" "$SERVER_PID" "$TMP/port" "$TMP/$name.log")
}

# stop NAME: SIGTERM, then the server's result.
stop() {
  stop_server "netlab-$1" "$SERVER_PID"
  SERVER_PID=""
}

descriptors() { find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# attack NAME MODE URL GOOD_CLIENT...: slowhttptest MODE at URL; while it runs,
# the good client (a command line) must succeed.
attack() {
  local name=$1 mode=$2 url=$3 out status=0 ended csv baseline i
  shift 3
  out=$TMP/attack-$name$mode
  local -a options=(-c "$CONNECTIONS" -r "$CONNECTIONS" -l "$LENGTH" -p "$TIMEOUT" -i 1 -x 10)
  case $mode in
    -X) options=(-c "$CONNECTIONS" -r "$CONNECTIONS" -l 8 -p "$TIMEOUT" -k 10 -n 1 -w 1 -y 16 -z 4) ;;
    -B) options+=(-s 8192) ;;
  esac
  baseline=$(descriptors)
  slowhttptest "$mode" "${options[@]}" -g -o "$out" -u "$url" >"$out.txt" 2>&1 &
  local attacker=$!
  # The good client, once the attack holds its connections (at most 5 s). A
  # range attack is answered 431 at once, so it never holds them; every other
  # attack must, or the good client would run beside no attack at all.
  for ((i = 0; i < 50; i++)); do
    (($(descriptors) >= baseline + CONNECTIONS / 2)) && break
    sleep 0.1
  done
  ((i < 50)) || [[ $mode == -R ]] ||
    fail "$name $mode: the attack never held $((CONNECTIONS / 2)) connections on the server (descriptors $(descriptors), $baseline before)"
  "$@" >"$out.good.txt" 2>&1 || status=$?
  wait "$attacker" || fail "$name $mode: slowhttptest exited $? ($(tail -n 2 "$out.txt"))"
  ((status == 0)) || fail "$name $mode: the good client failed during the attack (exit $status): $(tail -n 2 "$out.good.txt")"
  ended=$(sed 's/\x1b\[[0-9;]*m//g' "$out.txt" | sed -n 's/^Exit status: *//p' | tail -n 1)
  csv=$out.csv
  [[ -s $csv ]] || fail "$name $mode: slowhttptest wrote no statistics"
  # Seconds,Closed,Pending,Connected,Service Available (0 = the probe got no answer in time)
  ! awk -F, 'NR > 1 && $5 == 0 { found = 1 } END { exit !found }' "$csv" ||
    fail "$name $mode: slowhttptest's probe found the service unavailable in some second: $(tr '\n' ' ' <"$csv")"
  if [[ $mode == -X ]]; then
    # The slow reader keeps reading what the kernel still holds for it; the
    # server has let go of the connections: its descriptors are back.
    for ((i = 0; i < 100; i++)); do
      (($(descriptors) <= baseline)) && break
      sleep 0.1
    done
    (($(descriptors) <= baseline)) ||
      fail "$name $mode: the server holds $(descriptors) descriptors, $baseline before the attack"
    echo "ok: $name $mode: the server let go of every slow reader (descriptors back to $baseline; slowhttptest: $ended); the good client got every answer"
    return 0
  fi
  [[ $ended == "No open connections left" ]] ||
    fail "$name $mode: slowhttptest ended with '$ended': the server did not close every slow connection within ${LENGTH} s"
  echo "ok: $name $mode: every slow connection closed by the server (slowhttptest: $ended, in $(tail -n 1 "$csv" | cut -d, -f1) s of $LENGTH); service available every second; the good client got every answer"
}

# expect_timeouts NAME KEY MIN: the server's own count of connections it cut for slowness.
expect_timeouts() {
  local count
  count=$("$BIN/netlab-report" get "$TMP/$1.json" "/observed/$2")
  ((count >= $3)) || fail "netlab-$1 counted $count $2, expected at least $3 (one per slow connection)"
  echo "ok: netlab-$1 counted $count $2 (at least $3, one per slow connection)"
}

http() {
  start http-server --idle-timeout "$TIMEOUT"
  local url="http://127.0.0.1:$PORT/" good=("$BIN/netlab-http-client" --port "$PORT" --keepalive --requests 50)
  attack http-server -H "$url" "${good[@]}"
  attack http-server -B "$url" "${good[@]}"
  attack http-server -R "$url" "${good[@]}"
  attack http-server -X "$url" "${good[@]}"
  stop http-server
  # -H, -B and -X: cut by the idle timeout; -R: a Range header over the 8 KiB header limit, answered 431.
  expect_timeouts http-server idle_timeouts $((3 * CONNECTIONS))
  expect_timeouts http-server responses/431 "$CONNECTIONS"
}

rpc() {
  start rpc-server --idle-timeout "$TIMEOUT"
  local url="http://127.0.0.1:$PORT/rpc/put" good=("$BIN/netlab-rpc-client" --port "$PORT" --calls 50 --keys 4)
  attack rpc-server -H "$url" "${good[@]}"
  attack rpc-server -B "$url" "${good[@]}"
  stop rpc-server
  expect_timeouts rpc-server idle_timeouts $((2 * CONNECTIONS))
}

https() {
  start https-server --step-timeout "$TIMEOUT" --cert-dir "$TMP/certs"
  local url="https://127.0.0.1:$PORT/"
  attack https-server -H "$url" "$BIN/netlab-https-client" --port "$PORT" --cert-dir "$TMP/certs" --tls 1.3
  stop https-server
}

main() {
  command -v slowhttptest >/dev/null || fail "slowhttptest is not installed (scripts/setup.sh installs it)"
  TMP=$(mktemp -d)
  trap cleanup_all EXIT INT TERM
  http
  rpc
  https
}

main "$@"
