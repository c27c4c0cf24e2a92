#!/usr/bin/env bash
# lab-note: 粘包怎么解决
# lab-order: 6
# lab-port: 7006
# lab-dissector: netlab_framing
# lab-netns: the nagle-wire step runs across netlab-wire between namespaces: without root, in a user
#     namespace
# lab-programs: netlab-wire
# lab-claim: TCP is a byte stream: writes merge and split on the reader (粘包); a delimiter or a
#     length header restores the boundaries.
# lab-claim-zh: TCP
#     是字节流：多次写在读端会合并或拆开（粘包/拆包）；分隔符或长度头可以恢复消息边界。
# lab-run: many small writes with no framing, then with a delimiter, then with a length header;
#     then requests written as header + body against Nagle and the delayed ACK, on loopback and across a
#     20 ms wire
# lab-run-zh: 大量小写入：先不分帧，再用分隔符，再用长度头；再把请求分成头和体两次写，看 Nagle
#     遇上延迟确认，先在回环上，再跨过单程 20 ms 的线路
# lab-look: writes against the server's reads; every echoed message checked by CRC-32
# lab-look-zh: 写入次数对比服务端的读取次数；每条回显消息都用 CRC-32 校验
# lab-tour-quick: -- --messages 500
#
# The framing lab: TCP is a byte stream, so the sizes of the writes are not
# the sizes of the reads (粘包 / 拆包), and only the application can put the
# message boundaries back, with a delimiter or a length header.
# It runs the framing pair three times on one port: raw, delimiter, length,
# while ss samples the socket states and tcpdump records the segments, then
# the write-write-read requests (nagle) on loopback and once more across
# netlab-wire between two namespaces, 20 ms each way (nagle-wire: as root, or
# for a normal user inside an unprivileged user namespace), and prints what
# was measured against what the note claims.
# shellcheck source-path=SCRIPTDIR/../lib
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/lab.sh"

# nagle: the length codec again, each request written as a header and a body
# (--write-write-read): Nagle's algorithm against the server's delayed ACK.
readonly MODES=(raw delimiter length nagle)
readonly NAGLE_REQUESTS=20   # requests per way, on loopback and across the wire
readonly WIRE_DELAY_MS=20    # each way: a 40 ms round trip
RAN=("${MODES[@]}")          # the steps that ran, for the merge

lab_usage() {
  cat <<EOF
Runs netlab-framing-server and netlab-framing-client with --codec raw, then
delimiter, then length, then length with --write-write-read $NAGLE_REQUESTS (Nagle meets
the delayed ACK), on one port (default $DEFAULT_PORT), then the same requests
across netlab-wire (${WIRE_DELAY_MS} ms each way, between network namespaces: as root, or
for a normal user inside an unprivileged user namespace; skipped, saying why,
where neither is possible), and writes runs/<UTC time>-framing/:
server.log, client-<codec>.json, client-nagle-wire.json, client.json, ss.csv,
capture.pcap and capture-nagle-wire.pcap (root, or a user namespace),
wire-nagle-wire.json, env.txt, summary.md.

$(lab_options_help "the port for every run")
  -- ...         more client options, e.g. -- --messages 500 --nodelay
EOF
}

# One codec: a fresh server on the lab's port, the client against it, then SIGTERM.
run_mode() {
  local mode=$1 codec=$1
  local -a defaults=(--messages 2000 --min-size 1 --max-size 512 --seed 1)
  if [[ $mode == nagle ]]; then
    codec=length
    defaults=(--write-write-read "$NAGLE_REQUESTS")
  fi
  lab_server "$mode" "--codec $codec" --codec "$codec"
  client_args "${defaults[@]}"
  say ""
  say "--- $CLIENT --codec $codec --port $NETLAB_PORT ${NETLAB_CLIENT_ARGS[*]}"
  lab_client "$mode" "$NETLAB_BIN_DIR/$CLIENT" --codec "$codec" --port "$NETLAB_PORT" "${NETLAB_CLIENT_ARGS[@]}"
  stop_server "$NETLAB_SERVER_PID"
}

# TcpExt DelayedACKs of the namespace the command prefix runs in.
delayed_acks_in() {
  "$@" awk '$1 == "TcpExt:" { if (!names) { for (i = 2; i <= NF; i++) name[i] = $i; names = 1 }
    else for (i = 2; i <= NF; i++) if (name[i] == "DelayedACKs") print $i }' /proc/net/netstat
}

# The write-write-read requests across the wire: the server in its namespace,
# 20 ms away; the loopback run's numbers go beside them in the check.
step_nagle_wire() {
  local before after delta=unreadable step=nagle-wire
  if ! path_ready; then
    wire_skip "$PATH_BLOCKER"
    return 0
  fi
  wire_start "$step" --delay "$WIRE_DELAY_MS" --seed 1
  printf '===== %s: --codec length (%s, in %s) =====\n' "$step" "$(date -u +%H:%M:%SZ)" "$NETLAB_NS_SERVER" >>"$NETLAB_RUN/server.log"
  start_server "$NETLAB_RUN/server.log" "$NETLAB_RUN/port.$step" "${NETLAB_IN_SERVER[@]}" "$NETLAB_BIN_DIR/$SERVER" \
    --codec length --host "$NETLAB_SERVER_ADDR" --port "$DEFAULT_PORT" --log-level info
  wire_capture_start "$step"
  before=$(delayed_acks_in "${NETLAB_IN_SERVER[@]}")
  say ""
  say "--- $step (netlab-wire --delay $WIRE_DELAY_MS): $CLIENT --codec length --write-write-read $NAGLE_REQUESTS"
  lab_client "$step" "${NETLAB_IN_CLIENT[@]}" "$NETLAB_BIN_DIR/$CLIENT" --codec length --host "$NETLAB_SERVER_ADDR" \
    --port "$DEFAULT_PORT" --write-write-read "$NAGLE_REQUESTS" --loopback-result "$NETLAB_RUN/client-nagle.json"
  after=$(delayed_acks_in "${NETLAB_IN_SERVER[@]}")
  [[ ! $before =~ ^[0-9]+$ || ! $after =~ ^[0-9]+$ ]] || delta=$((after - before))
  wire_capture_stop
  stop_server "$NETLAB_SERVER_PID"
  wire_stop
  RAN+=("$step")
  {
    printf '== %s (netlab-wire --delay %s) ==\n' "$step" "$WIRE_DELAY_MS"
    printf "the server's namespace: TcpExt DelayedACKs +%s over the four ways' %s requests\n" \
      "$delta" "$((4 * NAGLE_REQUESTS))"
    printf 'decided by: %s (ACK held %s ms)\n' "$("$NETLAB_BIN_DIR/netlab-report" get "$NETLAB_RUN/client-$step.json" /observed/decided_by)" \
      "$("$NETLAB_BIN_DIR/netlab-report" get "$NETLAB_RUN/client-$step.json" /observed/ack_held_ms)"
    "$NETLAB_BIN_DIR/netlab-report" checks "$NETLAB_RUN/client-$step.json" | awk -F'\t' '{ printf "check %s: %s\n", $2, $3 }'
    printf '\n'
  } >>"$NETLAB_RUN/wire-steps.txt"
  say "the server's namespace counted $delta delayed ACKs"
}

report() {
  lab_merge "${RAN[@]}"
  lab_verdicts
  wire_summary >>"$NETLAB_RUN/summary.md"
  lab_run_folder "summary.md, client.json, ss.csv, server.log"
}

main() {
  lab_begin "$@"

  local mode
  for mode in "${MODES[@]}"; do
    run_mode "$mode"
  done
  step_nagle_wire
  lab_end
}

main "$@"
