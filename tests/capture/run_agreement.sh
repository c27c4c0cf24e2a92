#!/usr/bin/env bash
# The agreement test of netlab-pcap's TCP analysis with tshark's, on captures
# the test makes itself (tests/capture/README.md):
#   run_agreement.sh synthetic MAKER DIR   the synthetic captures (reordering,
#                                           duplication, loss, zero windows,
#                                           keep-alives, jumps) that MAKER writes
#   run_agreement.sh loopback DIR          iperf3 on loopback, captured by
#                                           tcpdump with a small buffer so that it
#                                           drops (root: tcpdump needs it)
#   run_agreement.sh files CAPTURE...      any captures (e.g. made through netlab-wire)
# Exit 77 (skipped) with a reason when tshark, tcpdump, iperf3 or root is missing.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
AGREE=$HERE/agree_with_tshark.sh
DIFFERENCES=$HERE/differences.txt

skip() {
  echo "skipped: $*"
  exit 77
}

loopback() {
  local dir=$1 port tcpdump_pid server_pid
  ((EUID == 0)) || skip "not root: tcpdump needs CAP_NET_RAW to capture"
  command -v tcpdump >/dev/null || skip "no tcpdump"
  command -v iperf3 >/dev/null || skip "no iperf3"
  mkdir -p "$dir"
  port=$((20000 + RANDOM % 20000))
  # A 64 KiB capture buffer (-B 64) and 128-byte snaps: tcpdump falls behind and drops.
  tcpdump -i lo -s 128 -B 64 -U -w "$dir/loopback-drops.pcap" "tcp port $port" 2> "$dir/tcpdump.log" &
  tcpdump_pid=$!
  trap 'kill "$tcpdump_pid" "${server_pid:-}" 2>/dev/null || true' EXIT
  for _ in $(seq 50); do grep -q listening "$dir/tcpdump.log" && break; sleep 0.1; done
  iperf3 -s -1 -p "$port" > /dev/null 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do ss -ltn "sport = :$port" | grep -q LISTEN && break; sleep 0.1; done
  iperf3 -c 127.0.0.1 -p "$port" -t 2 > /dev/null
  wait "$server_pid" || true
  kill "$tcpdump_pid"
  wait "$tcpdump_pid" || true
  trap - EXIT
  echo "tcpdump: $(grep -E 'captured|dropped' "$dir/tcpdump.log" | tr '\n' ' ')"
  "$AGREE" --differences "$DIFFERENCES" "$dir/loopback-drops.pcap"
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
    files) shift; "$AGREE" --differences "$DIFFERENCES" "$@" ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
  esac
}

main "$@"
