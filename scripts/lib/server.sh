# shellcheck shell=bash disable=SC2034,SC2016  # globals are for the caller; backquotes are Markdown
# netlab script library: start a lab server and know when it is listening.
# Sourced after common.sh.
#
# The server writes its bound port to --port-file once it listens (DESIGN.md):
# that file, not a sleep, is the readiness signal.

# start_server LOG PORT_FILE PROGRAM ARGS...
# Appends the server's stdout and stderr to LOG, registers its PID, waits (at
# most 10 s) for PORT_FILE, and sets NETLAB_SERVER_PID and NETLAB_SERVER_PORT.
start_server() {
  local log=$1 port_file=$2
  shift 2
  rm -f -- "$port_file"
  "$@" --port-file "$port_file" >>"$log" 2>&1 </dev/null &
  NETLAB_SERVER_PID=$!
  register_pid "$NETLAB_SERVER_PID" TERM "$(program_name "$@")"
  wait_for_port_file "$port_file" "$NETLAB_SERVER_PID" "$log" ||
    die "${1##*/} did not start listening (see $log)"
  NETLAB_SERVER_PORT=$(<"$port_file")
}

# Polls for the port file: 100 x 0.1 s. On failure shows why.
wait_for_port_file() {
  local port_file=$1 pid=$2 log=$3
  wait_for_file "$port_file" "$pid" 100 && return 0
  warn "no port file $port_file (waited at most 10 s); last lines of $log:"
  tail -n 15 -- "$log" >&2 || true
  if [[ ${NETLAB_PORT:-0} != 0 ]]; then
    warn "listening on port $NETLAB_PORT (ss -ltnp 'sport = :$NETLAB_PORT'):"
    ss -ltnp "sport = :$NETLAB_PORT" >&2 2>/dev/null || true
  else
    warn "listening sockets (ss -ltnp):"
    ss -ltnp >&2 2>/dev/null || true
  fi
  return 1
}

# Stops the server with SIGTERM (it closes its sockets and prints its summary)
# and reaps it. Warns when it did not exit cleanly.
# program_name COMMAND...: the netlab program a command line runs (past a
# prefix such as `ip netns exec NS`: the first netlab-* word that is a file
# this script may run), or its first word.
program_name() {
  local arg
  for arg in "$@"; do
    [[ ${arg##*/} != netlab-* || ! -x $arg ]] || { printf '%s\n' "${arg##*/}"; return 0; }
  done
  printf '%s\n' "${1##*/}"
}

# stop_server PID: SIGTERM, then its exit status. A server that a signal other
# than our SIGTERM ended (SIGKILL, SIGSEGV, an abort) died during the run:
# the lab stops there (exit 1) and says which program it was and how it ended.
stop_server() {
  local pid=$1 status=0 name=${NETLAB_PID_NAMES[$1]:-server}
  release_pid "$pid" TERM || status=$?
  ((status == 0)) && return 0
  if ((status > 128 && status != 143)); then
    die "$name (pid $pid) $(exit_text "$status") during the run"
  fi
  warn "warning: $name (pid $pid) exited with status $status"
}
