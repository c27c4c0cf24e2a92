#!/usr/bin/env bash
# Test: `scripts/lab handshake` runs no-accept, slow-accept and stale-syn on
# one port and writes its run folder; with nobody accepting, 5 connections
# (backlog 4 + 1) wait in the accept queue (ss -lnt shows Recv-Q 5) and the
# 6th stalls; the slow acceptor's dropped SYNs get in after a retransmission;
# as root, the stale SYN is answered S., R and creates nothing, and isn.txt
# lists the handshakes' ISNs from the capture.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

value() { "$BIN/netlab-report" get "$RUN/client-$1.json" "$2"; }

check_files() {
  local file
  for file in server.log client.json ss.csv env.txt summary.md accept-queue.txt; do
    [[ -s $RUN/$file ]] || fail "$file is missing or empty"
  done
  (($(wc -l <"$RUN/ss.csv") >= 2)) || fail "ss.csv has no sample"
  grep -q 'kernel-handshake' "$RUN/summary.md" || fail "summary.md lacks the handshake check"
  grep -q 'kernel-handshake' "$TMP/out.txt" || fail "the verdict table was not printed"
  # ss's own view of the listener: Recv-Q 5 (waiting for accept), Send-Q 4 (the backlog).
  grep -Eq '^LISTEN +5 +4 ' "$RUN/accept-queue.txt" || fail "accept-queue.txt does not show Recv-Q 5 / Send-Q 4"
  echo "ok: run folder files; ss -lnt shows the accept queue at 5 of backlog 4"
}

check_steps() {
  [[ $(value no-accept /observed/connected) == 5 ]] || fail "no-accept: $(value no-accept /observed/connected) connected, want 5"
  [[ $(value no-accept /observed/stalled) == 1 ]] || fail "no-accept: the 6th connection did not stall"
  [[ $(value no-accept /observed/accept_queue_length) == 5 ]] || fail "no-accept: accept queue not 5"
  [[ $(value no-accept /checks/1/verdict) == confirmed ]] || fail "no-accept: kernel-handshake not confirmed"
  [[ $(value slow-accept /observed/connected) == 3 ]] || fail "slow-accept: not every connection got in"
  (($(value slow-accept /observed/stalled) >= 1)) || fail "slow-accept: no SYN was retransmitted"
  echo "ok: no-accept 5 queued + 1 stalled; slow-accept 3 connected after retransmissions"
}

check_capture() {
  if ((EUID != 0)); then
    [[ $(value stale-syn /checks/0/verdict) == skipped ]] || fail "stale-syn ran without root?"
    echo "skipped: the stale SYN and the capture checks need root"
    return 0
  fi
  [[ $(value stale-syn /checks/0/verdict) == confirmed ]] || fail "stale-syn: not confirmed"
  [[ $(value stale-syn /observed/sockets_created) == 0 ]] || fail "stale-syn: a socket was created"
  if ! command -v tcpdump >/dev/null; then
    echo "skipped: the capture check needs tcpdump"
    return 0
  fi
  [[ -s $RUN/isn.txt ]] || fail "no isn.txt as root"
  local syns synacks
  syns=$(grep -c 'Flags \[S\], seq' "$RUN/isn.txt") || true
  synacks=$(grep -c 'Flags \[S\.\], seq' "$RUN/isn.txt") || true
  ((syns >= 9 && synacks >= 9)) || fail "isn.txt has $syns SYN and $synacks SYN-ACK segments, want >= 9 each"
  grep -q 'Flags \[R\]' "$RUN/isn.txt" || fail "isn.txt lacks the stale SYN's RST"
  echo "ok: stale SYN rejected; isn.txt: $syns SYN, $synacks SYN-ACK, and the RST"
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  run_lab handshake
  check_files
  check_steps
  check_capture
}

main "$@"
