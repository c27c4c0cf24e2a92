# shellcheck shell=bash
# netlab script library: live panes for a class (scripts/lab <lab> --tmux,
# scripts/lab tour --tmux). One tmux session: the lab (or the tour) runs in
# the left pane, where its --pause and its output are; on the right, the
# socket states of its port (ss -tan, 5 times a second, with the ESTAB,
# TIME-WAIT and CLOSE-WAIT counts), the server log of the newest run folder,
# and tcpdump -l -nn on the port when capture is possible (root), on the
# loopback or inside the server's namespace while a step runs across the wire.
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
# else its default. 0 (any free port) is known only once the server listens:
# the panes then read it from the run folder's port files (tmux_run_ports).
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
  printf '%s\n' "$port"
}

# tmux_filter PORT...: the ss filter for TCP sockets with one of the ports at either end.
tmux_filter() {
  local port filter=""
  for port in "$@"; do filter+="${filter:+ or }sport = :$port or dport = :$port"; done
  printf '( %s )' "${filter:-sport = :0}"
}

# tmux_newest_run MARKER NAME_GLOB: the newest run folder made after MARKER
# whose name matches NAME_GLOB (the tour's next lab takes over), or nothing.
tmux_newest_run() {
  find "$NETLAB_RUNS_DIR" -mindepth 1 -maxdepth 1 -type d -name "$2" -newer "$1" 2>/dev/null | sort | tail -n 1
}

# tmux_run_ports RUN PORT...: the ports given (not 0) and the ports the run's
# servers wrote to their port files (RUN/port, RUN/port.STEP), once each.
tmux_run_ports() {
  local run=$1 port file
  shift
  {
    for port in "$@"; do ((port == 0)) || echo "$port"; done
    if [[ -n $run ]]; then
      for file in "$run"/port "$run"/port.*; do
        [[ -f $file ]] && read -r port <"$file" && [[ $port =~ ^[0-9]+$ ]] && echo "$port"
      done
    fi
  } | sort -un
}

# tmux_lab_userns_pid ROOT_PID: without root the lab re-runs itself inside a
# user + network namespace of its own (observe.sh, enter_namespace_if_needed),
# invisible to the host's ss: its PID, found as the first process under
# ROOT_PID (the lab pane's shell) in another user namespace; or nothing.
# Breadth first through /proc/PID/task/PID/children, at most 200 processes.
tmux_lab_userns_pid() {
  local mine pid ns n=0
  local -a queue=("$1") kids
  mine=$(readlink /proc/self/ns/user)
  while ((${#queue[@]} && n < 200)); do
    pid=${queue[0]}
    queue=("${queue[@]:1}")
    n=$((n + 1))
    # Another user's process (runuser, sudo) is not readable: its children may be.
    ns=$(readlink "/proc/$pid/ns/user" 2>/dev/null) || ns=$mine
    if [[ $ns != "$mine" ]]; then
      printf '%s\n' "$pid"
      return 0
    fi
    # (The file has no final newline: read returns 1 with the words read.)
    kids=()
    read -r -a kids <"/proc/$pid/task/$pid/children" 2>/dev/null || true
    queue+=("${kids[@]}")
  done
}

# tmux_where RUN USERNS_PID: where the lab's sockets are, one line each:
# "LABEL<TAB>COMMAND..." for the ss that looks there. The lab's own network
# (the host's, or its user namespace's without root), then the client and
# server namespaces of its path (netns.sh writes their names to RUN/env.txt)
# while they exist; as root `ip netns` names, without root the same names
# inside the lab's mount namespace, entered with nsenter through its PID.
tmux_where() {
  local run=$1 pid=$2 line name
  if [[ -n $pid ]]; then
    printf 'lab user ns (pid %s)\tnsenter --preserve-credentials -U -n -t %s\n' "$pid" "$pid"
  else
    printf 'host\t\n'
  fi
  [[ -n $run && -f $run/env.txt ]] || return 0
  line=$(grep -m1 '^path client ' "$run/env.txt" 2>/dev/null) || return 0
  for name in "$(awk '{ print $3 }' <<<"$line")" "$(awk '{ for (i = 1; i < NF; i++) if ($i == "server") print $(i + 1) }' <<<"$line")"; do
    [[ $name =~ ^netlab-(client|server)-[0-9a-f]+$ ]] || continue
    if [[ -n $pid ]]; then
      [[ -e /proc/$pid/root/run/netns/$name ]] &&
        printf '%s\tnsenter --preserve-credentials -U -t %s --net=/proc/%s/root/run/netns/%s\n' "$name" "$pid" "$pid" "$name"
    elif [[ -e /run/netns/$name ]]; then
      printf '%s\tnsenter --net=/run/netns/%s\n' "$name" "$name"
    fi
  done
  return 0
}

# tmux_ss_view STATE TITLE PORT...: the socket-state pane. Each frame is
# printed whole (no flicker): where it looks, counts by state, then the
# latest lines of ss -tan for the ports, from every place the lab's sockets
# are (tmux_where). A port 0 is read from the run's port files.
tmux_ss_view() {
  local state=$1 title=$2 filter lines frame i run="" pid="" where label command table places ports_now
  shift 2
  local -a ports=("$@") watched
  local glob marker
  glob=$(<"$state/glob") marker=$state/marker
  for ((i = 0; i < TMUX_MAX_TICKS; i++)); do
    lines=$(tput lines 2>/dev/null || echo 24)
    # The run folder and the lab's user namespace are looked for once a second.
    if ((i % 5 == 0)); then
      run=$(tmux_newest_run "$marker" "$glob")
      if [[ -z $pid || ! -e /proc/$pid ]] && [[ -s $state/lab_shell ]]; then
        pid=$(tmux_lab_userns_pid "$(<"$state/lab_shell")")
      fi
      mapfile -t watched < <(tmux_run_ports "$run" "${ports[@]}")
      filter=$(tmux_filter "${watched[@]}")
      where=$(tmux_where "$run" "$pid")
    fi
    table="" places=""
    while IFS=$'\t' read -r label command; do
      [[ -n $label ]] || continue
      places+="${places:+, }$label"
      # shellcheck disable=SC2086  # COMMAND is words made by tmux_where
      table+=$($command ss -Htan state all "$filter" 2>/dev/null)$'\n'
    done <<<"$where"
    local -A count=([ESTAB]=0 [TIME-WAIT]=0 [CLOSE-WAIT]=0)
    local state_name
    while read -r state_name _; do
      [[ -n $state_name ]] && count[$state_name]=$((${count[$state_name]:-0} + 1))
    done <<<"$table"
    frame="$title — ss -tan, every ${TMUX_TICK} s — $(date +%T)"$'\n'
    ports_now=${watched[*]:-"(waiting for the port file of the server)"}
    frame+="port $ports_now — in: $places"$'\n'
    frame+="ESTAB ${count[ESTAB]}   TIME-WAIT ${count[TIME-WAIT]}   CLOSE-WAIT ${count[CLOSE-WAIT]}"
    for state_name in "${!count[@]}"; do
      case $state_name in ESTAB | TIME-WAIT | CLOSE-WAIT) ;; *) frame+="   $state_name ${count[$state_name]}" ;; esac
    done
    frame+=$'\n\n'"State       Recv-Q Send-Q  Local                 Peer"$'\n'
    frame+=$(grep -v '^$' <<<"$table" | tail -n $((lines > 9 ? lines - 7 : 2)) | awk '{printf "%-11s %6s %6s  %-21s %s\n", $1, $2, $3, $4, $5}')
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
    dir=$(tmux_newest_run "$marker" "$glob")
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

# tmux_capture_place RUN: where the lab's server is, as one line
# "LABEL<TAB>INTERFACE<TAB>COMMAND...": the server's namespace of the path
# (netns.sh writes its name to RUN/env.txt) while it exists, on every
# interface of it; else the host's loopback. Root only (the pane is).
tmux_capture_place() {
  local run=$1 line name
  if [[ -n $run && -f $run/env.txt ]] && line=$(grep -m1 '^path client ' "$run/env.txt" 2>/dev/null); then
    name=$(awk '{ for (i = 1; i < NF; i++) if ($i == "server") print $(i + 1) }' <<<"$line")
    if [[ $name =~ ^netlab-server-[0-9a-f]+$ && -e /run/netns/$name ]]; then
      printf '%s\tany\tnsenter --net=/run/netns/%s\n' "$name" "$name"
      return 0
    fi
  fi
  printf 'host\tlo\t\n'
}

# tmux_tcpdump_view STATE PORT...: tcpdump -l -nn on the lab's ports (a port
# 0 is read from the run's port files) where its server is: on the host's
# loopback, or inside the server's namespace while a step runs across the
# wire (tmux_capture_place). Looked at once a second; when the place or the
# ports change, the tcpdump there is stopped and one starts at the new place,
# under a line "== tcpdump in PLACE: FILTER ==".
tmux_tcpdump_view() {
  local state=$1 run place="" now filter i tcpdump="" label interface command port sleeper=""
  shift
  local -a ports=("$@") watched
  # shellcheck disable=SC2317  # called by the trap
  stop_tcpdump() { [[ -z $tcpdump ]] || { kill "$tcpdump" 2>/dev/null; wait "$tcpdump" 2>/dev/null; }; tcpdump=""; }
  # (A signal ends the wait for the sleep at once: closing the session ends this pane now.)
  trap 'stop_tcpdump; [[ -z $sleeper ]] || kill "$sleeper" 2>/dev/null' EXIT
  trap 'exit 0' HUP TERM INT
  printf 'waiting for the port of the server ...\n'
  for ((i = 0; i < TMUX_MAX_TICKS; i += 5)); do
    run=$(tmux_newest_run "$state/marker" "$(<"$state/glob")")
    mapfile -t watched < <(tmux_run_ports "$run" "${ports[@]}")
    filter=""
    for port in "${watched[@]}"; do filter+="${filter:+ or }port $port"; done
    now=""
    [[ -z $filter ]] || now="$(tmux_capture_place "$run")"$'\t'"$filter"
    if [[ $now != "$place" ]] || { [[ -n $tcpdump ]] && ! kill -0 "$tcpdump" 2>/dev/null; }; then
      stop_tcpdump
      place=$now
      if [[ -n $place ]]; then
        IFS=$'\t' read -r label interface command _ <<<"$place"
        printf '\n== tcpdump in %s (-i %s): %s ==\n' "$label" "$interface" "$filter"
        # shellcheck disable=SC2086  # COMMAND is words made by tmux_capture_place
        $command tcpdump -l -nn -i "$interface" "$filter" 2>&1 &
        tcpdump=$!
      fi
    fi
    sleep 1 &
    sleeper=$!
    wait "$sleeper" || true
    sleeper=""
  done
}

# tmux_lab_pane STATE WHAT ARGS...: the lab pane: waits until the other
# panes are up, runs scripts/lab WHAT ARGS, writes its exit status to
# STATE/status; on a terminal, waits for Enter and closes the session.
tmux_lab_pane() {
  local state=$1 status=0 i
  shift
  # The ss pane looks for the lab's user namespace among this shell's children.
  printf '%s\n' "$$" >"$state/lab_shell"
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
    local labs
    labs=$(tour_labs "$(tour_only "$@")") || exit 2
    while read -r lab; do ports+=("$(lab_field "$lab" port)"); done <<<"$labs"
    title="netlab tour — ports ${ports[*]}"
    glob="*-*"
  else
    ports=("$(tmux_port "$what" "$@")") || exit 2
    glob="*-$what"
    if ((ports[0] == 0)); then
      title="netlab $what — the port its server binds"
    else
      title="netlab $what — port ${ports[0]}"
    fi
    # The lab must use the port the panes watch (its default, or the one given).
    [[ " ${args[*]} " == *" --port"* ]] || args=(--port "${ports[0]}" "${args[@]}")
  fi
  session=${NETLAB_TMUX_SESSION:-netlab-$what}
  ! tmux has-session -t "=$session" 2>/dev/null ||
    die "a tmux session '$session' is open already: tmux attach -t $session, or close it first"
  state=$(mktemp -d)
  register_dir "$state"
  touch "$state/marker"
  printf '%s\n' "$session" >"$state/session"
  printf '%s\n' "$glob" >"$state/glob"
  mkdir -p -- "$NETLAB_RUNS_DIR"

  # tmux runs each pane's command with its default shell: $SHELL where the
  # server starts, else the user's login shell, which for nobody (or a
  # service account, or a CI job without SHELL) is /usr/sbin/nologin — every
  # pane would end at once. The panes' commands are bash's.
  local shell
  shell=$(command -v bash)
  lab_pane=$(SHELL=$shell tmux new-session -d -P -F '#{pane_id}' -s "$session" -x 220 -y 55 \
    "$(tmux_pane_command tmux_lab_pane "$state" "$what" "${args[@]}")")
  register_tmux_session "$session" "$state"
  printf '%s\n' "$lab_pane" >"$state/lab_pane"
  tmux set-option -t "$lab_pane" default-shell "$shell" >/dev/null
  tmux set-option -t "$lab_pane" pane-border-status top >/dev/null
  tmux set-option -t "$lab_pane" pane-border-format ' #{pane_title} ' >/dev/null
  tmux select-pane -t "$lab_pane" -T "scripts/lab $what"
  pane=$(tmux split-window -h -l 45% -P -F '#{pane_id}' -t "$lab_pane" "$(tmux_pane_command tmux_ss_view "$state" "$title" "${ports[@]}")")
  if ((ports[0] == 0)); then
    tmux select-pane -t "$pane" -T "ss (the port from the port file)"
  else
    tmux select-pane -t "$pane" -T "ss ${ports[*]}"
  fi
  pane=$(tmux split-window -v -P -F '#{pane_id}' -t "$pane" "$(tmux_pane_command tmux_log_view "$state/marker" "$glob")")
  tmux select-pane -t "$pane" -T "server.log"
  if [[ " ${args[*]} " == *" --no-capture "* ]]; then
    say "--tmux: no tcpdump pane (--no-capture)"
  elif ((EUID != 0)) || ! command -v tcpdump >/dev/null; then
    say "--tmux: no tcpdump pane: it needs root and tcpdump (the lab's own capture says what it could do)"
  else
    pane=$(tmux split-window -v -P -F '#{pane_id}' -t "$pane" "$(tmux_pane_command tmux_tcpdump_view "$state" "${ports[@]}")")
    tmux select-pane -t "$pane" -T "tcpdump -l -nn (the lab's ports, where its server is)"
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
