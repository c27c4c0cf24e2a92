#!/usr/bin/env bash
# netlab-wire between real namespaces (scripts/lib/netns.sh), as root and as
# nobody (through an unprivileged user namespace):
#   - an unimpaired transfer arrives whole: every checksummed message once,
#     and the wire forwarded every frame it read
#   - 'left>right tcp flags=S nth=1 drop': the client's kernel sends the same
#     SYN (same ISN) again; the capture and the wire's rule log agree on it
#   - --loss: the messages UDP lost are exactly the wire's UDP drops
#   - --delay D each way: TCP_INFO's smallest smoothed RTT is at least 2D
#     (the path cannot be faster) and not much more (the wire adds little)
#   - a cut cable on demand: new rules through --rules-file and SIGHUP stop a
#     connection from opening, and emptying them lets it open; SIGUSR1 writes
#     the stats while the wire runs
#   - garbage (broken IPv4 and TCP/UDP headers, random frames) replayed into
#     both sides with tcpreplay: the wire keeps running, counts the broken
#     frames, and carries a transfer whole afterwards
#   - a rule that does not parse is a usage error naming the wrong word
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib.sh"
source "$ROOT/scripts/lib/common.sh"
source "$ROOT/scripts/lib/run.sh"
source "$ROOT/scripts/lib/server.sh"
source "$ROOT/scripts/lib/netns.sh"
NETLAB_BIN_DIR=$BIN

readonly DELAY_MS=20
WHO=root

value() { "$BIN/netlab-report" get "$1" "$2"; }

server_up() {
  start_server "$NETLAB_RUN/server.log" "$NETLAB_RUN/port" \
    "${NETLAB_IN_SERVER[@]}" "$BIN/netlab-transport-server" --host "$NETLAB_SERVER_ADDR" --port 0 "$@"
}

client() {
  "${NETLAB_IN_CLIENT[@]}" "$BIN/netlab-transport-client" --host "$NETLAB_SERVER_ADDR" --port "$NETLAB_SERVER_PORT" \
    "$@" >>"$NETLAB_RUN/client.log" 2>&1 || fail "$WHO: netlab-transport-client $* failed: $(tail -n 3 "$NETLAB_RUN/client.log")"
}

check_transfer() {
  local json=$NETLAB_RUN/transfer.json d
  wire_start transfer
  server_up --proto tcp
  client --proto tcp --messages 3000 --size 1000 --json "$json"
  stop_server "$NETLAB_SERVER_PID"
  wire_stop
  [[ $(value "$json" /observed/tcp/server/unique) == 3000 && $(value "$json" /observed/tcp/server/lost) == 0 &&
     $(value "$json" /observed/tcp/server/corrupted) == 0 ]] || fail "$WHO: the transfer through the wire did not arrive whole"
  for d in 'left>right' 'right>left'; do
    [[ $(wire_value "/directions/$d/frames_in") == "$(wire_value "/directions/$d/frames_out")" ]] ||
      fail "$WHO: $d: the wire read $(wire_value "/directions/$d/frames_in") frames and forwarded $(wire_value "/directions/$d/frames_out")"
  done
  (($(wire_value '/directions/left>right/frames_in') > 2000)) || fail "$WHO: the wire saw too few frames to have carried the transfer"
  echo "ok ($WHO): 3000 checksummed messages of 1000 bytes through the wire, every frame forwarded"
}

check_syn_drop() {
  local pcap=$NETLAB_RUN/syn.pcap pid seqs logged
  wire_start syn --rule 'left>right tcp flags=S nth=1 drop'
  server_up --proto tcp
  local -a as_root=()
  ((EUID != 0)) || as_root=(-Z root)  # as root tcpdump would switch to a user who may not write here
  "${NETLAB_IN_CLIENT[@]}" tcpdump -i nlc0 --immediate-mode -U -n "${as_root[@]}" -w "$pcap" 'tcp[13] == 2' 2>"$pcap.log" </dev/null &
  pid=$!
  register_pid "$pid" INT
  for ((i = 0; i < 50; i++)); do grep -q 'listening on' "$pcap.log" 2>/dev/null && break; sleep 0.1; done
  client --proto tcp --messages 10
  release_pid "$pid" INT || true
  stop_server "$NETLAB_SERVER_PID"
  wire_stop
  mapfile -t seqs < <(tcpdump -r "$pcap" -nn -S 2>/dev/null | sed -n 's/.*Flags \[S\], seq \([0-9]*\),.*/\1/p')
  ((${#seqs[@]} == 2)) || fail "$WHO: expected the SYN twice in the capture, found ${#seqs[@]}: ${seqs[*]}"
  [[ ${seqs[0]} == "${seqs[1]}" ]] || fail "$WHO: the second SYN has another ISN (${seqs[*]}): not a retransmission"
  [[ $(wire_value /rules/0/fired) == 1 ]] || fail "$WHO: the rule fired $(wire_value /rules/0/fired) times"
  logged=$(wire_value /rule_log/0/seq)
  [[ $logged == "${seqs[0]}" ]] || fail "$WHO: the wire dropped seq $logged, the capture shows ${seqs[0]}"
  [[ $(wire_value /rule_log/0/flags) == S ]] || fail "$WHO: the rule log says flags $(wire_value /rule_log/0/flags)"
  echo "ok ($WHO): the wire dropped SYN seq=$logged once; the client's kernel sent it again with the same ISN"
}

check_loss() {
  local json=$NETLAB_RUN/loss.json lost attempt socket_drops dropped
  wire_start loss --loss 'left>right=0.2' --seed 5
  server_up --proto udp
  client --proto udp --messages 2000 --size 200 --rate 20000 --json "$json"
  stop_server "$NETLAB_SERVER_PID"
  wire_stop
  lost=$(value "$json" /observed/udp/server/lost)
  attempt=$(value "$json" /observed/udp/server/done_attempt)
  socket_drops=$(value "$json" /observed/udp/server/socket_drops)
  dropped=$(wire_value '/directions/left>right/dropped/udp')
  ((dropped > 200)) || fail "$WHO: the wire dropped only $dropped of about 2000 datagrams at --loss 0.2"
  # A lost "done" is retried: it is among the wire's drops, not among the data.
  ((lost + attempt - 1 == dropped + socket_drops)) ||
    fail "$WHO: UDP lost $lost (+$((attempt - 1)) done copies), the wire dropped $dropped, the socket $socket_drops"
  echo "ok ($WHO): UDP lost $lost messages, the wire dropped $dropped datagrams (+$((attempt - 1)) retried done)"
}

check_delay() {
  local min
  wire_start delay --delay "$DELAY_MS"
  server_up --proto tcp
  client --mode congestion --scenario single --seconds 1 --csv "$NETLAB_RUN/rtt.csv" --json "$NETLAB_RUN/delay.json"
  stop_server "$NETLAB_SERVER_PID"
  wire_stop
  # Column 6: srtt in ms, 0 before the first measurement.
  min=$(awk -F, 'NR > 1 && $6 > 0 && (m == "" || $6 < m) { m = $6 } END { print m + 0 }' "$NETLAB_RUN/rtt.csv")
  awk -v m="$min" -v d="$DELAY_MS" 'BEGIN { exit !(m >= 2 * d && m <= 2 * d + 25) }' ||
    fail "$WHO: with $DELAY_MS ms each way, the smallest srtt was $min ms (expected $((2 * DELAY_MS)) to $((2 * DELAY_MS + 25)))"
  echo "ok ($WHO): with $DELAY_MS ms each way the smallest smoothed RTT was $min ms"
}

check_reload() {
  local status=0 fired
  wire_start reload
  server_up --proto tcp
  wire_rules 'both ip drop'
  "${NETLAB_IN_CLIENT[@]}" "$BIN/netlab-transport-client" --host "$NETLAB_SERVER_ADDR" --port "$NETLAB_SERVER_PORT" \
    --proto tcp --messages 10 --max-seconds 2 >>"$NETLAB_RUN/client.log" 2>&1 || status=$?
  ((status == 1)) || fail "$WHO: with the cable cut the client exited $status, not 1"
  kill -USR1 "$NETLAB_WIRE_PID"
  for ((i = 0; i < 50; i++)); do [[ -s $NETLAB_WIRE_STATS ]] && break; sleep 0.1; done
  [[ -s $NETLAB_WIRE_STATS ]] || fail "$WHO: SIGUSR1 wrote no stats"
  fired=$(wire_value /rules/0/fired)
  ((fired >= 1)) || fail "$WHO: the cut cable dropped nothing"
  wire_rules
  client --proto tcp --messages 10
  stop_server "$NETLAB_SERVER_PID"
  wire_stop
  [[ $(wire_value /rules/0/active) == false ]] || fail "$WHO: the emptied rules file left its rule active"
  echo "ok ($WHO): a cut cable by SIGHUP dropped $fired frames and the connect gave up; emptied, the connection opened"
}

check_usage() {
  local status=0 said
  said=$("$BIN/netlab-wire" --left a --right b --rule 'left>right tcp flag=S drop' 2>&1) || status=$?
  ((status == 2)) || fail "a bad rule exited $status, not 2"
  [[ $said == *"'flag=S' is not a condition"* ]] || fail "a bad rule's message does not name the word: $said"
  echo "ok: a bad rule is a usage error naming 'flag=S'"
}

# garbage_pcap FILE SEED: Ethernet frames a peer could send by mistake or on
# purpose, as a pcap (text2pcap): hand-made broken IPv4 — a header cut short,
# options past the frame, a TCP data offset past the frame, a total length
# past the frame, version 6 under EtherType IPv4, a UDP header cut short — a
# frame of another EtherType, and 200 seeded random frames (14..1514 bytes),
# half of them made to say IPv4 (EtherType 0800, often 0x45 next).
garbage_pcap() {
  local file=$1 seed=$2 mac='02 00 00 00 00 01 02 00 00 00 00 02'
  {
    printf '0000 %s 08 00 45 00 00 28 00 00\n' "$mac"
    printf '0000 %s 08 00 4f 00 00 28 00 00 00 00 40 06 00 00 c6 12 00 01 c6 12 00 02\n' "$mac"
    printf '0000 %s 08 00 45 00 00 3c 00 00 00 00 40 06 00 00 c6 12 00 01 c6 12 00 02 9c 40 1b 59 00 00 00 01 00 00 00 00 f0 02\n' "$mac"
    printf '0000 %s 08 00 45 00 05 dc 00 00 00 00 40 06 00 00 c6 12 00 01 c6 12 00 02 9c 40 1b 59 00 00 00 01 00 00 00 00 50 02 ff ff 00 00 00 00\n' "$mac"
    printf '0000 %s 08 00 60 00 00 00 00 14 06 40 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01\n' "$mac"
    printf '0000 %s 08 00 45 00 00 1e 00 00 00 00 40 11 00 00 c6 12 00 01 c6 12 00 02 9c 40\n' "$mac"
    printf '0000 %s 88 b5 de ad be ef\n' "$mac"
    awk -v seed="$seed" 'BEGIN {
      srand(seed)
      for (f = 0; f < 200; ++f) {
        len = 14 + int(rand() * 1501)
        printf "0000"
        for (i = 0; i < len; ++i) {
          b = int(rand() * 256)
          if (f % 2 == 0 && i == 12) b = 8
          if (f % 2 == 0 && i == 13) b = 0
          if (f % 4 == 0 && i == 14) b = 69
          printf " %02x", b
        }
        printf "\n"
      }
    }'
  } >"$file.txt"
  text2pcap -q -l 1 "$file.txt" "$file" 2>"$file.log" || fail "$WHO: text2pcap: $(tail -n 1 "$file.log")"
}

# Garbage into both sides of a running wire (tcpreplay from each namespace):
# it reads every frame and applies its rules to each without crashing,
# counts the broken ones, and a transfer through it afterwards arrives whole.
check_garbage() {
  local pcap=$NETLAB_RUN/garbage.pcap json=$NETLAB_RUN/after-garbage.json d frames sent side status=0
  command -v tcpreplay >/dev/null || fail "tcpreplay is not installed (scripts/setup.sh installs it)"
  garbage_pcap "$pcap" 20261206
  frames=$(($(wc -l <"$pcap.txt")))
  wire_start garbage --rule 'both tcp flags=S nth=1 delay=1' --rule 'right>left udp len>0 drop'
  for side in client server; do
    local -a in_ns=("${NETLAB_IN_CLIENT[@]}")
    local dev=nlc0
    [[ $side == client ]] || { in_ns=("${NETLAB_IN_SERVER[@]}"); dev=nls0; }
    "${in_ns[@]}" tcpreplay -q -i "$dev" "$pcap" >"$NETLAB_RUN/tcpreplay-$side.log" 2>&1 ||
      fail "$WHO: tcpreplay into the $side side: $(tail -n 2 "$NETLAB_RUN/tcpreplay-$side.log")"
  done
  pid_running "$NETLAB_WIRE_PID" || fail "$WHO: netlab-wire died on the garbage (see $NETLAB_WIRE_LOG)"
  server_up --proto tcp
  client --proto tcp --messages 300 --size 1000 --json "$json"
  stop_server "$NETLAB_SERVER_PID"
  release_pid "$NETLAB_WIRE_PID" TERM || status=$?
  NETLAB_WIRE_PID=""
  ((status == 0)) || fail "$WHO: netlab-wire exited $status after the garbage (see $NETLAB_WIRE_LOG)"
  [[ $(value "$json" /observed/tcp/server/unique) == 300 && $(value "$json" /observed/tcp/server/corrupted) == 0 ]] ||
    fail "$WHO: after the garbage, the transfer through the wire did not arrive whole"
  for d in 'left>right' 'right>left'; do
    sent=$(wire_value "/directions/$d/frames_in")
    ((sent >= frames)) || fail "$WHO: $d: the wire read $sent frames, $frames garbage frames were sent into it"
    (($(wire_value "/directions/$d/malformed") >= 5)) ||
      fail "$WHO: $d: the wire counted $(wire_value "/directions/$d/malformed") malformed frames, at least 5 of the hand-made ones are"
  done
  echo "ok ($WHO): $frames garbage frames into each side of the wire (malformed left>right $(wire_value '/directions/left>right/malformed'), not IPv4 $(wire_value '/directions/left>right/not_ipv4')): it kept running, read and counted every one, and then carried 300 messages whole"
}

run_checks() {
  local blocker
  NETLAB_RUN=$TMP/$WHO
  mkdir -p "$NETLAB_RUN"
  trap 'run_cleanups' EXIT
  blocker=$(netns_blocker)
  [[ -z $blocker ]] || fail "$WHO: cannot build the path: $blocker"
  netns_path_up
  check_transfer
  check_syn_drop
  check_loss
  check_delay
  check_reload
  check_garbage
  run_cleanups
}

main() {
  if [[ ${1-} == --inner ]]; then  # as nobody, inside the user namespace
    WHO=nobody
    TMP=$2
    run_checks
    return 0
  fi
  TMP=$(mktemp -d)
  chmod 755 "$TMP"
  trap cleanup EXIT
  check_usage
  if ((EUID == 0)); then
    run_checks
    trap cleanup EXIT
    mkdir -m 777 "$TMP/as-nobody"
    if ! setpriv --reuid=65534 --regid=65534 --clear-groups unshare --map-current-user --net --mount --keep-caps true 2>/dev/null; then
      echo "skipped as nobody: this system does not allow an unprivileged user + network namespace"
      return 0
    fi
    setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$TMP/as-nobody" NETLAB_BIN_DIR="$BIN" \
      unshare --map-current-user --net --mount --keep-caps env NETLAB_IN_NS=1 bash "$HERE/test_wire.sh" --inner "$TMP/as-nobody" ||
      fail "the checks as nobody failed (above)"
  else
    unshare --map-current-user --net --mount --keep-caps true 2>/dev/null || {
      echo "skip: not root, and this system does not allow an unprivileged user + network namespace"
      exit 77
    }
    unshare --map-current-user --net --mount --keep-caps env NETLAB_IN_NS=1 bash "$HERE/test_wire.sh" --inner "$TMP"
  fi
}

main "$@"
