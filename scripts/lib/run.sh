# shellcheck shell=bash disable=SC2034,SC2016  # globals are for the caller; backquotes are Markdown
# netlab script library: the run folder, its env.txt, the port, the programs.
# Sourced after common.sh.

# Creates runs/<UTC time>-<lab>/ and sets NETLAB_RUN to it.
make_run_dir() {
  local lab=$1 stamp base i
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  base=$NETLAB_RUNS_DIR/$stamp-$lab
  mkdir -p -- "$NETLAB_RUNS_DIR"
  NETLAB_RUN=$base
  for ((i = 2; i <= 50; i++)); do
    # Until write_summary replaces it, summary.md says the run did not finish.
    mkdir -- "$NETLAB_RUN" 2>/dev/null &&
      printf '# interrupted\n\nThis run did not finish: it was interrupted (Ctrl-C, SIGTERM) or stopped by an error before its summary was written.\n' >"$NETLAB_RUN/summary.md" &&
      return 0
    NETLAB_RUN=$base-$i
  done
  die "cannot create a run folder under $NETLAB_RUNS_DIR"
}

# The kernel and the sysctls that change what the labs show.
write_env_txt() {
  local file=$1 key path
  {
    printf 'kernel %s\n' "$(uname -r)"
    printf 'date_utc %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'user uid=%s\n' "$(id -u)"
    if [[ -n ${NETLAB_IN_NS-} ]]; then
      printf 'network_namespace private (unshare: user + network namespace; per-namespace sysctls below are its own)\n'
    else
      printf 'network_namespace host\n'
    fi
    # The tour's build beside its labs (scripts/lab): the CPU was shared.
    [[ -z ${NETLAB_BUILD_BESIDE-} ]] || printf 'build_beside %s\n' "$NETLAB_BUILD_BESIDE"
    # tcp_tw_reuse_delay (ms, Linux 6.13+): how old a TIME_WAIT socket must be to be reused.
    for key in net.ipv4.tcp_tw_reuse net.ipv4.tcp_tw_reuse_delay net.ipv4.tcp_fin_timeout net.ipv4.ip_local_port_range \
               net.ipv4.tcp_timestamps net.ipv4.tcp_rmem net.ipv4.tcp_wmem net.core.somaxconn; do
      path=/proc/sys/${key//.//}
      if [[ -r $path ]]; then
        printf '%s = %s\n' "$key" "$(tr -s '\t ' ' ' <"$path")"
      else
        printf '%s = unavailable\n' "$key"
      fi
    done
  } >"$file"
}

# True when nothing listens on TCP port $1 (assumed free when ss is missing).
port_is_free() {
  command -v ss >/dev/null || return 0
  [[ -z $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
}

# Sets NETLAB_PORT: the one asked for, else the lab's default when free, else 0
# (the first server picks an ephemeral port and the rest of the run reuses it).
choose_port() {
  local asked=$1 default=$2
  if [[ -n $asked ]]; then
    NETLAB_PORT=$asked
  elif port_is_free "$default"; then
    NETLAB_PORT=$default
  else
    say "port $default is in use (ss -ltnp 'sport = :$default'): using an ephemeral port (--port 0) instead"
    NETLAB_PORT=0
  fi
}

# Dies unless every named program is in NETLAB_BIN_DIR.
require_programs() {
  local program
  for program in "$@"; do
    [[ -x $NETLAB_BIN_DIR/$program ]] ||
      die "$NETLAB_BIN_DIR/$program is missing: build it with scripts/setup.sh"
  done
}

# --- a lab script's command line ----------------------------------------------
# [--capture|--no-capture] [--port P] [the lab's own options] [-- client options]
# Sets NETLAB_CAPTURE (yes|no), NETLAB_ASKED_PORT ("" = lab default) and
# NETLAB_CLIENT_EXTRA (the options after --). --help calls the lab's usage.
# An option of the lab's own goes to its function lab_option ARGS..., which
# takes it and sets OPTION_WORDS (option_value does), or returns 1: not its own.
parse_lab_args() {
  NETLAB_CAPTURE=yes
  NETLAB_ASKED_PORT=""
  NETLAB_CLIENT_EXTRA=()
  while (($#)); do
    case $1 in
      --capture) NETLAB_CAPTURE=yes ;;
      --no-capture) NETLAB_CAPTURE=no ;;
      --port | --port=*)
        option_value --port "$@"
        NETLAB_ASKED_PORT=$OPTION_VALUE
        shift $((OPTION_WORDS - 1))
        ;;
      -h | --help) usage; exit 0 ;;
      --) shift; NETLAB_CLIENT_EXTRA=("$@"); break ;;
      *)
        { declare -F lab_option >/dev/null && lab_option "$@"; } || usage_error "unknown option '$1'"
        shift $((OPTION_WORDS - 1))
        ;;
    esac
    shift
  done
  if [[ -n $NETLAB_ASKED_PORT ]] && ! [[ $NETLAB_ASKED_PORT =~ ^[0-9]+$ && $NETLAB_ASKED_PORT -le 65535 ]]; then
    usage_error "--port wants a number from 0 to 65535, not '$NETLAB_ASKED_PORT'"
  fi
  local arg
  for arg in "${NETLAB_CLIENT_EXTRA[@]}"; do
    case $arg in
      --host | --host=* | --port | --port=* | --port-file | --port-file=* | --json | --json=*)
        usage_error "client option '${arg%%=*}' is set by the lab script (for the port, use the lab's --port)" ;;
    esac
  done
}

# client_args NAME VALUE ...: sets NETLAB_CLIENT_ARGS to the lab's defaults,
# minus those the user gave after --, followed by the user's options.
client_args() {
  local arg given
  NETLAB_CLIENT_ARGS=()
  while (($# >= 2)); do
    given=no
    for arg in "${NETLAB_CLIENT_EXTRA[@]}"; do
      [[ $arg == "$1" || $arg == "$1="* ]] && given=yes
    done
    [[ $given == yes ]] || NETLAB_CLIENT_ARGS+=("$1" "$2")
    shift 2
  done
  NETLAB_CLIENT_ARGS+=("${NETLAB_CLIENT_EXTRA[@]}")
}

# --- the end of a run -----------------------------------------------------------

# write_summary LAB: summary.md from client.json, ss.csv and the capture, with
# links to the ladder, the chart of socket states and the JSON.
write_summary() {
  local lab=$1 run=$NETLAB_RUN files file
  write_ladders "$run"
  if [[ -f $run/ss.csv ]]; then
    "$NETLAB_BIN_DIR/netlab-report" chart "$run/ss.csv" --svg "$run/ss-chart.svg" >"$run/ss-chart.txt" 2>/dev/null ||
      rm -f "$run/ss-chart.txt" "$run/ss-chart.svg"
  fi
  rm -f -- "$run/summary.md"  # the "interrupted" placeholder: this run finished
  mapfile -t files < <(cd "$run" && ls)
  {
    "$NETLAB_BIN_DIR/netlab-report" summary --lab "$lab" "$run/client.json"
    [[ -z ${NETLAB_BUILD_BESIDE-} ]] || printf '\nNote: %s (nice 19: the lab'"'"'s programs had the CPU first, but its timings shared the machine).\n' "$NETLAB_BUILD_BESIDE"
    printf '\n## Socket states (ss.csv)\n\n'
    if [[ -f $run/ss.csv ]]; then printf '%s\n' "$(ss_peaks "$run/ss.csv")"; else echo "not sampled"; fi
    if [[ -f $run/ss-chart.txt ]]; then
      printf '\nCounts on the lab port over the run (chart: [ss-chart.svg](ss-chart.svg)):\n\n```\n%s\n```\n' \
        "$(cat "$run/ss-chart.txt")"
    fi
    capture_report "$run"
    printf '\n## Files\n\n'
    for file in "${files[@]}" summary.md index.html; do printf -- '- [%s](%s)\n' "$file" "$file"; done
  } >"$run/summary.md"
  write_page "$run"
}

# write_page DIR: DIR/index.html, the report page of a lab's or a tour's run
# folder (netlab-report html), opening in NETLAB_LANG (the tour's --lang),
# else in the language of LANG. A page that cannot be made is a warning only:
# summary.md and the JSON hold the same results.
write_page() {
  local dir=$1 lang=en
  [[ ${NETLAB_LANG:-${LC_ALL:-${LANG-}}} == zh* ]] && lang=zh
  if "$NETLAB_BIN_DIR/netlab-report" html "$dir" --lang "$lang" >"$dir/index.html.tmp"; then
    mv -- "$dir/index.html.tmp" "$dir/index.html"
  else
    rm -f -- "$dir/index.html.tmp"
    warn "no report page for $dir (netlab-report html failed)"
  fi
}

# record_failed_run STATUS: called by cleanup when a lab ends with an error or
# a signal, after everything it started was stopped (the capture is flushed):
# summary.md, still the "interrupted" placeholder, gets what stopped the run
# and the files the run folder holds — what the run had made until then.
record_failed_run() {
  local status=$1 line file
  [[ -n ${NETLAB_RUN-} && -f $NETLAB_RUN/summary.md ]] || return 0
  grep -q '^# interrupted' "$NETLAB_RUN/summary.md" || return 0
  {
    printf '\n## What stopped it\n\n- the lab exited with status %s' "$status"
    case $status in
      130) printf ' (SIGINT)' ;;
      143) printf ' (SIGTERM)' ;;
    esac
    printf '\n'
    for line in "${NETLAB_FAILURES[@]}"; do printf -- '- %s\n' "$line"; done
    printf '\n## Files (what the run had made)\n\n'
    for file in "$NETLAB_RUN"/*; do
      [[ -e $file ]] || continue
      printf -- '- [%s](%s)\n' "${file##*/}" "${file##*/}"
    done
  } >>"$NETLAB_RUN/summary.md"
  warn "run folder (unfinished): $NETLAB_RUN"
}

# For scripts/lab tour: where this run's folder is.
record_run() {
  [[ -n ${NETLAB_RUN_RECORD-} ]] || return 0
  printf '%s\n' "$NETLAB_RUN" >>"$NETLAB_RUN_RECORD"
}
