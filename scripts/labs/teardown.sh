#!/usr/bin/env bash
# lab-note: 为什么四次挥手
# lab-order: 3
# lab-port: 7003
# lab-options: [--quick]
# lab-programs: netlab-pcap
# lab-netns: the wire steps make network namespaces: without root, in a user namespace
# lab-claim: Four segments close a connection, because each side closes its own direction.
# lab-claim-zh: 四次挥手关闭连接，因为每一方各自关闭自己的方向。
# lab-run: a normal close with and without a pause, a half-close with data after the FIN, close()
#     with unread data, SO_LINGER 0; then across netlab-wire: the last ACK dropped (with and without
#     a TIME_WAIT socket), both sides closing at once on a 20 ms wire, a replayed FIN whose RST
#     reaches TIME_WAIT (tcp_rfc1337 0 and 1), and an old data segment replayed into a new
#     connection on the same four-tuple; a dead peer: the cable cut under a connection with
#     unacknowledged data (retransmissions backing off, TCP_USER_TIMEOUT) and under idle ones
#     (nothing noticed, until TCP keep-alive)
# lab-run-zh: 正常关闭（有无停顿）、FIN 之后仍发数据的半关闭、有未读数据时 close()、SO_LINGER
#     0；然后经过 netlab-wire：丢掉第四次挥手的 ACK（有和没有 TIME_WAIT 套接字）、20 ms
#     链路上双方同时关闭、重放的 FIN 引出的 RST 打到 TIME_WAIT（tcp_rfc1337 为 0 和
#     1）、旧数据报文被重放进同一四元组的新连接；对端死掉：有未确认数据时剪断网线（重传
#     间隔指数退避，TCP_USER_TIMEOUT 结束它），空闲连接剪断网线（什么都察觉不到，直到 TCP
#     keep-alive 探测）
# lab-look: 3 or 4 segments in the ladder; FIN-WAIT-2 and CLOSE-WAIT in ss; RST instead of FIN;
#     wire-steps.txt: the server's FIN sent twice and TIME_WAIT's timer starting over (or our RST
#     when there is none), CLOSING and TIME_WAIT on both sides, TIME_WAIT gone at the RST only with
#     tcp_rfc1337 0, the old segment dropped by PAWS; the cut cable's retransmissions, each gap
#     twice the last, then ETIMEDOUT; keep-alive probes, then ETIMEDOUT, while the connection
#     without keep-alive stays ESTABLISHED
# lab-look-zh: 时序图里是 3 段还是 4 段；ss 里的 FIN-WAIT-2 和 CLOSE-WAIT；RST 代替
#     FIN；wire-steps.txt：服务端的 FIN 发了两次、TIME_WAIT 的计时器重新开始（没有 TIME_WAIT
#     时我们回 RST）、双方都经过 CLOSING 进入 TIME_WAIT、只有 tcp_rfc1337=0 时 RST 才提前结束
#     TIME_WAIT、旧报文被 PAWS 丢弃；剪断网线后的重传，每次间隔翻倍，然后 ETIMEDOUT；
#     keep-alive 探测报文，然后 ETIMEDOUT，而没有 keep-alive 的连接一直是 ESTABLISHED
# lab-tour-quick: --quick
#
# The teardown lab: how a TCP connection closes, state by state. Steps, on one
# port (default 7003), a fresh server for each, while ss samples the socket
# states into ss.csv and tcpdump records the segments:
#   normal       we close first; the server closes at once (its FIN carries
#                its delayed ACK: 3 segments) and after a 300 ms pause (4)
#   quickack     the same, the second server sets TCP_QUICKACK (4 segments)
#   half-close   shutdown(SHUT_WR), and 256 KiB still arrive after our FIN:
#                FIN_WAIT_2 / CLOSE_WAIT, then LAST_ACK, then TIME_WAIT
#   unread-data  the server closes with our second request unread: RST,
#                ECONNRESET, bytes lost
#   linger0      SO_LINGER {on, 0}: RST, no TIME_WAIT
# then, across netlab-wire (client namespace 198.18.0.1, server 198.18.0.2,
# netns.sh; root, or a normal user inside an unprivileged user namespace), a
# wire per step, its rule log in wire-<step>.json and a capture on the client's
# veth in capture-<step>.pcap:
#   lost-last-ack       the wire drops our last ACK: the server's FIN comes
#                       again from LAST_ACK; our TIME_WAIT answers it, its timer
#                       starts over
#   no-time-wait        the same, with no room for TIME_WAIT in the client's
#                       namespace (tcp_max_tw_buckets 0): our kernel answers RST
#   simultaneous-close  both close at the same moment on a 20 ms wire: the FINs
#                       cross, both sides CLOSING, then TIME_WAIT on both
#   rfc1337-off/-on     the wire replays the server's FIN 500 ms later; our
#                       TIME_WAIT ACKs it, the server (no socket left) answers
#                       RST: with tcp_rfc1337 0 TIME_WAIT is gone, with 1 it stays
#   old-segment         connection 1's data segment replayed 2.5 s later into
#                       connection 2 on the same four-tuple: refused, or PAWS
#   old-segment-bare    the same with no TIME_WAIT (linger 0) and no timestamps
#   cut-cable           once the connection is up the wire drops everything both
#                       ways (wire_rules, asked for by the client); 1000 bytes
#                       written: retransmitted with backoff until TCP_USER_TIMEOUT
#                       (3 s; --quick 2 s) ends it with ETIMEDOUT
#   keepalive           two idle connections, the cable cut: the one without
#                       SO_KEEPALIVE stays ESTABLISHED and silent; the one with it
#                       (1 s, 1 s, 3 probes; --quick 2) probes, then ETIMEDOUT
# As root, closes.txt counts each normal close's segments in the capture, and
# the RSTs that end unread-data and linger0 (netlab-pcap facts).
# shellcheck source-path=SCRIPTDIR/../lib disable=SC2016  # backquotes are Markdown
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/lab.sh"

lab_usage() {
  cat <<EOF
Runs netlab-teardown-server and netlab-teardown-client with --mode normal (and
again with --quickack), half-close, unread-data and linger0, on one port
(default $DEFAULT_PORT). Writes runs/<UTC time>-teardown/: server.log,
client-<step>.json, client.json, ss.csv, capture.pcap and closes.txt (root, or
a user namespace), env.txt, summary.md. Then, across netlab-wire (root, or a
user namespace): lost-last-ack, no-time-wait, simultaneous-close, rfc1337-off,
rfc1337-on, old-segment, old-segment-bare, cut-cable and keepalive, with
wire-<step>.json, capture-<step>.pcap, ladder-<step>.txt and wire-steps.txt.

  --quick        the dead-peer steps shorter: TCP_USER_TIMEOUT 2 s, 2 keep-alive probes
$(lab_options_help "the port for every step")
  -- ...         more client options, e.g. -- --pause-ms 500
EOF
}

USER_TIMEOUT_MS=3000  # cut-cable's TCP_USER_TIMEOUT (--quick: 2000)
KEEP_CNT=3            # keepalive's TCP_KEEPCNT (--quick: 2)

lab_option() {
  [[ $1 == --quick ]] || return 1
  USER_TIMEOUT_MS=2000 KEEP_CNT=2 OPTION_WORDS=1
}

# The quickack step: the second server ACKs our FIN at once instead of pausing.
lab_step_args() { [[ $1 != quickack ]] || NETLAB_CLIENT_ARGS+=(--quickack); }

# Each close in the capture, as the class would read it (tcpdump, from the
# first FIN or RST on), and counted by netlab-pcap facts: for each normal
# close its FINs and the ACK of each (close_segments), next to what the
# client's TCP_INFO counted; for unread-data and linger0, the RSTs and FINs.
count_closes() {
  [[ -z $NETLAB_CAPTURE_SKIPPED && -s $NETLAB_RUN/capture.pcap ]] || return 0
  local step i port label counted facts on_wire first_fin rst rst_from_server file=$NETLAB_RUN/closes.txt
  for step in normal quickack unread-data linger0; do
    for i in 0 1; do
      if [[ $step == normal || $step == quickack ]]; then
        port=$("$NETLAB_BIN_DIR/netlab-report" get "$NETLAB_RUN/client-$step.json" "/observed/connections/$i/local_port")
        label=$("$NETLAB_BIN_DIR/netlab-report" get "$NETLAB_RUN/client-$step.json" "/observed/connections/$i/connection")
      else
        ((i == 0)) || continue
        port=$("$NETLAB_BIN_DIR/netlab-report" get "$NETLAB_RUN/client-$step.json" /observed/local_port)
        label="the server's close() with SO_LINGER {on, 0}"
        [[ $step == linger0 ]] || label="the server closes with our second request unread"
      fi
      printf '$ tcpdump -r capture.pcap -n "tcp port %s and tcp port %s"   # %s: %s\n' "$NETLAB_PORT" "$port" "$step" "$label"
      tcpdump -r "$NETLAB_RUN/capture.pcap" -n "tcp port $NETLAB_PORT and tcp port $port" 2>/dev/null |
        awk '/Flags \[[^]]*[FR]/ { closing = 1 } closing { print "    " $0 }'
      printf '$ netlab-pcap facts capture.pcap --port %s\n' "$port"
      # The capture's filter is the lab port: the client port picks one connection.
      if ! facts=$(pcap_facts "$NETLAB_RUN/capture.pcap" "$port" /flow_facts/0/close_segments /flow_facts/0/first_fin_from \
        /flow_facts/0/rst_segments /flow_facts/0/rst_from_server 2>&1); then
        printf 'not in the capture: %s\n\n' "$facts"
        continue
      fi
      { read -r on_wire; read -r first_fin; read -r rst; read -r rst_from_server; } <<<"$facts"
      if [[ $step == normal || $step == quickack ]]; then
        counted=$("$NETLAB_BIN_DIR/netlab-report" get "$NETLAB_RUN/client-$step.json" "/observed/connections/$i/closing_segments")
        printf 'closing segments: %s on the wire, %s counted by the client (TCP_INFO); the first FIN from the %s\n\n' \
          "$on_wire" "$counted" "${first_fin:-(no FIN)}"
      else
        printf 'ended by: %s RST (%s from the server); %s\n\n' \
          "$rst" "$rst_from_server" "${first_fin:+a FIN from the $first_fin}${first_fin:-no FIN}"
      fi
    done
  done >"$file"
  say ""
  say "the closes in the capture ($file):"
  grep -E '^(\$ tcpdump|closing|ended|not in)' "$file" | sed 's/^/    /'
}

# --- across the wire ---------------------------------------------------------

# lost-last-ack: nothing is sent, we close first: S, SA, A, FA, FA, A. Our
# second pure ACK is the last one of the close, and the wire drops it. 10 ms
# each way, so the server's census sees its FIN retransmitted for a moment.
step_lost_last_ack() {
  wire_step lost-last-ack passive-close -- --delay 10 --rule "left>right tcp flags=A len=0 dport=$DEFAULT_PORT nth=2 drop" \
    -- --mode lost-last-ack
}

# no-time-wait: the same loss, and no TIME_WAIT socket: with tcp_max_tw_buckets
# 0 the client's kernel has no room for one (TcpExtTCPTimeWaitOverflow), as if
# it had expired. (SO_LINGER {on, 0} cannot show this: it replaces our FIN by an
# RST, so the server never reaches LAST_ACK.)
step_no_time_wait() {
  local buckets
  buckets=$("${NETLAB_IN_CLIENT[@]}" sysctl -n net.ipv4.tcp_max_tw_buckets)
  "${NETLAB_IN_CLIENT[@]}" sysctl -qw net.ipv4.tcp_max_tw_buckets=0 || die "cannot set tcp_max_tw_buckets in $NETLAB_NS_CLIENT"
  wire_step no-time-wait passive-close -- --delay 10 --rule "left>right tcp flags=A len=0 dport=$DEFAULT_PORT nth=2 drop" \
    -- --mode no-time-wait
  "${NETLAB_IN_CLIENT[@]}" sysctl -qw net.ipv4.tcp_max_tw_buckets="$buckets"
}

# simultaneous-close: both sides shut down at one agreed time; 20 ms each way.
step_simultaneous_close() {
  wire_step simultaneous-close simultaneous-close -- --delay 20 -- --mode simultaneous-close
}

# rfc1337: TIME_WAIT assassination, with tcp_rfc1337 0 (the default) and 1 in
# the client's namespace. The second run compares itself with the first.
step_rfc1337() {
  local setting rule="right>left tcp flags=FA sport=$DEFAULT_PORT nth=1 hold-and-replay=500"
  setting=$("${NETLAB_IN_CLIENT[@]}" sysctl -n net.ipv4.tcp_rfc1337)
  "${NETLAB_IN_CLIENT[@]}" sysctl -qw net.ipv4.tcp_rfc1337=0 || die "cannot set tcp_rfc1337 in $NETLAB_NS_CLIENT"
  wire_step rfc1337-off passive-close -- --rule "$rule" -- --mode rfc1337
  "${NETLAB_IN_CLIENT[@]}" sysctl -qw net.ipv4.tcp_rfc1337=1
  wire_step rfc1337-on passive-close -- --rule "$rule" -- --mode rfc1337 --compare-with "$NETLAB_RUN/client-rfc1337-off.json"
  "${NETLAB_IN_CLIENT[@]}" sysctl -qw net.ipv4.tcp_rfc1337="$setting"
}

# old-segment: the note's second reason for 2MSL. Connection 1's data segment
# passes and is replayed 2.5 s later, into connection 2 on the same four-tuple.
step_old_segment() {
  wire_step old-segment old-segment -- --rule "left>right tcp len>0 dport=$DEFAULT_PORT nth=1 hold-and-replay=2500" \
    -- --mode old-segment
}

# old-segment-bare: the counterfactual, with nothing guarding: connection 1
# aborted with SO_LINGER {on, 0} (no TIME_WAIT) and tcp_timestamps 0 in the
# client's namespace (no PAWS). Only the sequence numbers are left.
step_old_segment_bare() {
  local timestamps
  timestamps=$("${NETLAB_IN_CLIENT[@]}" sysctl -n net.ipv4.tcp_timestamps)
  "${NETLAB_IN_CLIENT[@]}" sysctl -qw net.ipv4.tcp_timestamps=0 || die "cannot set tcp_timestamps in $NETLAB_NS_CLIENT"
  wire_step old-segment-bare old-segment -- --rule "left>right tcp len>0 dport=$DEFAULT_PORT nth=1 hold-and-replay=2500" \
    -- --mode old-segment-bare
  "${NETLAB_IN_CLIENT[@]}" sysctl -qw net.ipv4.tcp_timestamps="$timestamps"
}

# A dead peer: the cable is cut under a connection that is up. The client
# writes cut-STEP once its connection is up; cut_when_asked (wire_step runs it
# in the background meanwhile) makes the wire drop everything both ways and
# writes cut-STEP.cut. The client reads its own capture once the connection is dead.
cut_when_asked() {
  local asked=$NETLAB_RUN/cut-$1
  wait_for_file "$asked" $$ 200 || exit 0
  wire_rules 'both ip drop'
  date +%s.%N >"$asked.cut"  # when, in the capture's clock (tcpdump -tt)
}

dead_peer_step() {
  local step=$1
  shift
  WIRE_DURING=cut_when_asked
  wire_step "$step" dead-peer -- -- --mode "$step" --cut-file "$NETLAB_RUN/cut-$step" \
    --capture "$NETLAB_RUN/capture-$step.pcap" "$@"
  WIRE_DURING=""
}

# cut-cable: unacknowledged data, retransmitted with backoff until TCP_USER_TIMEOUT.
step_cut_cable() { dead_peer_step cut-cable --user-timeout-ms "$USER_TIMEOUT_MS"; }

# keepalive: idle connections notice nothing, unless TCP keep-alive probes.
step_keepalive() { dead_peer_step keepalive --keep-idle 1 --keep-intvl 1 --keep-cnt "$KEEP_CNT"; }

wire_steps() {
  path_ready || { wire_skip "$PATH_BLOCKER"; return 0; }
  step_lost_last_ack
  step_no_time_wait
  step_simultaneous_close
  step_rfc1337
  step_old_segment
  step_old_segment_bare
  step_cut_cable
  step_keepalive
}

report() {
  lab_merge "${STEPS[@]}"
  lab_verdicts
  wire_summary >>"$NETLAB_RUN/summary.md"
  lab_run_folder "summary.md, client.json, ss.csv, closes.txt, wire-steps.txt, server.log"
}

main() {
  lab_begin "$@"

  lab_step normal "--mode normal" --mode normal --pause-ms 300
  lab_step quickack "--mode normal" --mode normal
  lab_step half-close "--mode half-close" --mode half-close --pause-ms 300
  lab_step unread-data "--mode unread-data" --mode unread-data
  lab_step linger0 "--mode linger0" --mode linger0 --pause-ms 200
  stop_observers
  count_closes
  wire_steps
  lab_end
}

main "$@"
