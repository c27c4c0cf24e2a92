#!/usr/bin/env bash
# lab-note: http和rpc
# lab-order: 9
# lab-port: 7007
# lab-dissector: netlab_rpc
# lab-claim: the note's http和rpc section is empty. Asked next: does RPC carry less per call than
#     HTTP+JSON, and is it faster? And gRPC, the RPC people use: is it HTTP?
# lab-claim-zh: 笔记的 http和rpc 一节是空的。追问：RPC 每次调用是否比 HTTP+JSON 传的字节少、是否更快？常用的 gRPC 是不是 HTTP？
# lab-run: one key-value service called over HTTP/1.1+JSON, over a binary length-framed RPC and
#     over gRPC (HTTP/2), one by one and pipelined (gRPC: concurrent streams on one connection)
# lab-run-zh: 同一个键值服务分别通过 HTTP/1.1+JSON、二进制长度帧 RPC 和 gRPC（HTTP/2）调用，逐个调用和流水线（gRPC：一条连接上的并发流）
# lab-look: bytes per call each way, calls/s, that the results are the same, and gRPC's bytes as
#     HTTP/2 frames in its capture
# lab-look-zh: 每次调用双向的字节数、每秒调用数、结果是否相同，以及 gRPC 抓包里的 HTTP/2 帧
#
# The rpc lab: one key-value service (put, get, add) offered over HTTP/1.1 +
# JSON and over a binary length-framed RPC, on one port (the first byte tells
# them apart). The client makes the same seeded calls both ways, one at a time
# and pipelined, each on one persistent connection, and reports calls/s,
# latency, bytes per call in each direction and connections used; the verdicts
# on "RPC carries less" and "RPC is faster" come from the measured ratios.
# While it runs, ss samples the port's socket states into ss.csv and tcpdump
# records the segments: compare a JSON call (tcpdump -A) with a binary one (-X).
# The server also serves the store as gRPC on its own port (7008; an
# ephemeral one with --port 0); a second tcpdump records that port into
# capture-grpc.pcap, and the client reads it back (--grpc-capture): the HTTP/2
# preface, the frames, and gRPC's bytes per call (grpc-is-http2).
# shellcheck source-path=SCRIPTDIR/../lib
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/lab.sh"

lab_usage() {
  cat <<EOF
Runs netlab-rpc-server on one port (default $DEFAULT_PORT, gRPC on $GRPC_DEFAULT_PORT) and
netlab-rpc-client --transport all: the same calls over HTTP/1.1+JSON, the binary
RPC and gRPC, one at a time and pipelined (gRPC: concurrent streams). Writes
runs/<UTC time>-rpc/: server.log, client.txt, client-calls.json,
client-grpc-capture.json, client.json (both merged), curl.txt, ss.csv,
capture.pcap and capture-grpc.pcap (root, or a user namespace), env.txt, summary.md.

$(lab_options_help "the server's port")
  -- ...         more client options, e.g. -- --calls 10000 --pipeline 64
EOF
}

# One call through curl, to see what an HTTP+JSON call looks like in full.
ask_with_curl() {
  local out=$NETLAB_RUN/curl.txt url="http://127.0.0.1:$NETLAB_PORT/rpc/put"
  curl_or_skip "$out" || return 0
  say ""
  say "--- one HTTP+JSON call with curl -v (in curl.txt):"
  printf '$ curl -s -v -H "Content-Type: application/json" -d %s %s\n' "'{\"key\":\"demo\",\"value\":1}'" "$url" >"$out"
  run_child curl -s -v --max-time 10 -H 'Content-Type: application/json' -d '{"key":"demo","value":1}' "$url" \
    >>"$out" 2>&1 || printf '(curl exited with an error)\n' >>"$out"
  grep -aE '^[<>] |^\{' "$out" | tr -d '\r' | sed 's/^/  /'
}

GRPC_DEFAULT_PORT=7008  # DESIGN.md's gRPC port
GRPC_CAPTURE_PID=""

# grpc_capture_start: tcpdump on lo for the gRPC port into capture-grpc.pcap,
# when the lab's own capture runs (the same reasons skip both).
grpc_capture_start() {
  local -a drop=()
  [[ -z $NETLAB_CAPTURE_SKIPPED && -n ${NETLAB_CAPTURE_PID-} ]] || return 0
  ((EUID == 0)) && drop=(-Z root)
  tcpdump -i lo --immediate-mode -B 32768 -U -s 0 -n "${drop[@]}" -w "$NETLAB_RUN/capture-grpc.pcap" \
    "tcp port $GRPC_PORT" 2>"$NETLAB_RUN/tcpdump-grpc.log" </dev/null &
  GRPC_CAPTURE_PID=$!
  register_pid "$GRPC_CAPTURE_PID" INT
  if tcpdump_listening "$NETLAB_RUN/tcpdump-grpc.log" "$GRPC_CAPTURE_PID"; then
    say "capturing the gRPC port $GRPC_PORT on lo into capture-grpc.pcap"
    return 0
  fi
  warn "tcpdump for the gRPC port did not start: $(tail -n 1 "$NETLAB_RUN/tcpdump-grpc.log" 2>/dev/null)"
  release_pid "$GRPC_CAPTURE_PID" INT || true
  GRPC_CAPTURE_PID=""
}

# grpc_capture_step: the gRPC capture stopped and judged by the client
# (grpc-is-http2: the preface and frames; gRPC's bytes per call on the wire);
# without a capture the check says skipped. client.json: both results merged.
grpc_capture_step() {
  if [[ -n $GRPC_CAPTURE_PID ]]; then
    sleep 0.2 # --immediate-mode: the last segments are written within this
    release_pid "$GRPC_CAPTURE_PID" INT || true
    GRPC_CAPTURE_PID=""
  fi
  mv -- "$NETLAB_RUN/client.json" "$NETLAB_RUN/client-calls.json"
  say ""
  say "--- grpc-capture: $CLIENT --grpc-capture capture-grpc.pcap --grpc-port $GRPC_PORT --compare client-calls.json"
  run_child "$NETLAB_BIN_DIR/$CLIENT" --grpc-capture "$NETLAB_RUN/capture-grpc.pcap" --grpc-port "$GRPC_PORT" \
    --compare "$NETLAB_RUN/client-calls.json" \
    --json "$NETLAB_RUN/client-grpc-capture.json" 2>>"$NETLAB_RUN/client.log" | sed -n 's/^      observed: /    /p' ||
    die "$CLIENT --grpc-capture failed (see $NETLAB_RUN/client.log)"
  lab_merge calls grpc-capture
}

report() {
  lab_verdicts
  lab_run_folder "summary.md, client.json, client-calls.json, client-grpc-capture.json, client.txt, curl.txt, ss.csv, server.log"
  [[ -n $NETLAB_CAPTURE_SKIPPED ]] ||
    say "read the calls: tcpdump -r $NETLAB_RUN/capture.pcap -n -X 'tcp[tcpflags] & tcp-push != 0' | less"
  [[ ! -s $NETLAB_RUN/capture-grpc.pcap ]] ||
    say "read gRPC as HTTP/2: tshark -r $NETLAB_RUN/capture-grpc.pcap -d tcp.port==$GRPC_PORT,http2 -Y grpc | less"
}

main() {
  lab_begin "$@"
  GRPC_PORT=$GRPC_DEFAULT_PORT
  [[ $NETLAB_PORT != 0 ]] || GRPC_PORT=0
  lab_server "" "" --grpc-port "$GRPC_PORT" --grpc-port-file "$NETLAB_RUN/grpc-port"
  GRPC_PORT=$(<"$NETLAB_RUN/grpc-port")
  grpc_capture_start
  ask_with_curl
  lab_client_shown --transport all --grpc-port "$GRPC_PORT" --calls 2000 --pipeline 16 --seed 1
  grpc_capture_step
  stop_server "$NETLAB_SERVER_PID"
  lab_end
}

main "$@"
