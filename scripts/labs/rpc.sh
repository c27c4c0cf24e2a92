#!/usr/bin/env bash
# lab-note: http和rpc
# lab-order: 9
# lab-port: 7007
# lab-claim: RPC carries less per call than HTTP+JSON and is faster.
# lab-claim-zh: RPC 每次调用比 HTTP+JSON 传的字节少，也更快。
# lab-run: one key-value service called over HTTP/1.1+JSON and over a binary length-framed RPC, one
#     by one and pipelined
# lab-run-zh: 同一个键值服务分别通过 HTTP/1.1+JSON 和二进制长度帧 RPC 调用，逐个调用和流水线
# lab-look: bytes per call each way, calls/s, and that the results are the same
# lab-look-zh: 每次调用双向的字节数、每秒调用数，以及结果是否相同
#
# The rpc lab: one key-value service (put, get, add) offered over HTTP/1.1 +
# JSON and over a binary length-framed RPC, on one port (the first byte tells
# them apart). The client makes the same seeded calls both ways, one at a time
# and pipelined, each on one persistent connection, and reports calls/s,
# latency, bytes per call in each direction and connections used; the verdicts
# on "RPC carries less" and "RPC is faster" come from the measured ratios.
# While it runs, ss samples the port's socket states into ss.csv and tcpdump
# records the segments: compare a JSON call (tcpdump -A) with a binary one (-X).
# shellcheck source-path=SCRIPTDIR/../lib
set -euo pipefail

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/common.sh"
source "$LIB/run.sh"
source "$LIB/server.sh"
source "$LIB/observe.sh"

readonly LAB=rpc
readonly DEFAULT_PORT=7007
readonly SERVER=netlab-rpc-server
readonly CLIENT=netlab-rpc-client

usage() {
  cat <<EOF
usage: scripts/lab rpc [--capture|--no-capture] [--port P] [-- client options]

Runs netlab-rpc-server on one port (default $DEFAULT_PORT) and netlab-rpc-client
--transport both: the same calls over HTTP/1.1+JSON and the binary RPC, one at
a time and pipelined. Writes runs/<UTC time>-rpc/: server.log, client.txt,
client.json, curl.txt, ss.csv, capture.pcap (root, or a user namespace),
env.txt, summary.md.

  --capture      record the lab's port with tcpdump when possible (default)
  --no-capture   do not run tcpdump
  --port P       the server's port (0 = any free port)
  -- ...         more client options, e.g. -- --calls 10000 --pipeline 64
EOF
}

start_lab_server() {
  start_server "$NETLAB_RUN/server.log" "$NETLAB_RUN/port" \
    "$NETLAB_BIN_DIR/$SERVER" --port "$NETLAB_PORT" --log-level info
  if [[ $NETLAB_PORT == 0 ]]; then
    NETLAB_PORT=$NETLAB_SERVER_PORT
    say "the server took port $NETLAB_PORT"
    start_observers
  fi
}

# One call through curl, to see what an HTTP+JSON call looks like in full.
ask_with_curl() {
  local out=$NETLAB_RUN/curl.txt url="http://127.0.0.1:$NETLAB_PORT/rpc/put"
  if ! command -v curl >/dev/null; then
    say "curl: skipped (curl is not installed)"
    echo "skipped: curl is not installed" >"$out"
    return 0
  fi
  say ""
  say "--- one HTTP+JSON call with curl -v (in curl.txt):"
  printf '$ curl -s -v -H "Content-Type: application/json" -d %s %s\n' "'{\"key\":\"demo\",\"value\":1}'" "$url" >"$out"
  run_child curl -s -v --max-time 10 -H 'Content-Type: application/json' -d '{"key":"demo","value":1}' "$url" \
    >>"$out" 2>&1 || printf '(curl exited with an error)\n' >>"$out"
  grep -aE '^[<>] |^\{' "$out" | tr -d '\r' | sed 's/^/  /'
}

run_client() {
  local status=0
  client_args --calls 2000 --pipeline 16 --seed 1
  say ""
  say "--- $CLIENT --port $NETLAB_PORT ${NETLAB_CLIENT_ARGS[*]}"
  run_child "$NETLAB_BIN_DIR/$CLIENT" --port "$NETLAB_PORT" "${NETLAB_CLIENT_ARGS[@]}" \
    --json "$NETLAB_RUN/client.json" >"$NETLAB_RUN/client.txt" 2>"$NETLAB_RUN/client.log" || status=$?
  # The measurements; the verdicts follow in the report's table.
  sed -n '/^  \[/q;p' "$NETLAB_RUN/client.txt"
  if ((status != 0)); then
    warn "$CLIENT failed (exit $status); last lines of $NETLAB_RUN/client.log:"
    tail -n 10 "$NETLAB_RUN/client.log" >&2 || true
    exit 1
  fi
}

report() {
  local capture=capture.pcap
  write_summary "$LAB"
  say ""
  say "The note says: http和rpc — what this run measured:"
  "$NETLAB_BIN_DIR/netlab-report" table "$NETLAB_RUN/client.json"
  say ""
  [[ -z $NETLAB_CAPTURE_SKIPPED ]] || capture="capture skipped: $NETLAB_CAPTURE_SKIPPED"
  say "run folder: $NETLAB_RUN (summary.md, client.json, client.txt, curl.txt, ss.csv, server.log, $capture)"
  [[ -n $NETLAB_CAPTURE_SKIPPED ]] ||
    say "read the calls: tcpdump -r $NETLAB_RUN/capture.pcap -n -X 'tcp[tcpflags] & tcp-push != 0' | less"
}

main() {
  parse_lab_args "$@"
  enter_namespace_if_needed "$NETLAB_CAPTURE" "${BASH_SOURCE[0]}" "$@"
  trap cleanup EXIT INT TERM
  bring_namespace_up
  require_programs "$SERVER" "$CLIENT" netlab-report
  choose_port "$NETLAB_ASKED_PORT" "$DEFAULT_PORT"
  make_run_dir "$LAB"
  write_env_txt "$NETLAB_RUN/env.txt"
  say "netlab $LAB: run folder $NETLAB_RUN"
  [[ $NETLAB_PORT == 0 ]] || start_observers
  start_lab_server
  ask_with_curl
  run_client
  stop_server "$NETLAB_SERVER_PID"
  stop_observers
  write_ladders "$NETLAB_RUN"
  report
  record_run
}

main "$@"
