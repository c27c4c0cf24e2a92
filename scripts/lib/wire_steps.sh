# shellcheck shell=bash disable=SC2034,SC2016,SC2153  # globals are for the caller (NETLAB_IN_* from netns.sh); backquotes are Markdown
# netlab script library: a lab step that runs across netlab-wire (netns.sh):
# the server in the server's namespace (198.18.0.2), the client in the
# client's (198.18.0.1), a wire of its own per step (its stats and rule log in
# wire-<step>.json), a capture on the client's veth nlc0 (capture-<step>.pcap,
# with its ladder), and a few lines per step in wire-steps.txt that
# summary.md repeats. The teardown lab runs its wire steps with it, the
# handshake lab reads its rule marks with it. Sourced by lab.sh, whose
# lab_begin sets SERVER, CLIENT and DEFAULT_PORT and whose lab_client runs the
# client; each step joins STEPS.

WIRE_CAPTURE_PID=""
WIRE_CAPTURE_FILE=""
WIRE_DURING=""  # a function wire_step runs in the background during its client (see wire_step)

# wire_skip REASON: the one line saying the wire steps did not run, and why.
wire_skip() {
  say ""
  say "--- across the wire: skipped: $1"
  printf 'skipped: %s\n' "$1" >"$NETLAB_RUN/wire-steps.txt"
}

# wire_capture_start STEP [FILTER]: a capture of one step on the client's veth
# (the client's side of the wire: what the client sent, before the wire
# dropped or held it, and what reached it); FILTER defaults to the lab's port.
wire_capture_start() {
  local i
  local -a drop=()
  WIRE_CAPTURE_FILE=$NETLAB_RUN/capture-$1.pcap
  if [[ $NETLAB_CAPTURE != yes ]] || ! command -v tcpdump >/dev/null; then
    WIRE_CAPTURE_FILE=""
    return 0
  fi
  ((EUID == 0)) && drop=(-Z root)
  "${NETLAB_IN_CLIENT[@]}" tcpdump -i nlc0 --immediate-mode -U -s 0 -n "${drop[@]}" -w "$WIRE_CAPTURE_FILE" \
    "${2:-tcp port $DEFAULT_PORT}" 2>"$WIRE_CAPTURE_FILE.log" </dev/null &
  WIRE_CAPTURE_PID=$!
  register_pid "$WIRE_CAPTURE_PID" INT
  tcpdump_listening "$WIRE_CAPTURE_FILE.log" "$WIRE_CAPTURE_PID" && return 0
  warn "tcpdump on nlc0 did not start: $(tail -n 1 "$WIRE_CAPTURE_FILE.log" 2>/dev/null)"
  wire_capture_stop
  WIRE_CAPTURE_FILE=""
}

wire_capture_stop() {
  [[ -n $WIRE_CAPTURE_PID ]] || return 0
  sleep 0.2 # --immediate-mode: the last segments are written within this
  release_pid "$WIRE_CAPTURE_PID" INT || true
  WIRE_CAPTURE_PID=""
}

# wire_step STEP SERVER-MODE -- WIRE-OPTIONS... -- CLIENT-OPTIONS...
wire_step() {
  local step=$1 mode=$2
  shift 2
  [[ ${1-} == -- ]] || die "wire_step $step: '--' expected before the wire's options"
  shift
  local -a wire_args=()
  while (($#)) && [[ $1 != -- ]]; do wire_args+=("$1"); shift; done
  (($#)) && shift
  wire_start "$step" "${wire_args[@]}"
  printf '===== %s: --mode %s (%s, in %s) =====\n' "$step" "$mode" "$(date -u +%H:%M:%SZ)" "$NETLAB_NS_SERVER" >>"$NETLAB_RUN/server.log"
  start_server "$NETLAB_RUN/server.log" "$NETLAB_RUN/port.$step" "${NETLAB_IN_SERVER[@]}" "$NETLAB_BIN_DIR/$SERVER" \
    --mode "$mode" --host "$NETLAB_SERVER_ADDR" --port "$DEFAULT_PORT" --log-level info
  wire_capture_start "$step"
  say ""
  say "--- $step (netlab-wire ${wire_args[*]}): $SERVER --mode $mode; $CLIENT $*"
  # WIRE_DURING: a function run in the background while the client runs (it
  # may change the wire's rules mid-step: wire_rules), stopped after it.
  local during=""
  if [[ -n ${WIRE_DURING-} ]]; then
    "$WIRE_DURING" "$step" &
    during=$!
    register_pid "$during" TERM
  fi
  lab_client "$step" "${NETLAB_IN_CLIENT[@]}" "$NETLAB_BIN_DIR/$CLIENT" --host "$NETLAB_SERVER_ADDR" --port "$DEFAULT_PORT" "$@"
  [[ -z $during ]] || release_pid "$during" TERM || true
  wire_capture_stop
  stop_server "$NETLAB_SERVER_PID"
  wire_stop
  STEPS+=("$step")
  wire_record "$step" "${wire_args[*]}" >>"$NETLAB_RUN/wire-steps.txt"
}

# wire_rule_marks STEP: what the last wire's rules did, from its rule log:
# WIRE_RULED (one line per firing, for people) and WIRE_MARKS (for
# wire_marked_capture).
wire_rule_marks() {
  local step=$1 i dir flags seq ack action
  WIRE_RULED="" WIRE_MARKS=""
  for ((i = 0; i < 20; i++)); do
    dir=$(wire_value "/rule_log/$i/dir" 2>/dev/null) || break
    flags=$(wire_value "/rule_log/$i/flags")
    seq=$(wire_value "/rule_log/$i/seq")
    ack=$(wire_value "/rule_log/$i/ack")
    action=$(wire_value "/rule_log/$i/action")
    WIRE_RULED+=$(printf 'the wire: %s %s seq %s ack %s: %s (wire-%s.json /rule_log/%s)' "$dir" "$flags" "$seq" "$ack" "$action" "$step" "$i")$'\n'
    WIRE_MARKS+="$dir $flags $seq $ack $action;"
  done
  ((i > 0)) || WIRE_RULED=$'the wire: no rule fired\n'
}

# wire_marked_capture PCAP FILTER [TIME_FLAG]: the capture's segments
# (tcpdump -S, on the client's veth; times as TIME_FLAG says, default -tt), the
# ones the wire's rules acted on marked (WIRE_MARKS).
wire_marked_capture() {
  tcpdump -r "$1" -n -S "${3:--tt}" "$2" 2>/dev/null | awk -v marks="$WIRE_MARKS" '
    # The k-th firing on segments alike (the same direction, flags, seq and
    # ack: a SYN sent again, say) marks the k-th such segment in the capture.
    BEGIN {
      n = split(marks, m, ";")
      for (i = 1; i < n; i++) { split(m[i], f, " "); key[i] = f[1] " " f[2] " " f[3] " " f[4]; ord[i] = ++count[key[i]] }
    }
    {
      line = $0; note = ""; delete hit
      for (i = 1; i < n; i++) {
        split(m[i], f, " ")
        from_client = index(line, "198.18.0.1.") < index(line, " > ")
        if ((f[1] == "left>right") != from_client) continue
        if (line !~ ("ack " f[4] ",") && !(f[4] == 0 && line !~ / ack /)) continue
        if (f[2] != "A" && line !~ ("seq " f[3] "[,:]")) continue
        flags = f[2] == "A" ? "[.]" : f[2] == "FA" ? "[F.]" : f[2] == "SA" ? "[S.]" : f[2] == "R" ? "[R]" : "[" f[2] "]"
        if (index(line, "Flags " flags) == 0) continue
        if (!(key[i] in hit)) { hit[key[i]] = 1; seen[key[i]]++ }
        k = seen[key[i]]
        # Toward the client a dropped segment never reaches this capture: the
        # rule log above is its only trace.
        if (f[5] == "drop" && f[1] == "left>right" && k == ord[i]) note = "   <-- dropped by the wire"
        if (f[5] == "delay" && k == ord[i]) note = "   <-- held in the wire"
        if (f[5] == "duplicate" && k == ord[i]) note = "   <-- duplicated by the wire"
        # A replayed segment: toward the client it is here twice (the second
        # is the replay); toward the server, once, as the client sent it.
        if (f[5] ~ /^hold-and-replay/ && f[1] == "right>left" && k == 2) note = "   <-- replayed by the wire"
        if (f[5] ~ /^hold-and-replay/ && f[1] == "left>right" && k == ord[i]) note = "   <-- the wire replays this later"
      }
      print line note
    }'
}

# wire_record STEP WIRE-OPTIONS: the step's evidence, as wire-steps.txt keeps it:
# what the wire's rules did (its rule log), the connection's segments on the
# client's veth (tcpdump -S, the segment a rule acted on marked), each end's
# states, and the step's verdicts.
wire_record() {
  local step=$1 report=$NETLAB_BIN_DIR/netlab-report json=$NETLAB_RUN/client-$1.json port
  port=$("$report" get "$json" /observed/local_port)
  printf '== %s (netlab-wire %s) ==\n' "$step" "$2"
  wire_rule_marks "$step"
  printf '%s' "$WIRE_RULED"
  if [[ -n $WIRE_CAPTURE_FILE && -s $WIRE_CAPTURE_FILE ]]; then
    printf '$ tcpdump -r capture-%s.pcap -n -S "tcp port %s"   # on nlc0, the client side of the wire\n' "$step" "$port"
    wire_marked_capture "$WIRE_CAPTURE_FILE" "tcp port $port" | sed 's/^/    /'
  fi
  if [[ -n $WIRE_CAPTURE_FILE && -s $WIRE_CAPTURE_FILE ]]; then
    # The same connection as a ladder (the client's port picks it out of the capture).
    "$NETLAB_BIN_DIR/netlab-pcap" ladder "$WIRE_CAPTURE_FILE" --port "$port" --full --color never \
      >"$NETLAB_RUN/ladder-$step.txt" 2>/dev/null || rm -f -- "$NETLAB_RUN/ladder-$step.txt"
    if [[ -s $NETLAB_RUN/ladder-$step.txt ]]; then
      # The ladder's numbers are relative; the rule log's absolute ones are in the listing above.
      printf '\n%s(marked in wire-steps.txt, where tcpdump -S shows the absolute numbers)\n' "$WIRE_RULED" >>"$NETLAB_RUN/ladder-$step.txt"
      printf 'ladder: ladder-%s.txt\n' "$step"
    fi
  fi
  printf 'our end: %s\n' "$("$report" get "$json" /observed/our_path)"
  if "$report" get "$json" /observed/server_path >/dev/null 2>&1; then
    printf "the server's end: %s\n" "$("$report" get "$json" /observed/server_path)"
  fi
  "$report" checks "$json" | awk -F'\t' '{ printf "check %s: %s\n", $2, $3 }'
  printf '\n'
}

# The wire steps' section of summary.md.
wire_summary() {
  [[ -s $NETLAB_RUN/wire-steps.txt ]] || return 0
  printf '\n## Across the wire (netlab-wire)\n\n'
  printf 'Client %s in one network namespace, server %s in another, a netlab-wire between them; ' \
    "$NETLAB_CLIENT_ADDR" "$NETLAB_SERVER_ADDR"
  printf 'per step: `wire-<step>.json` (rule log), `capture-<step>.pcap` (on nlc0), `client-<step>.json`.\n\n```\n'
  cat "$NETLAB_RUN/wire-steps.txt"
  printf '```\n'
}
