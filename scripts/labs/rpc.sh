#!/usr/bin/env bash
# lab-note: http和rpc
# lab-order: 9
# lab-port: 7007
# lab-dissector: netlab_rpc
# lab-claim: the note's http和rpc section is empty. Asked next: does RPC carry less per call than
#     HTTP+JSON, and is it faster?
# lab-claim-zh: 笔记的 http和rpc 一节是空的。追问：RPC 每次调用是否比 HTTP+JSON 传的字节少、是否更快？
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

source "$(dirname "${BASH_SOURCE[0]}")/../lib/lab.sh"

lab_usage() {
  cat <<EOF
Runs netlab-rpc-server on one port (default $DEFAULT_PORT) and netlab-rpc-client
--transport both: the same calls over HTTP/1.1+JSON and the binary RPC, one at
a time and pipelined. Writes runs/<UTC time>-rpc/: server.log, client.txt,
client.json, curl.txt, ss.csv, capture.pcap (root, or a user namespace),
env.txt, summary.md.

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

report() {
  lab_verdicts
  lab_run_folder "summary.md, client.json, client.txt, curl.txt, ss.csv, server.log"
  [[ -n $NETLAB_CAPTURE_SKIPPED ]] ||
    say "read the calls: tcpdump -r $NETLAB_RUN/capture.pcap -n -X 'tcp[tcpflags] & tcp-push != 0' | less"
}

main() {
  lab_begin "$@"
  lab_server "" ""
  ask_with_curl
  lab_client_shown --calls 2000 --pipeline 16 --seed 1
  stop_server "$NETLAB_SERVER_PID"
  lab_end
}

main "$@"
