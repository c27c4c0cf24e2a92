# shellcheck shell=bash
# What every lab script test shares: where the programs are, a temporary folder
# for the run, `run_lab` to run `scripts/lab <lab>` into it, and `fail`, which
# shows the end of what the lab said. Sourced; the test sets its own trap
# (`trap cleanup EXIT INT TERM` after `TMP=$(mktemp -d)`).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN="${NETLAB_BIN_DIR:?NETLAB_BIN_DIR is not set}"
TMP=""
RUN=""
LAB_NAME=""

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  if [[ -f $TMP/out.txt ]]; then
    echo "--- scripts/lab $LAB_NAME said (last 60 lines):" >&2
    tail -n 60 "$TMP/out.txt" >&2
  fi
  exit 1
}

cleanup() {
  [[ -z $TMP ]] || rm -rf -- "$TMP"
}

# port_when_listening PROGRAM PID PORT_FILE LOG: the port PROGRAM (pid PID,
# started with --port 0 --port-file PORT_FILE, its stderr in LOG) listens on,
# once it has written it (at most 20 s); fails if PROGRAM ends first.
port_when_listening() {
  local program=$1 pid=$2 port_file=$3 log=$4 i
  for ((i = 0; i < 200; i++)); do
    [[ -s $port_file ]] && break
    kill -0 "$pid" 2>/dev/null || fail "$program did not start: $(tail -n 3 "$log")"
    sleep 0.1
  done
  [[ -s $port_file ]] || fail "$program wrote no port file within 20 s"
  echo "$(<"$port_file")"
}

# stop_server PROGRAM PID: SIGTERM, and PROGRAM must exit 0 on it.
stop_server() {
  kill -TERM "$2"
  wait "$2" || fail "$1 exited $? on SIGTERM"
}

# run_lab LAB [OPTIONS...]: scripts/lab LAB into $TMP/runs; sets RUN to its one run folder.
run_lab() { run_lab_as "" "$@"; }

# run_lab_as WHO [PREFIX... --] LAB [OPTIONS...]: run_lab through PREFIX
# (e.g. setpriv ... env ...); WHO ("" or "as nobody") goes into the messages.
run_lab_as() {
  local who=$1 status=0 runs
  local -a prefix=()
  shift
  if [[ -n $who ]]; then
    while [[ $1 != -- ]]; do prefix+=("$1"); shift; done
    shift
  fi
  LAB_NAME=$1
  NETLAB_RUNS_DIR=$TMP/runs "${prefix[@]}" "$ROOT/scripts/lab" "$@" >"$TMP/out.txt" 2>&1 || status=$?
  ((status == 0)) || fail "scripts/lab $* ${who:+$who }exited $status"
  runs=("$TMP"/runs/*-"$LAB_NAME")
  if ((${#runs[@]} != 1)) || [[ ! -d ${runs[0]} ]]; then
    fail "expected one run folder, found: ${runs[*]}"
  fi
  RUN=${runs[0]}
  echo "ok: scripts/lab $* ${who:+$who }-> ${RUN##*/}"
}

# verdict ID [FILE]: the verdict of the check with this id in FILE (default the run's client.json).
verdict() {
  local found
  found=$("$BIN/netlab-report" checks "${2:-$RUN/client.json}" | awk -F'\t' -v id="$1" '$2 == id { print $3; exit }')
  [[ -n $found ]] || fail "${2:-client.json} has no check $1"
  echo "$found"
}

# --- what the run folder holds ---

# check_run_files FILE...: each FILE is in the run folder and not empty.
check_run_files() {
  local file
  for file in "$@"; do
    [[ -s $RUN/$file ]] || fail "$file is missing or empty"
  done
}

# check_ss_sampled: ss.csv has at least one sample under its header.
check_ss_sampled() {
  (($(wc -l <"$RUN/ss.csv") >= 2)) || fail "ss.csv has no sample"
}

# check_listed ID: the check ID is in summary.md and in the verdict table the lab printed.
check_listed() {
  grep -q -- "$1" "$RUN/summary.md" || fail "summary.md lacks the $1 check"
  grep -q -- "$1" "$TMP/out.txt" || fail "the verdict table was not printed"
}

# capture_to_check FILE: whether this run's capture can be checked; when not
# (no tcpdump here, or no capture.pcap from a run without root or with user
# namespaces refused) it says why and returns 1. Otherwise FILE (what the
# caller reads: capture.pcap or a file made from it) must be there, not empty.
capture_to_check() {
  if ! command -v tcpdump >/dev/null; then
    echo "skipped: the capture check needs tcpdump"
    return 1
  fi
  if [[ ! -e $RUN/capture.pcap ]] && { ((EUID != 0)) || [[ $MODE == refused ]]; }; then
    echo "skipped: not root and no capture ($(grep -m1 'capture skipped' "$RUN/summary.md" || echo 'no reason given'))"
    return 1
  fi
  [[ -s $RUN/$1 ]] || fail "no $1 as root"
}

# capture_count PORT PATTERN: how many lines of capture.pcap (tcpdump -A, tcp port PORT) match PATTERN.
capture_count() {
  tcpdump -r "$RUN/capture.pcap" -n -A "tcp port $1" 2>/dev/null | grep -c -- "$2" || true
}

# capture_dropped [LOG]: the packets tcpdump said the kernel dropped before it
# could capture them (its LOG, by default $RUN/tcpdump.log); 0 when it said
# nothing. A busy machine makes tcpdump miss packets: byte counts from such a
# capture undercount, so a check of them says "not judged" instead.
capture_dropped() {
  local n
  n=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "${1:-$RUN/tcpdump.log}" 2>/dev/null | head -n 1)
  echo "${n:-0}"
}

# dissected PCAP FIELD[+FIELD...] [TSHARK OPTIONS...]: the values of FIELD in
# PCAP as the lab's Wireshark dissectors (tools/wireshark/netlab.lua) decode
# it, one line per message (a packet holding several messages gives several
# lines; with FIELD+FIELD, each line holds one message's values). tshark is
# installed by scripts/setup.sh. A Lua error while dissecting (Wireshark shows
# it as an expert message "Lua Error: ...") fails the test. Call it as
# `dissected ... >FILE`, not in $(...), so that fail ends the test.
dissected() {
  local pcap=$1 field
  local -a fields=()
  IFS=+ read -r -a fields <<<"$2"
  shift 2
  command -v tshark >/dev/null || fail "tshark is not installed (scripts/setup.sh installs it)"
  # Two passes (-2) let a connection's later packets decide how its first are
  # read (framing's codec "auto"); tshark keeps what the first pass learnt only
  # with a display filter, so there is always one (by default the field's protocol).
  [[ " $* " == *" -Y "* ]] || set -- "$@" -Y "${fields[0]%%.*}"
  for field in "${fields[@]}"; do set -- "$@" -e "$field"; done
  tshark -X "lua_script:$ROOT/tools/wireshark/netlab.lua" -2 -n -r "$pcap" \
    -T fields -E separator=/t -e _ws.expert.message "$@" >"$TMP/dissected.txt" 2>"$TMP/dissected.err" ||
    fail "tshark on $pcap: $(tail -n 1 "$TMP/dissected.err")"
  ! grep -qi 'lua' "$TMP/dissected.err" || fail "the dissector failed on $pcap: $(grep -m1 -i lua "$TMP/dissected.err")"
  ! grep -q 'Lua Error' "$TMP/dissected.txt" ||
    fail "the dissector failed on $pcap: $(grep -m1 -o 'Lua Error[^,	]*' "$TMP/dissected.txt")"
  awk -F '\t' '{
    n = split($2, first, ",")
    for (i = 1; i <= n; ++i) {
      line = first[i]
      for (f = 3; f <= NF; ++f) { split($f, values, ","); line = line " " values[i] }
      if (line != "") print line
    }
  }' "$TMP/dissected.txt"
}

# step_ran STEP CLIENT_FILE: whether the lab ran STEP. Where user namespaces are
# refused (MODE refused) the only line about it must be the one saying so, and
# CLIENT_FILE must not be in the run folder: it prints that line, sets
# SKIP_REASON (for the caller) and returns 1. Elsewhere the step must not have
# been skipped.
SKIP_REASON=""
step_ran() {
  local step=$1 client=$2 said
  if [[ $MODE == refused ]]; then
    said=$(grep -- "--- $step: " "$TMP/out.txt") || said=""
    [[ $said =~ ^"--- $step: skipped: not root, and this system does not allow an unprivileged user namespace " &&
      $(wc -l <<<"$said") == 1 ]] || fail "$step: want the one line saying user namespaces are refused, got: ${said:-nothing}"
    [[ ! -e $RUN/$client ]] || fail "$step: skipped, yet $client was written"
    # shellcheck disable=SC2034 # read by the caller
    SKIP_REASON=${said#"--- $step: skipped: "}
    echo "skipped ($MODE): $said"
    return 1
  fi
  said=$(grep -- "--- $step: skipped" "$TMP/out.txt") || said=""
  [[ -z $said ]] || fail "$step skipped ($MODE): $said"
}

# --- runs as nobody, and where namespaces come from (labs that make namespaces) ---

# How the run under test got its namespaces: root, userns (a normal user
# inside an unprivileged user namespace) or refused (the system forbids that).
MODE=""
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# ns_mode [PREFIX...]: the mode a lab run by PREFIX (e.g. setpriv ...) will be in.
ns_mode() {
  if (($# == 0 && EUID == 0)); then
    echo root
  elif "$@" unshare --map-current-user --net --mount --keep-caps true 2>/dev/null; then
    echo userns
  else
    echo refused
  fi
}

# refuse_unshare: an unshare, first on nobody's PATH, that fails as on a system
# forbidding unprivileged user namespaces (user.max_user_namespaces = 0), so
# the skip is checked here too; prints the PATH to give.
refuse_unshare() {
  mkdir -p -- "$TMP/refused"
  printf '#!/bin/sh\necho "unshare: unshare failed: Operation not permitted" >&2\nexit 1\n' >"$TMP/refused/unshare"
  chmod 755 -- "$TMP/refused" "$TMP/refused/unshare"
  echo "$TMP/refused:$PATH"
}

# run_lab_as_nobody PATH LAB [OPTIONS...]: run_lab, as nobody (the test runs as root).
run_lab_as_nobody() {
  local path=$1
  shift
  rm -rf -- "$TMP/runs"
  mkdir -m 777 -- "$TMP/runs"
  run_lab_as "as nobody" "${NOBODY[@]}" env HOME="$TMP/runs" PATH="$path" NETLAB_BIN_DIR="$BIN" \
    NETLAB_RUNS_DIR="$TMP/runs" -- "$@"
}

# The lab said where it ran: env.txt's uid and network namespace fit MODE.
check_where() {
  case $MODE in
    root) grep -qx 'user uid=0' "$RUN/env.txt" || fail "env.txt: not run as root" ;;
    userns)
      grep -qx 'network_namespace private.*' "$RUN/env.txt" || fail "env.txt: not run in a user + network namespace"
      grep -q '^not root: re-running inside a private user + network namespace' "$TMP/out.txt" ||
        fail "the lab did not say it re-ran in a user namespace"
      ;;
    refused) grep -qx 'network_namespace host' "$RUN/env.txt" || fail "env.txt: a namespace, though unshare is refused" ;;
  esac
}

# run_lab_three_ways PROGRAM LAB [OPTIONS...]: the lab as the test's user, then
# (as root) as nobody through a user namespace, then as nobody with unshare
# refused; check_run (the test's) checks each run against MODE.
run_lab_three_ways() {
  local program=$1
  shift
  MODE=$(ns_mode)
  run_lab "$@"
  check_run
  ((EUID == 0)) || return 0
  # nobody needs to read the scripts and the programs (as in tour.sh).
  chmod 755 "$TMP"
  if ! "${NOBODY[@]}" test -x "$BIN/$program"; then
    echo "skip: the build dir is not readable by nobody: the run as nobody was not checked"
    return 0
  fi
  MODE=$(ns_mode "${NOBODY[@]}")
  run_lab_as_nobody "$PATH" "$@"
  check_run
  MODE=refused
  run_lab_as_nobody "$(refuse_unshare)" "$@"
  check_run
}
