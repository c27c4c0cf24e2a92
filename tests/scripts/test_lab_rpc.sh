#!/usr/bin/env bash
# Test: `scripts/lab rpc --port 0 -- --calls 300 --pipeline 8` runs the same
# calls over HTTP+JSON and the binary RPC, sequential and pipelined, and writes
# its run folder; the results are equal call by call, the binary RPC carries
# fewer bytes per call; as root with tcpdump, capture.pcap holds both kinds of
# call, each run's bytes are one connection's payload there, and the speed
# verdict follows the rate ratio timed on the wire. gRPC runs in every run too
# (runs 4 and 5, one connection each): grpc-same-results is confirmed, and
# grpc-is-http2 follows what tshark's own HTTP/2 dissector finds in
# capture-grpc.pcap (the preface on each connection, HEADERS frames per call).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The calls' own result (client.json is it merged with the grpc-capture step's).
value() { "$BIN/netlab-report" get "$RUN/client-calls.json" "$1"; }

check_files() {
  check_run_files server.log client.json client-calls.json client-grpc-capture.json client.txt curl.txt ss.csv env.txt summary.md
  grep -q 'grpc-is-http2' "$RUN/summary.md" || fail "summary.md lacks the gRPC capture check"
  grep -q 'rpc-fewer-bytes' "$RUN/summary.md" || fail "summary.md lacks the bytes check"
  grep -q 'B/call out' "$TMP/out.txt" || fail "the measurements were not printed"
  echo "ok: run folder files"
}

check_results() {
  local i
  for i in 0 1 2 3; do
    [[ $(value "/observed/runs/$i/calls") == 300 ]] || fail "run $i made $(value "/observed/runs/$i/calls") calls"
    [[ $(value "/observed/runs/$i/connections") == 1 ]] || fail "run $i used more than one connection"
  done
  for i in 4 5; do
    [[ $(value "/observed/runs/$i/transport") == grpc ]] || fail "run $i is not gRPC"
    [[ $(value "/observed/runs/$i/calls") == 300 ]] || fail "gRPC run $i made $(value "/observed/runs/$i/calls") calls"
    [[ $(value "/observed/runs/$i/connections") == 1 ]] || fail "gRPC run $i used $(value "/observed/runs/$i/connections") connections"
  done
  [[ $(value /observed/runs/5/window) == 8 ]] || fail "the concurrent gRPC run had $(value /observed/runs/5/window) streams, not 8"
  ! value /observed/runs/6 >/dev/null 2>&1 || fail "more than 6 runs"
  [[ $(verdict grpc-same-results) == confirmed ]] || fail "grpc-same-results is not confirmed"
  [[ $(value /observed/result_mismatches) == 0 ]] || fail "results differ between transports"
  [[ $(verdict same-results) == confirmed ]] || fail "same-results is not confirmed"
  local http_bytes binary_bytes
  http_bytes=$(awk -v a="$(value /observed/runs/0/bytes_out_per_call)" -v b="$(value /observed/runs/0/bytes_in_per_call)" 'BEGIN { print a + b }')
  binary_bytes=$(awk -v a="$(value /observed/runs/1/bytes_out_per_call)" -v b="$(value /observed/runs/1/bytes_in_per_call)" 'BEGIN { print a + b }')
  [[ $(value /observed/runs/0/transport) == http+json && $(value /observed/runs/1/transport) == binary ]] ||
    fail "runs 0 and 1 are not http+json and binary"
  awk -v h="$http_bytes" -v b="$binary_bytes" 'BEGIN { exit !(b < h) }' ||
    fail "binary carried $binary_bytes B/call, HTTP+JSON $http_bytes"
  [[ $(verdict rpc-fewer-bytes) == confirmed ]] || fail "rpc-fewer-bytes is not confirmed"
  echo "ok: 4 runs of 300 calls, equal results; $binary_bytes B/call binary against $http_bytes HTTP+JSON"
  # rpc-faster is checked against the capture's clock (check_capture), not
  # against the client's own ratio.
  case $(verdict rpc-faster) in
    confirmed | nuanced | refuted) ;;
    *) fail "rpc-faster has no verdict" ;;
  esac
}

check_capture() {
  capture_to_check capture.pcap || return 0
  local port calls
  port=$(<"$RUN/port")
  calls=$(capture_count "$port" 'POST /rpc/')
  ((calls >= 300)) || fail "capture.pcap shows $calls HTTP calls on port $port, expected at least 300"
  echo "ok: capture.pcap holds the HTTP+JSON calls ($calls POST /rpc/ seen) on port $port"
  check_wire_bytes_and_times "$port"
  check_dissected "$port"
}

# The binary calls in capture.pcap as the Wireshark dissector decodes them
# (tools/wireshark/netlab.lua): one request with an id and a method per call
# the client made over the binary RPC, and one response per request.
check_dissected() {
  local port=$1 i calls=0 requests methods responses
  (($(capture_dropped) == 0)) || return 0  # said in check_wire_bytes_and_times
  for i in 0 1 2 3; do
    [[ $(value "/observed/runs/$i/transport") != binary ]] || calls=$((calls + $(value "/observed/runs/$i/calls")))
  done
  for i in 4 5; do
    [[ $(value "/observed/runs/$i/transport") != binary ]] || fail "run $i is binary: the dissector count expects runs 0..3 only"
  done
  dissected "$RUN/capture.pcap" netlab_rpc.id -o "netlab_rpc.ports:$port" -Y 'netlab_rpc.kind == "request"' >"$TMP/ids.txt"
  dissected "$RUN/capture.pcap" netlab_rpc.method -o "netlab_rpc.ports:$port" >"$TMP/methods.txt"
  dissected "$RUN/capture.pcap" netlab_rpc.status -o "netlab_rpc.ports:$port" >"$TMP/statuses.txt"
  requests=$(wc -l <"$TMP/ids.txt")
  methods=$(wc -l <"$TMP/methods.txt")
  responses=$(wc -l <"$TMP/statuses.txt")
  ((requests == calls && methods == calls && responses == calls)) ||
    fail "the dissector finds $requests request ids, $methods methods and $responses responses; the client made $calls binary calls"
  echo "ok: the Wireshark dissector decodes $calls binary requests (id and method each) and $responses responses"
}

# Each run's bytes (out + in, as the client counted them) are one connection's
# payload on the wire, each byte once (netlab-pcap facts' stream_bytes); the sequential runs' durations
# there (tcpdump's time stamps, first to last payload) give the rate ratio
# the rpc-faster verdict must follow, except within 25 % of a threshold.
check_wire_bytes_and_times() {
  local port=$1 flows i j total found http_port="" binary_port=""
  if (($(capture_dropped) > 0)); then
    echo "not judged: tcpdump missed $(capture_dropped) packets, so the runs' bytes and times are not compared with the capture"
    return 0
  fi
  flows=$("$BIN/netlab-pcap" facts "$RUN/capture.pcap" --port "$port" --get /flows)
  local -a payload clients used=()
  for ((j = 0; j < flows; j++)); do
    { read -r "payload[j]"; read -r "clients[j]"; } < <("$BIN/netlab-pcap" facts "$RUN/capture.pcap" --port "$port" \
      --get "/flow_facts/$j/stream_bytes" --get "/flow_facts/$j/client")
  done
  for i in 0 1 2 3; do
    total=$(($(value "/observed/runs/$i/bytes_out") + $(value "/observed/runs/$i/bytes_in")))
    # The first connection not yet matched: the runs go one after the other,
    # and a transport's sequential and pipelined runs carry the same bytes.
    found=""
    for ((j = 0; j < flows; j++)); do
      if [[ ${payload[j]} == "$total" && -z ${used[j]-} ]]; then
        found=${clients[j]##*:}
        used[j]=1
        break
      fi
    done
    [[ -n $found ]] || fail "run $i: the client counted $total bytes; no connection on the wire carried that (${payload[*]})"
    if [[ $(value "/observed/runs/$i/window") == 1 ]]; then
      [[ $(value "/observed/runs/$i/transport") == binary ]] && binary_port=$found || http_port=$found
    fi
  done
  [[ -n $http_port && -n $binary_port ]] || fail "no sequential run of each transport"
  echo "ok: each run's bytes are one connection's payload in capture.pcap"
  local wire want
  wire=$(tcpdump -r "$RUN/capture.pcap" -n -tt "tcp port $port" 2>/dev/null | awk -v h="$http_port" -v b="$binary_port" '
    / length [1-9]/ {
      for (i = 1; i <= NF; ++i) if ($i == ">") break
      src = $(i - 1); dst = $(i + 1); sub(/:$/, "", dst)
      p = ""
      if (src ~ "\\." h "$" || dst ~ "\\." h "$") p = "h"
      if (src ~ "\\." b "$" || dst ~ "\\." b "$") p = "b"
      if (p == "") next
      if (!(p in first)) first[p] = $1
      last[p] = $1
    }
    END { if (last["b"] > first["b"]) printf "%.3f\n", (last["h"] - first["h"]) / (last["b"] - first["b"]) }')
  [[ -n $wire ]] || fail "no timing for the sequential runs in capture.pcap"
  want=$(awk -v r="$wire" 'BEGIN {
    if ((r > 1.5 / 1.25 && r < 1.5 * 1.25) || (r > 1.0 / 1.25 && r < 1.0 * 1.25)) print "either"
    else print (r >= 1.5 ? "confirmed" : r >= 1.0 ? "nuanced" : "refuted") }')
  [[ $want == either || $(verdict rpc-faster) == "$want" ]] ||
    fail "rpc-faster is $(verdict rpc-faster); on the wire binary ran x$wire the calls/s of HTTP+JSON: $want"
  echo "ok: rpc-faster is $(verdict rpc-faster); on the wire the rate ratio is x$wire ($want)"
}

# grpc-is-http2 against tshark's HTTP/2 dissector on capture-grpc.pcap: each
# gRPC connection starts with the preface (http2.magic), nothing is malformed,
# and the client's HEADERS frames are the calls both the check and the runs counted.
check_grpc_capture() {
  local port want headers prefaced malformed recorded spoke
  if [[ ! -s $RUN/capture-grpc.pcap ]]; then
    [[ $(verdict grpc-is-http2) == skipped ]] || fail "no capture-grpc.pcap, yet grpc-is-http2 is $(verdict grpc-is-http2)"
    echo "skipped: no capture-grpc.pcap (grpc-is-http2 says skipped)"
    return 0
  fi
  if ! command -v tshark >/dev/null; then
    echo "skipped: the gRPC capture check needs tshark"
    return 0
  fi
  if (($(capture_dropped "$RUN/tcpdump-grpc.log") > 0)); then
    echo "not judged: tcpdump missed packets of the gRPC port"
    return 0
  fi
  port=$(<"$RUN/grpc-port")
  # One pass of tshark: per packet its connection, destination port, preface
  # (http2.magic), frame types, any malformed mark and its TCP payload length.
  read -r headers prefaced malformed spoke < <(tshark -r "$RUN/capture-grpc.pcap" -d "tcp.port==$port,http2" -T fields \
    -E separator=/t -e tcp.stream -e tcp.dstport -e http2.magic -e http2.type -e _ws.malformed -e tcp.len 2>/dev/null |
    awk -F'\t' -v p="$port" '
      $2 == p { n = split($4, t, ","); for (i = 1; i <= n; ++i) if (t[i] == 1) h++; if ($3 != "") m[$1] = 1 }
      $2 == p && $6 > 0 { s[$1] = 1 }
      $5 != "" { bad++ }
      END { print h + 0, length(m), bad + 0, length(s) }')
  recorded=$("$BIN/netlab-report" get "$RUN/client-grpc-capture.json" /observed/calls)
  [[ $headers == "$recorded" ]] || fail "tshark finds $headers client HEADERS frames, grpc-is-http2 counted $recorded"
  ((headers == $(value /observed/runs/4/calls) + $(value /observed/runs/5/calls))) ||
    fail "tshark finds $headers client HEADERS frames; the gRPC runs made $(value /observed/runs/4/calls) + $(value /observed/runs/5/calls) calls"
  want=refuted
  ((prefaced == spoke && spoke > 0 && malformed == 0)) && want=confirmed
  [[ $(verdict grpc-is-http2) == "$want" ]] ||
    fail "grpc-is-http2 is $(verdict grpc-is-http2); tshark: $prefaced of $spoke connections with the preface, $malformed malformed packets"
  echo "ok: grpc-is-http2 is $want; tshark finds the preface on $prefaced of $spoke connections and $headers client HEADERS frames, one per call"
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  run_lab rpc --port 0 -- --calls 300 --pipeline 8
  check_files
  check_results
  check_capture
  check_grpc_capture
}

main "$@"
