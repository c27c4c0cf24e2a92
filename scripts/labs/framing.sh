#!/usr/bin/env bash
# lab-note: 粘包怎么解决
# lab-order: 6
# lab-port: 7006
# lab-dissector: netlab_framing
# lab-claim: TCP is a byte stream: writes merge and split on the reader (粘包); a delimiter or a
#     length header restores the boundaries.
# lab-claim-zh: TCP
#     是字节流：多次写在读端会合并或拆开（粘包/拆包）；分隔符或长度头可以恢复消息边界。
# lab-run: many small writes with no framing, then with a delimiter, then with a length header;
#     then requests written as header + body against Nagle and the delayed ACK
# lab-run-zh: 大量小写入：先不分帧，再用分隔符，再用长度头；再把请求分成头和体两次写，看 Nagle 遇上延迟确认
# lab-look: writes against the server's reads; every echoed message checked by CRC-32
# lab-look-zh: 写入次数对比服务端的读取次数；每条回显消息都用 CRC-32 校验
# lab-tour-quick: -- --messages 500
#
# The framing lab: TCP is a byte stream, so the sizes of the writes are not
# the sizes of the reads (粘包 / 拆包), and only the application can put the
# message boundaries back, with a delimiter or a length header.
# It runs the framing pair three times on one port: raw, delimiter, length,
# while ss samples the socket states and tcpdump records the segments, then
# prints what was measured against what the note claims.
# shellcheck source-path=SCRIPTDIR/../lib
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/lab.sh"

# nagle: the length codec again, each request written as a header and a body
# (--write-write-read): Nagle's algorithm against the server's delayed ACK.
readonly MODES=(raw delimiter length nagle)

lab_usage() {
  cat <<EOF
Runs netlab-framing-server and netlab-framing-client with --codec raw, then
delimiter, then length, then length with --write-write-read 20 (Nagle meets
the delayed ACK), on one port (default $DEFAULT_PORT), and writes
runs/<UTC time>-framing/: server.log, client-<codec>.json, client.json, ss.csv,
capture.pcap (root, or a user namespace), env.txt, summary.md.

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
    defaults=(--write-write-read 20)
  fi
  lab_server "$mode" "--codec $codec" --codec "$codec"
  client_args "${defaults[@]}"
  say ""
  say "--- $CLIENT --codec $codec --port $NETLAB_PORT ${NETLAB_CLIENT_ARGS[*]}"
  lab_client "$mode" "$NETLAB_BIN_DIR/$CLIENT" --codec "$codec" --port "$NETLAB_PORT" "${NETLAB_CLIENT_ARGS[@]}"
  stop_server "$NETLAB_SERVER_PID"
}

report() {
  lab_merge "${MODES[@]}"
  lab_verdicts
  lab_run_folder "summary.md, client.json, ss.csv, server.log"
}

main() {
  lab_begin "$@"

  local mode
  for mode in "${MODES[@]}"; do
    run_mode "$mode"
  done
  lab_end
}

main "$@"
