#!/usr/bin/env bash
# Test: `scripts/lab http --port 0 -- --requests 50` runs the tour and the
# keep-alive / close comparison and writes its run folder. What clients do with
# the codes is graded by the server that counted their requests: curl --anyauth
# and the lab's client sent credentials only after a 401, did not retry a 403 and
# followed a 301 (server-auth.json: the counts per route); keep-alive uses
# one connection and close 50, each leaving its TIME_WAIT on the side that
# closed first; curl (when installed) got the same codes, and the caching
# step's verdicts (304, 206, gzip) follow curl's figures in curl-cache.tsv;
# as root with tcpdump, capture.pcap holds the plain-text exchanges. Through a gateway (curl-gateway.tsv)
# curl got 200 with Via, 502 (garbage, upstream down), 504 (slow), 503 with
# Retry-After (at --max-connections), each gateway-* verdict following its row.
# Head-of-line blocking (the hol step, which must run as root): the verdict of
# h2-hol-blocking-on-loss follows h2load's logs and the wire's drop counts,
# re-read here without the client.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SKIPPED=""

# client.json merges the client's result (step 0) and the auth-flow server's (step 1).
value() { "$BIN/netlab-report" get "$RUN/client.json" "/observed/steps/0${1}"; }

check_files() {
  check_run_files server.log client.json client.txt curl.txt ss.csv env.txt summary.md server-auth.json client-auth.txt
  check_ss_sampled
  grep -q '403-forbidden' "$RUN/summary.md" || fail "summary.md lacks the 403 check"
  grep -q 'HTTP/1.1 401 Unauthorized' "$TMP/out.txt" || fail "the tour was not printed"
  grep -q 'WWW-Authenticate: Basic realm="netlab"' "$TMP/out.txt" || fail "the 401 challenge was not printed"
  echo "ok: run folder files"
}

check_verdicts() {
  local id
  for id in status-codes 401-unauthenticated 403-forbidden keepalive-reuses-connection close-leaves-server-time-wait \
    http-keep-alive-is-not-tcp-keepalive; do
    [[ $(verdict "$id") == confirmed ]] || fail "$id is $(verdict "$id")"
    echo "ok: $id confirmed"
  done
  # The server's own counts of the auth flow: each asker (curl when installed, the
  # lab's client) once without and once with credentials, on each protected route.
  local askers=1 route counted
  command -v curl >/dev/null && askers=2
  for route in private admin; do
    for counted in without_credentials with_credentials; do
      [[ $("$BIN/netlab-report" get "$RUN/server-auth.json" "/observed/requests_by_route/~1$route/$counted") == "$askers" ]] ||
        fail "the server counted $("$BIN/netlab-report" get "$RUN/server-auth.json" "/observed/requests_by_route/~1$route/$counted") requests $counted on /$route, not $askers"
    done
  done
  echo "ok: the server saw /private and /admin $askers time(s) without, then $askers with credentials"
  [[ $(value /observed/keepalive/connections) == 1 ]] || fail "keep-alive used $(value /observed/keepalive/connections) connections"
  [[ $(value /observed/close/connections) == 50 ]] || fail "close used $(value /observed/close/connections) connections"
  [[ $(value /observed/close/time_wait_server_side) == 50 ]] ||
    fail "close left $(value /observed/close/time_wait_server_side) server-side TIME_WAIT, not 50"
  [[ $(value /observed/keepalive/time_wait_client_side) == 1 ]] || fail "keep-alive did not leave its one client TIME_WAIT"
  echo "ok: keep-alive 1 connection, close 50, TIME_WAIT on the closer's side"
  # HTTP keep-alive reused that one connection with TCP keep-alive off on both ends.
  [[ $(value /observed/keepalive/so_keepalive_ours) == false && $(value /observed/keepalive/keepalive_timer_server) == false ]] ||
    fail "keep-alive: SO_KEEPALIVE $(value /observed/keepalive/so_keepalive_ours), server keep-alive timer $(value /observed/keepalive/keepalive_timer_server)"
  echo "ok: HTTP keep-alive's connection: SO_KEEPALIVE off on ours, no keep-alive timer on the server's"
}

# curl_status ARGS: the status code curl got for the request `curl -s -i ARGS`
# (the first status line after that command in curl.txt), or "" if none.
curl_status() {
  awk -v ask="\$ curl -s -i $1" '
    $0 == ask { inside = 1; next }
    inside && /^\$ curl / { exit }
    inside && /^HTTP\// { print $2; exit }
  ' "$RUN/curl.txt"
}

# Each request curl made, and the code that request must get (not merely
# each status line somewhere in the file).
check_curl() {
  if ! command -v curl >/dev/null; then
    echo "skipped: curl is not installed (scripts/setup.sh installs it)"
    SKIPPED="curl is not installed: the curl part did not run"
    return 0
  fi
  local url ask want got
  url="http://127.0.0.1:$(<"$RUN/port")"
  local -a asks=(
    "$url/=200" "$url/old=301" "$url/missing=404" "-X POST $url/=405" "$url/private=401"
    "-u alice:wrong $url/private=401" "-u alice:wonderland $url/private=200"
    "-u alice:wonderland $url/admin=403" "-u admin:secret $url/admin=200"
  )
  for ask in "${asks[@]}"; do
    want=${ask##*=}
    got=$(curl_status "${ask%=*}")
    [[ $got == "$want" ]] || fail "curl -i ${ask%=*} got '${got:-no status line}', not $want"
  done
  echo "ok: curl got the expected code for each of ${#asks[@]} requests"
}

# The status classes as curl met them (the status-classes step), graded by the
# lab's client from curl-status.tsv: each check confirmed, and the rows it read.
check_status_classes() {
  command -v curl >/dev/null || return 0
  local id
  for id in redirect-303-becomes-get redirect-307-keeps-post expect-100-continue; do
    [[ $(verdict "$id") == confirmed ]] || fail "$id is $(verdict "$id")"
  done
  # What the lab's own server decides (its Host rule, its parser): facts.
  for id in host-required-400 cl-te-conflict-400; do
    [[ $(verdict "$id") == fact ]] || fail "$id is $(verdict "$id")"
  done
  grep -q $'^fail\t0\t500\t' "$RUN/curl-status.tsv" || fail "curl did not get 500 from /fail"
  grep -q $'^expect-large\t2000000\t413\t0\t' "$RUN/curl-status.tsv" ||
    fail "the 2 MB body with curl's own Expect was not refused before it was sent"
  echo "ok: the status classes through curl (3 checks confirmed, 2 facts, /fail 500, 2 MB refused with 0 bytes uploaded)"
}

# cache_field COLUMN NAME: a column of curl-cache.tsv's row NAME (2 code,
# 3 size_download, 4 size_header, 5 Content-Range, 6 Content-Encoding, 7 SHA-256).
cache_field() { awk -F'\t' -v name="$2" -v column="$1" '$1 == name { print $column; exit }' "$RUN/curl-cache.tsv"; }

# cache_verdict ID HOLDS: what curl-cache.tsv says (HOLDS 1: the claim held
# in curl's figures, read here without the client) is what the check says, in
# client.json and in summary.md's row.
cache_verdict() {
  local id=$1 holds=$2 got
  got=$(verdict "$id")
  grep -qF "(\`$id\`, cache) | **$got**" "$RUN/summary.md" || fail "summary.md does not show $id as $got"
  ((holds)) || fail "curl-cache.tsv does not show $id holding: $(tr '\t\n' ' ;' <"$RUN/curl-cache.tsv")"
  [[ $got == confirmed ]] || fail "$id is $got, though curl-cache.tsv shows it holding"
}

# Caching, ranges and gzip as curl met them (the caching step), graded by the
# lab's client from curl-cache.tsv: each verdict follows curl's own figures.
check_caching() {
  command -v curl >/dev/null || return 0
  local holds=0 length plain compressed
  [[ $(cache_field 2 etag) == 200 && $(cache_field 3 etag) -gt 0 ]] &&
    [[ $(cache_field 2 etag-if-none-match) == 304 && $(cache_field 3 etag-if-none-match) == 0 ]] &&
    [[ $(cache_field 2 etag-if-modified-since) == 304 && $(cache_field 3 etag-if-modified-since) == 0 ]] && holds=1
  cache_verdict etag-304-saves-bytes "$holds"
  holds=0
  length=$(cache_field 3 range-full)
  [[ $(cache_field 2 range-0-99) == 206 && $(cache_field 3 range-0-99) == 100 ]] &&
    [[ $(cache_field 5 range-0-99) == "bytes 0-99/$length" && $(cache_field 2 range-past-end) == 416 ]] &&
    [[ $(cache_field 5 range-past-end) == "bytes */$length" ]] && holds=1
  cache_verdict range-206 "$holds"
  holds=0
  plain=$(($(cache_field 3 gzip-plain) + $(cache_field 4 gzip-plain)))
  compressed=$(($(cache_field 3 gzip-compressed) + $(cache_field 4 gzip-compressed)))
  [[ $(cache_field 6 gzip-compressed) == gzip && $(cache_field 7 gzip-compressed) == "$(cache_field 7 gzip-plain)" ]] &&
    ((compressed < plain)) && holds=1
  cache_verdict gzip-smaller-on-wire "$holds"
  echo "ok: caching through curl (etag-304-saves-bytes, range-206, gzip-smaller-on-wire confirmed as curl-cache.tsv" \
    "shows: $plain bytes plain, $compressed with --compressed)"
}

# The gateway step: curl got 200 with Via, 502, 502, 504 and 503 with
# Retry-After from the gateway, and each of the four checks' verdicts follows
# its row of curl-gateway.tsv (the code and the evidence the condition was real).
check_gateway() {
  command -v curl >/dev/null || return 0
  local tsv=$RUN/curl-gateway.tsv id condition want timeout_s
  [[ -s $tsv ]] || fail "no curl-gateway.tsv"
  timeout_s=$(awk -F'\t' 'NR == 1 { print $3 / 1000 }' "$tsv")
  grep -q $'^forward\t200\t-\t.*\tVia: 1.1 netlab$' "$tsv" || fail "the forwarded request: $(grep '^forward' "$tsv")"
  for condition in down=502 garbage=502 slow=504 limit=503; do
    awk -F'\t' -v c="${condition%=*}" -v code="${condition#*=}" '$1 == c && $2 == code { found = 1 } END { exit !found }' \
      "$tsv" || fail "curl-gateway.tsv: ${condition%=*} did not get ${condition#*=}: $(grep "^${condition%=*}" "$tsv")"
  done
  for id in gateway-502-upstream-down=down gateway-502-garbage=garbage gateway-504-slow=slow \
    gateway-503-retry-after=limit; do
    condition=${id#*=}
    id=${id%=*}
    want=refuted
    awk -F'\t' -v c="$condition" -v t="$timeout_s" '$1 == c &&
      ((c == "down" && $2 == 502 && $5 == 7) || (c == "garbage" && $2 == 502 && $5 >= 1) ||
       (c == "slow" && $2 == 504 && $4 >= t && $5 >= 1) || (c == "limit" && $2 == 503 && $3 != "-" && $5 == 2)) { found = 1 }
      END { exit !found }' "$tsv" && want=fact
    [[ $(verdict "$id") == "$want" ]] || fail "$id is $(verdict "$id"), curl-gateway.tsv says $want: $(grep "^$condition" "$tsv")"
    echo "ok: $id $want, as curl-gateway.tsv's $condition row says"
  done
}

# hol_beyond LOG THRESHOLD_US: the requests of an h2load log that took THRESHOLD_US or longer.
hol_beyond() { awk -F'\t' -v t="$2" '$2 >= 0 && $3 >= t { n++ } END { print n + 0 }' "$RUN/$1"; }

# hol_delayed PROTOCOL: "delayed dropped" for PROTOCOL (h2, h1): the lossy run's requests at least
# the clean run's median (nearest rank) + half the round trip, less the clean run's; the wire's TCP drops.
hol_delayed() {
  local median threshold rtt_ms clean lossy dropped=0 direction
  rtt_ms=$(awk -F'\t' 'NR == 1 { print $3 }' "$RUN/hol.tsv")
  median=$(awk -F'\t' '$2 >= 0 { print $3 }' "$RUN/h2load-$1-clean.log" | sort -n |
    awk '{ d[NR] = $1 } END { r = int((NR + 1) / 2); print d[r] }')
  threshold=$((median + rtt_ms * 500))
  clean=$(hol_beyond "h2load-$1-clean.log" "$threshold")
  lossy=$(hol_beyond "h2load-$1-lossy.log" "$threshold")
  for direction in 'left>right' 'right>left'; do
    dropped=$((dropped + $("$BIN/netlab-report" get "$RUN/wire-hol-$1.json" "/directions/$direction/dropped/tcp")))
  done
  echo "$((lossy > clean ? lossy - clean : 0)) $dropped"
}

# The hol step ran as root (skipped, saying why, only without root), and its
# verdict is what h2load's logs and the wire's counts say.
check_hol() {
  if [[ ! -s $RUN/hol.tsv ]]; then
    if ((EUID == 0)) && command -v h2load >/dev/null; then
      fail "the hol step did not run as root: $(cat "$RUN/hol.txt" 2>/dev/null)"
    fi
    echo "skipped: the hol step: $(cat "$RUN/hol.txt" 2>/dev/null)"
    return 0
  fi
  local d2 x2 d1 x1 want=nuanced got
  read -r d2 x2 <<<"$(hol_delayed h2)"
  read -r d1 x1 <<<"$(hol_delayed h1)"
  if ((x2 >= 10 && x1 >= 10)); then
    if ((d2 * x1 <= d1 * x2)); then
      want=refuted
    elif ((2 * d2 * x1 >= 3 * d1 * x2 && d2 > d1)); then
      want=confirmed
    fi
  fi
  got=$(verdict h2-hol-blocking-on-loss)
  [[ $got == "$want" ]] ||
    fail "h2-hol-blocking-on-loss is $got; the logs say $want (HTTP/2 $d2 delayed by $x2 drops, HTTP/1.1 $d1 by $x1)"
  grep -qF "(\`h2-hol-blocking-on-loss\`, hol) | **$got**" "$RUN/summary.md" || fail "summary.md does not show h2-hol-blocking-on-loss as $got"
  grep -q 'HTTP/1.1 10x1 loss' "$TMP/out.txt" || fail "the hol table was not printed"
  echo "ok: h2-hol-blocking-on-loss $got, as the logs say: HTTP/2 $d2 requests delayed by $x2 dropped frames," \
    "HTTP/1.1 $d1 by $x1"
}

# HTTP/2 (the h2 step): the two verdicts follow h2load.tsv's figures, and the
# server's own JSON counts the h2c connections and streams behind them.
check_h2() {
  if ! command -v h2load >/dev/null; then
    SKIPPED+=" h2load is not installed (the HTTP/2 step);"
    return 0
  fi
  local tsv=$RUN/h2load.tsv holds=0 h2c h1 streams
  h2c=$(awk -F'\t' '$1 == "h2load" && $2 == "h2c" { print $3 " " $4 }' "$tsv")
  h1=$(awk -F'\t' '$1 == "h2load" && $2 == "h1" { print $3 " " $4 }' "$tsv")
  [[ ${h2c% *} == 100 && ${h1% *} == 100 ]] && ((${h2c#* } < ${h1#* })) && holds=1
  [[ $(verdict hpack-shrinks-headers) == "$( ((holds)) && echo confirmed || echo refuted)" ]] ||
    fail "hpack-shrinks-headers is $(verdict hpack-shrinks-headers), h2load.tsv: $(tr '\t\n' ' ;' <"$tsv")"
  ((holds)) || fail "h2load.tsv does not show HPACK shrinking the headers: $(tr '\t\n' ' ;' <"$tsv")"
  streams=$(awk -F'\t' '$1 == "connection" { printf "%s%s", sep, $2; sep = "," }' "$tsv")
  [[ $streams == 100,10 ]] || fail "the server's h2c connections carried $streams streams, not 100,10"
  [[ $(verdict h2-one-connection-many-streams) == confirmed ]] ||
    fail "h2-one-connection-many-streams is $(verdict h2-one-connection-many-streams)"
  [[ $("$BIN/netlab-report" get "$RUN/server-h2.json" /observed/h2/connections) == 2 &&
    $("$BIN/netlab-report" get "$RUN/server-h2.json" /observed/h2/streams) == 110 ]] ||
    fail "server-h2.json does not count 2 h2c connections and 110 streams"
  echo "ok: HTTP/2: header bytes h2c ${h2c#* } < HTTP/1.1 ${h1#* } for 100 requests; 100 and 10 streams on one" \
    "connection each (hpack-shrinks-headers, h2-one-connection-many-streams confirmed)"
}

check_capture() {
  capture_to_check capture.pcap || return 0
  local port seen
  port=$(<"$RUN/port")
  seen=$(capture_count "$port" 'HTTP/1.1 403 Forbidden')
  ((seen > 0)) || fail "capture.pcap does not show the 403 response on port $port"
  echo "ok: capture.pcap holds the exchanges on port $port (403 seen $seen times)"
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  run_lab http --port 0 -- --requests 50
  check_files
  check_verdicts
  check_curl
  check_status_classes
  check_caching
  check_gateway
  check_h2
  check_hol
  check_capture
  if [[ -n $SKIPPED ]]; then
    echo "skipped: $SKIPPED"
    exit 77
  fi
}

main "$@"
