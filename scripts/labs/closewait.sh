#!/usr/bin/env bash
# lab-note: closewait是什么状态
# lab-order: 5
# lab-port: 7005
# lab-programs: netlab-teardown-server netlab-teardown-client
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
#   half-close    the teardown lab's pair, --mode half-close: the server still
#                 has its response when the client's FIN comes, and sends it in
#                 CLOSE_WAIT (evidence for the bug steps' close-wait-is-not-sending)
#   bug           netlab-closewait-server --bug: the client closes N connections
#   fixed         netlab-closewait-server --fixed: the same
#   idle-timeout  --bug --idle-timeout-ms 1000: the leak, then the timer's cleanup
# After the bug step, before the server stops, `ss` and /proc/<pid>/fd are
# snapshotted into close-wait.txt, so the class sees what the client measured.
# shellcheck source-path=SCRIPTDIR/../lib disable=SC2016  # backquotes are Markdown
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/lab.sh"

lab_usage() {
  cat <<EOF
Runs the teardown lab's half-close (netlab-teardown-server and -client --mode
half-close: a server with data left when the FIN comes), then
netlab-closewait-server --bug, then --fixed, then --bug --idle-timeout-ms
1000, each against netlab-closewait-client, on one port (default $DEFAULT_PORT).
Writes runs/<UTC time>-closewait/: server.log, client-<step>.json, client.json,
ss.csv, close-wait.txt (ss and the server's descriptors after the bug step),
capture.pcap (root, or a user namespace), env.txt, summary.md.

$(lab_options_help "the port for every step")
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

# After the bug step, while its server still holds them: the leak as ss and /proc show it.
lab_step_look() { [[ $1 != bug ]] || snapshot_close_wait "$NETLAB_SERVER_PID"; }

# half-close: the teardown lab's own pair (not a copy of it) on this port: a
# server that still has its response to send when the client's FIN arrives
# sends it in CLOSE_WAIT, then closes. client-half-close.json is the evidence
# the bug steps weigh for close-wait-is-not-sending; it is not a step of
# client.json (its own check, half-close, is the teardown lab's).
half_close_step() {
  local server=netlab-teardown-server  # not this lab's $SERVER, which lab_server starts
  printf '===== half-close: %s --mode half-close (%s) =====\n' "$server" "$(date -u +%H:%M:%SZ)" >>"$NETLAB_RUN/server.log"
  start_server "$NETLAB_RUN/server.log" "$NETLAB_RUN/port.half-close" "$NETLAB_BIN_DIR/$server" --mode half-close \
    --port "$NETLAB_PORT" --log-level info
  [[ $NETLAB_PORT != 0 ]] || adopt_server_port "the next steps reuse it"
  say ""
  say "--- half-close: $server --mode half-close; netlab-teardown-client --mode half-close"
  lab_client half-close "$NETLAB_BIN_DIR/netlab-teardown-client" --port "$NETLAB_PORT" --mode half-close
  stop_server "$NETLAB_SERVER_PID"
}

report() {
  lab_merge "${STEPS[@]}"
  lab_verdicts
  lab_run_folder "summary.md, client.json, ss.csv, close-wait.txt, server.log"
}

main() {
  lab_begin "$@"

  half_close_step
  local half_close=$NETLAB_RUN/client-half-close.json
  lab_step bug "--bug" --connections 5 --observe-ms 500 --half-close-json "$half_close"
  lab_step fixed "--fixed" --connections 5 --observe-ms 0
  lab_step idle-timeout "--bug --idle-timeout-ms 1000" --connections 5 --observe-ms 300 --half-close-json "$half_close"
  lab_end
}

main "$@"
