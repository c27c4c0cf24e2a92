#!/usr/bin/env bash
# lab-note: 为什么三次握手
#
# The handshake lab: the kernel does the three-way handshake, before and
# without accept(); the accept queue (backlog) bounds how many finished
# connections wait, and the SYNs of more are dropped and retransmitted; every
# connection starts from its own ISN; an old duplicate SYN is answered RST by
# the client's kernel and creates nothing. Steps, on one port (default 7002),
# a fresh server for each, while ss samples the socket states into ss.csv and
# tcpdump records the segments:
#   no-accept    --no-accept --backlog 4, 6 connections: 5 wait in the accept
#                queue (accept-queue.txt: ss -lnt), the 6th stalls in SYN-SENT
#   slow-accept  --backlog 0 --accept-delay-ms 500, 3 connections: the dropped
#                SYNs are retransmitted after ~1 s and then get in
#   stale-syn    a SYN from a port with no socket, through a raw socket: it
#                needs CAP_NET_RAW, which root has, and a normal user too inside
#                the unprivileged user namespace the script re-runs in
#                (observe.sh); skipped, saying why, where the system forbids that
# With a capture (root, or that user namespace), isn.txt lists the SYN and
# SYN-ACK segments with their real ISNs, and each connection's handshake as
# netlab-pcap facts counts it.
# shellcheck source-path=SCRIPTDIR/../lib disable=SC2016  # backquotes are Markdown
set -euo pipefail

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/common.sh"
source "$LIB/run.sh"
source "$LIB/server.sh"
source "$LIB/observe.sh"

readonly LAB=handshake
readonly DEFAULT_PORT=7002
readonly SERVER=netlab-handshake-server
readonly CLIENT=netlab-handshake-client
STEPS=()
STALE_SYN_SKIPPED=""

usage() {
  cat <<EOF
usage: scripts/lab handshake [--capture|--no-capture] [--port P] [-- client options]

Runs netlab-handshake-server with --no-accept --backlog 4, then --backlog 0
--accept-delay-ms 500, then a stale SYN through a raw socket (without root,
inside an unprivileged user namespace, where the system allows one), each
against netlab-handshake-client, on one port (default $DEFAULT_PORT). Writes
runs/<UTC time>-handshake/: server.log, client-<step>.json, client.json, ss.csv,
accept-queue.txt, capture.pcap and isn.txt (root, or a user namespace),
env.txt, summary.md.

  --capture      record the lab's port with tcpdump when possible (default)
  --no-capture   do not run tcpdump
  --port P       the port for every step (0 = any free port)
  -- ...         more client options, e.g. -- --timeout-ms 4000
EOF
}

# step STEP "SERVER OPTIONS" CLIENT-ARGS...: a fresh server, one client run.
step() {
  local step=$1 server_options=$2 status=0
  shift 2
  local -a server_args
  read -r -a server_args <<<"$server_options"
  printf '===== %s: %s (%s) =====\n' "$step" "$server_options" "$(date -u +%H:%M:%SZ)" >>"$NETLAB_RUN/server.log"
  start_server "$NETLAB_RUN/server.log" "$NETLAB_RUN/port.$step" \
    "$NETLAB_BIN_DIR/$SERVER" "${server_args[@]}" --port "$NETLAB_PORT" --log-level info
  if [[ $NETLAB_PORT == 0 ]]; then
    NETLAB_PORT=$NETLAB_SERVER_PORT
    say "the server took port $NETLAB_PORT; the next steps reuse it"
    start_observers
  fi
  client_args "$@"
  # The stale-SYN step takes none of the queue options.
  [[ $step != stale-syn ]] || NETLAB_CLIENT_ARGS=(--stale-syn)
  say ""
  say "--- $step: $SERVER $server_options; $CLIENT ${NETLAB_CLIENT_ARGS[*]}"
  printf '===== %s =====\n' "$step" >>"$NETLAB_RUN/client.log"
  run_child "$NETLAB_BIN_DIR/$CLIENT" --port "$NETLAB_PORT" "${NETLAB_CLIENT_ARGS[@]}" \
    --json "$NETLAB_RUN/client-$step.json" 2>>"$NETLAB_RUN/client.log" || status=$?
  [[ $step != no-accept ]] || snapshot_accept_queue
  stop_server "$NETLAB_SERVER_PID"
  if ((status != 0)); then
    warn "$CLIENT ($step) failed (exit $status); last lines of $NETLAB_RUN/client.log:"
    tail -n 10 "$NETLAB_RUN/client.log" >&2 || true
    exit 1
  fi
  STEPS+=("$step")
}

# Why the stale SYN cannot be sent here, or nothing. Its raw socket needs
# CAP_NET_RAW over the lab's network namespace: root has it, and so has a
# normal user inside the user namespace enter_namespace_if_needed re-ran in.
stale_syn_blocker() {
  if ((EUID != 0)) && [[ -z ${NETLAB_IN_NS-} ]]; then
    echo "not root, and ${NETLAB_NS_REFUSED:-not inside a user namespace (run it through scripts/lab)}"
  fi
}

# The stale-SYN step, or one line saying why it was skipped: here (no user
# namespace), or by the client, which tries the raw socket itself.
stale_syn_step() {
  local reason
  reason=$(stale_syn_blocker)
  if [[ -z $reason ]]; then
    step stale-syn ""
    [[ $(check_field "$NETLAB_RUN/client-stale-syn.json" stale-syn-rejected 3) == skipped ]] || return 0
    reason=$(check_field "$NETLAB_RUN/client-stale-syn.json" stale-syn-rejected 6)
  fi
  STALE_SYN_SKIPPED=$reason
  say ""
  say "--- stale-syn: skipped: $reason"
}

# check_field FILE ID N: field N of check ID in FILE, as netlab-report checks
# prints it (2 id, 3 verdict, 4 note, 5 observed, 6 evidence).
check_field() {
  "$NETLAB_BIN_DIR/netlab-report" checks "$1" | awk -F'\t' -v id="$2" -v n="$3" '$2 == id { print $n; exit }'
}

# The listener as `ss` shows it: Recv-Q is the accept queue, Send-Q the backlog.
# Nobody accepted, so the queue is still full after the client has gone.
snapshot_accept_queue() {
  local file=$NETLAB_RUN/accept-queue.txt
  {
    printf '$ ss -lnt "sport = :%s"   # Recv-Q: connections waiting for accept(); Send-Q: the backlog\n' "$NETLAB_PORT"
    ss -lnt "sport = :$NETLAB_PORT" 2>&1 || true
  } >"$file"
  say "the listener after the no-accept step ($file):"
  sed 's/^/    /' "$file"
}

# The handshakes in the capture: the SYN, SYN-ACK and RST lines as tcpdump
# prints them (-S: absolute sequence numbers, the ISNs), then each connection
# as netlab-pcap facts counts it: the segments from its SYN to the ACK of the
# SYN-ACK (3, more when a SYN was sent again), its ISNs, its RSTs.
list_isns() {
  [[ -z $NETLAB_CAPTURE_SKIPPED && -s $NETLAB_RUN/capture.pcap ]] || return 0
  local file=$NETLAB_RUN/isn.txt pcap=$NETLAB_RUN/capture.pcap flows i facts
  local client segments complete syns syn_acks client_isn server_isn rst first_rst
  {
    printf '$ tcpdump -r capture.pcap -n -S "tcp[tcpflags] & (tcp-syn|tcp-rst) != 0"\n'
    tcpdump -r "$pcap" -n -S "tcp[tcpflags] & (tcp-syn|tcp-rst) != 0" 2>/dev/null |
      sed -E 's/, (win|options|length).*//'
    printf '\n$ netlab-pcap facts capture.pcap --port %s   # per connection\n' "$NETLAB_PORT"
    flows=$(pcap_facts "$pcap" "$NETLAB_PORT" /flows)
    for ((i = 0; i < flows && i < 1000; i++)); do
      facts=$(pcap_facts "$pcap" "$NETLAB_PORT" "/flow_facts/$i/client" "/flow_facts/$i/handshake_segments" \
        "/flow_facts/$i/handshake_complete" "/flow_facts/$i/syn_segments" "/flow_facts/$i/syn_ack_segments" \
        "/flow_facts/$i/client_isn" "/flow_facts/$i/server_isn" "/flow_facts/$i/rst_segments" \
        "/flow_facts/$i/first_rst_from")
      { read -r client; read -r segments; read -r complete; read -r syns; read -r syn_acks
        read -r client_isn; read -r server_isn; read -r rst; read -r first_rst || true; } <<<"$facts"
      ((syns > 0)) || continue  # began before the capture: no SYN in it
      if [[ $complete == true ]]; then complete=established; else complete="not established"; fi
      printf 'handshake %s: %s segments, %s (%s SYN, %s SYN-ACK); client ISN %s' \
        "$client" "$segments" "$complete" "$syns" "$syn_acks" "$client_isn"
      ((syn_acks == 0)) || printf ', server ISN %s' "$server_isn"
      ((rst == 0)) || printf '; %s RST, the first from the %s' "$rst" "$first_rst"
      printf '\n'
    done
  } >"$file"
  say ""
  say "SYN, SYN-ACK (and RST) segments with their ISNs ($file, first lines):"
  head -n 9 "$file" | sed 's/^/    /'
  say "each connection in the capture (netlab-pcap facts):"
  grep '^handshake ' "$file" | sed 's/^/    /'
}

report() {
  local report=$NETLAB_BIN_DIR/netlab-report step capture=capture.pcap
  local -a results=()
  for step in "${STEPS[@]}"; do results+=("$NETLAB_RUN/client-$step.json"); done
  "$report" merge --lab "$LAB" "${results[@]}" >"$NETLAB_RUN/client.json.tmp"
  mv "$NETLAB_RUN/client.json.tmp" "$NETLAB_RUN/client.json"
  write_summary "$LAB"
  [[ -z $STALE_SYN_SKIPPED ]] || printf '\n## Stale SYN\n\nskipped: %s\n' "$STALE_SYN_SKIPPED" >>"$NETLAB_RUN/summary.md"
  say ""
  say "The note says: 为什么三次握手 — what this run measured:"
  "$report" table "$NETLAB_RUN/client.json"
  say ""
  [[ -z $NETLAB_CAPTURE_SKIPPED ]] || capture="capture skipped: $NETLAB_CAPTURE_SKIPPED"
  say "run folder: $NETLAB_RUN (summary.md, client.json, ss.csv, accept-queue.txt, isn.txt, server.log, $capture)"
}

main() {
  parse_lab_args "$@"
  # The stale SYN's raw socket needs CAP_NET_RAW: without root, in a user
  # namespace, with --no-capture too.
  NETLAB_WANTS_NETNS=yes
  enter_namespace_if_needed "$NETLAB_CAPTURE" "${BASH_SOURCE[0]}" "$@"
  trap cleanup EXIT INT TERM
  bring_namespace_up
  require_programs "$SERVER" "$CLIENT" netlab-report netlab-pcap
  choose_port "$NETLAB_ASKED_PORT" "$DEFAULT_PORT"
  make_run_dir "$LAB"
  write_env_txt "$NETLAB_RUN/env.txt"
  say "netlab $LAB: run folder $NETLAB_RUN"
  [[ $NETLAB_PORT == 0 ]] || start_observers

  step no-accept "--no-accept --backlog 4" --connections 6 --timeout-ms 2500 --hold-ms 300
  step slow-accept "--backlog 0 --accept-delay-ms 500" --connections 3 --timeout-ms 5000 --hold-ms 300
  stale_syn_step
  stop_observers
  list_isns
  report
  record_run
}

main "$@"
