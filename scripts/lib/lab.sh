# shellcheck shell=bash disable=SC2034  # globals are for the lab script
# netlab script library: the frame of a lab script (scripts/labs/<lab>.sh).
# A lab sources this one file, declares itself in its header (declare.sh), and
# its main reads like its lesson:
#
#   main() {
#     lab_begin "$@"                   # command line, namespace, trap, run folder, observers
#     lab_server "" ""                 # its steps: servers, clients, what they show
#     lab_client "" "$NETLAB_BIN_DIR/$CLIENT" --port "$NETLAB_PORT"
#     stop_server "$NETLAB_SERVER_PID"
#     lab_end                          # observers stopped, its report(), the run recorded
#   }
#
# lab_begin sets the lab's one cleanup trap (trap_cleanup, common.sh): every
# process, namespace, veth pair and directory the lab makes goes into the
# registry, released last-in first-out; a lab sets no trap of its own.
# shellcheck source-path=SCRIPTDIR
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$LIB/common.sh"
source "$LIB/declare.sh"
source "$LIB/run.sh"
source "$LIB/server.sh"
source "$LIB/observe.sh"
source "$LIB/netns.sh"
source "$LIB/wire_steps.sh"

LAB_RUN_NOTE=""  # more words for the "netlab LAB: run folder ..." line (set before lab_begin)
STEPS=()         # the steps run, in order (lab_step, wire_step)

# lab_begin ARGS...: the lab's command line (parse_lab_args; the lab's own
# options through its lab_option), then, re-run inside a user namespace when
# that is needed, the trap, the programs, the port, the run folder with its
# env.txt (plus what the lab's lab_env prints, if it has one) and the observers.
# Sets LAB, LAB_NOTE, DEFAULT_PORT, SERVER and CLIENT from the declaration.
lab_begin() {
  local script=${BASH_SOURCE[-1]}
  local -a programs=()
  LAB=${script##*/}
  LAB=${LAB%.sh}
  LAB_NOTE=$(lab_field "$LAB" note)
  DEFAULT_PORT=$(lab_field "$LAB" port)
  LAB_DISSECTOR=$(lab_field "$LAB" dissector)
  SERVER=netlab-$LAB-server
  CLIENT=netlab-$LAB-client
  readonly LAB LAB_NOTE DEFAULT_PORT SERVER CLIENT
  parse_lab_args "$@"
  [[ -z $(lab_field "$LAB" netns) ]] || NETLAB_WANTS_NETNS=yes
  enter_namespace_if_needed "$NETLAB_CAPTURE" "$script" "$@"
  trap_cleanup
  bring_namespace_up
  read -r -a programs <<<"$(lab_field "$LAB" programs)"
  require_programs "$SERVER" "$CLIENT" netlab-report "${programs[@]}"
  choose_port "$NETLAB_ASKED_PORT" "$DEFAULT_PORT"
  make_run_dir "$LAB"
  write_env_txt "$NETLAB_RUN/env.txt"
  if declare -F lab_env >/dev/null; then lab_env >>"$NETLAB_RUN/env.txt"; fi
  say "netlab $LAB: run folder $NETLAB_RUN${LAB_RUN_NOTE:+, $LAB_RUN_NOTE}"
  [[ $NETLAB_PORT == 0 ]] || start_observers
}

# usage: the lab's --help: the synopsis (with its own lab-options), then its
# lab_usage: what it runs, what it writes, its options (lab_options_help).
usage() {
  local own
  own=$(lab_field "$LAB" options)
  printf 'usage: scripts/lab %s %s[--capture|--no-capture] [--port P] [-- client options]\n\n' "$LAB" "${own:+$own }"
  lab_usage
}

# lab_options_help PORT: the --help lines of the options every lab takes;
# PORT says what --port sets in this lab.
lab_options_help() {
  cat <<EOF
  --capture      record the lab's port with tcpdump when possible (default)
  --no-capture   do not run tcpdump
  --port P       $1 (0 = any free port)
EOF
}

# lab_server STEP HEADER ARGS...: a fresh $SERVER with ARGS on the lab's port,
# for STEP ("": the lab's one server, port file "port"), after a line
# "===== HEADER (time) =====" in server.log when HEADER is given.
lab_server() {
  local step=$1 header=$2
  shift 2
  [[ -z $header ]] || printf '===== %s (%s) =====\n' "$header" "$(date -u +%H:%M:%SZ)" >>"$NETLAB_RUN/server.log"
  start_server "$NETLAB_RUN/server.log" "$NETLAB_RUN/port${step:+.$step}" \
    "$NETLAB_BIN_DIR/$SERVER" "$@" --port "$NETLAB_PORT" --log-level info
  [[ $NETLAB_PORT != 0 ]] || adopt_server_port "${step:+the next steps reuse it}"
}

# adopt_server_port [WORDS]: with --port 0, the port the first server took is
# the lab's port from now on, and the observers start watching it.
adopt_server_port() {
  NETLAB_PORT=$NETLAB_SERVER_PORT
  say "the server took port $NETLAB_PORT${1:+; $1}"
  start_observers
}

# lab_client STEP COMMAND...: runs COMMAND (the lab's client and its options)
# with --json client-STEP.json (client.json for STEP ""), its stderr appended
# to client.log under "===== STEP =====". A failing client ends the lab,
# showing the end of client.log.
lab_client() {
  local step=$1 status=0
  shift
  [[ -z $step ]] || printf '===== %s =====\n' "$step" >>"$NETLAB_RUN/client.log"
  run_child "$@" --json "$NETLAB_RUN/client${step:+-$step}.json" 2>>"$NETLAB_RUN/client.log" || status=$?
  ((status != 0)) || return 0
  # A server that died first is the cause: said first.
  if [[ -n ${NETLAB_SERVER_PID-} ]] && ended_on_its_own "$NETLAB_SERVER_PID"; then unregister_pid "$NETLAB_SERVER_PID"; fi
  note_failure "$CLIENT${step:+ ($step)} $(exit_text "$status"): $(tail -n 1 "$NETLAB_RUN/client.log" 2>/dev/null)"
  warn "last lines of $NETLAB_RUN/client.log:"
  tail -n 10 "$NETLAB_RUN/client.log" >&2 || true
  exit 1
}

# lab_client_shown CLIENT-DEFAULTS...: a lab's one client run on its port,
# with these defaults and the user's options (client_args), its output in
# client.txt, shown up to its verdict lines (the report's table shows them).
lab_client_shown() {
  client_args "$@"
  say ""
  say "--- $CLIENT --port $NETLAB_PORT ${NETLAB_CLIENT_ARGS[*]}"
  lab_client "" "$NETLAB_BIN_DIR/$CLIENT" --port "$NETLAB_PORT" "${NETLAB_CLIENT_ARGS[@]}" >"$NETLAB_RUN/client.txt"
  sed -n '/^  \[/q;p' "$NETLAB_RUN/client.txt"
}

# curl_or_skip FILE: true when curl is installed; else says the step is
# skipped, and FILE (where curl's exchanges would go) says so too.
curl_or_skip() {
  command -v curl >/dev/null && return 0
  say "curl: skipped (curl is not installed; apt-get install curl to compare)"
  echo "skipped: curl is not installed" >"$1"
  return 1
}

# lab_step STEP "SERVER OPTIONS" CLIENT-OPTIONS...: one step of a lab that
# runs its pair once per step: a fresh server with SERVER OPTIONS, the client
# with CLIENT-OPTIONS (and the user's, client_args), the server stopped; the
# step joins STEPS. Two functions a lab may define: lab_step_args STEP, to
# change NETLAB_CLIENT_ARGS for one step, and lab_step_look STEP, run while
# that step's server still holds its sockets (a snapshot of what ss shows).
lab_step() {
  local step=$1 server_options=$2
  shift 2
  local -a server_args
  read -r -a server_args <<<"$server_options"
  lab_server "$step" "$step: $server_options" "${server_args[@]}"
  client_args "$@"
  if declare -F lab_step_args >/dev/null; then lab_step_args "$step"; fi
  say ""
  say "--- $step: $SERVER $server_options; $CLIENT ${NETLAB_CLIENT_ARGS[*]}"
  lab_client "$step" "$NETLAB_BIN_DIR/$CLIENT" --port "$NETLAB_PORT" "${NETLAB_CLIENT_ARGS[@]}"
  if declare -F lab_step_look >/dev/null; then lab_step_look "$step"; fi
  stop_server "$NETLAB_SERVER_PID"
  STEPS+=("$step")
}

# lab_merge ITEM...: client.json, the steps' results merged (netlab-report
# merge); an ITEM is a step (its client-STEP.json) or, with a '/', a file.
lab_merge() {
  local item
  local -a files=()
  for item in "$@"; do
    if [[ $item == */* ]]; then files+=("$item"); else files+=("$NETLAB_RUN/client-$item.json"); fi
  done
  "$NETLAB_BIN_DIR/netlab-report" merge --lab "$LAB" "${files[@]}" >"$NETLAB_RUN/client.json.tmp"
  mv -- "$NETLAB_RUN/client.json.tmp" "$NETLAB_RUN/client.json"
}

# lab_verdicts [STEP...]: summary.md, then the note's claims with what this
# run measured: one table from client.json, or one per STEP, under its name.
# shellcheck disable=SC2120  # most labs give no STEP
lab_verdicts() {
  local step
  write_summary "$LAB"
  say ""
  say "The note's heading: $LAB_NOTE — what this run measured:"
  if (($# == 0)); then
    "$NETLAB_BIN_DIR/netlab-report" table "$NETLAB_RUN/client.json"
  fi
  for step in "$@"; do
    say ""
    say "$step:"
    "$NETLAB_BIN_DIR/netlab-report" table "$NETLAB_RUN/client-$step.json"
  done
  say ""
}

# lab_run_folder FILES: the run folder and what is in it, the capture last
# (or why there is none).
lab_run_folder() {
  local capture=capture.pcap
  [[ -z $NETLAB_CAPTURE_SKIPPED ]] || capture="capture skipped: $NETLAB_CAPTURE_SKIPPED"
  say "run folder: $NETLAB_RUN ($*, $capture)"
}

# lab_end: the observers stopped (where the lab has not stopped them yet), the
# lab's report(), and the run folder recorded for scripts/lab tour.
lab_end() {
  stop_observers
  report
  record_run
}
