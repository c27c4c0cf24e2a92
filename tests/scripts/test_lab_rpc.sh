#!/usr/bin/env bash
# Test: `scripts/lab rpc --port 0 -- --calls 300 --pipeline 8` runs the same
# calls over HTTP+JSON and the binary RPC, sequential and pipelined, and writes
# its run folder; the results are equal call by call, the binary RPC carries
# fewer bytes per call, and the speed verdict follows the measured rate ratio;
# as root with tcpdump, capture.pcap holds both kinds of call.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

value() { "$BIN/netlab-report" get "$RUN/client.json" "$1"; }

check_files() {
  local file
  for file in server.log client.json client.txt curl.txt ss.csv env.txt summary.md; do
    [[ -s $RUN/$file ]] || fail "$file is missing or empty"
  done
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
  ! value /observed/runs/4 >/dev/null 2>&1 || fail "more than 4 runs"
  [[ $(value /observed/result_mismatches) == 0 ]] || fail "results differ between transports"
  [[ $(verdict same-results) == confirmed ]] || fail "same-results is not confirmed"
  local http_bytes binary_bytes expected ratio
  http_bytes=$(awk -v a="$(value /observed/runs/0/bytes_out_per_call)" -v b="$(value /observed/runs/0/bytes_in_per_call)" 'BEGIN { print a + b }')
  binary_bytes=$(awk -v a="$(value /observed/runs/1/bytes_out_per_call)" -v b="$(value /observed/runs/1/bytes_in_per_call)" 'BEGIN { print a + b }')
  [[ $(value /observed/runs/0/transport) == http+json && $(value /observed/runs/1/transport) == binary ]] ||
    fail "runs 0 and 1 are not http+json and binary"
  awk -v h="$http_bytes" -v b="$binary_bytes" 'BEGIN { exit !(b < h) }' ||
    fail "binary carried $binary_bytes B/call, HTTP+JSON $http_bytes"
  [[ $(verdict rpc-fewer-bytes) == confirmed ]] || fail "rpc-fewer-bytes is not confirmed"
  echo "ok: 4 runs of 300 calls, equal results; $binary_bytes B/call binary against $http_bytes HTTP+JSON"
  ratio=$(value /observed/rate_ratio)
  expected=$(awk -v r="$ratio" 'BEGIN { print (r >= 1.5 ? "confirmed" : r >= 1.0 ? "nuanced" : "refuted") }')
  [[ $(verdict rpc-faster) == "$expected" ]] || fail "rpc-faster is $(verdict rpc-faster) with a rate ratio of $ratio"
  echo "ok: rpc-faster is $expected at a rate ratio of $ratio"
}

check_capture() {
  if ! command -v tcpdump >/dev/null; then
    echo "skipped: the capture check needs tcpdump"
    return 0
  fi
  if [[ ! -e $RUN/capture.pcap ]] && ((EUID != 0)); then
    echo "skipped: not root and no capture ($(grep -m1 'capture skipped' "$RUN/summary.md" || echo 'no reason given'))"
    return 0
  fi
  [[ -s $RUN/capture.pcap ]] || fail "no capture.pcap as root"
  local port calls
  port=$(<"$RUN/port")
  calls=$(tcpdump -r "$RUN/capture.pcap" -n -A "tcp port $port" 2>/dev/null | grep -c 'POST /rpc/') || true
  ((calls >= 300)) || fail "capture.pcap shows $calls HTTP calls on port $port, expected at least 300"
  echo "ok: capture.pcap holds the HTTP+JSON calls ($calls POST /rpc/ seen) on port $port"
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  run_lab rpc --port 0 -- --calls 300 --pipeline 8
  check_files
  check_results
  check_capture
}

main "$@"
