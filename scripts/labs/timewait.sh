#!/usr/bin/env bash
# lab-note: timewait是什么状态 / 出现大量timewait
# lab-order: 4
# lab-port: 7004
# lab-options: [--decay S]
# lab-programs: netlab-pcap
# lab-netns: the exhaustion step makes network namespaces: without root, in a user namespace
# lab-claim: The side that closes first waits 2MSL in TIME_WAIT; many short connections pile it up;
#     a pool fixes it.
# lab-claim-zh: 先关闭的一方进入 TIME_WAIT 等待 2MSL；大量短连接会堆积 TIME_WAIT；连接池可以解决。
# lab-run: many short connections closed by the client, then by the server, then through a
#     connection pool, then with SO_LINGER 0
# lab-run-zh: 大量短连接，先由客户端关闭，再由服务端关闭，再走连接池，最后用 SO_LINGER 0
# lab-look: TIME-WAIT counts on each side in ss.csv; the pool's count and request rate; the RST of
#     SO_LINGER 0
# lab-look-zh: ss.csv 里两端的 TIME-WAIT 数；连接池的数量和请求速率；SO_LINGER 0 的 RST
# lab-tour: --decay 0
# lab-tour-quick: --decay 0 -- --requests 500
#
# The TIME_WAIT lab: the side that closes a TCP connection first keeps it in
# TIME_WAIT (Linux: 60 s); many short connections pile TIME_WAIT sockets up;
# in a narrow port range they exhaust the ephemeral ports; a connection pool
# (long-lived connections) is the fix, SO_LINGER 0 only trades FIN for RST.
# Steps, on one port (default 7004), while ss samples the socket states into
# ss.csv and tcpdump records the segments:
#   short-client  a connection per request, the client closes first
#   short-server  the same, the server closes first (--closer server)
#   pool          the same requests through a pool of 8 connections
#   linger0       a connection per request, closed with SO_LINGER 0 (RST)
#   exhaustion    in network namespaces of its own: 400 ephemeral ports,
#                 tcp_tw_reuse 0, 1 and 2 measured in turn (root, or a normal
#                 user inside an unprivileged user namespace: observe.sh,
#                 netns.sh; skipped, saying why, where the system forbids that)
# then it watches the TIME_WAIT count decay (--decay seconds). The capture's
# SYN, FIN and RST counts come from netlab-pcap facts.
# shellcheck source-path=SCRIPTDIR/../lib disable=SC2016  # backquotes are Markdown
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/lab.sh"

# The exhaustion experiment: a range this narrow fills in well under a second.
readonly NS_PORT_RANGE="40000 40399"
readonly NS_REQUESTS=1000
readonly MAX_DECAY=300

DECAY=65
NS=""

lab_usage() {
  cat <<EOF
Runs netlab-timewait-server and netlab-timewait-client on one port (default
$DEFAULT_PORT): short connections closed by the client, then by the server,
the same requests through a connection pool, then closed with SO_LINGER 0;
then port exhaustion in network namespaces it creates (tcp_tw_reuse 0/1/2;
without root inside an unprivileged user namespace, where the system allows one).
Writes runs/<UTC time>-timewait/: server.log, client-<step>.json, client.json,
ss.csv (TIME-WAIT over time), capture.pcap (root, or a user namespace),
exhaustion.txt, env.txt, summary.md.

$(lab_options_help "the port for every step")
  --decay S      after the steps, keep sampling ss for S seconds to watch
                 TIME-WAIT expire (default $DECAY: Linux holds it 60 s; 0 = skip;
                 at most $MAX_DECAY)
  -- ...         more client options, e.g. -- --requests 2000 --concurrency 32
EOF
}

# run_client STEP ARGS...: the client against the current server, into client-STEP.json.
run_client() {
  local step=$1
  shift
  local shown="$*"
  say ""
  say "--- $step: ${shown//"$NETLAB_BIN_DIR/"/}"
  lab_client "$step" "$@"
  STEPS+=("$step")
}

# host_step STEP CLOSER CLIENT-ARGS...: a fresh server with --closer CLOSER, one client run.
host_step() {
  local step=$1 closer=$2
  shift 2
  lab_server "$step" "$step: --closer $closer" --closer "$closer"
  run_client "$step" "$NETLAB_BIN_DIR/$CLIENT" --port "$NETLAB_PORT" "$@"
  stop_server "$NETLAB_SERVER_PID"
}

# --- port exhaustion, in namespaces of our own -----------------------------------
# As root they are ordinary network namespaces; a normal user makes them inside
# the unprivileged user namespace the script re-ran in (observe.sh), where it
# holds CAP_NET_ADMIN and CAP_SYS_ADMIN over them (netns.sh).

# Why the namespaces cannot be made here, or nothing.
exhaustion_blocker() {
  if ((EUID != 0)) && [[ -z ${NETLAB_IN_NS-} ]]; then
    echo "not root, and ${NETLAB_NS_REFUSED:-not inside a user namespace (run it through scripts/lab)}"
  elif ! command -v ip >/dev/null; then
    echo "ip (iproute2) is not installed (apt-get install iproute2)"
  fi
}

# A fresh namespace: its own ports, its own TIME_WAIT sockets, its own sysctls;
# the host's are never touched. netns_add registers it for deletion as soon as
# it exists. Sets NS (not printed: a $(...) subshell would lose the registration).
make_namespace() {
  local reuse=$1
  netns_private_run
  NS=netlab-tw-$RANDOM$RANDOM
  netns_add "$NS"
  ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="$NS_PORT_RANGE" net.ipv4.tcp_tw_reuse="$reuse" ||
    die "cannot set ip_local_port_range and tcp_tw_reuse in $NS"
}

# How old (ms) a TIME_WAIT socket must be before tcp_tw_reuse 1/2 lets connect()
# take its port: net.ipv4.tcp_tw_reuse_delay since Linux 6.13, 1000 before.
reuse_delay_ms() {
  local delay
  delay=$(ip netns exec "$1" sysctl -n net.ipv4.tcp_tw_reuse_delay 2>/dev/null) || delay=""
  [[ $delay =~ ^[0-9]+$ ]] || delay=1000
  echo "$delay"
}

# One tcp_tw_reuse value: the pool first (8 ports), then a burst of short
# connections, then — once the burst's TIME_WAIT sockets are older than the
# reuse delay (1 s unless tcp_tw_reuse_delay says otherwise) — 400 more.
exhaustion_step() {
  local reuse=$1 ns delay
  make_namespace "$reuse"
  ns=$NS
  delay=$(reuse_delay_ms "$ns")
  printf 'tcp_tw_reuse=%s namespace=%s ip_local_port_range="%s" tcp_tw_reuse_delay=%sms\n' \
    "$reuse" "$ns" "$NS_PORT_RANGE" "$delay" >>"$NETLAB_RUN/exhaustion.txt"
  printf '===== exhaustion, tcp_tw_reuse %s, namespace %s =====\n' "$reuse" "$ns" >>"$NETLAB_RUN/server.log"
  start_server "$NETLAB_RUN/server.log" "$NETLAB_RUN/port.ns$reuse" \
    ip netns exec "$ns" "$NETLAB_BIN_DIR/$SERVER" --closer client --port "$DEFAULT_PORT" --log-level warn
  local client=(ip netns exec "$ns" "$NETLAB_BIN_DIR/$CLIENT" --port "$DEFAULT_PORT" --log-level error)
  run_client "exhaustion-reuse$reuse-pool" "${client[@]}" --mode pool --pool-size 8 --requests "$NS_REQUESTS"
  run_client "exhaustion-reuse$reuse-short" "${client[@]}" --mode short --requests "$NS_REQUESTS" --concurrency 16
  # Not a synchronisation: tcp_tw_reuse only takes over TIME_WAIT sockets older
  # than the delay; 100 ms more for the burst's last closes.
  sleep "$(((delay + 100) / 1000)).$(printf '%03d' $(((delay + 100) % 1000)))"
  run_client "exhaustion-reuse$reuse-after-1s" "${client[@]}" --mode short --requests 400 --concurrency 16
  stop_server "$NETLAB_SERVER_PID"
  release_netns "$ns"
}

exhaustion_row() {
  local reuse=$1 step json ok full
  for step in pool short after-1s; do
    json=$NETLAB_RUN/client-exhaustion-reuse$reuse-$step.json
    ok=$("$NETLAB_BIN_DIR/netlab-report" get "$json" /observed/succeeded)
    full=$("$NETLAB_BIN_DIR/netlab-report" get "$json" /observed/connect_errors/EADDRNOTAVAIL 2>/dev/null || echo 0)
    printf ' %s ok / %s EADDRNOTAVAIL |' "$ok" "$full"
  done
}

exhaustion() {
  local reason reuse
  reason=$(exhaustion_blocker)
  if [[ -n $reason ]]; then
    say ""
    say "--- exhaustion: skipped: $reason"
    printf 'skipped: %s\n' "$reason" >"$NETLAB_RUN/exhaustion.txt"
    return 0
  fi
  : >"$NETLAB_RUN/exhaustion.txt"
  for reuse in 0 1 2; do exhaustion_step "$reuse"; done
  {
    printf '\n| tcp_tw_reuse | pool K=8, N=%s | short, N=%s at once | short, N=400, after the reuse delay |\n' "$NS_REQUESTS" "$NS_REQUESTS"
    printf '|---|---|---|---|\n'
    for reuse in 0 1 2; do printf '| %s |%s\n' "$reuse" "$(exhaustion_row "$reuse")"; done
  } >>"$NETLAB_RUN/exhaustion.txt"
}

# --- the decay, and what the capture shows ---------------------------------------

watch_decay() {
  local i count
  ((DECAY > 0)) || return 0
  say ""
  say "--- watching TIME-WAIT on port $NETLAB_PORT decay for $DECAY s (ss.csv; --decay 0 skips this)"
  for ((i = 0; i < DECAY; i += 5)); do
    count=$(ss -Htan state time-wait "( sport = :$NETLAB_PORT or dport = :$NETLAB_PORT )" 2>/dev/null | wc -l)
    say "  +${i}s TIME-WAIT $count"
    ((count > 0)) || break
    sleep 5 # the sampling period of this progress line; ss.csv samples every 0.2 s
  done
}

# Segments by kind, over every connection on the lab port, as netlab-pcap facts
# counts them: a lost last ACK would show as a retransmitted FIN (the same FIN,
# same sequence number, sent again) — a retransmission class of its TCP
# analysis, not a FIN out of order; and a capture that missed segments says so.
capture_counts() {
  local pcap=$NETLAB_RUN/capture.pcap syn fin rst repeated facts gaps
  [[ -s $pcap ]] || return 0
  printf '\n## What the capture shows\n\n'
  if ! facts=$(pcap_facts "$pcap" "$NETLAB_PORT" /syn_segments /fin_segments /rst_segments /fin_retransmissions 2>&1); then
    printf 'not counted: %s\n' "$facts"
    return 0
  fi
  { read -r syn; read -r fin; read -r rst; read -r repeated; } <<<"$facts"
  printf -- '- connections opened (SYN): %s; FIN segments: %s; RST segments: %s (the linger0 step aborts each connection with one)%s\n' \
    "$syn" "$fin" "$rst" "$(pcap_missed "$NETLAB_RUN/tcpdump.log")"
  printf -- '- retransmitted FINs (a lost fourth segment would cause them): %s\n' "$repeated"
  gaps=$(pcap_gaps "$pcap" "$NETLAB_PORT")
  [[ -z $gaps ]] || printf -- '- so the count is not confirmed:%s\n' "$gaps"
  printf -- '- counted by: `netlab-pcap facts capture.pcap --port %s` (totals `/syn_segments`, `/fin_segments`, `/rst_segments`, `/fin_retransmissions`; per connection under `/flow_facts`)\n' "$NETLAB_PORT"
  printf -- '- see them: `tcpdump -r capture.pcap -n "tcp[tcpflags] & (tcp-fin|tcp-rst) != 0" | head`\n'
}

report() {
  local step
  local -a host_steps=()
  lab_merge "${STEPS[@]}"
  # One table per host step, under this lab's step names (client.json merges them all).
  for step in "${STEPS[@]}"; do [[ $step == exhaustion-* ]] || host_steps+=("$step"); done
  lab_verdicts "${host_steps[@]}"
  {
    printf '\n## Steps\n\n'
    local i=0
    for step in "${STEPS[@]}"; do printf -- '- step %s: `client-%s.json`\n' "$i" "$step"; i=$((i + 1)); done
    printf '\n## Port exhaustion (network namespaces)\n\n'
    cat "$NETLAB_RUN/exhaustion.txt"
    capture_counts
  } >>"$NETLAB_RUN/summary.md"
  say "port exhaustion:"
  sed 's/^/  /' "$NETLAB_RUN/exhaustion.txt"
  say ""
  lab_run_folder "summary.md, client.json, ss.csv, server.log, exhaustion.txt"
}

# --decay S: this lab's own option (parse_lab_args).
lab_option() {
  [[ $1 == --decay || $1 == --decay=* ]] || return 1
  option_value --decay "$@"
  DECAY=$OPTION_VALUE
  [[ $DECAY =~ ^[0-9]+$ && $DECAY -le $MAX_DECAY ]] || usage_error "--decay wants whole seconds from 0 to $MAX_DECAY, not '$DECAY'"
}

main() {
  lab_begin "$@"

  client_args --requests 5000 --concurrency 16
  local host_args=("${NETLAB_CLIENT_ARGS[@]}")
  host_step short-client client --mode short "${host_args[@]}"
  host_step short-server server --mode short "${host_args[@]}"
  host_step pool client --mode pool --pool-size 8 "${host_args[@]}" --compare-with "$NETLAB_RUN/client-short-client.json"
  client_args --requests 200
  host_step linger0 client --mode short --linger0 "${NETLAB_CLIENT_ARGS[@]}"
  exhaustion
  watch_decay
  lab_end
}

main "$@"
