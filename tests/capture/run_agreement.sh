#!/usr/bin/env bash
# The agreement test of netlab-pcap's TCP analysis with tshark's, on captures
# the test makes itself (tests/capture/README.md):
#   run_agreement.sh synthetic MAKER DIR   the synthetic captures (reordering,
#                                           duplication, loss, zero windows,
#                                           keep-alives, jumps) that MAKER writes
#   run_agreement.sh loopback DIR          iperf3 on loopback, captured by
#                                           tcpdump with a small buffer so that it
#                                           drops (root: tcpdump needs it)
#   run_agreement.sh wire BIN DIR          iperf3 through netlab-wire with seeded
#                                           loss, reordering and duplication,
#                                           captured on both sides of the wire
#                                           (root: the namespaces, tcpdump)
#   run_agreement.sh files CAPTURE...      any captures
# Exit 77 (skipped) with a reason when tshark, tcpdump, iperf3 or root is missing.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
AGREE=$HERE/agree_with_tshark.sh
DIFFERENCES=$HERE/differences.txt

skip() {
  echo "skipped: $*"
  exit 77
}

# The loopback step's background processes: globals, for its EXIT trap runs
# after the function's locals are gone.
LOOPBACK_PIDS=()

loopback() {
  local dir=$1 port tcpdump_pid server_pid i
  ((EUID == 0)) || skip "not root: tcpdump needs CAP_NET_RAW to capture"
  command -v tcpdump >/dev/null || skip "no tcpdump"
  command -v iperf3 >/dev/null || skip "no iperf3"
  mkdir -p "$dir"
  LOOPBACK_PIDS=()
  trap 'kill "${LOOPBACK_PIDS[@]}" 2>/dev/null || true' EXIT
  # The server first, on a random port: one another socket holds makes iperf3
  # exit at once (bind fails), and another port is tried (5 at most). Each wait
  # is bounded (20 s: a busy machine starts iperf3 slowly).
  local attempt
  for ((attempt = 0; attempt < 5; attempt++)); do
    port=$((20000 + RANDOM % 20000))
    iperf3 -s -1 -p "$port" > /dev/null 2>&1 &
    server_pid=$!
    for ((i = 0; i < 200; i++)); do
      ss -ltn "sport = :$port" | grep -q LISTEN && break 2
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  done
  ((attempt < 5)) || { echo "FAIL: iperf3 -s did not listen on any of 5 ports (the last $port)" >&2; exit 1; }
  LOOPBACK_PIDS+=("$server_pid")
  # A 64 KiB capture buffer (-B 64) and 128-byte snaps: tcpdump falls behind and drops.
  tcpdump -i lo -s 128 -B 64 -U -w "$dir/loopback-drops.pcap" "tcp port $port" 2> "$dir/tcpdump.log" &
  tcpdump_pid=$!
  LOOPBACK_PIDS+=("$tcpdump_pid")
  for _ in $(seq 200); do grep -q listening "$dir/tcpdump.log" && break; sleep 0.1; done
  iperf3 -c 127.0.0.1 -p "$port" -t 2 > /dev/null
  wait "$server_pid" || true
  kill "$tcpdump_pid"
  wait "$tcpdump_pid" || true
  trap - EXIT
  echo "tcpdump: $(grep -E 'captured|dropped' "$dir/tcpdump.log" | tr '\n' ' ')"
  "$AGREE" --differences "$DIFFERENCES" "$dir/loopback-drops.pcap"
}

# Through netlab-wire: what one side sent (the client's capture) and what the
# other received (the server's), the wire losing, reordering and duplicating
# between them — the classes that a wire makes on purpose.
wire() {
  local bin=$1 dir=$2 client_pid server_pid iperf_pid
  ((EUID == 0)) || skip "not root: the namespaces and tcpdump"
  command -v tcpdump >/dev/null || skip "no tcpdump"
  command -v iperf3 >/dev/null || skip "no iperf3"
  # shellcheck source=../../scripts/lib/common.sh
  source "$HERE/../../scripts/lib/common.sh"
  source "$HERE/../../scripts/lib/run.sh"
  source "$HERE/../../scripts/lib/netns.sh"
  NETLAB_BIN_DIR=$bin
  local blocker
  blocker=$(netns_blocker)
  [[ -z $blocker ]] || skip "$blocker"
  rm -rf -- "$dir"
  mkdir -p "$dir"
  NETLAB_RUN=$dir
  trap run_cleanups EXIT
  netns_path_up
  wire_start agreement --delay 5 --loss 0.01 --reorder 0.01 --duplicate 0.01 --seed 3
  "${NETLAB_IN_CLIENT[@]}" tcpdump -i nlc0 -s 128 -B 16384 --immediate-mode -U -Z root -w "$dir/wire-client-side.pcap" tcp \
    2>"$dir/tcpdump-client.log" </dev/null &
  client_pid=$!
  register_pid "$client_pid" INT
  "${NETLAB_IN_SERVER[@]}" tcpdump -i nls0 -s 128 -B 16384 --immediate-mode -U -Z root -w "$dir/wire-server-side.pcap" tcp \
    2>"$dir/tcpdump-server.log" </dev/null &
  server_pid=$!
  register_pid "$server_pid" INT
  wait_for_file "$dir/tcpdump-client.log" "$client_pid" 50 && wait_for_file "$dir/tcpdump-server.log" "$server_pid" 50 ||
    skip "tcpdump did not start"
  "${NETLAB_IN_SERVER[@]}" iperf3 -s -1 -B "$NETLAB_SERVER_ADDR" -p 5201 >/dev/null 2>&1 </dev/null &
  iperf_pid=$!
  register_pid "$iperf_pid" TERM
  for _ in $(seq 50); do "${NETLAB_IN_SERVER[@]}" ss -ltn 'sport = :5201' | grep -q LISTEN && break; sleep 0.1; done
  "${NETLAB_IN_CLIENT[@]}" timeout 30 iperf3 -c "$NETLAB_SERVER_ADDR" -p 5201 -t 2 -b 200M >/dev/null
  release_pid "$iperf_pid" TERM || true
  release_pid "$client_pid" INT || true
  release_pid "$server_pid" INT || true
  wire_stop
  echo "netlab-wire: dropped $(wire_value '/directions/left>right/dropped/loss') (loss), duplicated $(wire_value '/directions/left>right/duplicated'), reordered $(wire_value '/directions/left>right/reordered') of $(wire_value '/directions/left>right/frames_in') frames to the server"
  "$AGREE" --differences "$DIFFERENCES" "$dir/wire-client-side.pcap" "$dir/wire-server-side.pcap"
}

main() {
  command -v tshark >/dev/null || skip "tshark is not installed (scripts/setup.sh installs it)"
  case ${1:-} in
    synthetic)
      mkdir -p "$3"
      "$2" "$3"
      "$AGREE" --differences "$DIFFERENCES" "$3"/*.pcap "$3"/*.pcapng
      ;;
    loopback) loopback "$2" ;;
    wire) wire "$2" "$3" ;;
    files) shift; "$AGREE" --differences "$DIFFERENCES" "$@" ;;
    *) sed -n '2,17p' "$0" >&2; exit 2 ;;
  esac
}

main "$@"
