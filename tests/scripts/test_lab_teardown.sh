#!/usr/bin/env bash
# Test: `scripts/lab teardown` runs normal, quickack, half-close, unread-data
# and linger0 on one port and writes its run folder; every normal close takes
# 3 or 4 segments, the half-close delivers the whole response after the FIN,
# unread-data ends in ECONNRESET with bytes lost, linger0 leaves no TIME_WAIT;
# as root, closes.txt counts the same segments in the capture, and the
# server's RST (no FIN) that ends unread-data and linger0.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

value() { "$BIN/netlab-report" get "$RUN/client-$1.json" "$2"; }

check_files() {
  local file
  for file in server.log client.json ss.csv env.txt summary.md; do
    [[ -s $RUN/$file ]] || fail "$file is missing or empty"
  done
  (($(wc -l <"$RUN/ss.csv") >= 2)) || fail "ss.csv has no sample"
  grep -q 'four-segments-to-close' "$RUN/summary.md" || fail "summary.md lacks the four-segment check"
  grep -q 'four-segments-to-close' "$TMP/out.txt" || fail "the verdict table was not printed"
  echo "ok: run folder files"
}

check_steps() {
  local step i n
  for step in normal quickack; do
    for i in 0 1; do
      n=$(value "$step" "/observed/connections/$i/closing_segments")
      ((n >= 3 && n <= 4)) || fail "$step: connection $i closed in $n segments, want 3 or 4"
    done
  done
  [[ $(value half-close /observed/bytes_after_our_fin) == "$(value half-close /observed/response_bytes)" ]] ||
    fail "half-close: not the whole response after our FIN"
  [[ $(value half-close /checks/0/verdict) == confirmed ]] || fail "half-close: not confirmed"
  [[ $(value unread-data /observed/ended_by) == ECONNRESET ]] || fail "unread-data: no ECONNRESET"
  (($(value unread-data /observed/bytes_lost) > 0)) || fail "unread-data: no bytes lost"
  [[ $(value linger0 /observed/time_wait_sockets) == 0 ]] || fail "linger0: TIME_WAIT left"
  [[ $(value linger0 /checks/0/verdict) == confirmed ]] || fail "linger0: not confirmed"
  echo "ok: closes of 3-4 segments, half-close intact, unread-data ECONNRESET, linger0 no TIME_WAIT"
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
  [[ -s $RUN/closes.txt ]] || fail "no closes.txt as root"
  local lines mismatched
  lines=$(grep -c '^closing segments:' "$RUN/closes.txt") || true
  ((lines == 4)) || fail "closes.txt counts $lines closes, want 4"
  mismatched=$(awk '/^closing segments:/ && ($3 < 3 || $3 > 4) { n++ } END { print n + 0 }' "$RUN/closes.txt")
  ((mismatched == 0)) || fail "closes.txt has closes outside 3-4 segments"
  # unread-data and linger0: the server's RST ends the connection, and no FIN is sent.
  lines=$(grep -c '^ended by: [1-9][0-9]* RST ([1-9][0-9]* from the server); no FIN$' "$RUN/closes.txt") || true
  ((lines == 2)) || fail "closes.txt: $lines of unread-data and linger0 ended by the server's RST without FIN, want 2"
  echo "ok: closes.txt: 4 closes of 3-4 segments, 2 ended by the server's RST, in the capture (netlab-pcap facts)"
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  run_lab teardown
  check_files
  check_steps
  check_capture
}

main "$@"
