#!/usr/bin/env bash
# Test: `scripts/lab framing` runs raw, delimiter, length and the Nagle step
# (length, --write-write-read) on one port and writes its run folder
# (server.log, client.json with 4 steps, ss.csv, env.txt,
# summary.md); both framings echo every message intact; as root with tcpdump,
# capture.pcap holds the data segments of the lab's port. The Nagle step once
# more across netlab-wire (nagle-wire, 20 ms each way), as root and as nobody
# (a user namespace): four ways answered, the round trip TCP_INFO measured at
# least the wire's 40 ms, the loopback run beside it, and the verdict follows
# from the numbers (Nagle more than twice every other way; the ACK held at
# least 20 ms).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

value() { "$BIN/netlab-report" get "$RUN/client.json" "$1"; }

check_files() {
  check_run_files server.log client.json ss.csv env.txt summary.md
  local header=elapsed_ms,ESTAB,SYN-SENT,SYN-RECV,FIN-WAIT-1,FIN-WAIT-2,TIME-WAIT,CLOSE-WAIT,LAST-ACK,CLOSING,LISTEN
  [[ $(head -n 1 "$RUN/ss.csv") == "$header" ]] || fail "ss.csv header is $(head -n 1 "$RUN/ss.csv")"
  check_ss_sampled
  grep -Eq '^[0-9]+(,[0-9]+){10}$' <(sed -n 2p "$RUN/ss.csv") || fail "ss.csv rows are not 11 numbers"
  grep -q '^net.ipv4.tcp_fin_timeout = ' "$RUN/env.txt" || fail "env.txt lacks the sysctls"
  check_listed write-is-not-read
  echo "ok: run folder files"
}

check_steps() {
  local i codec
  value /observed/steps/3 >/dev/null 2>&1 || fail "client.json has fewer than 4 steps"
  ! value /observed/steps/5 >/dev/null 2>&1 || fail "client.json has more than 5 steps"
  [[ $(value /observed/steps/0/params/codec) == raw ]] || fail "step 0 is not raw"
  for i in 1 2; do
    codec=$(value "/observed/steps/$i/params/codec")
    [[ $(value "/observed/steps/$i/observed/mismatches") == 0 ]] || fail "$codec step reports mismatches"
    [[ $(value "/observed/steps/$i/observed/messages_received") == 2000 ]] ||
      fail "$codec step did not receive 2000 messages"
    echo "ok: $codec: 0 mismatches, 2000 of 2000 messages"
  done
  # The raw step's verdict, from its numbers: a number of server reads other
  # than the 2000 writes means some read did not return exactly one write.
  local reads writes raw_verdict
  reads=$(value /observed/steps/0/observed/reads)
  writes=$(value /observed/steps/0/observed/writes)
  raw_verdict=$(verdict write-is-not-read)
  case $raw_verdict in
    confirmed | nuanced) ;;
    *) fail "write-is-not-read has no verdict ('$raw_verdict')" ;;
  esac
  ((reads == writes)) || [[ $raw_verdict == confirmed ]] ||
    fail "raw: the server read $reads times for $writes writes, yet write-is-not-read is $raw_verdict"
  echo "ok: raw: $writes writes, $reads server reads, write-is-not-read $raw_verdict"
  # The Nagle step: four ways, 20 requests each, every echo compared by the client.
  [[ $(value /observed/steps/3/params/write_write_read) == 20 ]] || fail "step 3 is not the Nagle step"
  for i in 0 1 2 3; do
    [[ $(value "/observed/steps/3/observed/variants/$i/requests") == 20 ]] ||
      fail "Nagle step: way $(value "/observed/steps/3/observed/variants/$i/name") answered fewer than 20 requests"
  done
  case $(verdict nagle-delayed-ack-stall) in
    confirmed | nuanced | refuted) ;;
    *) fail "nagle-delayed-ack-stall has no verdict" ;;
  esac
  echo "ok: nagle: 4 ways × 20 requests echoed, nagle-delayed-ack-stall $(verdict nagle-delayed-ack-stall)"
}

# As root the capture must be there; without root it is checked when the lab
# managed it (in a user namespace).
check_capture() {
  capture_to_check capture.pcap || return 0
  local port data
  port=$(<"$RUN/port.raw")
  data=$(tcpdump -r "$RUN/capture.pcap" -n "tcp port $port" 2>/dev/null | grep -cE 'length [1-9]') || true
  ((data > 0)) || fail "capture.pcap has no data segments on port $port"
  echo "ok: capture.pcap holds $data data segments on port $port"
  # Each echo step's bytes, both ways as the client counted them, are one
  # connection's payload on the wire, each byte once (netlab-pcap facts'
  # stream_bytes: a segment sent again after a zero window adds nothing).
  local flows i j total payloads=" "
  if (($(capture_dropped) > 0)); then
    echo "not judged: tcpdump missed $(capture_dropped) packets, so bytes and frames are not compared with the capture"
    return 0
  fi
  flows=$("$BIN/netlab-pcap" facts "$RUN/capture.pcap" --port "$port" --get /flows)
  for ((j = 0; j < flows; j++)); do
    payloads+="$("$BIN/netlab-pcap" facts "$RUN/capture.pcap" --port "$port" --get "/flow_facts/$j/stream_bytes") "
  done
  for i in 1 2; do
    total=$(($(value "/observed/steps/$i/observed/bytes_sent") + $(value "/observed/steps/$i/observed/bytes_received")))
    [[ $payloads == *" $total "* ]] ||
      fail "step $i: the client counted $total bytes both ways; the connections on the wire carried:$payloads"
  done
  echo "ok: the delimiter and length steps' bytes are each one connection's payload in capture.pcap"
  check_dissected
}

# capture.pcap as the Wireshark dissector decodes it (tools/wireshark/netlab.lua,
# codec "auto" per connection): each echo step's messages as that codec's
# frames, both ways; the raw step's bytes unframed, and its read log (the
# server's one length-framed answer).
check_dissected() {
  local delimiter length raw want_delimiter want_length way
  dissected "$RUN/capture.pcap" netlab_framing.codec >"$TMP/codecs.txt"
  delimiter=$(grep -cx delimiter "$TMP/codecs.txt") || true
  length=$(grep -cx length "$TMP/codecs.txt") || true
  raw=$(grep -cx raw "$TMP/codecs.txt") || true
  want_delimiter=$((2 * $(value /observed/steps/1/observed/messages_received)))
  want_length=$((2 * $(value /observed/steps/2/observed/messages_received) + 1))
  # The Nagle step's requests and echoes are length frames too, however they were cut into segments.
  for way in 0 1 2 3; do
    want_length=$((want_length + 2 * $(value "/observed/steps/3/observed/variants/$way/requests")))
  done
  ((delimiter == want_delimiter && length == want_length && raw > 0)) ||
    fail "the dissector decodes $delimiter delimiter frames (want $want_delimiter), $length length frames (want $want_length), $raw raw packets"
  echo "ok: the Wireshark dissector decodes $delimiter delimiter frames, $length length frames (the read log among them), $raw raw packets"
}

# The Nagle step across the wire; its verdict recomputed from its numbers.
check_nagle_wire() {
  local j=$RUN/client-nagle-wire.json i nagle slowest=0 median held rtt want got
  if grep -q -- '--- across the wire: skipped' "$TMP/out.txt"; then
    ((EUID != 0)) || fail "as root the nagle-wire step must run"
    echo "skipped: $(grep -m1 -- '--- across the wire: skipped' "$TMP/out.txt")"
    return 0
  fi
  [[ -s $j ]] || fail "nagle-wire: no client-nagle-wire.json"
  wv() { "$BIN/netlab-report" get "$j" "$1"; }
  [[ $(wv /observed/peer_in_this_namespace) == false ]] || fail "nagle-wire: the server was in the client's namespace"
  for i in 0 1 2 3; do
    [[ $(wv "/observed/variants/$i/requests") == 20 ]] || fail "nagle-wire: way $(wv "/observed/variants/$i/name") answered fewer than 20"
    rtt=$(wv "/observed/variants/$i/min_rtt_ms")
    awk -v r="$rtt" 'BEGIN { exit !(r >= 40) }' || fail "nagle-wire: TCP_INFO's round trip $rtt ms is below the wire's 2 x 20 ms"
  done
  wv /observed/loopback/3/median_ms >/dev/null || fail "nagle-wire: the loopback run is not beside it"
  nagle=$(wv /observed/variants/0/median_ms)
  for i in 1 2 3; do
    median=$(wv "/observed/variants/$i/median_ms")
    slowest=$(awk -v a="$slowest" -v b="$median" 'BEGIN { print (b > a ? b : a) }')
  done
  held=$(wv /observed/ack_held_ms)
  want=$(awk -v n="$nagle" -v s="$slowest" -v h="$held" 'BEGIN {
    print (n > 2 * s && h >= 20 ? "confirmed" : n > 2 * s ? "nuanced" : "refuted") }')
  got=$(verdict nagle-delayed-ack-stall "$j")
  [[ $got == "$want" ]] || fail "nagle-wire: nagle-delayed-ack-stall is $got; nagle $nagle ms, slowest way out $slowest ms, ACK held $held ms: want $want"
  echo "ok: nagle-wire: nagle $nagle ms, slowest way out $slowest ms, ACK held $held ms: $got ($(wv /observed/decided_by))"
}

# As nobody the lab makes its path inside a user namespace: the wire step runs there too.
as_nobody() {
  ((EUID == 0)) || return 0
  chmod 755 "$TMP"
  MODE=$(ns_mode "${NOBODY[@]}")
  if [[ $MODE != userns ]]; then
    echo "skipped as nobody: this system does not allow an unprivileged user + network namespace"
    return 0
  fi
  run_lab_as_nobody "$PATH" framing -- --messages 200
  ! grep -q -- '--- across the wire: skipped' "$TMP/out.txt" || fail "as nobody the nagle-wire step was skipped"
  check_nagle_wire
  echo "ok: as nobody, through a user namespace"
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  run_lab framing
  check_files
  check_steps
  check_capture
  check_nagle_wire
  as_nobody
}

main "$@"
