#!/usr/bin/env bash
# lab-note: closewait是什么状态
# lab-order: 5
# lab-port: 7005
# lab-claim: CLOSE_WAIT means the peer closed and the local application has not closed yet.
# lab-claim-zh: CLOSE_WAIT 表示对方已关闭而本地应用还没有调用 close()。
# lab-run: a server that forgets close(), the fixed server, and an idle timeout
# lab-run-zh: 一个忘记 close() 的服务器、修好的服务器，以及空闲超时
# lab-look: CLOSE-WAIT on the server's port in ss, the server's descriptors growing, and Send-Q 0
# lab-look-zh: ss 里服务端口上的 CLOSE-WAIT、服务器的文件描述符在增长、Send-Q 为 0
#
# The CLOSE_WAIT lab: CLOSE_WAIT is the socket whose peer has closed while the
# local application has not. A server that forgets close() keeps one CLOSE_WAIT
# socket and one file descriptor per finished client; the fixed server keeps
# none; an idle timeout cleans up after the buggy one.
# Steps, on one port (default 7005), while ss samples the socket states into
# ss.csv and tcpdump records the segments:
#   bug           netlab-closewait-server --bug: the client closes N connections
#   fixed         netlab-closewait-server --fixed: the same
#   idle-timeout  --bug --idle-timeout-ms 1000: the leak, then the timer's cleanup
# After the bug step, before the server stops, `ss` and /proc/<pid>/fd are
# snapshotted into close-wait.txt, so the class sees what the client measured.
# shellcheck source-path=SCRIPTDIR/../lib disable=SC2016  # backquotes are Markdown
set -euo pipefail

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/common.sh"
source "$LIB/run.sh"
source "$LIB/server.sh"
source "$LIB/observe.sh"

readonly LAB=closewait
readonly DEFAULT_PORT=7005
readonly SERVER=netlab-closewait-server
readonly CLIENT=netlab-closewait-client
STEPS=()

usage() {
  cat <<EOF
usage: scripts/lab closewait [--capture|--no-capture] [--port P] [-- client options]

Runs netlab-closewait-server --bug, then --fixed, then --bug --idle-timeout-ms
1000, each against netlab-closewait-client, on one port (default $DEFAULT_PORT).
Writes runs/<UTC time>-closewait/: server.log, client-<step>.json, client.json,
ss.csv, close-wait.txt (ss and the server's descriptors after the bug step),
capture.pcap (root, or a user namespace), env.txt, summary.md.

  --capture      record the lab's port with tcpdump when possible (default)
  --no-capture   do not run tcpdump
  --port P       the port for every step (0 = any free port)
  -- ...         more client options, e.g. -- --connections 20
EOF
}

# What a class would type to see the leak: the CLOSE-WAIT sockets and the descriptors.
snapshot_close_wait() {
  local pid=$1 file=$NETLAB_RUN/close-wait.txt
  {
    printf '$ ss -tn state close-wait "( sport = :%s )"\n' "$NETLAB_PORT"
    ss -tn state close-wait "( sport = :$NETLAB_PORT )" 2>&1 || true
    printf '\n$ ls /proc/%s/fd | wc -l   # the server'"'"'s open descriptors\n' "$pid"
    find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
  } >"$file"
  say "after the bug step ($file):"
  sed 's/^/    /' "$file"
}

# step STEP "SERVER OPTIONS" CLIENT-ARGS...: a fresh server, one client run.
step() {
  local step=$1 server_options=$2 status=0
  shift 2
  local -a server_args
  read -r -a server_args <<<"$server_options"
  printf '===== %s: %s (%s) =====\n' "$step" "$server_options" "$(date -u +%H:%M:%SZ)" >>"$NETLAB_RUN/server.log"
  start_server "$NETLAB_RUN/server.log" "$NETLAB_RUN/port.$step" \
    "$NETLAB_BIN_DIR/$SERVER" "${server_args[@]}" --port "$NETLAB_PORT" --log-level info
  if [[ $NETLAB_PORT == 0 ]]; then
    NETLAB_PORT=$NETLAB_SERVER_PORT
    say "the server took port $NETLAB_PORT; the next steps reuse it"
    start_observers
  fi
  client_args --connections 5 "$@"
  say ""
  say "--- $step: $SERVER $server_options; $CLIENT ${NETLAB_CLIENT_ARGS[*]}"
  printf '===== %s =====\n' "$step" >>"$NETLAB_RUN/client.log"
  run_child "$NETLAB_BIN_DIR/$CLIENT" --port "$NETLAB_PORT" "${NETLAB_CLIENT_ARGS[@]}" \
    --json "$NETLAB_RUN/client-$step.json" 2>>"$NETLAB_RUN/client.log" || status=$?
  [[ $step != bug ]] || snapshot_close_wait "$NETLAB_SERVER_PID"
  stop_server "$NETLAB_SERVER_PID"
  if ((status != 0)); then
    warn "$CLIENT ($step) failed (exit $status); last lines of $NETLAB_RUN/client.log:"
    tail -n 10 "$NETLAB_RUN/client.log" >&2 || true
    exit 1
  fi
  STEPS+=("$step")
}

report() {
  local report=$NETLAB_BIN_DIR/netlab-report step capture=capture.pcap
  local -a results=()
  for step in "${STEPS[@]}"; do results+=("$NETLAB_RUN/client-$step.json"); done
  "$report" merge --lab "$LAB" "${results[@]}" >"$NETLAB_RUN/client.json.tmp"
  mv "$NETLAB_RUN/client.json.tmp" "$NETLAB_RUN/client.json"
  write_summary "$LAB"
  say ""
  say "The note says: closewait是什么状态 — what this run measured:"
  "$report" table "$NETLAB_RUN/client.json"
  say ""
  [[ -z $NETLAB_CAPTURE_SKIPPED ]] || capture="capture skipped: $NETLAB_CAPTURE_SKIPPED"
  say "run folder: $NETLAB_RUN (summary.md, client.json, ss.csv, close-wait.txt, server.log, $capture)"
}

main() {
  parse_lab_args "$@"
  enter_namespace_if_needed "$NETLAB_CAPTURE" "${BASH_SOURCE[0]}" "$@"
  trap cleanup EXIT INT TERM
  bring_namespace_up
  require_programs "$SERVER" "$CLIENT" netlab-report
  choose_port "$NETLAB_ASKED_PORT" "$DEFAULT_PORT"
  make_run_dir "$LAB"
  write_env_txt "$NETLAB_RUN/env.txt"
  say "netlab $LAB: run folder $NETLAB_RUN"
  [[ $NETLAB_PORT == 0 ]] || start_observers

  step bug "--bug" --observe-ms 500
  step fixed "--fixed" --observe-ms 0
  step idle-timeout "--bug --idle-timeout-ms 1000" --observe-ms 300
  stop_observers
  report
  record_run
}

main "$@"
