#!/usr/bin/env bash
# lab-note: 粘包怎么解决
# lab-order: 6
# lab-port: 7006
# lab-claim: TCP is a byte stream: writes merge and split on the reader (粘包); a delimiter or a
#     length header restores the boundaries.
# lab-claim-zh: TCP
#     是字节流：多次写在读端会合并或拆开（粘包/拆包）；分隔符或长度头可以恢复消息边界。
# lab-run: many small writes with no framing, then with a delimiter, then with a length header
# lab-run-zh: 大量小写入：先不分帧，再用分隔符，再用长度头
# lab-look: writes against the server's reads; every echoed message checked by CRC-32
# lab-look-zh: 写入次数对比服务端的读取次数；每条回显消息都用 CRC-32 校验
# lab-tour-quick: -- --messages 500
#
# The framing lab: TCP is a byte stream, so the sizes of the writes are not
# the sizes of the reads (粘包 / 拆包), and only the application can put the
# message boundaries back, with a delimiter or a length header.
# It runs the framing pair three times on one port: raw, delimiter, length,
# while ss samples the socket states and tcpdump records the segments, then
# prints what was measured against what the note claims.
# shellcheck source-path=SCRIPTDIR/../lib
set -euo pipefail

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/common.sh"
source "$LIB/run.sh"
source "$LIB/server.sh"
source "$LIB/observe.sh"

readonly LAB=framing
readonly DEFAULT_PORT=7006
readonly MODES=(raw delimiter length)
readonly SERVER=netlab-framing-server
readonly CLIENT=netlab-framing-client

usage() {
  cat <<EOF
usage: scripts/lab framing [--capture|--no-capture] [--port P] [-- client options]

Runs netlab-framing-server and netlab-framing-client with --codec raw, then
delimiter, then length, on one port (default $DEFAULT_PORT), and writes
runs/<UTC time>-framing/: server.log, client-<codec>.json, client.json, ss.csv,
capture.pcap (root, or a user namespace), env.txt, summary.md.

  --capture      record the lab's port with tcpdump when possible (default)
  --no-capture   do not run tcpdump
  --port P       the port for every run (0 = any free port)
  -- ...         more client options, e.g. -- --messages 500 --nodelay
EOF
}

# One codec: a fresh server on the lab's port, the client against it, then SIGTERM.
run_mode() {
  local mode=$1 status=0
  printf '===== --codec %s (%s) =====\n' "$mode" "$(date -u +%H:%M:%SZ)" >>"$NETLAB_RUN/server.log"
  start_server "$NETLAB_RUN/server.log" "$NETLAB_RUN/port.$mode" \
    "$NETLAB_BIN_DIR/$SERVER" --codec "$mode" --port "$NETLAB_PORT" --log-level info
  if [[ $NETLAB_PORT == 0 ]]; then
    NETLAB_PORT=$NETLAB_SERVER_PORT
    say "the server took port $NETLAB_PORT; the next runs reuse it"
    start_observers
  fi

  client_args --messages 2000 --min-size 1 --max-size 512 --seed 1
  say ""
  say "--- $CLIENT --codec $mode --port $NETLAB_PORT ${NETLAB_CLIENT_ARGS[*]}"
  printf '===== --codec %s =====\n' "$mode" >>"$NETLAB_RUN/client.log"
  run_child "$NETLAB_BIN_DIR/$CLIENT" --codec "$mode" --port "$NETLAB_PORT" "${NETLAB_CLIENT_ARGS[@]}" \
    --json "$NETLAB_RUN/client-$mode.json" 2>>"$NETLAB_RUN/client.log" || status=$?
  stop_server "$NETLAB_SERVER_PID"
  if ((status != 0)); then
    warn "$CLIENT --codec $mode failed (exit $status); last lines of $NETLAB_RUN/client.log:"
    tail -n 10 "$NETLAB_RUN/client.log" >&2 || true
    exit 1
  fi
}

report() {
  local report=$NETLAB_BIN_DIR/netlab-report mode capture=capture.pcap
  local -a results=()
  for mode in "${MODES[@]}"; do results+=("$NETLAB_RUN/client-$mode.json"); done
  "$report" merge --lab "$LAB" "${results[@]}" >"$NETLAB_RUN/client.json.tmp"
  mv "$NETLAB_RUN/client.json.tmp" "$NETLAB_RUN/client.json"
  write_summary "$LAB"
  say ""
  say "The note says: 粘包怎么解决 — what this run measured:"
  "$report" table "$NETLAB_RUN/client.json"
  say ""
  [[ -z $NETLAB_CAPTURE_SKIPPED ]] || capture="capture skipped: $NETLAB_CAPTURE_SKIPPED"
  say "run folder: $NETLAB_RUN (summary.md, client.json, ss.csv, server.log, $capture)"
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

  local mode
  for mode in "${MODES[@]}"; do
    run_mode "$mode"
  done
  stop_observers
  report
  record_run
}

main "$@"
