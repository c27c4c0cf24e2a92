#!/usr/bin/env bash
# netlab's benchmark against the tools people would use instead (issue 9):
# the same loopback, the same run, netlab and the peer alternated A B A B ...
#
#   scripts/bench.sh [--quick] [--smoke] [--only ROWS] [--json FILE] [--help]
#   scripts/bench.sh --only firstrun     # a new user's first run, from a fresh clone
#
# Rows: short connections (timewait short vs pool; wrk Connection: close vs
# nginx), HTTP keep-alive (wrk vs nginx), request/response (binary RPC vs
# sockperf ping-pong, unpinned and pinned to one CPU; pipelined vs sequential),
# stream throughput (framing length codec vs iperf3), UDP (transport vs
# iperf3 -u), netlab-wire (iperf3 and ping through the wire against a direct
# veth pair, its rate and its delay; root), capture facts (netlab-pcap facts
# vs tshark's TCP analysis on a capture the bench makes, 10 MB and 1.1 GB: time
# and peak memory), tour and build wall time, and a new user's first run
# (a fresh clone, no ccache: the time to the first verdict of the tour, and a
# clean build of every target of the default preset). Each row reports min/median/max of
# both sides and the median ratio netlab/peer: a Markdown table on stdout,
# JSON to --json. No thresholds: people run it and report (docs/performance.md).
#
# All traffic is on 127.0.0.1; every run is bounded in count and in time
# (timeout). Peers come from Debian packages, installed as root when missing;
# without root the rows whose peer is missing say "skipped".
# shellcheck source-path=SCRIPTDIR/lib
set -euo pipefail

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/lib" && pwd)
source "$LIB/common.sh"
source "$LIB/server.sh"
source "$LIB/run.sh"
source "$LIB/netns.sh"

usage() {
  cat <<'EOF'
usage: scripts/bench.sh [--quick] [--smoke] [--no-build] [--only ROWS] [--json FILE] [--help]

Benchmarks netlab's programs (Release build, build/release/bin) against
iperf3, sockperf, nginx (one worker) and wrk on 127.0.0.1, alternating
netlab and the peer: 5 pairs per row (--quick: 3; --smoke: 1 short pair).
Prints a Markdown table (min/median/max of each side, median ratio
netlab/peer); --json FILE writes the same as JSON.
As root, missing peers are installed with apt-get; otherwise their rows
are skipped. The clean-build row runs only without --quick/--smoke/--no-build.
--only ROWS runs some rows only, comma-separated: timewait, http, slow, rpc,
stream, udp, wire, pcap, walltime, firstrun, cleanbuild (e.g. --only pcap,wire).
The firstrun rows (a new user's first run) clone this repository's HEAD into
TMPDIR and, without ccache (CCACHE_DISABLE=1), time `scripts/lab tour --quick`
until its first verdict line (and the build part, from setup.sh's own
"built in N s" line); the cleanbuild row times a clean build of every target
(tests included) of the default preset in such a clone. Each is bounded by
30 min, the clone removed after. They run without --quick/--smoke/--no-build,
or when --only names them; firstrun with --smoke only checks the mechanics:
the programs are copied from the bench's bin folder into the clone, so there
is no build and the time is not a first run's (the row says so). NETLAB_BENCH_FIRSTRUN_LAUNCHER: a compiler launcher for the
first run's build (not ccache; e.g. one that logs each file's CPU time).
The slow row runs wrk against netlab-http-server while slowhttptest holds 200
slowloris connections, against the same wrk without the attack.
The pcap rows time netlab-pcap facts against tshark on captures of iperf3
the bench makes with tcpdump -s 128: 10 MB (--smoke: 2 MB) and, without
--quick/--smoke, 1.1 GB (needs about 2 GB of free space in TMPDIR).
EOF
}

MODE=full
JSON_OUT=""
NO_BUILD=""
ONLY=""
while (($#)); do
  case $1 in
    --quick) MODE=quick ;;
    --smoke) MODE=smoke ;;
    --no-build) NO_BUILD=1 ;;
    --only)
      (($# >= 2)) || usage_error "--only needs ROWS (e.g. pcap)"
      ONLY=$2
      [[ $2 =~ ^(timewait|http|h2|slow|rpc|stream|udp|wire|pcap|walltime|firstrun|cleanbuild)(,(timewait|http|h2|slow|rpc|stream|udp|wire|pcap|walltime|firstrun|cleanbuild))*$ ]] ||
        usage_error "--only takes rows from timewait, http, h2, slow, rpc, stream, udp, wire, pcap, walltime, firstrun, cleanbuild, not '$2'"
      shift
      ;;
    --json)
      (($# >= 2)) || usage_error "--json needs a FILE"
      JSON_OUT=$2
      shift
      ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option '$1'" ;;
  esac
  shift
done

case $MODE in
  full) PAIRS=5 DUR=2 TW_REQ=3000 RPC_CALLS=20000 FRAMES=16000 UDP_MSGS=100000 PCAP_MB="10 1100" ;;
  quick) PAIRS=3 DUR=2 TW_REQ=2000 RPC_CALLS=10000 FRAMES=8000 UDP_MSGS=50000 PCAP_MB="10" ;;
  smoke) PAIRS=1 DUR=1 TW_REQ=300 RPC_CALLS=1000 FRAMES=200 UDP_MSGS=5000 PCAP_MB="2" ;;
esac
# wanted ROW: true when ROW runs (--only lists it, or no --only)
wanted() { [[ -z $ONLY || ,$ONLY, == *",$1,"* ]]; }
readonly FRAME_SIZE=65536 UDP_SIZE=1024 UDP_RATE=50000 RUN_LIMIT=60

BIN=${NETLAB_BENCH_BIN_DIR:-$NETLAB_ROOT/build/release/bin}
NETLAB_BIN_DIR=$BIN  # for the library (netns.sh starts netlab-wire from here)
WORK=""
# common.sh's cleanup: the registry released in reverse order, the exit status kept.
trap_cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/netlab-bench.XXXXXX")
register_dir "$WORK"
chmod 755 "$WORK" # nginx's worker (www-data) reads the static page from here

# --- peers and programs ------------------------------------------------------

declare -A PEER_OK=()
peers() {
  local -A pkg_of=([iperf3]=iperf3 [sockperf]=sockperf [nginx]=nginx-light [wrk]=wrk [ping]=iputils-ping)
  local tool missing=() tools=(iperf3 sockperf nginx wrk ping)
  [[ $ONLY != pcap ]] || tools=(iperf3)  # the pcap rows need iperf3 only
  [[ ! $ONLY =~ ^(firstrun|cleanbuild)(,(firstrun|cleanbuild))?$ ]] || return 0  # no peer needed
  for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin command -v "$tool" >/dev/null 2>&1 ||
      missing+=("${pkg_of[$tool]}")
  done
  if ((${#missing[@]})); then
    if ((EUID == 0)) && command -v apt-get >/dev/null; then
      say "installing missing peers: ${missing[*]}" >&2
      { DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y --no-install-recommends "${missing[@]}" ||
        { timeout 120 apt-get update && DEBIAN_FRONTEND=noninteractive timeout 300 \
            apt-get install -y --no-install-recommends "${missing[@]}"; }; } >"$WORK/apt.log" 2>&1 ||
        warn "apt-get could not install ${missing[*]} (no network?): those rows are skipped (see output above)"
    else
      warn "missing peers: ${missing[*]} (run as root, or: apt-get install -y --no-install-recommends ${missing[*]}): those rows are skipped"
    fi
  fi
  for tool in iperf3 sockperf nginx wrk ping; do
    if command -v "$tool" >/dev/null 2>&1 || [[ -x /usr/sbin/$tool ]]; then PEER_OK[$tool]=1; fi
  done
  return 0
}
NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)

PROGRAMS=(netlab-timewait-client netlab-timewait-server netlab-http-server netlab-rpc-client
  netlab-rpc-server netlab-framing-client netlab-framing-server netlab-transport-client
  netlab-transport-server netlab-report netlab-pcap netlab-wire)
[[ $ONLY != pcap ]] || PROGRAMS=(netlab-pcap netlab-report)
[[ ! $ONLY =~ ^(firstrun|cleanbuild)(,(firstrun|cleanbuild))?$ ]] || PROGRAMS=()  # they build in clones
readonly PROGRAMS
programs() {
  local p
  for p in "${PROGRAMS[@]}"; do
    [[ -x $BIN/$p ]] && continue
    [[ -z ${NETLAB_BENCH_BIN_DIR-} ]] || die "$BIN/$p is missing (NETLAB_BENCH_BIN_DIR=$BIN)"
    say "$BIN/$p is missing: building the Release preset (scripts/setup.sh --preset release)" >&2
    "$NETLAB_ROOT/scripts/setup.sh" --preset release >&2 || die "the Release build failed"
    break
  done
  for p in "${PROGRAMS[@]}"; do [[ -x $BIN/$p ]] || die "$BIN/$p is missing after the build"; done
}

# --- helpers -----------------------------------------------------------------

# A free TCP (and UDP) port on 127.0.0.1 for a peer server: checked with ss.
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 12000))
    [[ -z $(ss -Hltn "sport = :$p" 2>/dev/null) && -z $(ss -Hlun "sport = :$p" 2>/dev/null) ]] &&
      { echo "$p"; return 0; }
  done
  die "no free port found between 20000 and 32000"
}

# Waits (at most 10 s) until something listens on TCP port $1; $2 = that PID.
wait_listen() {
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]] && return 0
    pid_running "$2" || break
    sleep 0.1
  done
  warn "nothing listens on 127.0.0.1:$1 (pid $2); log:"
  tail -n 10 -- "$WORK/peer-$1.log" >&2 2>/dev/null || true
  return 1
}

# start_peer PORT CMD...: a peer server in the background, registered.
start_peer() {
  local port=$1
  shift
  "$@" >"$WORK/peer-$port.log" 2>&1 </dev/null &
  PEER_PID=$!
  register_pid "$PEER_PID" TERM
  wait_listen "$port" "$PEER_PID"
}

# A netlab server on a free port (--port 0 --port-file): sets SRV_PID, SRV_PORT.
start_netlab() {
  local name=$1
  shift
  start_server "$WORK/$name.log" "$WORK/$name.port" "$@" --host 127.0.0.1 --port 0 --log-level warn
  SRV_PID=$NETLAB_SERVER_PID SRV_PORT=$NETLAB_SERVER_PORT
}

# A bounded client run (timeout), its stdout to $1.
bounded() {
  local out=$1
  shift
  run_child timeout -k 5 "$RUN_LIMIT" "$@" >"$out" 2>>"$WORK/clients.err"
}

# One value of a JSON file by pointer (netlab-report wants a "checks" array:
# a foreign JSON such as iperf3's gets an empty one first).
jget() {
  local file=$1 ptr=$2
  if ! grep -q '"checks"' "$file"; then
    sed '0,/{/s//{"checks":[],/' "$file" >"$file.checks" && file=$file.checks
  fi
  "$BIN/netlab-report" get "$file" "$ptr"
}

TIME_WAIT_NOW() { ss -Htan state time-wait "( sport = :$1 or dport = :$1 )" 2>/dev/null | wc -l; }

# --- the results -------------------------------------------------------------

ROWS_MD=()
ROWS_JSON=()

# stats "v1 v2 ..." -> "min median max" (median of an even count: the mean of the middle two)
stats() {
  tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '
    { v[NR] = $1 }
    END { if (NR == 0) { print "nan nan nan"; exit }
          m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "%.6g %.6g %.6g\n", v[1], m, v[NR] }'
}
fmt() { awk -v x="$1" 'BEGIN { if (x == "nan") print "-"; else if (x >= 100) printf "%.0f", x; else printf "%.3g", x }'; }
jnum() { [[ $1 == nan ]] && echo null || echo "$1"; }
jstr() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }

# row NAME UNIT NETLAB_LABEL "values" PEER_LABEL "values" NOTE
row() {
  local name=$1 unit=$2 a_label=$3 a_vals=$4 b_label=$5 b_vals=$6 note=$7
  local a_min a_med a_max b_min b_med b_max ratio
  read -r a_min a_med a_max <<<"$(stats "$a_vals")"
  read -r b_min b_med b_max <<<"$(stats "$b_vals")"
  ratio=$(awk -v a="$a_med" -v b="$b_med" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "nan"; else printf "%.3g", a / b }')
  ROWS_MD+=("| $name | $a_label: $(fmt "$a_min") / **$(fmt "$a_med")** / $(fmt "$a_max") | $b_label: $(fmt "$b_min") / **$(fmt "$b_med")** / $(fmt "$b_max") | $unit | **$(fmt "$ratio")** | $note |")
  ROWS_JSON+=("{\"name\":$(jstr "$name"),\"status\":\"ran\",\"unit\":$(jstr "$unit"),\"netlab\":{\"label\":$(jstr "$a_label"),\"samples\":[$(tr -s ' ' ',' <<<"$(xargs <<<"$a_vals")")],\"min\":$(jnum "$a_min"),\"median\":$(jnum "$a_med"),\"max\":$(jnum "$a_max")},\"peer\":{\"label\":$(jstr "$b_label"),\"samples\":[$(tr -s ' ' ',' <<<"$(xargs <<<"$b_vals")")],\"min\":$(jnum "$b_min"),\"median\":$(jnum "$b_med"),\"max\":$(jnum "$b_max")},\"median_ratio\":$(jnum "$ratio"),\"note\":$(jstr "$note")}")
}
skip_row() {
  ROWS_MD+=("| $1 | skipped | | | | $2 |")
  ROWS_JSON+=("{\"name\":$(jstr "$1"),\"status\":\"skipped\",\"reason\":$(jstr "$2")}")
  warn "skipped: $1: $2"
}
# A run that failed is not a sample; it is counted in the note.
FAILS=0
sample() { # sample VAR_NAME VALUE: appends a number, or counts a failure
  if [[ $2 =~ ^[0-9.eE+-]+$ ]]; then printf -v "$1" '%s %s' "${!1}" "$2"; else FAILS=$((FAILS + 1)); fi
}
failnote() { ((FAILS == 0)) || printf '; %d run(s) failed (see stderr)' "$FAILS"; FAILS=0; }
progress() { printf '... %s\n' "$*" >&2; }

# --- (4) short connections ---------------------------------------------------

bench_timewait() {
  local short="" pool="" i out
  progress "short connections: netlab-timewait-client --mode short vs --mode pool"
  start_netlab timewait "$BIN/netlab-timewait-server"
  for ((i = 0; i < PAIRS; i++)); do
    out=$WORK/tw-short.json
    bounded /dev/null "$BIN/netlab-timewait-client" --port "$SRV_PORT" --mode short --requests "$TW_REQ" \
      --json "$out" --log-level warn || true
    sample short "$(jget "$out" /observed/requests_per_s 2>/dev/null || true)"
    out=$WORK/tw-pool.json
    bounded /dev/null "$BIN/netlab-timewait-client" --port "$SRV_PORT" --mode pool --requests "$TW_REQ" \
      --json "$out" --log-level warn || true
    sample pool "$(jget "$out" /observed/requests_per_s 2>/dev/null || true)"
    rm -f "$WORK"/tw-*.json
  done
  stop_server "$SRV_PID"
  # netlab/peer here is short/pool: the inverse of the pool's speed-up.
  row "short connections: timewait client, $TW_REQ requests, concurrency 16" "requests/s" \
    "short (a connection each)" "$short" "pool (8 connections)" "$pool" \
    "ratio = short/pool; the pool's speed-up is its inverse. Churn to one destination port is capped by the kernel's ephemeral-port choice and tcp_tw_reuse (about 14k connections/s for a bare C loop here)$(failnote)"
}

# The page nginx serves: the same bytes netlab-http-server sends for GET /.
nginx_conf() {
  local port=$1 dir=$WORK/nginx
  mkdir -p "$dir/www" "$dir/logs" "$dir/tmp"
  chmod 755 "$dir" "$dir/www"
  curl -s --max-time 5 "http://127.0.0.1:$SRV_PORT/" -o "$dir/www/index.html"
  chmod 644 "$dir/www/index.html"
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:$port;
    root $dir/www;
    location = / { default_type "text/html; charset=utf-8"; try_files /index.html =404; }
  }
}
EOF
}

# wrk_rate OUT PORT [wrk options]: requests/s (only when every answer was 2xx/3xx)
wrk_rate() {
  local out=$1 port=$2
  shift 2
  bounded "$out" wrk -t1 -c32 -d"${DUR}s" "$@" "http://127.0.0.1:$port/" || return 0
  grep -q 'Non-2xx\|Socket errors' "$out" && { warn "wrk: $(grep 'Non-2xx\|Socket errors' "$out")"; }
  awk '/^Requests\/sec:/ { print $2 }' "$out"
}

bench_http() {
  if [[ -z ${PEER_OK[wrk]-} || -z ${PEER_OK[nginx]-} ]]; then
    skip_row "short connections: wrk -H 'Connection: close'" "wrk or nginx missing"
    skip_row "HTTP keep-alive: wrk -t1 -c32 -d${DUR}s" "wrk or nginx missing"
    return 0
  fi
  local nport a="" b="" twa="" twb="" i before ka="" kb=""
  progress "HTTP: wrk against netlab-http-server and nginx (one worker)"
  start_netlab http "$BIN/netlab-http-server"
  nport=$(free_port)
  nginx_conf "$nport"
  start_peer "$nport" "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' ||
    { skip_row "HTTP rows" "nginx did not start (see stderr)"; stop_server "$SRV_PID"; return 0; }
  local npid=$PEER_PID size
  size=$(wc -c <"$WORK/nginx/www/index.html")
  for ((i = 0; i < PAIRS; i++)); do
    before=$(TIME_WAIT_NOW "$SRV_PORT")
    sample a "$(wrk_rate "$WORK/wrk.out" "$SRV_PORT" -H 'Connection: close')"
    twa="$twa $(($(TIME_WAIT_NOW "$SRV_PORT") - before))"
    before=$(TIME_WAIT_NOW "$nport")
    sample b "$(wrk_rate "$WORK/wrk.out" "$nport" -H 'Connection: close')"
    twb="$twb $(($(TIME_WAIT_NOW "$nport") - before))"
  done
  local tw_a tw_b
  read -r _ tw_a _ <<<"$(stats "$twa")"
  read -r _ tw_b _ <<<"$(stats "$twb")"
  row "short connections: wrk -t1 -c32 -d${DUR}s -H 'Connection: close'" "requests/s" \
    "netlab-http-server" "$a" "nginx, 1 worker" "$b" \
    "GET / ($size-byte body); new TIME_WAIT per run (median, ss): netlab $tw_a, nginx $tw_b. Churn to one destination port is capped by the kernel's port choice and tcp_tw_reuse$(failnote)"
  for ((i = 0; i < PAIRS; i++)); do
    sample ka "$(wrk_rate "$WORK/wrk.out" "$SRV_PORT")"
    sample kb "$(wrk_rate "$WORK/wrk.out" "$nport")"
  done
  row "HTTP keep-alive: wrk -t1 -c32 -d${DUR}s" "requests/s" \
    "netlab-http-server" "$ka" "nginx, 1 worker" "$kb" "GET / ($size-byte body), one I/O thread each$(failnote)"
  release_pid "$npid" QUIT || true
  stop_server "$SRV_PID"
}

# --- HTTP/2 (h2c) ---------------------------------------------------------------

# h2load_rate OUT PORT REQUESTS: requests/s of h2load over h2c (prior knowledge),
# 4 connections of 10 streams each (only when every request succeeded).
h2load_rate() {
  local out=$1 port=$2 requests=$3
  bounded "$out" h2load -n "$requests" -c 4 -m 10 -t 1 "http://127.0.0.1:$port/" || return 0
  grep -q "^requests: $requests total, $requests started, $requests done, $requests succeeded" "$out" ||
    { warn "h2load: $(grep '^requests:' "$out")"; return 0; }
  awk '/^finished in/ { print $4 }' "$out"
}

# h2load against netlab-http-server's h2c (servers/http/h2.cpp, nghttp2) and
# nginx's `listen … http2` (Debian's nginx-light has the http_v2 module; over
# plain TCP it speaks h2c with prior knowledge), the same page, one worker each.
bench_h2() {
  local requests
  case $MODE in full) requests=50000 ;; quick) requests=20000 ;; smoke) requests=2000 ;; esac
  if ! command -v h2load >/dev/null || [[ -z ${PEER_OK[nginx]-} ]]; then
    skip_row "HTTP/2 (h2c): h2load -n $requests -c 4 -m 10" "h2load (nghttp2-client) or nginx missing"
    return 0
  fi
  local nport a="" b="" i npid size
  progress "HTTP/2: h2load against netlab-http-server and nginx (http2, one worker)"
  start_netlab h2 "$BIN/netlab-http-server"
  nport=$(free_port)
  nginx_conf "$nport"
  sed -i "s/listen 127.0.0.1:$nport;/listen 127.0.0.1:$nport http2;/" "$WORK/nginx/nginx.conf"
  start_peer "$nport" "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' ||
    { skip_row "HTTP/2 (h2c) row" "nginx did not start (see stderr)"; stop_server "$SRV_PID"; return 0; }
  npid=$PEER_PID
  size=$(wc -c <"$WORK/nginx/www/index.html")
  for ((i = 0; i < PAIRS; i++)); do
    sample a "$(h2load_rate "$WORK/h2load.out" "$SRV_PORT" "$requests")"
    sample b "$(h2load_rate "$WORK/h2load.out" "$nport" "$requests")"
  done
  row "HTTP/2 (h2c): h2load -n $requests -c 4 -m 10" "requests/s" \
    "netlab-http-server" "$a" "nginx http2, 1 worker" "$b" \
    "GET / ($size-byte body) over h2c with prior knowledge, one I/O thread each$(failnote)"
  release_pid "$npid" QUIT || true
  stop_server "$SRV_PID"
}

# --- a good client during a slowloris attack -----------------------------------

# wrk's keep-alive rate against netlab-http-server while slowhttptest holds 200
# slow-header connections (the server cuts each on its idle timeout, 5 s here,
# and slowhttptest keeps opening new ones), against the same wrk with no attack.
bench_slow() {
  if [[ -z ${PEER_OK[wrk]-} ]] || ! command -v slowhttptest >/dev/null; then
    skip_row "HTTP keep-alive during slowloris: wrk -t1 -c32 -d${DUR}s" "wrk or slowhttptest missing"
    return 0
  fi
  local calm="" attacked="" i attacker
  progress "HTTP during slowloris: wrk against netlab-http-server with and without slowhttptest -H"
  start_netlab http "$BIN/netlab-http-server" --idle-timeout 5
  for ((i = 0; i < PAIRS; i++)); do
    sample calm "$(wrk_rate "$WORK/wrk.out" "$SRV_PORT")"
    slowhttptest -H -c 200 -r 200 -i 1 -x 10 -p 3 -l $((DUR + 10)) -u "http://127.0.0.1:$SRV_PORT/" \
      >"$WORK/slowhttptest.out" 2>&1 </dev/null &
    attacker=$!
    register_pid "$attacker" INT
    sleep 1 # its 200 connections open at 200/s
    sample attacked "$(wrk_rate "$WORK/wrk.out" "$SRV_PORT")"
    release_pid "$attacker" INT || true
  done
  row "HTTP keep-alive during slowloris: wrk -t1 -c32 -d${DUR}s" "requests/s" \
    "during slowhttptest -H -c 200" "$attacked" "no attack" "$calm" \
    "netlab-http-server --idle-timeout 5 both ways; ratio = the good client's rate under attack / without$(failnote)"
  stop_server "$SRV_PID"
}

# --- (2) request/response ----------------------------------------------------

# One request/response pass: PIN is "" (unpinned) or "taskset -c 0".
bench_rpc_pass() {
  local label=$1
  shift
  local -a pin=("$@")
  local seq="" pipe="" sp="" p50a="" p99a="" p50b="" p99b="" i out sport spid bpc
  start_netlab rpc "${pin[@]}" "$BIN/netlab-rpc-server"
  local rpid=$SRV_PID rport=$SRV_PORT
  sport=$(free_port)
  start_peer "$sport" "${pin[@]}" sockperf sr --tcp -i 127.0.0.1 -p "$sport" ||
    { skip_row "request/response ($label)" "sockperf server did not start"; stop_server "$rpid"; return 0; }
  spid=$PEER_PID
  for ((i = 0; i < PAIRS; i++)); do
    out=$WORK/rpc.json
    bounded /dev/null "${pin[@]}" "$BIN/netlab-rpc-client" --port "$rport" --transport binary \
      --calls "$RPC_CALLS" --pipeline 16 --json "$out" --log-level warn || true
    sample seq "$(jget "$out" /observed/runs/0/calls_per_s 2>/dev/null || true)"
    sample pipe "$(jget "$out" /observed/runs/1/calls_per_s 2>/dev/null || true)"
    p50a="$p50a $(jget "$out" /observed/runs/0/latency_p50_us 2>/dev/null || true)"
    p99a="$p99a $(jget "$out" /observed/runs/0/latency_p99_us 2>/dev/null || true)"
    bpc=$(jget "$out" /observed/runs/0/bytes_out_per_call 2>/dev/null || echo "?")
    rm -f "$out"
    out=$WORK/sockperf.out
    bounded "$out" "${pin[@]}" sockperf ping-pong --tcp -i 127.0.0.1 -p "$sport" -m 64 -t "$((DUR + 1))" || true
    sed -i 's/\x1b\[[0-9;]*m//g' "$out"
    sample sp "$(awk '/\[Valid Duration\]/ { split($0, a, /RunTime=| sec|ReceivedMessages=/); if (a[2] > 0) print a[4] / a[2] }' "$out")"
    # sockperf reports half the round trip: doubled here to compare with RPC round trips
    p50b="$p50b $(awk '/percentile 50.000/ { print 2 * $NF }' "$out")"
    p99b="$p99b $(awk '/percentile 99.000/ { print 2 * $NF }' "$out")"
  done
  release_pid "$spid" TERM || true
  stop_server "$rpid"
  local s50a s99a s50b s99b
  read -r _ s50a _ <<<"$(stats "$p50a")"
  read -r _ s99a _ <<<"$(stats "$p99a")"
  read -r _ s50b _ <<<"$(stats "$p50b")"
  read -r _ s99b _ <<<"$(stats "$p99b")"
  row "request/response ($label): binary RPC sequential vs sockperf ping-pong --tcp -m 64" "round trips/s" \
    "netlab-rpc-client, $RPC_CALLS calls" "$seq" "sockperf, ${DUR}s+1" "$sp" \
    "round-trip p50/p99 us (medians): netlab $(fmt "$s50a")/$(fmt "$s99a"), sockperf $(fmt "$s50b")/$(fmt "$s99b") (sockperf's half-RTT doubled); RPC request $bpc bytes/call$(failnote)"
  row "request/response ($label): binary RPC pipelined (16) vs sequential" "calls/s" \
    "pipelined, window 16" "$pipe" "sequential" "$seq" "both from the same netlab-rpc-client runs$(failnote)"
}

bench_rpc() {
  if [[ -z ${PEER_OK[sockperf]-} ]]; then
    skip_row "request/response: binary RPC vs sockperf" "sockperf missing"
    return 0
  fi
  progress "request/response: netlab-rpc-client --transport binary vs sockperf ping-pong (unpinned)"
  bench_rpc_pass "unpinned"
  if command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null; then
    progress "request/response: the same pinned to CPU 0 (taskset -c 0)"
    bench_rpc_pass "pinned, taskset -c 0" taskset -c 0
  else
    skip_row "request/response (pinned)" "taskset missing or CPU 0 not allowed"
  fi
}

# --- (1) stream throughput ---------------------------------------------------

bench_stream() {
  if [[ -z ${PEER_OK[iperf3]-} ]]; then
    skip_row "stream throughput: framing vs iperf3" "iperf3 missing"
    return 0
  fi
  progress "stream: netlab-framing-client --codec length --one-way vs iperf3 (one way)"
  local a="" b="" i out iport ipid secs bytes
  start_netlab framing "$BIN/netlab-framing-server" --codec length --one-way --max-frame $((FRAME_SIZE * 2))
  iport=$(free_port)
  start_peer "$iport" iperf3 -s -B 127.0.0.1 -p "$iport" ||
    { skip_row "stream throughput" "iperf3 server did not start"; stop_server "$SRV_PID"; return 0; }
  ipid=$PEER_PID
  for ((i = 0; i < PAIRS; i++)); do
    out=$WORK/framing.json
    bounded /dev/null "$BIN/netlab-framing-client" --port "$SRV_PORT" --codec length --one-way \
      --messages "$FRAMES" --min-size "$FRAME_SIZE" --max-size "$FRAME_SIZE" --json "$out" --log-level warn || true
    # Counted only when the server's tally (frames, sizes, CRC-32) matched ours.
    [[ $(jget "$out" /checks/0/verdict 2>/dev/null || true) == confirmed ]] || { rm -f "$out"; continue; }
    secs=$(jget "$out" /observed/seconds 2>/dev/null || true)
    bytes=$(jget "$out" /observed/payload_bytes 2>/dev/null || true)
    sample a "$(awk -v b="$bytes" -v s="$secs" 'BEGIN { if (s > 0) printf "%.6g", b / s / 1e6 }')"
    rm -f "$out"
    out=$WORK/iperf3.json
    bounded "$out" iperf3 -c 127.0.0.1 -p "$iport" -t "$DUR" -J || true
    sample b "$(awk -v x="$(jget "$out" /end/sum_received/bits_per_second 2>/dev/null || true)" \
      'BEGIN { if (x > 0) printf "%.6g", x / 8 / 1e6 }')"
  done
  release_pid "$ipid" TERM || true
  stop_server "$SRV_PID"
  row "stream throughput: framing --codec length, ${FRAME_SIZE}-byte frames vs iperf3 -t $DUR, one stream" "MB/s" \
    "netlab one-way (server counts and checksums)" "$a" "iperf3" "$b" \
    "payload MB/s, both one way: the framing server decodes every frame and tallies its size and CRC-32C (the client does the same for what it sends), iperf3 only counts$(failnote)"
}

# --- (5) UDP -----------------------------------------------------------------

bench_udp() {
  if [[ -z ${PEER_OK[iperf3]-} ]]; then
    skip_row "UDP: transport vs iperf3 -u" "iperf3 missing"
    return 0
  fi
  progress "UDP: netlab-transport-client --proto udp vs iperf3 -u at $UDP_RATE datagrams/s"
  local a="" b="" la="" lb="" sa="" i out iport ipid secs uniq lost pk lp bits
  start_netlab transport "$BIN/netlab-transport-server" --proto udp
  iport=$(free_port)
  start_peer "$iport" iperf3 -s -B 127.0.0.1 -p "$iport" ||
    { skip_row "UDP" "iperf3 server did not start"; stop_server "$SRV_PID"; return 0; }
  ipid=$PEER_PID
  # the same offered rate: UDP_RATE datagrams/s of UDP_SIZE payload + netlab's 32-byte header
  bits=$(((UDP_SIZE + 32) * 8 * UDP_RATE))
  for ((i = 0; i < PAIRS; i++)); do
    out=$WORK/udp.json
    bounded /dev/null "$BIN/netlab-transport-client" --port "$SRV_PORT" --proto udp --messages "$UDP_MSGS" \
      --size "$UDP_SIZE" --rate "$UDP_RATE" --json "$out" --log-level warn || true
    secs=$(jget "$out" /observed/udp/send_seconds 2>/dev/null || true)
    uniq=$(jget "$out" /observed/udp/server/unique 2>/dev/null || true)
    lost=$(jget "$out" /observed/udp/server/lost 2>/dev/null || true)
    sample a "$(awk -v u="$uniq" -v s="$secs" 'BEGIN { if (s > 0) printf "%.6g", u / s }')"
    sa="$sa $(awk -v n="$UDP_MSGS" -v s="$secs" 'BEGIN { if (s > 0) printf "%.6g", n / s }')"
    la="$la $(awk -v l="$lost" -v n="$UDP_MSGS" 'BEGIN { if (l != "") printf "%.4g", 100 * l / n }')"
    rm -f "$out"
    out=$WORK/iperf3u.json
    bounded "$out" iperf3 -u -c 127.0.0.1 -p "$iport" -t "$DUR" -l $((UDP_SIZE + 32)) -b "$bits" -J || true
    pk=$(jget "$out" /end/sum/packets 2>/dev/null || true)
    lp=$(jget "$out" /end/sum/lost_packets 2>/dev/null || true)
    secs=$(jget "$out" /end/sum/seconds 2>/dev/null || true)
    sample b "$(awk -v p="$pk" -v l="$lp" -v s="$secs" 'BEGIN { if (s > 0) printf "%.6g", (p - l) / s }')"
    lb="$lb $(awk -v p="$pk" -v l="$lp" 'BEGIN { if (p > 0) printf "%.4g", 100 * l / p }')"
  done
  release_pid "$ipid" TERM || true
  stop_server "$SRV_PID"
  local mla mlb msa
  read -r _ msa _ <<<"$(stats "$sa")"
  read -r _ mla _ <<<"$(stats "$la")"
  read -r _ mlb _ <<<"$(stats "$lb")"
  row "UDP: transport --proto udp vs iperf3 -u, offered $UDP_RATE datagrams/s of $((UDP_SIZE + 32)) bytes" \
    "delivered datagrams/s" "netlab, $UDP_MSGS messages" "$a" "iperf3 -u -t $DUR" "$b" \
    "loss % (median): netlab $(fmt "$mla"), iperf3 $(fmt "$mlb"); netlab's own send rate (median) $(fmt "$msa") datagrams/s: below the offered rate means the sender, not the receiver, is the limit$(failnote)"
}

# --- (7) capture facts ----------------------------------------------------------

# make_capture MB FILE: iperf3 on a loopback captured by tcpdump -s 128 until
# FILE holds MB megabytes. As root, in a network namespace of its own
# (unshare -n) whose loopback has MTU 1500 and segmentation offloads off, so
# that every segment is a packet (on the host's loopback TSO/GSO hand tcpdump
# 64 KB segments: 20 times fewer packets per byte); the host's loopback and
# other people's traffic are left alone.
make_capture() {
  local mb=$1 file=$2 script=$WORK/capture.sh
  cat >"$script" <<'EOS'
set -u
mb=$1 file=$2 port=$3 ns=$4
if [ "$ns" = 1 ]; then
  ip link set lo up && ip link set lo mtu 1500 && { ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || true; }
fi
tcpdump -i lo -s 128 -B 65536 -w "$file" "tcp port $port" 2>"$file.log" & td=$!
for i in $(seq 100); do grep -q listening "$file.log" 2>/dev/null && break; sleep 0.05; done
iperf3 -s -1 -B 127.0.0.1 -p "$port" >/dev/null 2>&1 & srv=$!
sleep 0.3
iperf3 -c 127.0.0.1 -p "$port" -t 600 >/dev/null 2>&1 & cli=$!
while kill -0 "$cli" 2>/dev/null && [ "$(stat -c %s "$file" 2>/dev/null || echo 0)" -lt $((mb * 1000000)) ]; do sleep 0.1; done
kill "$cli" 2>/dev/null; wait "$cli" 2>/dev/null
kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
kill "$td"; wait "$td"
EOS
  local ns=0 port
  port=$(free_port)
  if ((EUID == 0)) && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
    ns=1
    run_child timeout -k 5 900 unshare -n sh "$script" "$mb" "$file" 5201 "$ns"
  else
    run_child timeout -k 5 900 sh "$script" "$mb" "$file" "$port" "$ns"
  fi
}

# timed OUT CMD...: runs CMD (stdout to OUT), prints "<seconds> <peak RSS KB>".
timed() {
  local out=$1
  shift
  /usr/bin/time -o "$WORK/time.out" -f '%e %M' "$@" >"$out" 2>/dev/null || return 0
  cat "$WORK/time.out"
}

bench_pcap() {
  if ! command -v tshark >/dev/null || ! command -v tcpdump >/dev/null || [[ -z ${PEER_OK[iperf3]-} ]]; then
    skip_row "capture facts: netlab-pcap facts vs tshark" "tshark, tcpdump or iperf3 missing (scripts/setup.sh installs tshark)"
    return 0
  fi
  if ((EUID != 0)); then
    skip_row "capture facts: netlab-pcap facts vs tshark" "not root: tcpdump cannot capture"
    return 0
  fi
  [[ -x /usr/bin/time ]] || { skip_row "capture facts" "no /usr/bin/time (Debian package time) for peak memory"; return 0; }
  local mb file pairs i a b ma mt packets size t mem
  for mb in $PCAP_MB; do
    file=$WORK/capture-$mb.pcap
    progress "capture facts: making a $mb MB capture (iperf3, tcpdump -s 128)"
    make_capture "$mb" "$file" || true
    [[ -s $file ]] || { skip_row "capture facts: $mb MB" "the capture could not be made (see $file.log)"; continue; }
    size=$(stat -c %s "$file")
    packets=$("$BIN/netlab-pcap" facts "$file" --get /frames 2>/dev/null || echo "?")
    pairs=$PAIRS
    ((mb < 100)) || pairs=1  # tshark needs minutes (and GBs) on the big one
    a="" b="" ma="" mt=""
    progress "capture facts: netlab-pcap facts vs tshark -Y tcp.analysis.flags, $(fmt "$((size / 1000000))") MB, $pairs pair(s)"
    for ((i = 0; i < pairs; i++)); do
      read -r t mem <<<"$(timed "$WORK/facts.json" "$BIN/netlab-pcap" facts "$file")"
      sample a "$t"
      ma="$ma $mem"
      read -r t mem <<<"$(timed "$WORK/tshark.out" tshark -n -r "$file" -Y tcp.analysis.flags -T fields -e frame.number)"
      sample b "$t"
      mt="$mt $mem"
    done
    local ours_retrans theirs_flagged med_ma med_mt
    ours_retrans=$(jget "$WORK/facts.json" /retransmissions 2>/dev/null || echo "?")
    theirs_flagged=$(wc -l <"$WORK/tshark.out")
    read -r _ _ med_ma <<<"$(stats "$ma")"
    read -r _ _ med_mt <<<"$(stats "$mt")"
    row "capture facts: netlab-pcap facts vs tshark -Y tcp.analysis.flags, $(fmt "$(awk -v s="$size" 'BEGIN { print s / 1e6 }')") MB ($packets packets)" "s" \
      "netlab-pcap facts" "$a" "tshark" "$b" \
      "ratio < 1: netlab faster (speed = 1/ratio x tshark's); peak RSS (max): netlab $(fmt "$(awk -v k="$med_ma" 'BEGIN { print k / 1024 }')") MB, tshark $(fmt "$(awk -v k="$med_mt" 'BEGIN { print k / 1024 }')") MB; iperf3 on a loopback with MTU 1500 and offloads off (its own netns), tcpdump -s 128; retransmissions (netlab) $ours_retrans, frames tshark flags $theirs_flagged$(failnote)"
    rm -f "$file" "$WORK/tshark.out"
  done
}

# --- (6) tour and build --------------------------------------------------------

bench_walltime() {
  if [[ $MODE == smoke ]]; then
    skip_row "tour and build wall time" "not in --smoke"
    return 0
  fi
  local t0 t1 status=0 labs lab prog absent=""
  labs=$(NETLAB_BIN_DIR=$BIN "$NETLAB_ROOT/scripts/lab" list 2>/dev/null | awk '{ print $1 }' | grep -E '^[a-z]+$' || true)
  for lab in $labs; do
    for prog in "netlab-$lab-server" "netlab-$lab-client" netlab-pcap; do
      [[ -x $BIN/$prog ]] || absent="$absent $prog"
    done
  done
  local tour_args=()
  grep -q -- '--quick' "$NETLAB_ROOT/scripts/lab" && tour_args=(--quick)
  if [[ -n $absent ]]; then
    skip_row "wall time: scripts/lab tour ${tour_args[*]}" "not built in $BIN:$absent (scripts/setup.sh --preset release)"
  else
    progress "wall time: scripts/lab tour ${tour_args[*]}"
    t0=$(date +%s.%N)
    NETLAB_BIN_DIR=$BIN NETLAB_RUNS_DIR=$WORK/runs run_child timeout -k 10 900 \
      "$NETLAB_ROOT/scripts/lab" tour "${tour_args[@]}" >"$WORK/tour.log" 2>&1 || status=$?
    t1=$(date +%s.%N)
    row "wall time: scripts/lab tour ${tour_args[*]}" "s" "tour" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
      "target" "120" "one run; exit status $status; target tour --quick <= 120 s"
  fi
  if [[ $MODE == full && -z $NO_BUILD ]]; then
    progress "wall time: a clean Release build with -j2"
    status=0
    t0=$(date +%s.%N)
    # No ccache: a clean build compiles every file.
    { CCACHE_DISABLE=1 cmake -S "$NETLAB_ROOT" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
      CCACHE_DISABLE=1 run_child timeout -k 10 3600 cmake --build "$WORK/build" -j2 >/dev/null; } 2>"$WORK/build.err" || status=$?
    t1=$(date +%s.%N)
    rm -rf "$WORK/build"
    row "wall time: clean build, cmake --build -j2 (Release)" "s" "build" \
      "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" "-" "" "one run; exit status $status"
  else
    skip_row "wall time: clean build -j2" "only without --quick/--smoke/--no-build"
  fi
}

# --- (6b) a new user's first run -------------------------------------------------
# From a fresh clone of this repository's HEAD, with the packages installed and
# no ccache (a new user has none): `scripts/lab tour --quick` until its first
# verdict line, the build part read from setup.sh's own "built in N s" line;
# then a clean build of every target (tests included) of the default preset.

readonly FIRST_RUN_LIMIT=1800
# A verdict line of `netlab-report table` (the tour prints it under each lab):
# the check id, two spaces, the verdict, two spaces.
readonly VERDICT_LINE='^([^ ]+  +)?[a-z0-9._-]+  +(confirmed|refuted|nuanced|fact)  '

# first_verdict CLONE: runs the tour there; sets FR_VERDICT (s to the first
# verdict line, or "") and FR_BUILD (setup.sh's "built in N s", or ""), FR_STATUS.
first_verdict() {
  local clone=$1 out=$WORK/first-run.txt pid t0 i line
  FR_VERDICT="" FR_BUILD="" FR_STATUS=0
  t0=$EPOCHREALTIME
  # --foreground: a stop reaches scripts/lab alone, whose own cleanup stops its
  # lab (a signal to the whole group, then KILL after -k, once left a lab's
  # namespaces behind when its cleanup was slow on a loaded machine).
  (cd "$clone" && exec timeout --foreground -k 120 "$FIRST_RUN_LIMIT" env -u CMAKE_CXX_COMPILER_LAUNCHER -u NETLAB_BIN_DIR \
    NETLAB_RUNS_DIR="$WORK/first-runs" "${FIRST_RUN_ENV[@]}" scripts/lab tour --quick --lang en) >"$out" 2>&1 </dev/null &
  pid=$!
  register_pid "$pid" TERM
  # Polled every 0.5 s, bounded by the limit (the tour is killed by timeout then).
  for ((i = 0; i < 2 * FIRST_RUN_LIMIT + 60; i++)); do
    if line=$(grep -m1 -E "$VERDICT_LINE" "$out"); then
      FR_VERDICT=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
      progress "first verdict after $FR_VERDICT s: $line"
      break
    fi
    pid_running "$pid" || break
    sleep 0.5
  done
  FR_BUILD=$(sed -n 's/^.*built in \([0-9]*\) s$/\1/p' "$out" | head -n 1)
  # The rest of the tour is not timed: stopped as a user would (its cleanup runs).
  if pid_running "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || FR_STATUS=$?
  [[ -n $FR_VERDICT ]] || { warn "no verdict line from the first run; its end:"; tail -n 20 "$out" >&2; }
}

bench_first_run() {
  local explicit=0 clone note
  [[ ,$ONLY, == *,firstrun,* ]] && explicit=1
  if ((!explicit)) && [[ $MODE != full || -n $NO_BUILD ]]; then
    skip_row "first run: fresh clone to the first verdict of scripts/lab tour --quick" \
      "only without --quick/--smoke/--no-build, or with --only firstrun"
    return 0
  fi
  local -a FIRST_RUN_ENV=(CCACHE_DISABLE=1 ${NETLAB_BENCH_FIRSTRUN_LAUNCHER:+CMAKE_CXX_COMPILER_LAUNCHER="$NETLAB_BENCH_FIRSTRUN_LAUNCHER"})
  note="no ccache, -j$(nproc)"
  clone=$WORK/clone
  [[ $MODE != smoke ]] || note="--smoke: the programs copied from $BIN, no build, so NOT a first run's time (the mechanics only)"
  progress "first run: git clone of HEAD into $clone, then scripts/lab tour --quick ($note)"
  fresh_clone "$clone"
  if [[ $MODE == smoke ]]; then
    [[ -x $BIN/netlab-report ]] || die "--smoke --only firstrun copies the programs from $BIN: build them first (or set NETLAB_BENCH_BIN_DIR)"
    mkdir -p "$clone/build/default/bin"
    cp -- "$BIN"/netlab-* "$clone/build/default/bin/"
  fi
  first_verdict "$clone"
  row "first run: fresh clone to the first verdict of scripts/lab tour --quick" "s" "first verdict" \
    "${FR_VERDICT:-nan}" "goal" "300" "one run, $note; tour stopped after it (status $FR_STATUS)"
  row "first run: its build part before the first lab (the first lab's programs; the rest builds beside the tour)" "s" "build" \
    "${FR_BUILD:-nan}" "-" "" "one run, $note; setup.sh's own 'built in N s'"
  rm -rf -- "$clone"
}

# fresh_clone DIR: this repository's HEAD cloned into DIR (no hardlinks: a new user's files).
fresh_clone() {
  if ! git clone --quiet --no-hardlinks "$NETLAB_ROOT" "$1" ||
    ! git -C "$1" checkout --quiet --detach "$(git -C "$NETLAB_ROOT" rev-parse HEAD)"; then
    die "git clone of $NETLAB_ROOT into $1 failed"
  fi
}

# A clean build of every target (tests included) of the default preset, in a
# fresh clone, no ccache: before, ~570 s (issue 20).
bench_clean_build() {
  local clone=$WORK/clone-build t0 status=0 name
  name="wall time: clean build of every target, cmake --build -j$(nproc) (default preset)"
  if [[ ,$ONLY, != *,cleanbuild,* ]] && [[ $MODE != full || -n $NO_BUILD ]]; then
    skip_row "$name" "only without --quick/--smoke/--no-build, or with --only cleanbuild"
    return 0
  fi
  progress "a clean build of every target of the default preset in a fresh clone (-j$(nproc), no ccache)"
  fresh_clone "$clone"
  t0=$EPOCHREALTIME
  (cd "$clone" && env -u CMAKE_CXX_COMPILER_LAUNCHER CCACHE_DISABLE=1 cmake --preset default >/dev/null &&
    exec env -u CMAKE_CXX_COMPILER_LAUNCHER CCACHE_DISABLE=1 timeout -k 10 "$FIRST_RUN_LIMIT" \
      cmake --build --preset default -j"$(nproc)" >"$WORK/clean-default.log" 2>&1) || status=$?
  row "$name" "s" "build" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" "before" "570" \
    "one run, no ccache; exit status $status; before: ~570 s (issue 20)"
  rm -rf -- "$clone"
}

# --- (7) netlab-wire -----------------------------------------------------------
# The wire's cost and accuracy, between namespaces this script makes: iperf3
# and ping through netlab-wire against the same through a direct veth pair
# (the same offloads off); then the wire's --rate and --delay against what
# they were told. Root only: a bench is run as root (without it, skipped).

# Two namespaces joined straight by veth, as netns.sh does through the wire.
direct_pair_up() {
  local suffix
  suffix=$(printf '%04x%04x' "$RANDOM" "$RANDOM")
  DIRECT_A=netlab-bench-a-$suffix DIRECT_B=netlab-bench-b-$suffix
  netns_add "$DIRECT_A"
  netns_add "$DIRECT_B"
  netns_veth "$DIRECT_A" nlda "$DIRECT_B" nldb
  ip -n "$DIRECT_A" addr add "$NETLAB_CLIENT_ADDR/24" dev nlda
  ip -n "$DIRECT_B" addr add "$NETLAB_SERVER_ADDR/24" dev nldb
}

# iperf3 Gbit/s from CLIENT_NS to SERVER_NS (each given as "ip netns exec NS").
iperf_gbit() {
  local client=$1 server=$2 port out pid
  port=$(free_port)
  $server iperf3 -s -1 -B "$NETLAB_SERVER_ADDR" -p "$port" >"$WORK/iperf-s.log" 2>&1 </dev/null &
  pid=$!
  register_pid "$pid" TERM
  for ((i = 0; i < 50; i++)); do $server ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break; sleep 0.1; done
  out=$WORK/iperf-wire.json
  bounded "$out" $client iperf3 -c "$NETLAB_SERVER_ADDR" -p "$port" -t "$DUR" -J || true
  release_pid "$pid" TERM || true
  awk -v x="$(jget "$out" /end/sum_received/bits_per_second 2>/dev/null || true)" 'BEGIN { if (x > 0) printf "%.6g", x / 1e9 }'
}

# The median ping RTT in ms from CLIENT_NS ("ip netns exec NS").
ping_ms() {
  local client=$1 count=$2
  $client timeout 60 ping -n -q -c "$count" -i 0.01 "$NETLAB_SERVER_ADDR" >/dev/null 2>&1 || true
  $client timeout 60 ping -n -c "$count" -i 0.01 "$NETLAB_SERVER_ADDR" 2>/dev/null |
    sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.6g", v[int((NR + 1) / 2)] }'
}

bench_wire() {
  local reason=""
  ((EUID == 0)) || reason="not root: the wire rows make network namespaces (run the bench as root)"
  [[ -n $reason || -n ${PEER_OK[iperf3]-} ]] || reason="iperf3 missing"
  [[ -n $reason || -n ${PEER_OK[ping]-} ]] || reason="ping missing (iputils-ping)"
  [[ -n $reason ]] || reason=$(netns_blocker)
  if [[ -n $reason ]]; then
    skip_row "netlab-wire rows" "$reason"
    return 0
  fi
  local a="" b="" i wire direct n=100 rate_kbit=20000 delay_ms=20
  [[ $MODE != smoke ]] || n=20
  progress "netlab-wire: iperf3 and ping through the wire vs a direct veth pair"
  NETLAB_RUN=$WORK
  netns_path_up
  direct_pair_up
  wire="${NETLAB_IN_CLIENT[*]}"
  direct="ip netns exec $DIRECT_A"
  wire_start bench-plain
  for ((i = 0; i < PAIRS; i++)); do
    sample a "$(iperf_gbit "$wire" "${NETLAB_IN_SERVER[*]}")"
    sample b "$(iperf_gbit "$direct" "ip netns exec $DIRECT_B")"
  done
  row "netlab-wire: forwarding throughput, no impairment (iperf3 -t $DUR)" "Gbit/s" "through netlab-wire" "$a" \
    "direct veth pair" "$b" "the same offloads off on both paths (MSS-sized frames); target: ratio >= 0.5$(failnote)"
  a="" b=""
  for ((i = 0; i < PAIRS; i++)); do
    sample a "$(ping_ms "$wire" "$n")"
    sample b "$(ping_ms "$direct" "$n")"
  done
  row "netlab-wire: round trip, no impairment (ping -c $n -i 0.01, median)" "ms" "through netlab-wire" "$a" \
    "direct veth pair" "$b" "added round trip = the difference of the medians; target: <= 0.1 ms$(failnote)"
  wire_stop
  wire_start bench-rate --rate "$rate_kbit" --queue 66
  a="" b=""
  for ((i = 0; i < PAIRS; i++)); do
    sample a "$(iperf_gbit "$wire" "${NETLAB_IN_SERVER[*]}")"
    sample b "$(awk -v r="$rate_kbit" 'BEGIN { printf "%.6g", r / 1e6 }')"
  done
  row "netlab-wire: --rate $rate_kbit kbit/s (iperf3 goodput through it)" "Gbit/s" "iperf3 through the wire" "$a" \
    "the rate it was given" "$b" "goodput over the whole run (slow start included) against the configured rate; target: ratio >= 0.9$(failnote)"
  wire_stop
  wire_start bench-delay --delay "$delay_ms"
  a="" b=""
  for ((i = 0; i < PAIRS; i++)); do
    sample a "$(ping_ms "$wire" "$n")"
    sample b "$((2 * delay_ms))"
  done
  row "netlab-wire: --delay $delay_ms ms each way (ping median RTT)" "ms" "ping through the wire" "$a" \
    "2 x the delay" "$b" "target: within 2D +- 1 ms$(failnote)"
  wire_stop
}

# --- main ----------------------------------------------------------------------

peers
programs
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
wanted timewait && bench_timewait
wanted http && bench_http
wanted h2 && bench_h2
wanted slow && bench_slow
wanted rpc && bench_rpc
wanted stream && bench_stream
wanted udp && bench_udp
wanted wire && bench_wire
wanted pcap && bench_pcap
wanted walltime && bench_walltime
wanted firstrun && bench_first_run
wanted cleanbuild && bench_clean_build

say "## netlab bench ($MODE: $PAIRS pair(s) per row, netlab and peer alternated; $STARTED, $(nproc) CPU(s), kernel $(uname -r))"
say ""
say "Each side: min / **median** / max. Ratio: median netlab / median peer."
say ""
say "| row | netlab | peer | unit | ratio | note |"
say "|---|---|---|---|---|---|"
for r in "${ROWS_MD[@]}"; do say "$r"; done

if [[ -n $JSON_OUT ]]; then
  {
    printf '{"tool":"netlab-bench","mode":"%s","pairs":%d,"started_utc":"%s","cpus":%d,"kernel":%s,"checks":[],"rows":[' \
      "$MODE" "$PAIRS" "$STARTED" "$(nproc)" "$(jstr "$(uname -r)")"
    (IFS=,; printf '%s' "${ROWS_JSON[*]}")
    printf ']}\n'
  } >"$JSON_OUT"
fi
