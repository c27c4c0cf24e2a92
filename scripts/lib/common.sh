# shellcheck shell=bash
# netlab script library: messages, paths, and the registry of cleanups.
#
# Sourced, never run; sourcing it sets no trap. The calling script sets its
# one cleanup trap by calling trap_cleanup (a lab's lab_begin does, lab.sh);
# cleanup calls run_cleanups, which releases in reverse order only what was
# registered here: processes this script started, directories, network
# namespaces, veth pairs and nftables tables it made, tmux sessions (tmux.sh).

NETLAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NETLAB_BIN_DIR=${NETLAB_BIN_DIR:-$NETLAB_ROOT/build/default/bin}
NETLAB_RUNS_DIR=${NETLAB_RUNS_DIR:-$NETLAB_ROOT/runs}
NETLAB_CLEANUPS=()
declare -gA NETLAB_PID_NAMES=()  # pid -> program name, for the processes that may die on their own
NETLAB_FAILURES=()               # what stopped the script, for its run folder (record_failed_run)

# Progress goes to stdout; problems go to stderr.
say() { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }
# note_failure TEXT: a problem that stops the run, said now and kept for summary.md.
note_failure() { NETLAB_FAILURES+=("$*"); warn "$*"; }
die() { NETLAB_FAILURES+=("$*"); printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s (see --help)\n' "${0##*/}" "$*" >&2; exit 2; }

# option_value OPTION ARGS...: the value of OPTION at the head of ARGS, given
# as "OPTION VALUE" or "OPTION=VALUE", in OPTION_VALUE; OPTION_WORDS says how
# many words that took (shift them). A missing value is a usage error.
# shellcheck disable=SC2034  # OPTION_VALUE and OPTION_WORDS are for the caller
option_value() {
  local option=$1
  shift
  if [[ $1 == "$option="* ]]; then
    OPTION_VALUE=${1#*=} OPTION_WORDS=1
    return 0
  fi
  (($# >= 2)) || usage_error "$option needs a value"
  OPTION_VALUE=$2 OPTION_WORDS=2
}

# --- processes -------------------------------------------------------------

# True while PID exists and has not exited (a zombie child counts as exited).
pid_running() {
  local stat state
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  state=${stat##*) }
  [[ ${state%% *} != Z ]]
}

# Polls until PID has exited: at most $2 tenths of a second.
wait_exit_bounded() {
  local pid=$1 tenths=$2 i
  for ((i = 0; i < tenths; i++)); do
    pid_running "$pid" || return 0
    sleep 0.1
  done
  ! pid_running "$pid"
}

# wait_for_file FILE PID TENTHS: polls until FILE is there and not empty (0),
# or PID has exited or TENTHS tenths of a second have passed (1).
wait_for_file() {
  local file=$1 pid=$2 tenths=$3 i
  for ((i = 0; i < tenths; i++)); do
    [[ -s $file ]] && return 0
    pid_running "$pid" || break
    sleep 0.1
  done
  [[ -s $file ]]
}

# exit_text STATUS: how a process ended, from its wait status: "exited with
# status 1", "was killed by SIGKILL".
exit_text() {
  local status=$1
  if ((status > 128 && status < 160)); then
    printf 'was killed by SIG%s' "$(kill -l $((status - 128)) 2>/dev/null || echo $((status - 128)))"
  else
    printf 'exited with status %s' "$status"
  fi
}

# Sends SIGNAL to a child PID, waits (bounded, then SIGKILL) and reaps it.
# Prints nothing; returns the child's exit status.
stop_pid() {
  local pid=$1 signal=${2:-TERM} status=0
  kill -s "$signal" "$pid" 2>/dev/null || true
  if ! wait_exit_bounded "$pid" 50; then
    warn "pid $pid ignored SIG$signal for 5 s: sending SIGKILL"
    kill -s KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || status=$?
  return "$status"
}

# stop_pgrp PID: SIGTERM to the process group PID leads (this script's child),
# SIGKILL to the group if its leader has not ended within 5 s; reaps the leader.
stop_pgrp() {
  local pid=$1
  kill -s TERM -- "-$pid" 2>/dev/null || true
  if ! wait_exit_bounded "$pid" 50; then
    warn "process group $pid ignored SIGTERM for 5 s: sending SIGKILL"
    kill -s KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# Runs a command as a registered background child and waits for it: bash runs
# a trap only once a foreground command ends, but it interrupts `wait` at once,
# so Ctrl-C or SIGTERM reaches this script's cleanup, which ends the child too.
# Returns the command's exit status.
run_child() {
  local pid status=0
  "$@" </dev/null &
  pid=$!
  register_pid "$pid" TERM
  wait "$pid" || status=$?
  unregister_pid "$pid"
  return "$status"
}

# --- the registry of cleanups -----------------------------------------------
# Entries are "pid:SIGNAL:PID", "pgrp:PGID" (a background job in its own
# process group, e.g. a build: every process of the group is stopped), "dir:PATH", "netns:NAME", "veth:NETNS:IF" or
# "nft:NETNS:FAMILY:TABLE" (NETNS "" = this one), released last-in first-out:
# a namespace registered before the processes started in it, the veth pairs
# and tables made in it, is removed after they have been stopped or deleted.

# register_pid PID SIGNAL [NAME]: with a NAME, the cleanup says so when the
# process had ended on its own before the script stopped it (a server killed
# mid-run: "netlab-http-server (pid 123) was killed by SIGKILL").
register_pid() {
  NETLAB_CLEANUPS+=("pid:$2:$1")
  [[ -z ${3-} ]] || NETLAB_PID_NAMES[$1]=$3
}
# register_pgrp PID: a child started as the leader of its own process group
# (set -m; a build and its compilers): the cleanup stops the whole group.
register_pgrp() { NETLAB_CLEANUPS+=("pgrp:$1"); }
register_dir() { NETLAB_CLEANUPS+=("dir:$1"); }
register_netns() { NETLAB_CLEANUPS+=("netns:$1"); }
# register_veth NETNS IF: one end of a veth pair (deleting it deletes both).
register_veth() { NETLAB_CLEANUPS+=("veth:$1:$2"); }
# register_nft_table NETNS FAMILY TABLE: an nftables table this script added.
register_nft_table() { NETLAB_CLEANUPS+=("nft:$1:$2:$3"); }

# Forgets PID (it was released by its owner already), as a pid or a pgrp entry.
unregister_pid() {
  local i
  for i in "${!NETLAB_CLEANUPS[@]}"; do
    [[ ${NETLAB_CLEANUPS[i]} == pid:*:"$1" || ${NETLAB_CLEANUPS[i]} == "pgrp:$1" ]] && unset 'NETLAB_CLEANUPS[i]'
  done
  NETLAB_CLEANUPS=("${NETLAB_CLEANUPS[@]}")
}

# Deletes a registered network namespace now and forgets it (a step that is
# done with its namespace before the script ends).
# Should the delete fail, it stays registered for the cleanup to try again.
release_netns() {
  local i
  ip netns delete "$1" || die "ip netns delete $1 failed"
  for i in "${!NETLAB_CLEANUPS[@]}"; do
    [[ ${NETLAB_CLEANUPS[i]} == "netns:$1" ]] && unset 'NETLAB_CLEANUPS[i]'
  done
  NETLAB_CLEANUPS=("${NETLAB_CLEANUPS[@]}")
}

# release_veth NETNS:IF, release_nft_table NETNS:FAMILY:TABLE: already gone
# (with their namespace, or released by their owner) is fine.
release_veth() {
  local netns=${1%%:*}
  ip ${netns:+-n "$netns"} link delete "${1#*:}" 2>/dev/null || true
}
release_nft_table() {
  local netns=${1%%:*} rest=${1#*:}
  local -a prefix=()
  [[ -z $netns ]] || prefix=(ip netns exec "$netns")
  "${prefix[@]}" nft delete table "${rest%%:*}" "${rest#*:}" 2>/dev/null || true
}

# Stops a registered PID now and forgets it; returns its exit status.
release_pid() {
  local pid=$1 signal=${2:-TERM} status=0
  unregister_pid "$pid"
  stop_pid "$pid" "$signal" || status=$?
  return "$status"
}

# ended_on_its_own PID: for a named process (register_pid) that is no longer
# running: reaps it, notes how it ended (note_failure) and returns 0.
ended_on_its_own() {
  local pid=$1 status=0
  [[ -n ${NETLAB_PID_NAMES[$pid]-} ]] && ! pid_running "$pid" || return 1
  wait "$pid" 2>/dev/null || status=$?
  note_failure "${NETLAB_PID_NAMES[$pid]} (pid $pid) had ended before the lab stopped it: it $(exit_text "$status")"
}

run_cleanups() {
  local i entry rest pid
  # A background child whose PID was not registered yet — the signal landed
  # between its start and register_pid (seen: a timewait server started in its
  # namespace survived a SIGINT that way) — is this script's too.
  for pid in $(jobs -p); do
    if [[ " ${NETLAB_CLEANUPS[*]-} " != *":$pid "* ]] && pid_running "$pid"; then stop_pid "$pid" TERM || true; fi
  done
  for ((i = ${#NETLAB_CLEANUPS[@]} - 1; i >= 0; i--)); do
    entry=${NETLAB_CLEANUPS[i]}
    case $entry in
      pid:*)
        rest=${entry#pid:}
        ended_on_its_own "${rest#*:}" || stop_pid "${rest#*:}" "${rest%%:*}" || true
        ;;
      pgrp:*) stop_pgrp "${entry#pgrp:}" ;;
      dir:*) rm -rf -- "${entry#dir:}" ;;
      netns:*) ip netns delete "${entry#netns:}" 2>/dev/null || true ;;
      veth:*) release_veth "${entry#veth:}" ;;
      nft:*) release_nft_table "${entry#nft:}" ;;
      tmux:*) rest=${entry#tmux:}; release_tmux_session "${rest%%:*}" "${rest#*:}" ;;  # tmux.sh
    esac
  done
  NETLAB_CLEANUPS=()
}

# cleanup [STATUS]: what a script's one cleanup trap runs: releases what the
# script registered, in reverse order, and exits with STATUS, or else with the
# script's own exit status.
cleanup() {
  local status=$?
  [[ -z ${1-} ]] || status=$1
  trap - EXIT INT TERM
  run_cleanups
  if ((status != 0)) && declare -F record_failed_run >/dev/null; then record_failed_run "$status"; fi
  exit "$status"
}

# trap_cleanup: the calling script's one cleanup trap. On SIGINT and SIGTERM it
# exits 130 and 143: a signal that lands between two commands finds $? = 0,
# and an interrupted run must not look like one that finished.
trap_cleanup() {
  trap cleanup EXIT
  trap 'cleanup 130' INT
  trap 'cleanup 143' TERM
}
