#!/usr/bin/env bash
# Test: `scripts/lab timewait --decay 0 -- --requests 500` runs every step on
# one port and writes its run folder; the client-closed step leaves >= 450
# TIME_WAIT sockets on the client side, the server-closed step on the server
# side, the pool (K = 8) at most 8, SO_LINGER 0 none; as root, the exhaustion
# step runs in namespaces it creates (tcp_tw_reuse 0 runs out of ports, the
# pool does not) and deletes them, and the capture holds the linger0 RSTs.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

value() { "$BIN/netlab-report" get "$RUN/client-$1.json" "$2"; }

check_files() {
  local file
  for file in server.log client.json ss.csv env.txt summary.md exhaustion.txt; do
    [[ -s $RUN/$file ]] || fail "$file is missing or empty"
  done
  (($(wc -l <"$RUN/ss.csv") >= 2)) || fail "ss.csv has no sample"
  # The TIME-WAIT column (7th) must have risen during the run.
  local peak
  peak=$(awk -F, 'NR > 1 && $7 > max { max = $7 } END { print max + 0 }' "$RUN/ss.csv")
  ((peak > 0)) || fail "ss.csv never saw a TIME-WAIT socket on the lab's port"
  grep -q 'closer-holds-time-wait' "$RUN/summary.md" || fail "summary.md lacks the TIME_WAIT check"
  grep -q 'closer-holds-time-wait' "$TMP/out.txt" || fail "the verdict table was not printed"
  echo "ok: run folder files; ss.csv peak TIME-WAIT $peak"
}

check_steps() {
  local n taken
  # A TIME_WAIT port taken over by a later connect() (tcp_tw_reuse) counts as the TIME_WAIT it was.
  n=$(value short-client /observed/time_wait/client_side)
  taken=$(value short-client /observed/time_wait_taken_over)
  ((n + taken >= 450)) || fail "short-client: $n TIME_WAIT (+$taken taken over) on the client side, want >= 450"
  n=$(value short-server /observed/time_wait/server_side)
  taken=$(value short-server /observed/time_wait_taken_over)
  ((n + taken >= 450)) || fail "short-server: $n TIME_WAIT (+$taken taken over) on the server side, want >= 450"
  n=$(value short-server /observed/time_wait/client_side)
  ((n <= 25)) || fail "short-server: $n TIME_WAIT on the client side, want ~0"
  n=$(value pool /observed/time_wait/client_side)
  ((n <= 8)) || fail "pool: $n TIME_WAIT on the client side, want <= 8"
  [[ $(value pool /observed/succeeded) == 500 ]] || fail "pool: not all 500 requests succeeded"
  value pool /observed/rate_ratio_vs_short >/dev/null || fail "pool: no rate ratio against the short step"
  n=$(value linger0 /observed/time_wait/client_side)
  ((n == 0)) || fail "linger0: $n TIME_WAIT on the client side, want 0"
  echo "ok: TIME_WAIT follows the closer; the pool holds <= 8; SO_LINGER 0 none"
}

check_exhaustion() {
  if ((EUID != 0)); then
    grep -q '^skipped: not root' "$RUN/exhaustion.txt" || fail "not root, but exhaustion.txt does not say it was skipped"
    echo "skipped: the exhaustion step needs root (and said so)"
    return 0
  fi
  local full ns
  full=$(value exhaustion-reuse0-short /observed/connect_errors/EADDRNOTAVAIL) || fail "reuse 0: no EADDRNOTAVAIL"
  ((full > 0)) || fail "reuse 0: no EADDRNOTAVAIL"
  [[ $(value exhaustion-reuse0-pool /observed/succeeded) == 1000 ]] || fail "reuse 0: the pool did not complete"
  [[ $(value exhaustion-reuse0-pool /params/tcp_tw_reuse) == 0 ]] ||
    fail "reuse 0: the client did not see tcp_tw_reuse 0"
  while read -r ns; do
    ! ip netns list | grep -qw "$ns" || fail "namespace $ns was left behind"
  done < <(grep -o 'namespace=netlab-tw-[0-9]*' "$RUN/exhaustion.txt" | cut -d= -f2)
  echo "ok: exhaustion: $full EADDRNOTAVAIL with tcp_tw_reuse 0, the pool completed; namespaces removed"
}

check_capture() {
  if ! command -v tcpdump >/dev/null; then
    echo "skipped: the capture check needs tcpdump"
    return 0
  fi
  if [[ ! -e $RUN/capture.pcap ]] && ((EUID != 0)); then
    echo "skipped: not root and no capture"
    return 0
  fi
  [[ -s $RUN/capture.pcap ]] || fail "no capture.pcap as root"
  local rst
  rst=$(tcpdump -r "$RUN/capture.pcap" -n 'tcp[tcpflags] & tcp-rst != 0' 2>/dev/null | wc -l)
  ((rst >= 200)) || fail "capture.pcap has $rst RSTs, want >= 200 (one per linger0 connection)"
  echo "ok: capture.pcap holds $rst RSTs"
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  run_lab timewait --decay 0 -- --requests 500
  check_files
  check_steps
  check_exhaustion
  check_capture
}

main "$@"
