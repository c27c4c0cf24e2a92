#!/usr/bin/env bash
# Test: `scripts/bench.sh --smoke` (one short pair per row) still runs with this
# build's programs: exit 0, a Markdown table with a row that ran for each peer
# that is installed (iperf3, sockperf, nginx + wrk), and JSON that
# netlab-report reads. No thresholds: the numbers are for people
# (docs/performance.md). Skipped (77) when not root and a peer is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN="${NETLAB_BIN_DIR:?NETLAB_BIN_DIR is not set}"
TMP=""

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  [[ ! -f $TMP/out.txt ]] || { echo "--- scripts/bench.sh --smoke said:" >&2; cat "$TMP/out.txt" "$TMP/err.txt" >&2; }
  exit 1
}
cleanup() {
  [[ -z $TMP ]] || rm -rf -- "$TMP"
}
trap cleanup EXIT INT TERM

have() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]]; }

missing=()
for tool in iperf3 sockperf nginx wrk; do have "$tool" || missing+=("$tool"); done
if ((${#missing[@]})) && ((EUID != 0)); then
  echo "SKIP: not root and peers missing (${missing[*]}): scripts/bench.sh cannot install them"
  exit 77
fi

TMP=$(mktemp -d)
NETLAB_BENCH_BIN_DIR=$BIN timeout -k 5 150 "$ROOT/scripts/bench.sh" --smoke --json "$TMP/bench.json" \
  >"$TMP/out.txt" 2>"$TMP/err.txt" || fail "scripts/bench.sh --smoke exited $?"

grep -q '^| row | netlab | peer | unit | ratio | note |$' "$TMP/out.txt" || fail "no Markdown table header"
grep -q '^| short connections: timewait client' "$TMP/out.txt" || fail "no timewait short/pool row"

# A row that ran (not "skipped") for each peer installed now.
ran_row() { grep '^| ' "$TMP/out.txt" | grep -F "$1" | grep -vF '| skipped |' | grep -q .; }
if have sockperf; then ran_row 'sockperf' || fail "sockperf is installed but its row did not run"; fi
if have iperf3; then ran_row 'iperf3' || fail "iperf3 is installed but its rows did not run"; fi
if have nginx && have wrk; then ran_row 'wrk' || fail "nginx and wrk are installed but the wrk rows did not run"; fi
if have nginx && have h2load; then ran_row 'h2load' || fail "nginx and h2load are installed but the HTTP/2 row did not run"; fi
if ((EUID == 0)) && have iperf3 && have ping; then
  ran_row 'netlab-wire: forwarding throughput' || fail "as root with iperf3 and ping, the netlab-wire rows did not run"
  ran_row 'netlab-wire: --delay' || fail "as root with iperf3 and ping, the wire's delay row did not run"
fi

# The JSON: netlab-report reads it, every row has a name and a status.
n=$(grep -c '^| ' "$TMP/out.txt")
rows=$((n - 1)) # minus the header line (the separator line starts with "|-")
for ((i = 0; i < rows; i++)); do
  name=$("$BIN/netlab-report" get "$TMP/bench.json" "/rows/$i/name") || fail "JSON: no /rows/$i/name"
  status=$("$BIN/netlab-report" get "$TMP/bench.json" "/rows/$i/status") || fail "JSON: no /rows/$i/status"
  [[ $status == ran || $status == skipped ]] || fail "JSON: row $i ($name) has status '$status'"
done
if "$BIN/netlab-report" get "$TMP/bench.json" "/rows/$rows/name" >/dev/null 2>&1; then
  fail "JSON has more rows than the table"
fi
echo "ok: bench --smoke printed $rows rows"
