#!/usr/bin/env bash
# Test: `scripts/lab handshake` runs no-accept, slow-accept and stale-syn on
# one port and writes its run folder; with nobody accepting, 5 connections
# (backlog 4 + 1) wait in the accept queue (ss -lnt shows Recv-Q 5) and the
# 6th stalls; the slow acceptor's dropped SYNs get in after a retransmission;
# the stale SYN (a raw socket) is answered S., R and creates nothing, and isn.txt
# lists the handshakes' ISNs from the capture, with each connection's
# segments and ISNs as netlab-pcap facts counts them (equal to TCP_REPAIR's);
# the client's judge of that capture (isn-capture) finds each of the 8
# handshakes acked both ISNs + 1, the numbers equal to TCP_REPAIR's + 1.
# As root the lab runs twice: as root, then as nobody, who gets the same stale
# SYN, capture and ISNs inside an unprivileged user namespace; where the system
# forbids one, the only thing accepted instead is the one line that says so.
# Across netlab-wire (client and server namespaces), from each step's capture
# on the client's link (tcpdump -r -S), the server's census of its namespace
# and its accepts, and the wire's rule log:
#   old-syn      two SYNs from one port with different ISNs; the server's
#                SYN-ACK acks the old ISN + 1 and the client's RST carries seq
#                old ISN + 1 after it; a SYN-RECV socket at the server that
#                disappears; one connection accepted; the new ISN's SYN-ACK
#                acknowledged: old-duplicate-syn-rejected confirmed,
#                two-way-would-accept nuanced
#   lost-synack  the SYN-ACK the wire dropped reaches the client later with the
#                same seq (sent again), the SYN went twice, connect() >= 0.9 s
#   lost-ack     SYN-RECV at the server for > 1 s while the client is connected,
#                the SYN-ACK twice with one ISN, then ESTAB and accept() only
#                after the client's first data segment (which acks it)
# Then what is asked next (the lab runs with --quick: tcp_synack_retries 1,
# a flood of 32), on the same path:
#   syn-queue    3 connected, 3 SYN-RECV at the server at once, its accept
#                queue 0; each connection's SYN-ACK 1 + 1 times (the program's
#                raw socket, the census's idiag_retrans and tcpdump's capture
#                agree), then gone
#   syn-flood    some spoofed SYNs kept SYN-RECV, not all; ListenDrops grew;
#                the legitimate connect() timed out or needed a SYN retransmission
#   syncookies   SyncookiesSent and SyncookiesRecv grew; the legitimate
#                connect() connected without retransmission
#   simultaneous-open  both ends SYN-SENT, SYN-RECV, ESTAB; in the capture one
#                SYN and one SYN-ACK each way between 198.18.0.1:7002 and
#                198.18.0.2:7002
# and the host's tcp_syncookies / tcp_synack_retries are what they were.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

value() { "$BIN/netlab-report" get "$RUN/client-$1.json" "$2"; }

check_files() {
  check_run_files server.log client.json ss.csv env.txt summary.md accept-queue.txt
  check_ss_sampled
  check_listed kernel-handshake
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
  if ! step_ran stale-syn client-stale-syn.json; then
    grep -qxF "skipped: $SKIP_REASON" "$RUN/summary.md" || fail "summary.md does not say why the stale SYN was skipped"
    return 0
  fi
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
  check_isn_acknowledged
}

# isn-capture: the client's judge of the same capture. Its 8 handshakes each
# acked both ISNs; for the no-accept ports the numbers are checked here too,
# against the ISNs TCP_REPAIR read: SYN-ACK ack = client ISN + 1, the third
# segment's ack = server ISN + 1 (mod 2^32); the stale SYN's SYN-ACK was
# answered by no ACK.
check_isn_acknowledged() {
  local verdict i k client port repair_client repair_server got_client got_server matched=0
  [[ -s $RUN/client-isn-capture.json ]] || fail "no client-isn-capture.json ($MODE)"
  verdict=$(value isn-capture /checks/0/verdict)
  [[ $verdict == confirmed ]] || fail "isn-acknowledged is $verdict: $(value isn-capture /checks/0/observed)"
  [[ $(value isn-capture /observed/handshakes) == 8 ]] || fail "isn-capture: $(value isn-capture /observed/handshakes) handshakes, want 8"
  (($(value isn-capture /observed/unanswered) >= 1)) || fail "isn-capture: the stale SYN's SYN-ACK is not counted unanswered"
  for ((k = 0; k < 5; k++)); do
    port=$(value no-accept "/observed/isns/$k/local_port")
    repair_client=$(value no-accept "/observed/isns/$k/client_isn")
    repair_server=$(value no-accept "/observed/isns/$k/server_isn")
    for ((i = 0; i < 20; i++)); do
      client=$(value isn-capture "/observed/connections/$i/client" 2>/dev/null) || break
      [[ $client == *:"$port" ]] || continue
      [[ $(value isn-capture "/observed/connections/$i/client_isn") == "$repair_client" ]] ||
        fail "isn-capture: port $port: client ISN is not TCP_REPAIR's $repair_client"
      got_client=$(value isn-capture "/observed/connections/$i/syn_ack_ack")
      got_server=$(value isn-capture "/observed/connections/$i/third_ack")
      ((got_client == (repair_client + 1) % 4294967296)) ||
        fail "isn-capture: port $port: SYN-ACK ack $got_client, not client ISN $repair_client + 1"
      ((got_server == (repair_server + 1) % 4294967296)) ||
        fail "isn-capture: port $port: third segment ack $got_server, not server ISN $repair_server + 1"
      matched=$((matched + 1))
    done
  done
  ((matched == 5)) || fail "isn-capture: $matched of the 5 no-accept connections found in its JSON"
  echo "ok: isn-acknowledged confirmed: 8 handshakes, each ISN acked + 1 (5 checked against TCP_REPAIR)"
}

# The client's segments of one step: tcpdump -r -n -S, one line each.
segments() { tcpdump -r "$RUN/capture-$1.pcap" -n -S 2>/dev/null; }

# census STEP PORT: the server's census lines for that client port, "MONO_MS STATE" each.
census() {
  "$BIN/netlab-report" get "$RUN/server-$1.json" /observed/census_timeline | grep -o '{[^}]*}' |
    grep -F "\"198.18.0.1:$2\"" | sed -E 's/.*"mono_ms":([0-9.eE+-]+).*"state":"([A-Z0-9-]+|gone)".*/\1 \2/'
}

# line_of PATTERN TEXT: the number of the first line of TEXT matching PATTERN (ERE), or 0.
line_of() { RE=$1 awk '$0 ~ ENVIRON["RE"] { print NR; found = 1; exit } END { if (!found) print 0 }' <<<"$2"; }

check_old_syn() {
  local port text old new old_synack rst new_synack ack states server_isn
  port=$(value old-syn /observed/local_port)
  text=$(segments old-syn)
  local from="198\.18\.0\.1\.$port > 198\.18\.0\.2\.7002" to="198\.18\.0\.2\.7002 > 198\.18\.0\.1\.$port"
  mapfile -t syns < <(sed -nE "s/.* $from: Flags \[S\], seq ([0-9]+),.*/\1/p" <<<"$text")
  ((${#syns[@]} >= 2)) || fail "old-syn: ${#syns[@]} SYN from port $port in the capture, want 2 or more"
  old=${syns[0]}
  new=""
  for s in "${syns[@]}"; do [[ $s == "$old" ]] || { new=$s; break; }; done
  [[ -n $new ]] || fail "old-syn: every SYN from port $port has ISN $old: no new connection attempt"
  [[ $("$BIN/netlab-report" get "$RUN/wire-old-syn.json" /rule_log/0/seq) == "$old" ]] ||
    fail "old-syn: the wire held seq $("$BIN/netlab-report" get "$RUN/wire-old-syn.json" /rule_log/0/seq), not the old SYN $old"
  old_synack=$(line_of "$to: Flags \\[S\\.\\], seq [0-9]+, ack $(((old + 1) % 4294967296))," "$text")
  ((old_synack > 0)) || fail "old-syn: no SYN-ACK acknowledging the old ISN $old + 1"
  rst=$(line_of "$from: Flags \\[R\\], seq $(((old + 1) % 4294967296))," "$text")
  ((rst > old_synack)) || fail "old-syn: no RST with seq old ISN + 1 after the old SYN-ACK (line $rst, SYN-ACK line $old_synack)"
  new_synack=$(line_of "$to: Flags \\[S\\.\\], seq [0-9]+, ack $(((new + 1) % 4294967296))," "$text")
  ((new_synack > rst)) || fail "old-syn: no SYN-ACK for the new ISN $new after the RST"
  server_isn=$(sed -n "${new_synack}s/.*Flags \[S\.\], seq \([0-9]*\),.*/\1/p" <<<"$text")
  ack=$(line_of "$from: Flags \\[\\.\\], ack $(((server_isn + 1) % 4294967296))," "$text")
  ((ack > new_synack)) || fail "old-syn: the new SYN-ACK (server ISN $server_isn) was not acknowledged"
  states=$(census old-syn "$port" | awk '{ print $2 }' | paste -sd' ')
  [[ $states =~ SYN-RECV\ gone ]] || fail "old-syn: the server's census never showed SYN-RECV then gone for port $port: $states"
  [[ $states =~ SYN-RECV\ ESTAB ]] || fail "old-syn: the server's census never showed the new connection ESTAB: $states"
  [[ $("$BIN/netlab-report" get "$RUN/server-old-syn.json" /observed/accepted) == 1 ]] ||
    fail "old-syn: the server accepted $("$BIN/netlab-report" get "$RUN/server-old-syn.json" /observed/accepted) connections, want 1"
  [[ $(verdict old-duplicate-syn-rejected) == confirmed ]] || fail "old-syn: not confirmed: $(value old-syn /checks/0/observed)"
  [[ $(verdict two-way-would-accept) == nuanced ]] || fail "two-way-would-accept: $(verdict two-way-would-accept)"
  echo "ok ($MODE): old-syn: ISN $old then $new from port $port; SYN-ACK ack old+1, RST seq old+1; server: $states; 1 accepted"
}

check_lost_synack() {
  local port text dropped synacks syns ms
  port=$(value lost-synack /observed/local_port)
  text=$(segments lost-synack)
  dropped=$("$BIN/netlab-report" get "$RUN/wire-lost-synack.json" /rule_log/0/seq)
  [[ $("$BIN/netlab-report" get "$RUN/wire-lost-synack.json" /rule_log/0/flags) == SA ]] || fail "lost-synack: the wire did not drop a SYN-ACK"
  synacks=$(grep -cE "198\.18\.0\.2\.7002 > 198\.18\.0\.1\.$port: Flags \[S\.\], seq $dropped," <<<"$text") || true
  ((synacks >= 1)) || fail "lost-synack: the dropped SYN-ACK (seq $dropped) never came again"
  mapfile -t syns < <(sed -nE "s/.* 198\.18\.0\.1\.$port > 198\.18\.0\.2\.7002: Flags \[S\], seq ([0-9]+),.*/\1/p" <<<"$text")
  if ((${#syns[@]} < 2)) || [[ ${syns[0]} != "${syns[1]}" ]]; then
    fail "lost-synack: the SYN was not sent twice with one ISN: ${syns[*]}"
  fi
  ms=$(value lost-synack /observed/connect/ms)
  awk -v m="$ms" 'BEGIN { exit !(m >= 900 && m < 3000) }' || fail "lost-synack: connect() took $ms ms, want about one RTO (1 s)"
  [[ $(verdict lost-synack-costs-one-rto) == confirmed ]] || fail "lost-synack: $(value lost-synack /checks/0/observed)"
  echo "ok ($MODE): lost-synack: SYN-ACK seq $dropped dropped, came again $synacks time(s); ${#syns[@]} SYN; connect() $ms ms"
}

check_lost_ack() {
  local port text synacks data_at accepted_at states estab_at
  port=$(value lost-ack /observed/local_port)
  text=$(segments lost-ack)
  mapfile -t synacks < <(sed -nE "s/.* 198\.18\.0\.2\.7002 > 198\.18\.0\.1\.$port: Flags \[S\.\], seq ([0-9]+),.*/\1/p" <<<"$text")
  if ((${#synacks[@]} < 2)) || [[ ${synacks[0]} != "${synacks[1]}" ]]; then
    fail "lost-ack: the server did not send its SYN-ACK again: ${synacks[*]}"
  fi
  grep -qE "198\.18\.0\.1\.$port > 198\.18\.0\.2\.7002: Flags \[P\.\], seq [0-9]+:[0-9]+, ack $(((synacks[0] + 1) % 4294967296))," <<<"$text" ||
    fail "lost-ack: no data segment acknowledging the server's ISN + 1"
  [[ $("$BIN/netlab-report" get "$RUN/wire-lost-ack.json" /rules/0/fired) == 2 ]] ||
    fail "lost-ack: the wire dropped $("$BIN/netlab-report" get "$RUN/wire-lost-ack.json" /rules/0/fired) ACKs, want 2"
  states=$(census lost-ack "$port")
  [[ $(awk '{ print $2 }' <<<"$states" | head -n 2 | paste -sd' ') == 'SYN-RECV ESTAB' ]] ||
    fail "lost-ack: the server's census: $(paste -sd' ' <<<"$states"), want SYN-RECV then ESTAB"
  estab_at=$(awk '$2 == "ESTAB" { print $1; exit }' <<<"$states")
  data_at=$(value lost-ack /observed/data_sent_mono_ms)
  accepted_at=$("$BIN/netlab-report" get "$RUN/server-lost-ack.json" /observed/accepts/0/mono_ms)
  awk -v e="$estab_at" -v a="$accepted_at" -v d="$data_at" -v c="$(value lost-ack /observed/connect/ended_mono_ms)" \
    'BEGIN { exit !(e >= d && a >= d && d - c >= 1000) }' ||
    fail "lost-ack: ESTAB at $estab_at, accept at $accepted_at, data sent at $data_at (mono ms): not after the data"
  [[ $(verdict lost-ack-server-stays-syn-recv) == confirmed ]] || fail "lost-ack: $(value lost-ack /checks/0/observed)"
  [[ $(verdict first-data-completes-handshake) == confirmed ]] || fail "lost-ack: $(value lost-ack /checks/1/observed)"
  echo "ok ($MODE): lost-ack: SYN-ACK ${#synacks[@]} times; server SYN-RECV until the data (ESTAB +$(awk -v e="$estab_at" -v d="$data_at" 'BEGIN { printf "%.0f", e - d }') ms after it was sent)"
}

# The three steps across the wire ran, or, where namespaces are refused, one line said why.
check_wire_steps() {
  step_ran "old-syn, lost-synack, lost-ack" client-old-syn.json || return 0
  check_run_files wire-old-syn.json wire-lost-synack.json wire-lost-ack.json capture-old-syn.pcap server-old-syn.json \
    ss-server-old-syn.txt
  grep -q 'old-duplicate-syn-rejected' "$RUN/summary.md" || fail "summary.md lacks old-duplicate-syn-rejected"
  check_old_syn
  check_lost_synack
  check_lost_ack
}

# The asked-next steps ran, or, where namespaces are refused, one line said why.
check_asked_next() {
  local k n port synacks
  step_ran "syn-queue, syn-flood, syncookies, simultaneous-open" client-syn-queue.json || return 0
  check_run_files client-syn-flood.json client-syncookies.json client-simultaneous-open.json wire-syn-queue.json
  [[ $(value syn-queue /observed/tcp_synack_retries) == 1 ]] || fail "syn-queue: tcp_synack_retries in the server namespace is not 1 (--quick)"
  [[ $(value syn-queue /observed/connected) == 3 ]] || fail "syn-queue: $(value syn-queue /observed/connected) connected, want 3"
  [[ $(value syn-queue /observed/syn_recv_peak) == 3 ]] || fail "syn-queue: $(value syn-queue /observed/syn_recv_peak) SYN-RECV at once, want 3"
  [[ $(value syn-queue /observed/accept_queue_peak) == 0 ]] || fail "syn-queue: the accept queue was not empty"
  for ((k = 0; k < 3; k++)); do
    n=$("$BIN/netlab-report" get "$RUN/client-syn-queue.json" "/observed/connections/$k/synack_ms" | tr ',' '\n' | grep -c .)
    ((n == 2)) || fail "syn-queue: connection $k: $n SYN-ACKs seen by the raw socket, want 1 + 1"
    [[ $(value syn-queue "/observed/connections/$k/census_retransmits") == 1 ]] || fail "syn-queue: connection $k: census retransmits not 1"
    [[ $(value syn-queue "/observed/connections/$k/then") == gone ]] || fail "syn-queue: connection $k: its SYN-RECV did not go"
    port=$(value syn-queue "/observed/connections/$k/local_port")
    if [[ -s $RUN/capture-syn-queue.pcap ]]; then
      synacks=$(segments syn-queue | grep -cE "198\.18\.0\.2\.7002 > 198\.18\.0\.1\.$port: Flags \[S\.\]") || true
      ((synacks == 2)) || fail "syn-queue: port $port: $synacks SYN-ACKs in the capture, want 2"
    fi
  done
  [[ $(verdict syn-queue-holds-half-open) == confirmed ]] || fail "syn-queue: $(value syn-queue /checks/0/observed)"
  [[ $(verdict synack-retries-bound-half-open) == confirmed ]] || fail "syn-queue: $(value syn-queue /checks/1/observed)"
  echo "ok ($MODE): syn-queue: $(value syn-queue /checks/1/observed)"
  n=$(value syn-flood /observed/spoofed_syn_recv)
  ((n >= 1 && n < 32)) || fail "syn-flood: $n of 32 spoofed SYNs kept SYN-RECV"
  (($(value syn-flood /observed/counters/ListenDrops) > 0)) || fail "syn-flood: ListenDrops did not grow"
  [[ $(value syn-flood /observed/legitimate_connect) != connected || $(value syn-flood /observed/legitimate_syn_retransmits) != 0 ]] ||
    fail "syn-flood: the legitimate connect() got in at once"
  [[ $(verdict syn-flood-fills-syn-queue) == confirmed ]] || fail "syn-flood: $(value syn-flood /checks/0/observed)"
  (($(value syncookies /observed/counters/SyncookiesSent) > 0)) || fail "syncookies: SyncookiesSent did not grow"
  (($(value syncookies /observed/counters/SyncookiesRecv) >= 1)) || fail "syncookies: SyncookiesRecv did not grow"
  [[ $(value syncookies /observed/legitimate_connect) == connected && $(value syncookies /observed/legitimate_syn_retransmits) == 0 ]] ||
    fail "syncookies: the legitimate connect(): $(value syncookies /observed/legitimate_connect)"
  [[ $(verdict syncookies-keep-serving) == confirmed ]] || fail "syncookies: $(value syncookies /checks/0/observed)"
  echo "ok ($MODE): syn-flood: $(value syn-flood /checks/0/observed)"
  echo "ok ($MODE): syncookies: $(value syncookies /checks/0/observed)"
  for k in client server; do
    [[ $(value simultaneous-open "/observed/$k/states" | grep -o '"state":"[A-Z-]*"' | cut -d'"' -f4 | paste -sd' ') == "SYN-SENT SYN-RECV ESTAB" ]] ||
      fail "simultaneous-open: the $k's states: $(value simultaneous-open "/observed/$k/states")"
  done
  if [[ -s $RUN/capture-simultaneous-open.pcap ]]; then
    local text
    text=$(segments simultaneous-open)
    for k in "198\.18\.0\.1\.7002 > 198\.18\.0\.2\.7002" "198\.18\.0\.2\.7002 > 198\.18\.0\.1\.7002"; do
      [[ $(grep -cE "$k: Flags \[S\]," <<<"$text") == 1 && $(grep -cE "$k: Flags \[S\.\]," <<<"$text") == 1 ]] ||
        fail "simultaneous-open: not one SYN and one SYN-ACK $k in the capture"
    done
  fi
  [[ $(verdict simultaneous-open-one-connection) == confirmed ]] || fail "simultaneous-open: $(value simultaneous-open /checks/0/observed)"
  echo "ok ($MODE): simultaneous-open: $(value simultaneous-open /checks/0/observed)"
  [[ $(sysctl -n net.ipv4.tcp_syncookies) == "$HOST_SYNCOOKIES" && $(sysctl -n net.ipv4.tcp_synack_retries) == "$HOST_SYNACK_RETRIES" ]] ||
    fail "the host's tcp_syncookies / tcp_synack_retries changed"
}

check_run() {
  check_where
  check_files
  check_steps
  check_stale_syn
  check_capture
  check_wire_steps
  check_asked_next
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  HOST_SYNCOOKIES=$(sysctl -n net.ipv4.tcp_syncookies)
  HOST_SYNACK_RETRIES=$(sysctl -n net.ipv4.tcp_synack_retries)
  run_lab_three_ways netlab-handshake-client handshake --quick
}

main "$@"
