#!/usr/bin/env bash
# Test: `scripts/lab framing` runs raw, delimiter, length and the Nagle step
# (length, --write-write-read) on one port and writes its run folder
# (server.log, client.json with 4 steps, ss.csv, env.txt,
# summary.md); both framings echo every message intact; as root with tcpdump,
# capture.pcap holds the data segments of the lab's port.
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
  ! value /observed/steps/4 >/dev/null 2>&1 || fail "client.json has more than 4 steps"
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

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  run_lab framing
  check_files
  check_steps
  check_capture
}

main "$@"
