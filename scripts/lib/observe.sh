# shellcheck shell=bash disable=SC2034,SC2016  # globals are for the caller; backquotes are Markdown
# netlab script library: watch the kernel from outside, as a class would.
#   - ss: TCP socket counts by state for the lab's port, every 0.2 s, into ss.csv
#   - tcpdump: the lab's port on loopback into capture.pcap (root, or inside
#     a user + network namespace that this script entered)
# Sourced after common.sh.

NETLAB_SS_STATES=(ESTAB SYN-SENT SYN-RECV FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT CLOSE-WAIT LAST-ACK CLOSING LISTEN)
NETLAB_SS_MAX_SAMPLES=3000
NETLAB_CAPTURE_SKIPPED=""

# --- ss sampler --------------------------------------------------------------

# One CSV row: elapsed ms, then the count of each state on the port (either end).
ss_sample_once() {
  local port=$1 elapsed_ms=$2
  ss -Htan "( sport = :$port or dport = :$port )" 2>/dev/null |
    awk -v t="$elapsed_ms" -v names="${NETLAB_SS_STATES[*]}" '
      { count[$1]++ }
      END {
        n = split(names, state, " "); row = t
        for (i = 1; i <= n; i++) row = row "," (count[state[i]] + 0)
        print row
      }'
}

# Runs in the background until SIGTERM or NETLAB_SS_MAX_SAMPLES rows.
ss_sample_loop() {
  local port=$1 start now n stop=0
  trap 'stop=1' TERM
  start=${EPOCHREALTIME/./}
  for ((n = 0; n < NETLAB_SS_MAX_SAMPLES && !stop; n++)); do
    now=${EPOCHREALTIME/./}
    ss_sample_once "$port" $(((now - start) / 1000))
    sleep 0.2 # the sampling period, not a wait for anything
  done
}

# ss_start PORT CSV: writes the header and starts the sampler (registered).
ss_start() {
  local port=$1 csv=$2 header
  header=$(IFS=,; echo "elapsed_ms,${NETLAB_SS_STATES[*]}")
  printf '%s\n' "$header" >"$csv"
  if ! command -v ss >/dev/null; then
    warn "socket sampling skipped: ss is not installed (apt-get install iproute2)"
    return 0
  fi
  ss_sample_loop "$port" >>"$csv" 2>/dev/null </dev/null &
  NETLAB_SS_PID=$!
  register_pid "$NETLAB_SS_PID" TERM
}

ss_stop() {
  [[ -n ${NETLAB_SS_PID-} ]] || return 0
  release_pid "$NETLAB_SS_PID" TERM || true
  NETLAB_SS_PID=""
}

# "peak ESTAB 3, TIME-WAIT 12, ..." over the samples of CSV (states seen only).
ss_peaks() {
  awk -F, 'NR == 1 { for (i = 2; i <= NF; i++) name[i] = $i; next }
           { rows++; for (i = 2; i <= NF; i++) if ($i > peak[i]) peak[i] = $i }
           END {
             line = rows " samples; peak counts:"
             for (i = 2; i in name; i++) if (peak[i] > 0) line = line " " name[i] "=" peak[i]
             print line
           }' "$1"
}

# --- the namespace, for capture without root ----------------------------------

# enter_namespace_if_needed WANT_CAPTURE SCRIPT ARGS...
# Not root, but capture wanted (or the lab builds a path of namespaces:
# NETLAB_WANTS_NETNS=yes): re-run SCRIPT inside a new user + network + mount
# namespace, where this user holds CAP_NET_RAW and CAP_NET_ADMIN over that
# namespace's own loopback and over the namespaces it makes (netns.sh).
# --map-current-user with --keep-caps rather than -r (map to root): tcpdump
# run as root tries to drop to its 'tcpdump' user, which a user namespace
# cannot map. NETLAB_IN_NS marks the inner run so it does not loop.
enter_namespace_if_needed() {
  local want=$1 script=$2 error
  shift 2
  [[ $EUID -ne 0 && -z ${NETLAB_IN_NS-} ]] || return 0
  if [[ ${NETLAB_WANTS_NETNS-} != yes ]]; then
    [[ $want == yes ]] || return 0
    command -v tcpdump >/dev/null || return 0
  fi
  if ! command -v unshare >/dev/null; then
    NETLAB_CAPTURE_SKIPPED="not root, and unshare (util-linux) is not installed"
    NETLAB_NS_REFUSED="unshare (util-linux) is not installed"
    return 0
  fi
  if ! error=$(unshare --map-current-user --net --mount --keep-caps true 2>&1); then
    error=${error#unshare: }
    NETLAB_CAPTURE_SKIPPED="not root, and this system does not allow an unprivileged user + network namespace (unshare: ${error:-failed})"
    NETLAB_NS_REFUSED="this system does not allow an unprivileged user namespace (unshare: ${error:-failed})"
    return 0
  fi
  say "not root: re-running inside a private user + network namespace (unshare) so tcpdump can capture its loopback and the lab can make namespaces of its own"
  exec unshare --map-current-user --net --mount --keep-caps env NETLAB_IN_NS=1 bash "$script" "$@"
}

# Inside the namespace: its loopback starts down.
bring_namespace_up() {
  [[ -n ${NETLAB_IN_NS-} ]] || return 0
  ip link set lo up || die "cannot bring up lo inside the namespace (NETLAB_IN_NS is set outside one?)"
}

# --- tcpdump -----------------------------------------------------------------

# Prints why capture cannot run here, or nothing when it can.
capture_blocker() {
  local want=$1
  if [[ $want != yes ]]; then
    echo "--no-capture was given"
  elif [[ -n $NETLAB_CAPTURE_SKIPPED ]]; then
    echo "$NETLAB_CAPTURE_SKIPPED"
  elif ! command -v tcpdump >/dev/null; then
    echo "tcpdump is not installed (apt-get install tcpdump)"
  elif [[ $EUID -ne 0 && -z ${NETLAB_IN_NS-} ]]; then
    echo "not root (run as root, or allow unprivileged user namespaces)"
  fi
}

# tcpdump_listening LOG PID: true once the tcpdump writing its messages to
# LOG says it is listening (at most 5 s); false when it exits first or never does.
tcpdump_listening() {
  local log=$1 pid=$2 i
  for ((i = 0; i < 50; i++)); do
    grep -q 'listening on' "$log" 2>/dev/null && return 0
    pid_running "$pid" || return 1
    sleep 0.1
  done
  return 1
}

# capture_start PORT DIR: tcpdump on lo for the port into DIR/capture.pcap.
# Sets NETLAB_CAPTURE_PID, or NETLAB_CAPTURE_SKIPPED with the reason.
capture_start() {
  local port=$1 dir=$2 i
  local -a drop=()
  # As real root tcpdump would switch to its 'tcpdump' user, who may not write here.
  ((EUID == 0)) && drop=(-Z root)
  # --immediate-mode: hand each packet over at once, so the last segments of a
  # run (the FIN and its ACK) are in the file when tcpdump is stopped.
  # -B 32768: a 32 MiB kernel buffer; with the default 2 MiB, tcpdump dropped
  # tens of thousands of the timewait lab's packets (its log says how many).
  tcpdump -i lo --immediate-mode -B 32768 -U -s 0 -n "${drop[@]}" -w "$dir/capture.pcap" \
    "tcp port $port or udp port $port" 2>"$dir/tcpdump.log" </dev/null &
  NETLAB_CAPTURE_PID=$!
  register_pid "$NETLAB_CAPTURE_PID" INT
  tcpdump_listening "$dir/tcpdump.log" "$NETLAB_CAPTURE_PID" && return 0
  release_pid "$NETLAB_CAPTURE_PID" INT || true
  NETLAB_CAPTURE_PID=""
  NETLAB_CAPTURE_SKIPPED="tcpdump did not start: $(tail -n 1 "$dir/tcpdump.log" 2>/dev/null)"
  return 1
}

# SIGINT makes tcpdump flush and close the pcap; then it is reaped.
capture_stop() {
  [[ -n ${NETLAB_CAPTURE_PID-} ]] || return 0
  release_pid "$NETLAB_CAPTURE_PID" INT || true
  NETLAB_CAPTURE_PID=""
}

# pcap_facts FILE PORT POINTER...: what netlab-pcap facts counts in FILE for
# the flows touching PORT, one line per JSON pointer (e.g. /fin_segments).
pcap_facts() {
  local file=$1 port=$2
  shift 2
  local -a pointers=()
  while (($#)); do pointers+=(--get "$1"); shift; done
  "$NETLAB_BIN_DIR/netlab-pcap" facts "$file" --port "$port" "${pointers[@]}"
}

# pcap_missed LOG: " (tcpdump missed N packets: these counts undercount)" when
# tcpdump's LOG says the kernel dropped packets it should have captured.
pcap_missed() {
  local missed
  missed=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$1" 2>/dev/null | head -n 1)
  [[ -z $missed || $missed == 0 ]] || printf ' (tcpdump missed %s packets: these counts undercount)' "$missed"
}

# pcap_gaps FILE PORT: " (the capture itself missed segments: ...)" when
# netlab-pcap's TCP analysis found holes in the flows touching PORT ("previous
# segment not captured", "ACKed unseen segment", sequence jumps) or could not
# read the whole file: a retransmission count from such a capture cannot be
# confirmed, since the copy it saw may be the only one.
pcap_gaps() {
  local gaps lost unseen jumps
  { read -r gaps; read -r lost; read -r unseen; read -r jumps; } < <("$NETLAB_BIN_DIR/netlab-pcap" facts "$1" --port "$2" \
    --get /capture_gaps --get /tcp_analysis/lost_segment --get /tcp_analysis/ack_lost_segment \
    --get /tcp_analysis/sequence_jump 2>/dev/null) || return 0
  [[ $gaps == true ]] || return 0
  printf ' (the capture itself missed segments: %s "previous segment not captured", %s "ACKed unseen segment", %s sequence jumps; a retransmission count from it cannot be confirmed)' \
    "${lost:-?}" "${unseen:-?}" "${jumps:-0}"
}

# pcap_analysis FILE PORT: one line, the TCP analysis of the flows touching
# PORT as Wireshark's classes (netlab-pcap facts /tcp_analysis).
pcap_analysis() {
  local r f s o d
  { read -r r; read -r f; read -r s; read -r o; read -r d; } < <("$NETLAB_BIN_DIR/netlab-pcap" facts "$1" --port "$2" \
    --get /tcp_analysis/retransmission --get /tcp_analysis/fast_retransmission \
    --get /tcp_analysis/spurious_retransmission --get /tcp_analysis/out_of_order \
    --get /tcp_analysis/duplicate_ack 2>/dev/null) || return 0
  printf 'retransmissions %s (fast %s, spurious %s), out of order %s, duplicate ACKs %s%s' \
    "$r" "$f" "$s" "$o" "$d" "$(pcap_gaps "$1" "$2")"
}

# The capture section of summary.md.
capture_report() {
  local dir=$1 pcap=$1/capture.pcap
  printf '\n## Capture\n\n'
  if [[ -n $NETLAB_CAPTURE_SKIPPED || ! -f $pcap ]]; then
    printf 'capture skipped: %s\n' "${NETLAB_CAPTURE_SKIPPED:-no capture.pcap}"
    return 0
  fi
  printf -- '- `capture.pcap`: %s bytes, %s packets on the lab port%s (netlab-pcap facts)\n' \
    "$(stat -c %s "$pcap")" "$(pcap_facts "$pcap" 0 /packets 2>/dev/null || echo '?')" "$(pcap_missed "$dir/tcpdump.log")"
  printf -- '- TCP analysis on the lab port, as Wireshark classifies segments (netlab-pcap analysis lists them): %s\n' \
    "$(pcap_analysis "$pcap" "${NETLAB_PORT:-0}")"
  printf -- '- read it: `tcpdump -r %s -n -tttt | less` (or open it in Wireshark)\n' "$pcap"
  capture_dissector_hint "$pcap"
  if [[ -f $dir/ladder.txt ]]; then
    printf -- '- ladder of one connection: [ladder.txt](ladder.txt) (terminal), [ladder.svg](ladder.svg) (slides); all flows: `netlab-pcap flows %s`\n\n' "$pcap"
    "$NETLAB_BIN_DIR/netlab-pcap" ladder "$pcap" --port "${NETLAB_PORT:-0}" --format mermaid 2>/dev/null || true
  fi
}

# capture_dissector_hint PCAP: how to read PCAP with the lab's own protocol
# decoded (tools/wireshark/netlab.lua), for a lab that declares one.
capture_dissector_hint() {
  local pcap=$1 lua=$NETLAB_ROOT/tools/wireshark/netlab.lua proto=${LAB_DISSECTOR-}
  if [[ -z $proto ]]; then
    printf -- '- Wireshark decodes this lab'"'"'s bytes itself (TCP, HTTP, TLS); the dissectors in `tools/wireshark/` are for the transport, framing and rpc labs\n'
    return 0
  fi
  printf -- '- its messages decoded (%s, `tools/wireshark/netlab.lua`): `tshark -X lua_script:%s -o %s.ports:%s -2 -r %s -Y %s`; in Wireshark: `wireshark -X lua_script:%s -o %s.ports:%s %s`\n' \
    "$proto" "$lua" "$proto" "${NETLAB_PORT:-0}" "$pcap" "$proto" "$lua" "$proto" "${NETLAB_PORT:-0}" "$pcap"
}

# write_ladders DIR: the ladder (sequence) diagram of one representative
# connection of DIR/capture.pcap, as ladder.txt and ladder.svg.
write_ladders() {
  local dir=$1 pcap=$1/capture.pcap tool=$NETLAB_BIN_DIR/netlab-pcap
  [[ -z ${NETLAB_CAPTURE_SKIPPED-} && -s $pcap && -x $tool ]] || return 0
  "$tool" ladder "$pcap" --port "${NETLAB_PORT:-0}" --color never >"$dir/ladder.txt" 2>/dev/null || rm -f "$dir/ladder.txt"
  "$tool" ladder "$pcap" --port "${NETLAB_PORT:-0}" --format svg >"$dir/ladder.svg" 2>/dev/null || rm -f "$dir/ladder.svg"
}

# start_observers: for a lab run, tcpdump first (when it can run: root, or a
# user namespace), then the ss sampler; both watch the whole run.
start_observers() {
  local reason
  reason=$(capture_blocker "$NETLAB_CAPTURE")
  if [[ -n $reason ]]; then
    NETLAB_CAPTURE_SKIPPED=$reason
  elif capture_start "$NETLAB_PORT" "$NETLAB_RUN"; then
    say "capturing port $NETLAB_PORT on lo into capture.pcap"
  fi
  [[ -z $NETLAB_CAPTURE_SKIPPED ]] || say "capture skipped: $NETLAB_CAPTURE_SKIPPED"
  ss_start "$NETLAB_PORT" "$NETLAB_RUN/ss.csv"
}

# stop_observers: the two observers stopped in reverse order.
stop_observers() {
  ss_stop
  capture_stop
}
