# shellcheck shell=bash
# netlab script library: live panes for a class (scripts/lab <lab> --tmux,
# scripts/lab tour --tmux). One tmux session: the lab (or the tour) runs in
# the left pane, where its --pause and its output are; on the right, the
# socket states of its port (ss -tan, 5 times a second, with the ESTAB,
# TIME-WAIT and CLOSE-WAIT counts), the server log of the newest run folder,
# and tcpdump -l -nn on the port when capture is possible (root).
#
# The session is registered for the cleanup (register_tmux_session): leaving
# it (Enter in the lab pane once the lab has finished, detaching, Ctrl-C)
# stops a lab still running with Ctrl-C in its pane, as a user would, waits
# for its own cleanup, then kills the session, which ends the panes' views.
# Without a terminal the session runs detached until the lab ends (tests
# drive it with tmux itself). Sourced after common.sh and declare.sh.

NETLAB_TMUX_LIB=${BASH_SOURCE[0]}

# The refresh of the ss and log panes (seconds), and how long a session may
# run before its views stop by themselves (a bound for every loop).
readonly TMUX_TICK=0.2
readonly TMUX_MAX_TICKS=$((5 * 3600 * 4))

# tmux_port ARGS...: the lab's port from its arguments (--port P before --),
# else its default. Dies for port 0: the panes watch a port known in advance.
tmux_port() {
  local lab=$1 port=""
  shift
  while (($#)); do
    case $1 in
      --) break ;;
      --port) port=${2-} ;;
      --port=*) port=${1#--port=} ;;
    esac
    shift
  done
  [[ -n $port ]] || port=$(lab_field "$lab" port)
  [[ $port =~ ^[0-9]+$ ]] || usage_error "--tmux: the lab's port is not a number: '$port'"
  ((port != 0)) || usage_error "--tmux watches a port known in advance: give --port P (not 0)"
  printf '%s\n' "$port"
}

# tmux_filter PORT...: the ss filter for TCP sockets with one of the ports at either end.
tmux_filter() {
  local port filter=""
  for port in "$@"; do filter+="${filter:+ or }sport = :$port or dport = :$port"; done
  printf '( %s )' "$filter"
}

# tmux_ss_view TITLE PORT...: the socket-state pane. Each frame is printed
# whole (no flicker): counts by state, then the latest lines of ss -tan.
tmux_ss_view() {
  local title=$1 filter lines frame state i
  shift
  filter=$(tmux_filter "$@")
  for ((i = 0; i < TMUX_MAX_TICKS; i++)); do
    lines=$(tput lines 2>/dev/null || echo 24)
    local -A count=([ESTAB]=0 [TIME-WAIT]=0 [CLOSE-WAIT]=0)
    local table
    table=$(ss -Htan state all "$filter" 2>&1 || true)
    while read -r state _; do
      [[ -n $state ]] && count[$state]=$((${count[$state]:-0} + 1))
    done <<<"$table"
    frame="$title — ss -tan, every ${TMUX_TICK} s — $(date +%T)"$'\n'
    frame+="ESTAB ${count[ESTAB]}   TIME-WAIT ${count[TIME-WAIT]}   CLOSE-WAIT ${count[CLOSE-WAIT]}"
    for state in "${!count[@]}"; do
      case $state in ESTAB | TIME-WAIT | CLOSE-WAIT) ;; *) frame+="   $state ${count[$state]}" ;; esac
    done
    frame+=$'\n\n'"State       Recv-Q Send-Q  Local                 Peer"$'\n'
    frame+=$(tail -n $((lines > 8 ? lines - 6 : 2)) <<<"$table" | awk '{printf "%-11s %6s %6s  %-21s %s\n", $1, $2, $3, $4, $5}')
    printf '\033[H\033[2J%s' "$frame"
    unset count
    sleep "$TMUX_TICK"
  done
}

# tmux_log_view MARKER NAME_GLOB: the server.log of the newest run folder
# made after MARKER whose name matches NAME_GLOB, followed as it grows; a
# newer run folder (the tour's next lab) takes over.
tmux_log_view() {
  local marker=$1 glob=$2 dir current="" offset=0 size i
  printf 'waiting for the run folder (%s/%s) ...\n' "$NETLAB_RUNS_DIR" "$glob"
  for ((i = 0; i < TMUX_MAX_TICKS; i++)); do
    dir=$(find "$NETLAB_RUNS_DIR" -mindepth 1 -maxdepth 1 -type d -name "$glob" -newer "$marker" 2>/dev/null | sort | tail -n 1)
    if [[ -n $dir && $dir != "$current" ]]; then
      current=$dir offset=0
      printf '\n== %s/server.log ==\n' "$current"
    fi
    if [[ -n $current && -f $current/server.log ]]; then
      size=$(stat -c %s -- "$current/server.log" 2>/dev/null || echo "$offset")
      if ((size > offset)); then
        tail -c +$((offset + 1)) -- "$current/server.log" | head -c $((size - offset))
        offset=$size
      fi
    fi
    sleep "$TMUX_TICK"
  done
}

# tmux_lab_pane STATE WHAT ARGS...: the lab pane: waits until the other
# panes are up, runs scripts/lab WHAT ARGS, writes its exit status to
# STATE/status; on a terminal, waits for Enter and closes the session.
tmux_lab_pane() {
  local state=$1 status=0 i
  shift
  for ((i = 0; i < 100; i++)); do [[ -e $state/go ]] && break; sleep 0.1; done
  "$NETLAB_ROOT/scripts/lab" "$@" || status=$?
  printf '%s\n' "$status" >"$state/status"
  [[ -e $state/attached ]] || return 0
  printf '\nscripts/lab %s ended (status %s). [Enter] closes this session (every pane).' "$1" "$status"
  read -r -t 3600 _ || true
  tmux kill-session -t "=$(<"$state/session")"
}

# tmux_pane_command FUNCTION ARGS...: a command line for tmux that runs a
# function of this library in a new pane, with the caller's netlab settings.
tmux_pane_command() {
  local command
  # shellcheck disable=SC2016  # $1 and $@ are the new bash's
  command=$(printf '%q ' env NETLAB_BIN_DIR="$NETLAB_BIN_DIR" NETLAB_RUNS_DIR="$NETLAB_RUNS_DIR" \
    NETLAB_LANG="${NETLAB_LANG-}" LANG="${LANG-}" PATH="$PATH" \
    bash -c 'source "$1/common.sh"; source "$1/declare.sh"; source "$1/tmux.sh"; shift; "$@"' _ \
    "${NETLAB_TMUX_LIB%/*}" "$@")
  printf '%s\n' "$command"
}

# tmux_session WHAT ARGS...: scripts/lab WHAT ARGS in a new tmux session with
# the live panes beside it (WHAT is a lab or "tour"); returns the lab's status.
tmux_session() {
  local what=$1 session state title glob pane lab_pane status=1 i lab
  shift
  command -v tmux >/dev/null || die "--tmux needs tmux (scripts/setup.sh installs it: apt-get install tmux)"
  local -a ports=() args=("$@")
  if [[ $what == tour ]]; then
    while read -r lab; do ports+=("$(lab_field "$lab" port)"); done < <(available_labs)
    title="netlab tour — ports ${ports[*]}"
    glob="*-*"
  else
    ports=("$(tmux_port "$what" "$@")") || exit 2
    title="netlab $what — port ${ports[0]}"
    glob="*-$what"
    # The lab must use the port the panes watch (not an ephemeral one).
    [[ " ${args[*]} " == *" --port"* ]] || args=(--port "${ports[0]}" "${args[@]}")
  fi
  session=${NETLAB_TMUX_SESSION:-netlab-$what}
  ! tmux has-session -t "=$session" 2>/dev/null ||
    die "a tmux session '$session' is open already: tmux attach -t $session, or close it first"
  state=$(mktemp -d)
  register_dir "$state"
  touch "$state/marker"
  printf '%s\n' "$session" >"$state/session"
  mkdir -p -- "$NETLAB_RUNS_DIR"

  lab_pane=$(tmux new-session -d -P -F '#{pane_id}' -s "$session" -x 220 -y 55 \
    "$(tmux_pane_command tmux_lab_pane "$state" "$what" "${args[@]}")")
  register_tmux_session "$session" "$state"
  printf '%s\n' "$lab_pane" >"$state/lab_pane"
  tmux set-option -t "$lab_pane" pane-border-status top >/dev/null
  tmux set-option -t "$lab_pane" pane-border-format ' #{pane_title} ' >/dev/null
  tmux select-pane -t "$lab_pane" -T "scripts/lab $what"
  pane=$(tmux split-window -h -l 45% -P -F '#{pane_id}' -t "$lab_pane" "$(tmux_pane_command tmux_ss_view "$title" "${ports[@]}")")
  tmux select-pane -t "$pane" -T "ss ${ports[*]}"
  pane=$(tmux split-window -v -P -F '#{pane_id}' -t "$pane" "$(tmux_pane_command tmux_log_view "$state/marker" "$glob")")
  tmux select-pane -t "$pane" -T "server.log"
  if [[ " ${args[*]} " == *" --no-capture "* ]]; then
    say "--tmux: no tcpdump pane (--no-capture)"
  elif ((EUID != 0)) || ! command -v tcpdump >/dev/null; then
    say "--tmux: no tcpdump pane: it needs root and tcpdump (the lab's own capture says what it could do)"
  else
    local filter="" port
    for port in "${ports[@]}"; do filter+="${filter:+ or }port $port"; done
    pane=$(tmux split-window -v -P -F '#{pane_id}' -t "$pane" \
      "$(printf '%q ' tcpdump -l -nn -i lo "$filter")")
    tmux select-pane -t "$pane" -T "tcpdump -l -nn -i lo $filter"
  fi
  tmux select-pane -t "$lab_pane"
  touch "$state/go"

  if [[ -t 0 && -t 1 ]]; then
    touch "$state/attached"
    TMUX='' tmux attach-session -t "=$session" || true
  else
    say "tmux session $session: the lab runs detached (no terminal here); tmux attach -t $session to watch it"
    for ((i = 0; i < TMUX_MAX_TICKS; i++)); do
      if [[ -s $state/status ]] || ! tmux has-session -t "=$session" 2>/dev/null; then break; fi
      sleep "$TMUX_TICK"
    done
  fi
  release_tmux_session "$session" "$state"
  [[ -s $state/status ]] && status=$(<"$state/status")
  return "$status"
}

# register_tmux_session SESSION STATE: released by the cleanup (release_tmux_session).
register_tmux_session() { NETLAB_CLEANUPS+=("tmux:$1:$2"); }

# release_tmux_session SESSION STATE: a lab still running in the session is
# stopped with Ctrl-C in its pane (its own cleanup then runs) and waited for,
# at most 30 s; then the session is killed (its views end with it).
release_tmux_session() {
  local session=$1 state=$2 i entry
  for entry in "${!NETLAB_CLEANUPS[@]}"; do
    [[ ${NETLAB_CLEANUPS[entry]} == "tmux:$session:$state" ]] && unset 'NETLAB_CLEANUPS[entry]'
  done
  NETLAB_CLEANUPS=("${NETLAB_CLEANUPS[@]}")
  tmux has-session -t "=$session" 2>/dev/null || return 0
  if [[ ! -s $state/status ]]; then
    tmux send-keys -t "$(<"$state/lab_pane")" C-c 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
      [[ ! -s $state/status ]] || break
      sleep 0.1
    done
  fi
  tmux kill-session -t "=$session" 2>/dev/null || true
}
