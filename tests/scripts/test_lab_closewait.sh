#!/usr/bin/env bash
# Test: `scripts/lab closewait` runs bug, fixed and idle-timeout on one port
# and writes its run folder; the bug step leaves 5 CLOSE_WAIT sockets and 5
# more descriptors (and close-wait.txt shows them as ss does), the fixed step
# none, the idle timeout cleans up; as root, the capture holds the FINs.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

value() { "$BIN/netlab-report" get "$RUN/client-$1.json" "$2"; }

check_files() {
  local file
  for file in server.log client.json ss.csv env.txt summary.md close-wait.txt; do
    [[ -s $RUN/$file ]] || fail "$file is missing or empty"
  done
  (($(wc -l <"$RUN/ss.csv") >= 2)) || fail "ss.csv has no sample"
  grep -q 'close-wait-means-not-closed' "$RUN/summary.md" || fail "summary.md lacks the CLOSE_WAIT check"
  grep -q 'close-wait-means-not-closed' "$TMP/out.txt" || fail "the verdict table was not printed"
  local port rows
  port=$(<"$RUN/port.bug")
  rows=$(grep -c "127.0.0.1:$port " "$RUN/close-wait.txt") || true
  ((rows == 5)) || fail "close-wait.txt shows $rows CLOSE-WAIT sockets on port $port, want 5"
  echo "ok: run folder files; ss shows 5 CLOSE-WAIT after the bug step"
}

check_steps() {
  [[ $(value bug /observed/server_close_wait) == 5 ]] || fail "bug: server_close_wait is not 5"
  [[ $(value bug /observed/server_fd_growth) == 5 ]] || fail "bug: server descriptors did not grow by 5"
  [[ $(value bug /checks/0/verdict) == confirmed ]] || fail "bug: the CLOSE_WAIT check is not confirmed"
  [[ $(value bug /checks/1/verdict) == refuted ]] || fail "bug: the note's 'waiting to send' is not refuted"
  [[ $(value fixed /observed/server_close_wait) == 0 ]] || fail "fixed: CLOSE_WAIT left behind"
  [[ $(value fixed /observed/server_fd_growth) == 0 ]] || fail "fixed: descriptors grew"
  [[ $(value idle-timeout /observed/server_close_wait) == 5 ]] || fail "idle-timeout: the leak did not show first"
  [[ $(value idle-timeout /observed/server_close_wait_after_idle_timeout) == 0 ]] ||
    fail "idle-timeout: CLOSE_WAIT left after the timeout"
  echo "ok: bug 5 CLOSE_WAIT (+5 fds), fixed 0, idle timeout 5 -> 0"
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
  local fins
  fins=$(tcpdump -r "$RUN/capture.pcap" -n 2>/dev/null | grep -c 'Flags \[F') || true
  ((fins > 0)) || fail "capture.pcap holds no FIN"
  echo "ok: capture.pcap holds $fins FIN segments"
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  run_lab closewait
  check_files
  check_steps
  check_capture
}

main "$@"
