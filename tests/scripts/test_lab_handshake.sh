#!/usr/bin/env bash
# Test: `scripts/lab handshake` runs no-accept, slow-accept and stale-syn on
# one port and writes its run folder; with nobody accepting, 5 connections
# (backlog 4 + 1) wait in the accept queue (ss -lnt shows Recv-Q 5) and the
# 6th stalls; the slow acceptor's dropped SYNs get in after a retransmission;
# the stale SYN (a raw socket) is answered S., R and creates nothing, and isn.txt
# lists the handshakes' ISNs from the capture, with each connection's
# segments and ISNs as netlab-pcap facts counts them (equal to TCP_REPAIR's).
# As root the lab runs twice: as root, then as nobody, who gets the same stale
# SYN, capture and ISNs inside an unprivileged user namespace; where the system
# forbids one, the only thing accepted instead is the one line that says so.
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

# The stale SYN ran (root, or a user namespace) and was answered S., R, or,
# only where the system forbids user namespaces, one line says it was skipped.
check_stale_syn() {
  local said
  said=$(grep -- '--- stale-syn: skipped' "$TMP/out.txt") || said=""
  if [[ $MODE == refused ]]; then
    [[ $said =~ ^'--- stale-syn: skipped: not root, and this system does not allow an unprivileged user namespace ' &&
      $(wc -l <<<"$said") == 1 ]] || fail "stale-syn: want the one line saying user namespaces are refused, got: ${said:-nothing}"
    [[ ! -e $RUN/client-stale-syn.json ]] || fail "stale-syn: skipped, yet the client ran"
    grep -qxF "skipped: ${said#--- stale-syn: skipped: }" "$RUN/summary.md" || fail "summary.md does not say why the stale SYN was skipped"
    echo "skipped ($MODE): $said"
    return 0
  fi
  [[ -z $said ]] || fail "stale-syn skipped ($MODE): $said"
  [[ $(value stale-syn /checks/0/verdict) == confirmed ]] || fail "stale-syn ($MODE): not confirmed: $(value stale-syn /checks/0/observed)"
  [[ $(value stale-syn /observed/syn_ack_seen) == true ]] || fail "stale-syn: no SYN-ACK from the server"
  [[ $(value stale-syn /observed/rst_seen) == true ]] || fail "stale-syn: no RST from the stale port"
  [[ $(value stale-syn /observed/sockets_created) == 0 ]] || fail "stale-syn: a socket was created"
  echo "ok: stale SYN ($MODE): $(value stale-syn /checks/0/observed)"
}

check_capture() {
  if [[ $MODE == refused ]]; then
    grep -q '^capture skipped: ' "$RUN/summary.md" || fail "no capture, and summary.md does not say why"
    echo "skipped ($MODE): the capture checks need root or a user namespace"
    return 0
  fi
  if ! command -v tcpdump >/dev/null; then
    echo "skipped: the capture check needs tcpdump"
    return 0
  fi
  [[ -s $RUN/isn.txt ]] || fail "no isn.txt ($MODE)"
  local syns synacks
  syns=$(grep -c 'Flags \[S\], seq' "$RUN/isn.txt") || true
  synacks=$(grep -c 'Flags \[S\.\], seq' "$RUN/isn.txt") || true
  ((syns >= 9 && synacks >= 9)) || fail "isn.txt has $syns SYN and $synacks SYN-ACK segments, want >= 9 each"
  grep -q 'Flags \[R\]' "$RUN/isn.txt" || fail "isn.txt lacks the stale SYN's RST"
  echo "ok: isn.txt: $syns SYN, $synacks SYN-ACK, and the RST"
  check_facts
}

# isn.txt's per-connection lines (netlab-pcap facts): 5 + 3 handshakes
# established, the retransmitted SYNs counted, the stale SYN's RST; and the
# ISNs equal to those the client read with TCP_REPAIR.
check_facts() {
  local established retried k port client_isn server_isn
  established=$(grep -c '^handshake .*: [0-9]* segments, established (' "$RUN/isn.txt") || true
  ((established == 8)) || fail "isn.txt: $established handshakes established in the capture, want 8 (5 + 3)"
  retried=$(awk '/^handshake .*, established \(([2-9]|[1-9][0-9]+) SYN,/ && $3 >= 4 { n++ } END { print n + 0 }' "$RUN/isn.txt")
  ((retried >= 1)) || fail "isn.txt: no handshake with a SYN sent again (slow-accept)"
  grep -q '^handshake .*: 3 segments, not established (1 SYN, 1 SYN-ACK);.*RST, the first from the client$' \
    "$RUN/isn.txt" || fail "isn.txt: no SYN, SYN-ACK refused by the client's RST (the stale SYN)"
  for ((k = 0; k < 5; k++)); do
    port=$(value no-accept "/observed/isns/$k/local_port") || fail "client-no-accept.json: no ISN $k (TCP_REPAIR)"
    client_isn=$(value no-accept "/observed/isns/$k/client_isn")
    server_isn=$(value no-accept "/observed/isns/$k/server_isn")
    grep -qE "^handshake [0-9.]+:$port: 3 segments, established \(1 SYN, 1 SYN-ACK\); client ISN $client_isn, server ISN $server_isn(;|$)" \
      "$RUN/isn.txt" || fail "isn.txt: port $port lacks 3 segments with ISNs $client_isn / $server_isn (TCP_REPAIR)"
  done
  echo "ok: isn.txt: 8 handshakes established ($retried after a SYN sent again), the stale SYN reset; ISNs = TCP_REPAIR's"
}

check_run() {
  check_where
  check_files
  check_steps
  check_stale_syn
  check_capture
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  run_lab_three_ways netlab-handshake-client handshake
}

main "$@"
