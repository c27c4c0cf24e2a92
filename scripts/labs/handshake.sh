#!/usr/bin/env bash
# lab-note: 为什么三次握手
# lab-order: 2
# lab-port: 7002
# lab-options: [--quick]
# lab-programs: netlab-pcap netlab-wire
# lab-netns: the stale SYN's raw socket needs CAP_NET_RAW and the wire steps make network
#     namespaces: without root, in a user namespace (with --no-capture too)
# lab-claim: Three segments open a connection, and the third stops an old SYN from creating one.
# lab-claim-zh: 三次握手建立连接；防止旧的连接请求被错误地当作新连接。
# lab-run: a server that never calls accept(), a full accept queue, a stale SYN through a raw
#     socket; then across netlab-wire: an old SYN held in the wire arriving after the client
#     reconnected from the same port, a lost SYN-ACK, a lost third ACK; then what is asked next:
#     half-open connections in the SYN queue, a SYN flood without and with SYN cookies, and a
#     simultaneous open
# lab-run-zh: 一个从不调用 accept() 的服务器、一个满的全连接队列、通过原始套接字发出的旧
#     SYN；然后经过 netlab-wire：被链路扣住的旧 SYN 在客户端从同一端口重连之后才到达、丢失的
#     SYN-ACK、丢失的第三次握手 ACK；然后是面试官接着问的：SYN 队列（半连接队列）里的半开连接、
#     没有和有 SYN cookie 时的 SYN 洪泛、同时打开
# lab-look: ss -lnt Recv-Q growing without accept(); S, S., R for the stale SYN; old-syn: the
#     SYN-ACK acking the old ISN + 1, the client's RST, the server's SYN-RECV gone and one accept();
#     lost-synack: about 1 s of connect(); lost-ack: SYN-RECV at the server until the client's first
#     data; syn-queue: SYN-RECV at the server while the client is connected, the SYN-ACK again
#     tcp_synack_retries times; syn-flood: the legitimate connect() stalls, syncookies: it connects,
#     SyncookiesSent; simultaneous-open: S, S, S., S. and both ends SYN-SENT, SYN-RECV, ESTAB
# lab-look-zh: 没有 accept() 时 ss -lnt 的 Recv-Q 在涨；旧 SYN 得到 S, S., R；old-syn：SYN-ACK
#     确认旧 ISN + 1，客户端内核回 RST，服务端的 SYN-RECV 消失，只 accept()
#     了一个连接；lost-synack：connect() 多等约 1 秒；lost-ack：服务端停在
#     SYN-RECV，直到客户端的第一个数据段；syn-queue：客户端已连接，服务端停在 SYN-RECV，
#     SYN-ACK 重传 tcp_synack_retries 次；syn-flood：正常客户端的 connect() 卡住，syncookies：
#     它连上了，SyncookiesSent 在涨；simultaneous-open：S、S、S.、S.，两端都经过 SYN-SENT、
#     SYN-RECV、ESTAB
# lab-tour-quick: --quick
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
# Then the failure stories, across netlab-wire between a client and a server
# namespace (scripts/lib/netns.sh: root, or that user namespace), a wire per
# step, 25 ms each way, with a rule that does the damage:
#   old-syn      the first SYN is held 600 ms; the client gives up after 200 ms
#                and connects again from the same port (new ISN), its SYNs held
#                700 ms: the old SYN gets its SYN-ACK, the client's kernel
#                answers RST, the server drops the half-open socket
#   lost-synack  the server's first SYN-ACK is dropped: about one RTO (1 s)
#   lost-ack     the client's ACK is dropped (and its answer to the SYN-ACK the
#                server sends again): the server stays SYN-RECV until the
#                client's first data segment, sent 1.5 s after connect()
# Then what the interviewer asks next, on the same path (the server
# namespace's sysctls read, then set small there, never on the host):
#   syn-queue    the wire drops every pure ACK of the client: 3 connect()s
#                return, the server holds 3 request sockets in SYN-RECV (the
#                SYN queue; its accept queue stays 0), sends each SYN-ACK again
#                tcp_synack_retries times (2; --quick 1), then forgets them
#   syn-flood    tcp_syncookies=0, tcp_max_syn_backlog=16, listen backlog 8:
#                64 SYNs (--quick 32) from spoofed 198.18.0.100-199 (nobody
#                answers ARP for them), then one legitimate connect(): stalls
#   syncookies   the same with tcp_syncookies=1: cookies, and it connects
#   simultaneous-open  no server: a socket in each namespace, both bound to
#                port 7002, connect to each other at once; the SYNs cross
# Each writes wire-<step>.json, capture-<step>.pcap (tcpdump on the client's
# link), ladder-<step>.txt, server-<step>.json (the server's census of its
# namespace every 2 ms, its accepts), ss-server-<step>.txt (ss in the server
# namespace every 20 ms); the client then judges from all of them.
# shellcheck source-path=SCRIPTDIR/../lib disable=SC2016  # backquotes are Markdown
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/lab.sh"

STALE_SYN_SKIPPED=""
WIRE_NOTES=()       # what each step across the wire showed, for summary.md
WIRE_ARGS=()        # the netlab-wire options of the next step
SIDE_PIDS=()        # the step's tcpdump and ss sampler, as SIGNAL:PID
readonly WIRE_DELAY_MS=25
readonly OLD_SYN_HOLD_MS=600   # the first SYN, held in the wire
readonly NEW_SYN_HOLD_MS=700   # every later SYN: it reaches the server after the old one
readonly GIVE_UP_MS=200        # before the kernel's own SYN retransmission (1 s)
readonly DATA_AFTER_MS=1500    # lost-ack: after the server's SYN-ACK retransmission (~1 s)
SYNACK_RETRIES=2               # syn-queue, in the server namespace (--quick: 1)
FLOOD_SYNS=64                  # syn-flood (--quick: 32)
readonly MAX_SYN_BACKLOG=16    # syn-flood, in the server namespace
readonly FLOOD_BACKLOG=8       # syn-flood: the server's listen() backlog, the SYN queue's bound

lab_usage() {
  cat <<EOF
Runs netlab-handshake-server with --no-accept --backlog 4, then --backlog 0
--accept-delay-ms 500, then a stale SYN through a raw socket (without root,
inside an unprivileged user namespace, where the system allows one), each
against netlab-handshake-client, on one port (default $DEFAULT_PORT). Then
old-syn, lost-synack and lost-ack across netlab-wire between two network
namespaces (root, or that user namespace; skipped with one line otherwise).
Then syn-queue, syn-flood, syncookies and simultaneous-open on the same
path (the server namespace's sysctls set small there, never on the host).
Writes runs/<UTC time>-handshake/: server.log, client-<step>.json, client.json,
ss.csv, accept-queue.txt, capture.pcap and isn.txt (root, or a user namespace),
wire-<step>.json, capture-<step>.pcap, ladder-<step>.txt, server-<step>.json,
ss-server-<step>.txt, env.txt, summary.md.

$(lab_options_help "the port for every step")
  --quick        tcp_synack_retries 1 instead of 2, a flood of 32 SYNs instead of 64
  -- ...         more client options, e.g. -- --timeout-ms 4000
EOF
}

# --quick: this lab's own option (parse_lab_args).
lab_option() {
  [[ $1 == --quick ]] || return 1
  SYNACK_RETRIES=1 FLOOD_SYNS=32 OPTION_WORDS=1
}

# The stale-SYN step takes none of the queue options.
lab_step_args() { [[ $1 != stale-syn ]] || NETLAB_CLIENT_ARGS=(--stale-syn); }

# While no-accept's server still holds its queue: ss -lnt shows it.
lab_step_look() { [[ $1 != no-accept ]] || snapshot_accept_queue; }

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
    lab_step stale-syn ""
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

# isn-capture: from the same capture, whether each handshake acknowledged both
# ISNs (ack = ISN + 1) — what the three segments synchronise; a step of its
# own in client.json (client-isn-capture.json).
isn_capture_step() {
  [[ -z $NETLAB_CAPTURE_SKIPPED && -s $NETLAB_RUN/capture.pcap ]] || return 0
  say ""
  say "--- isn-capture: $CLIENT --isn-capture capture.pcap --port $NETLAB_PORT"
  run_child "$NETLAB_BIN_DIR/$CLIENT" --isn-capture "$NETLAB_RUN/capture.pcap" --port "$NETLAB_PORT" \
    --json "$NETLAB_RUN/client-isn-capture.json" 2>>"$NETLAB_RUN/client.log" | sed 's/^/    /' ||
    die "$CLIENT --isn-capture failed (see $NETLAB_RUN/client.log)"
  STEPS+=(isn-capture)
}

# --- the failure stories, across netlab-wire ------------------------------------


# side_start SIGNAL OUT ERR COMMAND...: a step's observer in the background,
# stopped by side_stop with SIGNAL (tcpdump: INT, so it writes what it holds).
side_start() {
  local signal=$1 out=$2 err=$3
  shift 3
  "$@" >"$out" 2>"$err" </dev/null &
  SIDE_PIDS+=("$signal:$!")
  register_pid "$!" "$signal"
}

side_stop() {
  local i
  for ((i = ${#SIDE_PIDS[@]} - 1; i >= 0; i--)); do
    release_pid "${SIDE_PIDS[i]#*:}" "${SIDE_PIDS[i]%%:*}" || true
  done
  SIDE_PIDS=()
}

# tcpdump on the client's link, inside its namespace: every segment of the
# step, the one the wire dropped excepted (the wire's rule log has it).
step_capture() {
  local pcap=$1 i
  local -a as_root=()
  [[ -z $(capture_blocker "$NETLAB_CAPTURE") ]] || return 0
  ((EUID != 0)) || as_root=(-Z root)  # as root tcpdump would switch to a user who may not write here
  side_start INT /dev/null "$pcap.log" "${NETLAB_IN_CLIENT[@]}" tcpdump -i nlc0 --immediate-mode -U -n -s 0 "${as_root[@]}" \
    -w "$pcap" "tcp port $DEFAULT_PORT"
  tcpdump_listening "$pcap.log" "${SIDE_PIDS[-1]#*:}" && return 0
  warn "tcpdump on nlc0 did not start: $(tail -n 1 "$pcap.log" 2>/dev/null)"
}

# across_wire STEP CLIENT-OPTIONS...: the wire (WIRE_ARGS), the server in its
# namespace with its census every 2 ms, the capture and ss in the server
# namespace; the client's scenario, then its judge over all the evidence.
across_wire() {
  local step=$1 status=0 run pcap
  run=$NETLAB_RUN/client-$step.run.json
  pcap=$NETLAB_RUN/capture-$step.pcap
  shift
  wire_start "$step" "${WIRE_ARGS[@]}"
  printf '===== %s (%s, in %s) =====\n' "$step" "$(date -u +%H:%M:%SZ)" "$NETLAB_NS_SERVER" >>"$NETLAB_RUN/server.log"
  start_server "$NETLAB_RUN/server.log" "$NETLAB_RUN/port.$step" "${NETLAB_IN_SERVER[@]}" "$NETLAB_BIN_DIR/$SERVER" \
    --host "$NETLAB_SERVER_ADDR" --port "$DEFAULT_PORT" --census-ms 2 --json "$NETLAB_RUN/server-$step.json" --log-level info
  # shellcheck disable=SC2016  # $1 is the inner shell's
  side_start TERM "$NETLAB_RUN/ss-server-$step.txt" /dev/null "${NETLAB_IN_SERVER[@]}" bash -c \
    'for ((i = 0; i < 1500; i++)); do echo "# $(date -u +%T.%N)"; ss -Htan "sport = :$1"; sleep 0.02; done' _ "$DEFAULT_PORT"
  step_capture "$pcap"
  say ""
  say "--- $step: netlab-wire ${WIRE_ARGS[*]}"
  say "    $CLIENT --mode $step $*"
  printf '===== %s =====\n' "$step" >>"$NETLAB_RUN/client.log"
  run_child "${NETLAB_IN_CLIENT[@]}" "$NETLAB_BIN_DIR/$CLIENT" --host "$NETLAB_SERVER_ADDR" --port "$NETLAB_SERVER_PORT" \
    --mode "$step" "$@" --json "$run" 2>>"$NETLAB_RUN/client.log" | sed 's/^/    /' || status=$?
  # The SYNs still held in the wire arrive; the last segments reach tcpdump.
  sleep 0.8
  side_stop
  stop_server "$NETLAB_SERVER_PID"
  wire_stop
  if ((status != 0)) || [[ ! -s $run ]]; then
    warn "$CLIENT --mode $step failed; last lines of $NETLAB_RUN/client.log:"
    tail -n 10 "$NETLAB_RUN/client.log" >&2 || true
    exit 1
  fi
  [[ -s $pcap ]] || pcap=""
  [[ -z $pcap ]] || "$NETLAB_BIN_DIR/netlab-pcap" ladder "$pcap" --port "$DEFAULT_PORT" --color never \
    >"$NETLAB_RUN/ladder-$step.txt" 2>/dev/null || rm -f "$NETLAB_RUN/ladder-$step.txt"
  # What the wire did, under the ladder (its numbers are relative; the marked
  # listing of capture_lines has the absolute ones).
  wire_rule_marks "$step"
  [[ ! -s $NETLAB_RUN/ladder-$step.txt ]] || printf '\n%s' "$WIRE_RULED" >>"$NETLAB_RUN/ladder-$step.txt"
  run_child "$NETLAB_BIN_DIR/$CLIENT" --judge "$run" --server-json "$NETLAB_RUN/server-$step.json" \
    --wire-json "$NETLAB_WIRE_STATS" ${pcap:+--pcap "$pcap"} --json "$NETLAB_RUN/client-$step.json" \
    2>>"$NETLAB_RUN/client.log" | sed 's/^/    /' || die "$CLIENT --judge ($step) failed (see $NETLAB_RUN/client.log)"
  STEPS+=("$step")
}

# wire_note STEP TEXT: a line for the terminal and summary.md.
wire_note() {
  WIRE_NOTES+=("$1: $2")
  say "    $2"
}

# The segments of a step's capture that tell its story (tcpdump -S: absolute
# seq/ack), the ones the wire dropped or held marked.
capture_lines() {
  [[ -s $NETLAB_RUN/capture-$1.pcap ]] || return 0
  wire_marked_capture "$NETLAB_RUN/capture-$1.pcap" tcp -ttttt | sed -E 's/, (win|options|length)[^<]*</   </; s/, (win|options|length).*//; s/^/      /'
}

report_value() { "$NETLAB_BIN_DIR/netlab-report" get "$NETLAB_RUN/client-$1.json" "$2" 2>/dev/null || echo "?"; }

step_old_syn() {
  WIRE_ARGS=(--delay "$WIRE_DELAY_MS" --rule "left>right tcp flags=S nth=1 delay=$OLD_SYN_HOLD_MS"
             --rule "left>right tcp flags=S nth=2+ delay=$NEW_SYN_HOLD_MS")
  # Held until after the late copies of the new SYN (Linux sends it again at
  # once when the old SYN-ACK comes) have arrived: they find the connection
  # ESTABLISHED (a challenge ACK), not closed (a new SYN-ACK, refused by TIME_WAIT).
  across_wire old-syn --give-up-ms "$GIVE_UP_MS" --timeout-ms 3000 --hold-ms 900
  wire_note old-syn "old ISN $(report_value old-syn /observed/capture/old_isn), new ISN $(report_value old-syn /observed/capture/new_isn); SYN-ACK ack $(report_value old-syn /observed/capture/old_syn_ack_ack) answered by RST seq $(report_value old-syn /observed/capture/rst_seq); the server's SYN-RECV for it gone after $(report_value old-syn /observed/server/half_open_dropped_ms) ms; accept() $(report_value old-syn /observed/server/accepted_from_port) connection; wire rule firings $(wire_value /rules/0/fired) + $(wire_value /rules/1/fired) (wire-old-syn.json)"
  capture_lines old-syn
}

step_lost_synack() {
  WIRE_ARGS=(--delay "$WIRE_DELAY_MS" --rule "right>left tcp flags=SA nth=1 drop")
  across_wire lost-synack --timeout-ms 5000
  wire_note lost-synack "the wire dropped SYN-ACK seq $(wire_value /rule_log/0/seq); connect() took $(report_value lost-synack /observed/connect/ms) ms; the client sent $(report_value lost-synack /observed/capture/syn_segments) SYN, $(report_value lost-synack /observed/capture/syn_ack_same_seq_as_dropped) SYN-ACK with the dropped seq reached it (capture-lost-synack.pcap)"
  capture_lines lost-synack
}

step_lost_ack() {
  WIRE_ARGS=(--delay "$WIRE_DELAY_MS" --rule "left>right tcp flags=A len=0 nth=1-2 drop")
  across_wire lost-ack --timeout-ms 3000 --data-after-ms "$DATA_AFTER_MS"
  wire_note lost-ack "the wire dropped $(report_value lost-ack /observed/wire_acks_dropped) ACKs; the server: SYN-RECV for $(report_value lost-ack /observed/server/syn_recv_ms) ms, then $(report_value lost-ack /observed/server/syn_recv_then), accept() $(report_value lost-ack /observed/server/accepted_after_data_ms) ms after the client's first data; $(report_value lost-ack /observed/capture/syn_ack_segments) SYN-ACKs reached the client (capture-lost-ack.pcap)"
  capture_lines lost-ack
}

wire_steps() {
  if ! path_ready; then
    WIRE_NOTES+=("old-syn, lost-synack, lost-ack: skipped — $PATH_BLOCKER")
    say ""
    say "--- old-syn, lost-synack, lost-ack: skipped: $PATH_BLOCKER"
    return 0
  fi
  step_old_syn
  step_lost_synack
  step_lost_ack
}

# --- what the interviewer asks next, across netlab-wire ------------------------------

# server_sysctl KEY [VALUE]: the server namespace's KEY, or set it there (only there).
server_sysctl() {
  if (($# == 1)); then "${NETLAB_IN_SERVER[@]}" sysctl -n "$1" 2>/dev/null || echo unavailable; return 0; fi
  "${NETLAB_IN_SERVER[@]}" sysctl -qw "$1=$2" || die "sysctl -w $1=$2 in $NETLAB_NS_SERVER failed"
}

# What the steps rely on, read before they change it: the host's (read only)
# and the server namespace's own (a new namespace starts from the kernel's
# defaults, not the host's), for env.txt.
asked_sysctls_env() {
  local key
  for key in net.ipv4.tcp_synack_retries net.ipv4.tcp_syncookies net.ipv4.tcp_max_syn_backlog net.core.somaxconn; do
    printf 'host %s = %s; server-ns before the asked-next steps = %s\n' "$key" \
      "$(sysctl -n "$key" 2>/dev/null || echo unavailable)" "$(server_sysctl "$key")"
  done >>"$NETLAB_RUN/env.txt"
}

# asked_step STEP MODE "SERVER-OPTIONS" CLIENT-OPTIONS...: a wire (WIRE_ARGS),
# the server in its namespace (none for "-"), the capture on the client's
# link, and the client in its namespace, which looks into the server's.
asked_step() {
  local step=$1 mode=$2 server_options=$3 pcap=$NETLAB_RUN/capture-$1.pcap
  shift 3
  local -a server_args
  read -r -a server_args <<<"$server_options"
  wire_start "$step" "${WIRE_ARGS[@]}"
  if [[ $server_options != - ]]; then
    printf '===== %s (%s, in %s) =====\n' "$step" "$(date -u +%H:%M:%SZ)" "$NETLAB_NS_SERVER" >>"$NETLAB_RUN/server.log"
    start_server "$NETLAB_RUN/server.log" "$NETLAB_RUN/port.$step" "${NETLAB_IN_SERVER[@]}" "$NETLAB_BIN_DIR/$SERVER" \
      --host "$NETLAB_SERVER_ADDR" --port "$DEFAULT_PORT" "${server_args[@]}" --log-level info
  fi
  step_capture "$pcap"
  say ""
  say "--- $step: netlab-wire ${WIRE_ARGS[*]}"
  [[ $server_options == - ]] || say "    $SERVER $server_options"
  say "    $CLIENT --mode $mode $*"
  lab_client "$step" "${NETLAB_IN_CLIENT[@]}" "$NETLAB_BIN_DIR/$CLIENT" --host "$NETLAB_SERVER_ADDR" \
    --port "$DEFAULT_PORT" --mode "$mode" --server-netns "/run/netns/$NETLAB_NS_SERVER" "$@"
  sleep 0.2  # the last segments reach tcpdump
  side_stop
  [[ $server_options == - ]] || stop_server "$NETLAB_SERVER_PID"
  wire_stop
  STEPS+=("$step")
}

# capture_syns STEP FILTER N: the first N segments of the step's capture that
# match FILTER, with their time since the capture's first segment (-ttttt).
capture_syns() {
  [[ -s $NETLAB_RUN/capture-$1.pcap ]] || return 0
  say "    \$ tcpdump -r capture-$1.pcap -n -S -ttttt '$2'"
  tcpdump -r "$NETLAB_RUN/capture-$1.pcap" -n -S -ttttt "$2" 2>/dev/null | head -n "$3" |
    sed -E 's/, (win|options|length).*//; s/^/      /' || true
}

step_syn_queue() {
  server_sysctl net.ipv4.tcp_synack_retries "$SYNACK_RETRIES"
  WIRE_ARGS=(--delay "$WIRE_DELAY_MS" --rule "left>right tcp flags=A len=0 drop")
  asked_step syn-queue syn-queue "--backlog 4" --connections 3 --timeout-ms 3000
  wire_note syn-queue "tcp_synack_retries $SYNACK_RETRIES (host: $(sysctl -n net.ipv4.tcp_synack_retries 2>/dev/null || echo ?)); $(report_value syn-queue /observed/connected) connected here, $(report_value syn-queue /observed/syn_recv_peak) SYN-RECV at the server, accept queue at most $(report_value syn-queue /observed/accept_queue_peak); $(report_value syn-queue /checks/1/observed) (capture-syn-queue.pcap)"
  capture_syns syn-queue "tcp[tcpflags] == (tcp-syn|tcp-ack)" 12
}

step_syn_flood() {
  server_sysctl net.ipv4.tcp_max_syn_backlog "$MAX_SYN_BACKLOG"
  WIRE_ARGS=(--delay "$WIRE_DELAY_MS")
  local step cookies
  for step in syn-flood syncookies; do
    cookies=0
    [[ $step == syn-flood ]] || cookies=1
    server_sysctl net.ipv4.tcp_syncookies "$cookies"
    asked_step "$step" syn-flood "--backlog $FLOOD_BACKLOG" --flood-syns "$FLOOD_SYNS" --timeout-ms 2500
    wire_note "$step" "tcp_syncookies $cookies: $FLOOD_SYNS spoofed SYNs, $(report_value "$step" /observed/spoofed_syn_recv) kept SYN-RECV (backlog $FLOOD_BACKLOG); ListenDrops +$(report_value "$step" /observed/counters/ListenDrops), SyncookiesSent +$(report_value "$step" /observed/counters/SyncookiesSent), SyncookiesRecv +$(report_value "$step" /observed/counters/SyncookiesRecv); the legitimate connect(): $(report_value "$step" /observed/legitimate_connect) after $(printf '%.0f' "$(report_value "$step" /observed/legitimate_connect_ms)") ms"
  done
}

step_simultaneous_open() {
  WIRE_ARGS=(--delay "$WIRE_DELAY_MS")
  asked_step simultaneous-open simultaneous-open - --timeout-ms 2000
  wire_note simultaneous-open "client $(report_value simultaneous-open /observed/client/local) and server $(report_value simultaneous-open /observed/server/local), no listener; $(report_value simultaneous-open /checks/0/observed)"
  capture_syns simultaneous-open "tcp[tcpflags] & tcp-syn != 0" 4
}

asked_next_steps() {
  if ! path_ready; then
    WIRE_NOTES+=("syn-queue, syn-flood, syncookies, simultaneous-open: skipped — $PATH_BLOCKER")
    say ""
    say "--- syn-queue, syn-flood, syncookies, simultaneous-open: skipped: $PATH_BLOCKER"
    return 0
  fi
  asked_sysctls_env
  step_syn_queue
  step_syn_flood
  step_simultaneous_open
}

report() {
  local note
  lab_merge "${STEPS[@]}"
  lab_verdicts
  [[ -z $STALE_SYN_SKIPPED ]] || printf '\n## Stale SYN\n\nskipped: %s\n' "$STALE_SYN_SKIPPED" >>"$NETLAB_RUN/summary.md"
  {
    printf '\n## Across netlab-wire (client and server namespaces)\n\n'
    for note in "${WIRE_NOTES[@]}"; do printf -- '- %s\n' "$note"; done
  } >>"$NETLAB_RUN/summary.md"
  lab_run_folder "summary.md, client.json, ss.csv, accept-queue.txt, isn.txt, server.log"
}

main() {
  lab_begin "$@"

  lab_step no-accept "--no-accept --backlog 4" --connections 6 --timeout-ms 2500 --hold-ms 300
  lab_step slow-accept "--backlog 0 --accept-delay-ms 500" --connections 3 --timeout-ms 5000 --hold-ms 300
  stale_syn_step
  wire_steps
  asked_next_steps
  stop_observers
  list_isns
  isn_capture_step
  lab_end
}

main "$@"
