#!/usr/bin/env bash
# lab-note: tcp和udp
# lab-order: 1
# lab-port: 7001
# lab-dissector: netlab_transport
# lab-options: [--quick]
# lab-programs: netlab-relay netlab-pcap netlab-wire
# lab-netns: the lossy-link, congestion and window steps make network namespaces: without root, in a
#     user namespace
# lab-claim: TCP is connection-oriented, reliable, ordered and flow-controlled; UDP is none of these
#     and lighter.
# lab-claim-zh: TCP 面向连接、可靠、有序、有流量控制；UDP 都没有，但更轻。
# lab-run: the same numbered stream over TCP and UDP: plain loopback, a slow reader, an impairing
#     relay, a lossy link and a 20 Mbit/s bottleneck between namespaces (netlab-wire), a closed port;
#     then one flow over a 50 ms path against a 64 KiB window, autotuning and no window scaling, and a
#     reader that stops long enough for zero-window probes
# lab-run-zh: 同一串编号消息分别走 TCP 和 UDP：普通回环、慢读者、丢包中继、命名空间之间的丢包链路和
#     20 Mbit/s 瓶颈（netlab-wire）、关闭的端口；再在 50 ms 往返的路径上各跑一条流：64 KiB
#     窗口、自动调优、关闭窗口扩大；最后让读者停得足够久，看零窗口探测
# lab-look: lost / reordered counts next to the kernel's own drop counters; RST against ICMP for a
#     closed port; packets per message; cwnd.svg: slow start, the back-off at a loss, UDP not
#     backing off; goodput against window / RTT and the wscale in the SYNs; the probes' backoff
# lab-look-zh: 丢失/乱序计数与内核自己的丢弃计数对照；关闭端口时 TCP 收到 RST，UDP 收到
#     ICMP；每条消息的包数；cwnd.svg：慢启动、丢包时的退让、UDP 不退让；吞吐对照窗口/RTT、
#     SYN 里的 wscale；零窗口探测的间隔逐次加倍
# lab-tour-quick: --quick
#
# The transport lab: the same numbered message stream over TCP and over UDP,
# and what the kernel does with each.
#   1 plain        loopback at full speed, a normal reader
#   2 slow-reader  a small receive buffer and a slow reader: UDP datagrams are
#                  dropped by the kernel (counted by SO_RXQ_OVFL and
#                  UdpRcvbufErrors), TCP's sender waits instead (flow control)
#   3 impaired     UDP through netlab-relay: seeded loss, duplication, jitter
#   4 lossy-link   a client and a server namespace joined through netlab-wire,
#                  which loses 10 % of what goes to the server (seeded): TCP
#                  retransmits, UDP loses exactly what the wire dropped
#   5 semantics    connect to a closed port (TCP: RST, UDP: nothing), and the
#                  packets one message costs
#   6 overhead     bytes and packets per message, from the capture
#   7 congestion   the wire as a 20 Mbit/s bottleneck, 20 ms each way, a queue
#                  of one bandwidth-delay product: TCP_INFO every 10 ms (cwnd.csv,
#                  cwnd.svg) — slow start, the back-off after a loss, two flows
#                  sharing, UDP beside TCP, one flow per congestion algorithm
#   8 window       the wire at 40 Mbit/s, 25 ms each way (RTT 50 ms): one flow
#                  to a server whose SO_RCVBUF is 64 KiB, one with default
#                  buffers (autotuning), one with tcp_window_scaling=0 in both
#                  namespaces: goodput against window / RTT, the window scale
#                  option in the SYNs (capture-window-*.pcap)
#   9 persist      on loopback, a reader that stops for seconds behind a 2 KiB
#                  buffer: the sender's zero-window probes and their backoff,
#                  from the step's capture
# Steps 4, 7 and 8 build their path of namespaces as root, or for a normal user
# inside an unprivileged user namespace (scripts/lib/netns.sh).
# ss samples the lab port throughout, tcpdump records it (root, or a user
# namespace), and each step prints the note's claims with their verdicts.
# shellcheck source-path=SCRIPTDIR/../lib
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/lab.sh"

readonly DEFAULT_RELAY_PORT=7101
readonly RELAY=netlab-relay
readonly LINK_LOSS=0.1     # the lossy link drops 10 % of what goes to the server
readonly LINK_SEED=7
# The bottleneck: 20 Mbit/s, 20 ms each way; its queue holds one
# bandwidth-delay product: 20 Mbit/s x 40 ms = 100 kB = 66 frames of 1514 bytes.
readonly BOTTLENECK_KBIT=20000
readonly BOTTLENECK_DELAY_MS=20
readonly BOTTLENECK_QUEUE=66
CONGESTION_SECONDS=10      # each flow of the congestion step (--quick: 3)
# The long path: 50 ms round trip, 40 Mbit/s, a queue of one bandwidth-delay
# product (40 Mbit/s x 50 ms = 250 kB = 165 frames). A 64 KiB window over
# 50 ms allows about 10.5 Mbit/s: well below the link, so the window shows.
readonly WINDOW_KBIT=40000
readonly WINDOW_DELAY_MS=25
readonly WINDOW_QUEUE=165
readonly WINDOW_RCVBUF=65536
WINDOW_SECONDS=3           # each flow of the window step (--quick: 1.5)
# The persist step: 2 KiB of receive buffer (two messages), 1 s per message read:
# each zero window lasts about 2 s, long enough for three probes (RTO 200 ms, doubling).
PERSIST_MESSAGES=5         # (--quick: 3)

STEPS=()          # the client result of each step, in order
CAPTURE_NOTES=()  # what the captures show, for summary.md
STEP_CAPTURE_PID=""
STEP_CAPTURE_FILE=""

lab_usage() {
  cat <<EOF
Runs netlab-transport-server, netlab-transport-client and netlab-relay through
nine steps (plain, slow-reader, impaired, lossy-link, semantics, overhead,
congestion, window, persist) on one port (default $DEFAULT_PORT, TCP and UDP; the relay on $DEFAULT_RELAY_PORT) and
writes runs/<UTC time>-transport/: server.log, relay.log, client-<step>.json,
client.json, ss.csv, capture.pcap and per-step captures (root, or a user
namespace), wire-<step>.json and .events (netlab-wire), cwnd.csv, cwnd.svg,
env.txt, summary.md.

The lossy-link, congestion and window steps run across netlab-wire between network
namespaces: as root, or for a normal user inside an unprivileged user
namespace; where the system allows neither, they say so and are skipped.

  --quick        congestion flows of 3 s instead of 10, window flows of 1.5 s
                 instead of 3, a persist step of 3 messages instead of 5
$(lab_options_help "the server's port for every step")
  -- ...         more client options for the stream steps, e.g. -- --messages 2000
EOF
}

# --- one step's own capture (the whole-run capture.pcap mixes the steps) ------

capture_possible() { [[ -z $NETLAB_CAPTURE_SKIPPED && -n ${NETLAB_CAPTURE_PID-} ]]; }

# step_capture_start FILE FILTER: a second tcpdump on lo, for one step only.
step_capture_start() {
  local file=$1 filter=$2 i
  local -a drop=()
  capture_possible || return 0
  ((EUID == 0)) && drop=(-Z root)
  # --immediate-mode: hand each packet over at once, so none waits in a
  # half-filled kernel buffer when the step ends.
  tcpdump -i lo --immediate-mode -B 32768 -U -s 0 -n "${drop[@]}" -w "$file" "$filter" 2>"$file.log" </dev/null &
  STEP_CAPTURE_PID=$!
  STEP_CAPTURE_FILE=$file
  register_pid "$STEP_CAPTURE_PID" INT
  tcpdump_listening "$file.log" "$STEP_CAPTURE_PID" && return 0
  warn "tcpdump for ${file##*/} did not start: $(tail -n 1 "$file.log" 2>/dev/null)"
  step_capture_stop
}

# Lets tcpdump catch up first: polls until the file stops growing (at most 3 s).
step_capture_stop() {
  local size last=-1 i
  [[ -n $STEP_CAPTURE_PID ]] || return 0
  for ((i = 0; i < 30; i++)); do
    size=$(stat -c %s "$STEP_CAPTURE_FILE" 2>/dev/null || echo 0)
    ((size != last)) || break
    last=$size
    sleep 0.1
  done
  release_pid "$STEP_CAPTURE_PID" INT || true
  STEP_CAPTURE_PID=""
}


# --- servers and clients ---------------------------------------------------------

# server_up STEP ARGS...: a fresh server on the lab port (the first one may pick it).
server_up() { lab_server "$1" "$1" "${@:2}"; }

# client STEP ARGS...: the client with --step STEP, its JSON into client-STEP.json.
client() {
  local step=$1
  shift
  say ""
  say "--- step $step: $CLIENT $*"
  lab_client "$step" "$@" --step "$step"
  STEPS+=("$NETLAB_RUN/client-$step.json")
}

value() { "$NETLAB_BIN_DIR/netlab-report" get "$1" "$2"; }

# --- the steps -----------------------------------------------------------------------

step_plain() {
  server_up plain
  client_args --messages 20000 --size 200 --seed 1
  client plain "$NETLAB_BIN_DIR/$CLIENT" --port "$NETLAB_PORT" "${NETLAB_CLIENT_ARGS[@]}"
  stop_server "$NETLAB_SERVER_PID"
}

# A 4 KiB receive buffer (the kernel doubles it) and 100 us per message.
step_slow_reader() {
  local pcap=$NETLAB_RUN/capture-slow-reader.pcap zero
  server_up slow-reader --rcvbuf 4096 --reader-delay-us 100
  step_capture_start "$pcap" "tcp port $NETLAB_PORT"
  client_args --messages 3000 --size 1000 --sndbuf 16384 --seed 1
  client slow-reader "$NETLAB_BIN_DIR/$CLIENT" --port "$NETLAB_PORT" "${NETLAB_CLIENT_ARGS[@]}"
  step_capture_stop
  stop_server "$NETLAB_SERVER_PID"
  if [[ -s $pcap ]]; then
    # The receiver's segments with window 0 (not a RST): "stop sending".
    zero=$(pcap_facts "$pcap" "$NETLAB_PORT" /zero_window_from_server)
    CAPTURE_NOTES+=("slow-reader: $zero TCP segments from the server advertised a zero window (capture-slow-reader.pcap$(pcap_missed "$pcap.log"))")
    say "capture: $zero zero-window segments from the slow reader"
  fi
}

step_impaired() {
  local relay_port=$DEFAULT_RELAY_PORT
  if [[ -n $(ss -Hlun "sport = :$relay_port" 2>/dev/null) ]]; then
    say "UDP port $relay_port is in use: the relay takes an ephemeral port"
    relay_port=0
  fi
  server_up impaired --proto udp
  local server_pid=$NETLAB_SERVER_PID
  printf '===== impaired (%s) =====\n' "$(date -u +%H:%M:%SZ)" >>"$NETLAB_RUN/relay.log"
  start_server "$NETLAB_RUN/relay.log" "$NETLAB_RUN/port.relay" "$NETLAB_BIN_DIR/$RELAY" --port "$relay_port" \
    --server-port "$NETLAB_PORT" --loss 0.05 --duplicate 0.02 --reorder 0.01 --delay-ms 1 --jitter-ms 3 \
    --seed 7 --json "$NETLAB_RUN/relay.json" --log-level info
  local relay_pid=$NETLAB_SERVER_PID
  relay_port=$NETLAB_SERVER_PORT
  say "netlab-relay on port $relay_port: loss 5 %, duplicate 2 %, reorder 1 %, delay 1 ms + jitter 0..3 ms, seed 7"
  client_args --messages 3000 --size 200 --rate 2000 --seed 1
  client impaired "$NETLAB_BIN_DIR/$CLIENT" --port "$relay_port" --proto udp --relay "${NETLAB_CLIENT_ARGS[@]}"
  stop_server "$relay_pid"
  stop_server "$server_pid"
}


skip_step() {
  say ""
  say "--- step $1: skipped — $2"
  CAPTURE_NOTES+=("$1: skipped — $2")
}

# path_server_up STEP [SERVER-OPTIONS...]: the server on the server's side of the path, for one step.
path_server_up() {
  printf '===== %s (%s, in %s) =====\n' "$1" "$(date -u +%H:%M:%SZ)" "$NETLAB_NS_SERVER" >>"$NETLAB_RUN/server.log"
  start_server "$NETLAB_RUN/server.log" "$NETLAB_RUN/port.$1" \
    "${NETLAB_IN_SERVER[@]}" "$NETLAB_BIN_DIR/$SERVER" --host "$NETLAB_SERVER_ADDR" --port "$DEFAULT_PORT" --log-level info \
    "${@:2}"
}

# The wire loses a seeded 10 % of what goes to the server; the same seed
# loses the same datagrams of the same stream, run after run.
step_lossy_link() {
  local udp_dropped tcp_dropped retransmitted
  path_ready || { skip_step lossy-link "$PATH_BLOCKER"; return 0; }
  wire_start lossy-link --loss "left>right=$LINK_LOSS" --seed "$LINK_SEED"
  path_server_up lossy-link
  client_args --messages 3000 --size 200 --rate 20000 --seed 1
  client lossy-link "${NETLAB_IN_CLIENT[@]}" "$NETLAB_BIN_DIR/$CLIENT" --host "$NETLAB_SERVER_ADDR" --port "$NETLAB_SERVER_PORT" \
    --link-loss "$LINK_LOSS" "${NETLAB_CLIENT_ARGS[@]}"
  stop_server "$NETLAB_SERVER_PID"
  wire_stop
  udp_dropped=$(wire_value '/directions/left>right/dropped/udp')
  tcp_dropped=$(wire_value '/directions/left>right/dropped/tcp')
  retransmitted=$(value "$NETLAB_RUN/client-lossy-link.json" /observed/tcp/total_retrans)
  CAPTURE_NOTES+=("lossy-link: netlab-wire (seed $LINK_SEED) dropped udp $udp_dropped packets, tcp $tcp_dropped packets on the way to the server (wire-lossy-link.json); the client's kernel retransmitted $retransmitted TCP segments (TCP_INFO total_retrans)")
  say "netlab-wire dropped: udp $udp_dropped tcp $tcp_dropped; TCP retransmitted $retransmitted segments"
}

# TCP through a bottleneck: the congestion window, sampled every 10 ms.
step_congestion() {
  local queue_drops
  path_ready || { skip_step congestion "$PATH_BLOCKER"; return 0; }
  wire_start congestion --rate "$BOTTLENECK_KBIT" --delay "$BOTTLENECK_DELAY_MS" --queue "$BOTTLENECK_QUEUE" --seed 1
  say "netlab-wire: ${BOTTLENECK_KBIT} kbit/s, ${BOTTLENECK_DELAY_MS} ms each way, queue $BOTTLENECK_QUEUE frames"
  path_server_up congestion
  client congestion "${NETLAB_IN_CLIENT[@]}" "$NETLAB_BIN_DIR/$CLIENT" --mode congestion --host "$NETLAB_SERVER_ADDR" \
    --port "$NETLAB_SERVER_PORT" --seconds "$CONGESTION_SECONDS" --bottleneck-kbit "$BOTTLENECK_KBIT" \
    --wire-events "$NETLAB_WIRE_EVENTS" --csv "$NETLAB_RUN/cwnd.csv" --svg "$NETLAB_RUN/cwnd.svg" --max-seconds 600
  stop_server "$NETLAB_SERVER_PID"
  wire_stop
  queue_drops=$(wire_value '/directions/left>right/dropped/queue')
  CAPTURE_NOTES+=("congestion: the bottleneck's queue dropped $queue_drops frames (max depth $(wire_value '/directions/left>right/queue_max')); cwnd over time: [cwnd.svg](cwnd.svg), [cwnd-algorithms.svg](cwnd-algorithms.svg), samples in cwnd.csv")
  say "netlab-wire: the queue dropped $queue_drops frames; chart: $NETLAB_RUN/cwnd.svg"
}

# window_flow CASE [SERVER-OPTIONS...]: one flow of the window step; its SYN
# and SYN-ACK captured on the client's veth (capture-window-CASE.pcap).
window_flow() {
  local case=$1 scales
  path_server_up "window-$case" --proto tcp "${@:2}"
  wire_capture_start "window-$case" "tcp port $DEFAULT_PORT and tcp[tcpflags] & tcp-syn != 0"
  client "window-$case" "${NETLAB_IN_CLIENT[@]}" "$NETLAB_BIN_DIR/$CLIENT" --mode window --window-case "$case" \
    --host "$NETLAB_SERVER_ADDR" --port "$NETLAB_SERVER_PORT" --window-seconds "$WINDOW_SECONDS"
  wire_capture_stop
  stop_server "$NETLAB_SERVER_PID"
  [[ -n $WIRE_CAPTURE_FILE && -s $WIRE_CAPTURE_FILE ]] || return 0
  # tcpdump prints the options of each SYN: "wscale 7", or no wscale at all.
  scales=$(tcpdump -r "$WIRE_CAPTURE_FILE" -n 2>/dev/null | awk '
    { kind = index($0, "Flags [S.]") ? "SYN-ACK" : "SYN"; w = "no window scale"
      if (match($0, /wscale [0-9]+/)) w = substr($0, RSTART, RLENGTH)
      printf "%s%s %s", (NR > 1 ? ", " : ""), kind, w }')
  CAPTURE_NOTES+=("window-$case: ${scales:-no SYN captured} (capture-window-$case.pcap)")
  say "capture: $scales"
}

# window_scaling_set VALUE: net.ipv4.tcp_window_scaling in the client's and
# the server's namespaces (ours: nothing outside them changes).
window_scaling_set() {
  "${NETLAB_IN_CLIENT[@]}" sysctl -qw "net.ipv4.tcp_window_scaling=$1" &&
    "${NETLAB_IN_SERVER[@]}" sysctl -qw "net.ipv4.tcp_window_scaling=$1" ||
    die "cannot set net.ipv4.tcp_window_scaling=$1 in the lab's namespaces"
}

# rwnd / RTT: a 64 KiB receive buffer, default buffers, and no window scaling.
step_window() {
  local before dir=$NETLAB_RUN
  path_ready || { skip_step window "$PATH_BLOCKER"; return 0; }
  wire_start window --rate "$WINDOW_KBIT" --delay "$WINDOW_DELAY_MS" --queue "$WINDOW_QUEUE" --seed 1
  say "netlab-wire: ${WINDOW_KBIT} kbit/s, ${WINDOW_DELAY_MS} ms each way, queue $WINDOW_QUEUE frames"
  window_flow small --rcvbuf "$WINDOW_RCVBUF"
  window_flow autotuned
  before=$("${NETLAB_IN_CLIENT[@]}" sysctl -n net.ipv4.tcp_window_scaling)
  window_scaling_set 0
  window_flow unscaled
  window_scaling_set "$before"
  wire_stop
  client window "$NETLAB_BIN_DIR/$CLIENT" --mode window-verdicts \
    --runs "$dir/client-window-small.json,$dir/client-window-autotuned.json,$dir/client-window-unscaled.json"
}

# A reader that stops for seconds: the sender meets a zero window for longer
# than its RTO, and the persist timer probes it.
step_persist() {
  local pcap=$NETLAB_RUN/capture-persist.pcap probes
  server_up persist --proto tcp --rcvbuf 2048 --reader-delay-us 1000000
  step_capture_start "$pcap" "tcp port $NETLAB_PORT"
  client persist "$NETLAB_BIN_DIR/$CLIENT" --proto tcp --port "$NETLAB_PORT" --messages "$PERSIST_MESSAGES" --size 1000 \
    --sndbuf 65536 --seed 1
  step_capture_stop
  stop_server "$NETLAB_SERVER_PID"
  if [[ -s $pcap ]]; then
    client persist-probes "$NETLAB_BIN_DIR/$CLIENT" --mode probes-capture --pcap "$pcap" --port "$NETLAB_PORT"
    # "N probes in M zero-window stalls; gaps in ms ...", as the check measured it.
    probes=$("$NETLAB_BIN_DIR/netlab-report" checks "$NETLAB_RUN/client-persist-probes.json" |
      awk -F'\t' '$2 == "zero-window-probes-back-off" { print $5 }')
    CAPTURE_NOTES+=("persist: $probes (capture-persist.pcap$(pcap_missed "$pcap.log"))")
  else
    CAPTURE_NOTES+=("persist: no capture — the probes are counted from capture-persist.pcap only")
  fi
}

step_semantics() {
  local dead pcap=$NETLAB_RUN/capture-semantics.pcap
  dead=$(free_port_near "$NETLAB_PORT")
  server_up semantics
  step_capture_start "$pcap" "port $NETLAB_PORT or port $dead or icmp"
  client semantics "$NETLAB_BIN_DIR/$CLIENT" --mode semantics --port "$NETLAB_PORT" --dead-port "$dead"
  step_capture_stop
  stop_server "$NETLAB_SERVER_PID"
  if [[ -s $pcap ]]; then
    local rst unconnected tcp_one
    # To the closed port: the RSTs it sent, and the ICMP port unreachables
    # quoting datagrams sent to it. To the lab port: the one TCP connection.
    { read -r rst; read -r unconnected; } < <(pcap_facts "$pcap" "$dead" /rst_from_server /icmp_port_unreachable)
    tcp_one=$(pcap_facts "$pcap" "$NETLAB_PORT" /tcp/packets)
    CAPTURE_NOTES+=("semantics: the closed port $dead answered the SYN with $rst RST; $unconnected ICMP port-unreachable messages answered the UDP datagrams; the one-message TCP connection took $tcp_one packets (capture-semantics.pcap)")
    say "capture: RST from port $dead: $rst; ICMP unreachable: $unconnected; one TCP message: $tcp_one packets"
  fi
}

# A port near $1 where nothing is bound, TCP or UDP (bounded search).
free_port_near() {
  local base=$1 port i
  for ((i = 1; i <= 100; i++)); do
    port=$(((base + i - 1025) % 64000 + 1025))
    [[ -n $(ss -Hatun "sport = :$port" 2>/dev/null) ]] || { echo "$port"; return 0; }
  done
  die "no free port near $base"
}

step_overhead() {
  local pcap=$NETLAB_RUN/capture-overhead.pcap
  server_up overhead
  step_capture_start "$pcap" "port $NETLAB_PORT"
  client_args --messages 2000 --size 200 --seed 1
  # With a capture, tcp-costs-more is judged from its bytes (overhead-capture
  # below), not from header sizes.
  [[ -z ${STEP_CAPTURE_PID-} ]] || NETLAB_CLIENT_ARGS+=(--overhead-by-capture)
  client overhead "$NETLAB_BIN_DIR/$CLIENT" --port "$NETLAB_PORT" "${NETLAB_CLIENT_ARGS[@]}"
  step_capture_stop
  stop_server "$NETLAB_SERVER_PID"
  if [[ " ${NETLAB_CLIENT_ARGS[*]} " == *" --overhead-by-capture "* && -s $pcap ]]; then
    client overhead-capture "$NETLAB_BIN_DIR/$CLIENT" --mode overhead-capture --pcap "$pcap" --port "$NETLAB_PORT" \
      --messages "$(value "$NETLAB_RUN/client-overhead.json" /params/messages)"
  fi
  if [[ -s $pcap ]]; then
    local messages tcp_packets udp_packets tcp_bytes udp_bytes line
    messages=$(value "$NETLAB_RUN/client-overhead.json" /params/messages)
    # IP bytes: each packet's IP total length (headers and payload, no link header).
    { read -r tcp_packets; read -r udp_packets; read -r tcp_bytes; read -r udp_bytes; } < <(
      pcap_facts "$pcap" "$NETLAB_PORT" /tcp/packets /udp/packets /tcp/ip_bytes /udp/ip_bytes)
    line=$(awk -v n="$messages" -v tp="$tcp_packets" -v up="$udp_packets" -v tb="$tcp_bytes" -v ub="$udp_bytes" \
      'BEGIN { printf "per message, from the capture: TCP %.1f IP bytes in %.3f packets, UDP %.1f IP bytes in %.3f packets", tb / n, tp / n, ub / n, up / n }')
    CAPTURE_NOTES+=("overhead: $line ($tcp_packets TCP / $udp_packets UDP packets for $messages messages each, capture-overhead.pcap$(pcap_missed "$pcap.log"))")
    say "capture: $line"
  else
    CAPTURE_NOTES+=("overhead: no capture — the numbers in client-overhead.json are estimated from header sizes")
  fi
}

# --- the command line and env.txt -------------------------------------------------------

# --quick: this lab's own option (parse_lab_args).
lab_option() {
  [[ $1 == --quick ]] || return 1
  CONGESTION_SECONDS=3 WINDOW_SECONDS=1.5 PERSIST_MESSAGES=3 OPTION_WORDS=1
}

# For env.txt: the receive buffers the slow-reader step runs into.
lab_env() {
  printf 'net.core.rmem_default = %s\n' "$(cat /proc/sys/net/core/rmem_default 2>/dev/null || echo unavailable)"
  printf 'net.core.rmem_max = %s\n' "$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo unavailable)"
}

# --- the end ---------------------------------------------------------------------------

report() {
  local note
  lab_merge "${STEPS[@]}"
  lab_verdicts
  {
    printf '\n## What the captures and the kernel counted\n\n'
    for note in "${CAPTURE_NOTES[@]}"; do printf -- '- %s\n' "$note"; done
  } >>"$NETLAB_RUN/summary.md"
  for note in "${CAPTURE_NOTES[@]}"; do say "$note"; done
  lab_run_folder "summary.md, client.json, ss.csv, server.log, relay.log"
}

main() {
  lab_begin "$@"

  step_plain
  step_slow_reader
  step_impaired
  step_lossy_link
  step_semantics
  step_overhead
  step_congestion
  step_window
  step_persist
  lab_end
}

main "$@"
