#!/usr/bin/env bash
# lab-note: http code / http header
# lab-order: 7
# lab-port: 7080
# lab-netns: the hol step runs h2load across netlab-wire between namespaces: without root, in a user
#     namespace
# lab-programs: netlab-wire
# lab-claim: the note (http code): 401 who are you, 403 I know you and you may not; its http header
#     section is empty. Asked next: the other codes, and keep-alive reusing one connection.
# lab-claim-zh: 笔记（http code）：401 你是谁，403 我认识你但你不行；它的 http header 一节是空的。
#     追问：其他状态码，以及 keep-alive 复用一个连接。
# lab-run: curl --anyauth and the lab's client asking protected routes as a browser does, counted by
#     the server; a tour of the routes; curl through redirects, without Host, with Content-Length and
#     Transfer-Encoding, with Expect: 100-continue; conditional GETs, ranges and --compressed; then N
#     requests with keep-alive and with Connection: close; then curl through a gateway to an upstream
#     that answers, sends garbage, is slow, is down, and at the limit; then HTTP/2 (h2c): the same 100
#     requests with h2load over h2c and over HTTP/1.1, and nghttp with 10 URLs at once; last, h2load
#     across a lossy wire: one HTTP/2 connection with 10 streams against 10 HTTP/1.1 connections
# lab-run-zh: curl --anyauth 和实验客户端像浏览器一样请求受保护的路由，由服务端计数；走一遍各个路由；
#     用 curl 走各种重定向、不带 Host、同时带 Content-Length 和 Transfer-Encoding、带 Expect: 100-continue；
#     条件请求、Range 和 --compressed；
#     再分别用 keep-alive 和 Connection: close 发 N 个请求；再用 curl 经网关访问上游：正常、回乱码、太慢、挂掉、到连接上限；
#     然后是 HTTP/2（h2c）：同样 100 个请求用 h2load 分别走 h2c 和 HTTP/1.1，再用 nghttp 同时取 10 个 URL；
#     最后用 h2load 跨过丢包的线路：一条 HTTP/2 连接上 10 个流，对比 10 条 HTTP/1.1 连接
# lab-look: which requests the server saw, in order (credentials only after a 401, no retry of a
#     403); status lines and the headers that matter; connections opened; TIME-WAIT left
# lab-look-zh: 服务端按顺序看到的请求（收到 401 之后才带凭据，403 不重试）；状态行和关键的头；
#     打开的连接数；剩下的 TIME-WAIT
#
# The http lab: every status code the note lists, produced by a real HTTP/1.1
# server (Boost.Beast) and read back with its headers — 200, 301 + Location,
# 400, 401 + WWW-Authenticate (no or wrong credentials), 403 (a known user who
# may not), 404, 405 + Allow — then keep-alive against Connection: close:
# connections opened, requests/s, and the TIME_WAIT left on whichever side
# closed first. While it runs, ss samples the port's socket states into ss.csv
# and tcpdump records the segments (the requests and responses are plain text:
# read them with tcpdump -A). When curl is installed it asks the same routes.
# First, what clients do with the codes is measured, not the routes: a server
# of its own (--auth-flow-checks) keeps each connection's requests in order
# while curl --anyauth -u and the lab's client (--auth-flow) ask /private,
# /admin and /old; the server grades 401-unauthenticated (credentials sent only
# after a 401 with WWW-Authenticate), 403-forbidden (not retried with the same
# credentials) and status-codes (a 301 followed) from what it saw.
# shellcheck source-path=SCRIPTDIR/../lib
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/lab.sh"

lab_usage() {
  cat <<EOF
Runs netlab-http-server on one port (default $DEFAULT_PORT), asks it with curl
(when installed), then runs netlab-http-client: the tour of status codes, then
--requests over one keep-alive connection and with Connection: close. Writes
runs/<UTC time>-http/: server.log, server-auth.json (the requests the server
saw from curl --anyauth and --auth-flow, and its verdicts), client-auth.txt,
curl.txt, curl-status.tsv, curl-cache.tsv, curl-gateway.tsv (the gateway
step: a second server as the upstream, server-upstream.log), client.txt,
client.json, hol.txt, hol.tsv, h2load-*.log and wire-hol-*.json (the
head-of-line blocking step across netlab-wire: as root, or for a normal user
inside an unprivileged user namespace), ss.csv,
capture.pcap (root, or a user namespace), env.txt, summary.md.

$(lab_options_help "the server's port")
  -- ...         more client options, e.g. -- --requests 1000, or -- --tour
EOF
}

# The same routes through curl: the status line of each printed, the whole exchanges in curl.txt.
ask_with_curl() {
  local out=$NETLAB_RUN/curl.txt url="http://127.0.0.1:$NETLAB_PORT" line answer
  curl_or_skip "$out" || return 0
  say ""
  say "--- curl -i (the whole exchanges are in curl.txt)"
  local -a asks=(
    "$url/"
    "$url/old"
    "$url/missing"
    "-X POST $url/"
    "$url/private"
    "-u alice:wrong $url/private"
    "-u alice:wonderland $url/private"
    "-u alice:wonderland $url/admin"
    "-u admin:secret $url/admin"
  )
  : >"$out"
  for line in "${asks[@]}"; do
    printf '$ curl -s -i %s\n' "$line" >>"$out"
    # shellcheck disable=SC2086  # each entry is a list of curl arguments
    # The status line of this exchange only: a failed curl shows no answer,
    # not the one before it.
    if run_child curl -s -i --max-time 10 $line >"$out.one"; then
      answer=$(grep -a '^HTTP/' "$out.one" | tail -n 1 | tr -d '\r')
    else
      answer="(no answer: curl exited with an error)"
      printf '%s\n' "$answer" >>"$out.one"
    fi
    cat "$out.one" >>"$out"
    rm -f -- "$out.one"
    printf '\n\n' >>"$out"
    printf '  curl -i %-42s %s\n' "$line" "${answer:-(no status line)}"
  done
}

# What real clients do with 401, 403 and 301: counted by a server of its own.
auth_flow_step() {
  local url ask code
  lab_server auth "auth flow: --auth-flow-checks" --auth-flow-checks --json "$NETLAB_RUN/server-auth.json"
  url="http://127.0.0.1:$NETLAB_PORT"
  say ""
  say "--- what clients do with 401, 403 and 301 (the server keeps each connection's requests: server-auth.json)"
  if command -v curl >/dev/null; then
    for ask in "--anyauth -u alice:wonderland $url/private" "--anyauth -u alice:wonderland $url/admin" "-L $url/old"; do
      # shellcheck disable=SC2086  # each entry is a list of curl arguments
      code=$(run_child curl -s -o /dev/null -w '%{http_code}' --max-time 10 $ask) || code="(curl failed)"
      printf '  curl %-48s last answer %s\n' "$ask" "$code"
    done
  else
    say "  curl: skipped (curl is not installed); only the lab's client asks"
  fi
  lab_client auth "$NETLAB_BIN_DIR/$CLIENT" --port "$NETLAB_PORT" --auth-flow >"$NETLAB_RUN/client-auth.txt"
  sed -n '/^  \[/q;p' "$NETLAB_RUN/client-auth.txt"
  stop_server "$NETLAB_SERVER_PID"
}

# The status classes as curl meets them, on the main run's server: each
# condition is one curl request; its code, what it uploaded and the answer
# (/method says what arrived) go to curl-status.tsv, which the lab's client
# grades (--curl-observed). Printed as they come.
status_classes_step() {
  local url="http://127.0.0.1:$NETLAB_PORT" tsv=$NETLAB_RUN/curl-status.tsv
  say ""
  say "--- the status classes through curl (curl-status.tsv; each answer of /method says what arrived)"
  curl_or_skip "$NETLAB_RUN/curl-status.txt" || return 0
  head -c 2000000 /dev/zero >"$NETLAB_RUN/large-body"
  : >"$tsv"
  local code
  for code in 301 302 303 307 308; do
    curl_condition "redirect-$code" 5 -L -d hello "$url/redirect/$code"
  done
  curl_condition redirect-303-X-POST 5 -L -X POST -d hello "$url/redirect/303"
  curl_condition host 0 "$url/method"
  curl_condition no-host 0 -H 'Host:' "$url/method"
  curl_condition no-host-http1.0 0 -0 -H 'Host:' "$url/method"
  curl_condition chunked 5 -H 'Transfer-Encoding: chunked' -d hello "$url/method"
  curl_condition cl-te 5 -H 'Transfer-Encoding: chunked' -H 'Content-Length: 5' -d hello "$url/method"
  curl_condition expect 5 -H 'Expect: 100-continue' -d hello "$url/method"
  curl_condition expect-large 2000000 --data-binary "@$NETLAB_RUN/large-body" "$url/method"
  curl_condition fail 0 "$url/fail"
  rm -f -- "$NETLAB_RUN/large-body"
  lab_client status "$NETLAB_BIN_DIR/$CLIENT" --curl-observed "$tsv" >"$NETLAB_RUN/client-status.txt"
}

# The codes a gateway answers with, each from the condition that causes it:
# a second netlab-http-server is the upstream the lab controls (/slow,
# /garbage, /seen: servers/http/gateway.hpp), and a gateway server
# (--upstream, --upstream-timeout, --max-connections) on the lab's port is
# asked by curl: a good request (200, Via), garbage (502), a slow answer (504),
# its own limit (503 + Retry-After), then the upstream stopped (502). One line
# of curl-gateway.tsv per condition, with what shows the condition was real
# (the upstream's own counts, a direct connect, the held connections still
# served); the lab's client grades it (--curl-observed).
gateway_step() {
  local timeout_ms=300 gateway_pid upstream_pid direct=0
  say ""
  say "--- a gateway's status codes through curl (curl-gateway.tsv; upstream: a second $SERVER, server-upstream.log)"
  curl_or_skip "$NETLAB_RUN/curl-gateway.txt" || return 0
  start_server "$NETLAB_RUN/server-upstream.log" "$NETLAB_RUN/port.upstream" "$NETLAB_BIN_DIR/$SERVER" --port 0 \
    --log-level info
  upstream_pid=$NETLAB_SERVER_PID UPSTREAM=127.0.0.1:$NETLAB_SERVER_PORT
  # --max-connections 2: gateway_at_limit holds two.
  lab_server gateway "gateway: --upstream $UPSTREAM" --upstream "$UPSTREAM" --upstream-timeout "$timeout_ms" \
    --max-connections 2 --json "$NETLAB_RUN/server-gateway.json"
  gateway_pid=$NETLAB_SERVER_PID
  printf '#gateway\tupstream_timeout_ms\t%s\tmax_connections\t2\n' "$timeout_ms" >"$NETLAB_RUN/curl-gateway.tsv"
  gateway_counted forward via /via-upstream/headers
  gateway_counted garbage garbage /via-upstream/garbage
  gateway_counted slow slow "/via-upstream/slow?ms=$((timeout_ms + 700))"
  gateway_at_limit
  # The upstream down: nothing listens on its port any more, which a direct curl shows (exit 7).
  stop_server "$upstream_pid"
  run_child curl -s -o /dev/null --max-time 5 "http://$UPSTREAM/" || direct=$?
  gateway_curl /via-upstream/
  gateway_row down "$direct" "$UPSTREAM"
  stop_server "$gateway_pid"
  lab_client gateway "$NETLAB_BIN_DIR/$CLIENT" --curl-observed "$NETLAB_RUN/curl-gateway.tsv" \
    >"$NETLAB_RUN/client-gateway.txt"
}

# upstream_seen KEY: the upstream's own count KEY (its /seen), 0 when it does not answer.
upstream_seen() {
  local seen
  seen=$(run_child curl -s --max-time 5 "http://$UPSTREAM/seen") || seen=""
  seen=$(grep -o "\"$1\":[0-9]*" <<<"$seen") || seen=":0"
  printf '%s\n' "${seen##*:}"
}

# gateway_counted NAME KEY PATH: curl PATH through the gateway; the evidence is
# how much the upstream's own count KEY grew meanwhile.
gateway_counted() {
  local before
  before=$(upstream_seen "$2")
  gateway_curl "$3"
  gateway_row "$1" "$(($(upstream_seen "$2") - before))" "$3"
}

# gateway_curl PATH: one request through the gateway; sets GATEWAY_ANSWER
# (code, Retry-After or -, time_total: tab-separated) and GATEWAY_VIA.
gateway_curl() {
  local headers=$NETLAB_RUN/curl-headers out retry
  out=$(run_child curl -s --max-time 10 -D "$headers" -o /dev/null -w '%{http_code}\t%{time_total}' \
    "http://127.0.0.1:$NETLAB_PORT$1") || out=$'000\t0'
  retry=$(grep -i '^Retry-After:' "$headers" | tr -d '\r' | cut -d' ' -f2) || retry=""
  GATEWAY_VIA=$(grep -i '^Via:' "$headers" | tr -d '\r' | cut -d' ' -f2-) || GATEWAY_VIA=""
  GATEWAY_ANSWER=${out%%$'\t'*}$'\t'${retry:--}$'\t'${out#*$'\t'}
  rm -f -- "$headers"
}

# gateway_row NAME EVIDENCE DETAIL: the last answer as a line of curl-gateway.tsv, and printed.
gateway_row() {
  local detail=$3 code retry seconds
  [[ $1 != forward ]] || detail="Via: ${GATEWAY_VIA:-none}"
  printf '%s\t%s\t%s\t%s\n' "$1" "$GATEWAY_ANSWER" "$2" "$detail" >>"$NETLAB_RUN/curl-gateway.tsv"
  IFS=$'\t' read -r code retry seconds <<<"$GATEWAY_ANSWER"
  [[ $retry != - ]] || retry=""
  printf '  %-8s %s%s after %s s; evidence %s (%s)\n' "$1" "$code" "${retry:+ Retry-After: $retry}" "$seconds" "$2" \
    "$detail"
}

# gateway_at_limit: two connections held open (the gateway's --max-connections
# 2), curl once more, then a request on each held one: the evidence is how
# many of them were still answered 200.
gateway_at_limit() {
  local held1 held2 fd line served=0 i
  # The earlier requests' connections gone first (their sessions hold slots until they end).
  for ((i = 0; i < 50; i++)); do
    [[ -n $(ss -Htn state established state close-wait "( sport = :$NETLAB_PORT )" 2>/dev/null) ]] || break
    sleep 0.1
  done
  exec {held1}<>"/dev/tcp/127.0.0.1/$NETLAB_PORT" {held2}<>"/dev/tcp/127.0.0.1/$NETLAB_PORT"
  gateway_curl /
  for fd in "$held1" "$held2"; do
    printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' 1>&"$fd" 2>/dev/null || continue
    line=""
    read -r -t 5 line <&"$fd" || true
    [[ $line != "HTTP/1.1 200"* ]] || served=$((served + 1))
  done
  exec {held1}>&- {held2}>&-
  gateway_row limit "$served" "2 held"
}

# curl_condition NAME SENT CURL-ARGS...: one request; a line of curl-status.tsv
# (name, body bytes given to curl, code, bytes uploaded, the answer on one line).
curl_condition() {
  local name=$1 sent=$2 body=$NETLAB_RUN/curl-body out
  shift 2
  out=$(run_child curl -s --max-time 10 -o "$body" -w '%{http_code}\t%{size_upload}' "$@") || out=$'000\t0'
  printf '%s\t%s\t%s\t%s\n' "$name" "$sent" "$out" "$(tr -d '\t\r\n' <"$body" 2>/dev/null | head -c 300)" >>"$NETLAB_RUN/curl-status.tsv"
  printf '  %-20s curl %-58s %s  %s\n' "$name" "$*" "${out%%$'\t'*}" "$(tr -d '\r\n' <"$body" 2>/dev/null | head -c 110)"
  rm -f -- "$body"
}

# Caching, ranges and gzip as curl meets them, on the main run's server: each
# condition is one curl request; its code, the body and header bytes on the
# wire (%{size_download} counts the body as received, before curl decodes
# gzip), the Content-Range and Content-Encoding it got and the SHA-256 of the
# body curl wrote go to curl-cache.tsv, which the lab's client grades
# (--curl-observed). The conditional requests send back what the first
# answer carried (ETag, Last-Modified); the range past the end starts at the
# length the plain GET downloaded.
caching_step() {
  local url="http://127.0.0.1:$NETLAB_PORT" tsv=$NETLAB_RUN/curl-cache.tsv headers=$NETLAB_RUN/etag-headers
  local etag modified length
  say ""
  say "--- caching, ranges and gzip through curl (curl-cache.tsv: code, body + header bytes on the wire)"
  curl_or_skip "$NETLAB_RUN/curl-cache.txt" || return 0
  : >"$tsv"
  : >"$headers"
  cache_condition etag -D "$headers" "$url/etag"
  etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$headers" | tr -d '\r')
  modified=$(sed -n 's/^[Ll]ast-[Mm]odified: *//p' "$headers" | tr -d '\r')
  rm -f -- "$headers"
  cache_condition etag-if-none-match -H "If-None-Match: $etag" "$url/etag"
  cache_condition etag-if-modified-since -H "If-Modified-Since: $modified" "$url/etag"
  cache_condition range-full "$url/range"
  length=$(awk -F'\t' '$1 == "range-full" { print $3 }' "$tsv")
  cache_condition range-0-99 -r 0-99 "$url/range"
  cache_condition range-past-end -r "${length:-0}-" "$url/range"
  cache_condition gzip-plain "$url/etag"
  cache_condition gzip-compressed --compressed "$url/etag"
  lab_client cache "$NETLAB_BIN_DIR/$CLIENT" --curl-observed "$tsv" >"$NETLAB_RUN/client-cache.txt"
}

# cache_condition NAME CURL-ARGS...: one request; a line of curl-cache.tsv
# (name, code, size_download, size_header, Content-Range, Content-Encoding, SHA-256 of the body).
cache_condition() {
  local name=$1 body=$NETLAB_RUN/curl-body out sum
  shift
  : >"$body"  # a 304 or a failure writes no body: its checksum is the empty file's
  out=$(run_child curl -s --max-time 10 -o "$body" \
    -w '%{http_code}\t%{size_download}\t%{size_header}\t%header{content-range}\t%header{content-encoding}' "$@") ||
    out=$'000\t0\t0\t\t'
  sum=$(sha256sum <"$body" | cut -d' ' -f1)
  printf '%s\t%s\t%s\n' "$name" "$out" "$sum" >>"$NETLAB_RUN/curl-cache.tsv"
  printf '  %-24s curl %-44s %s\n' "$name" "$*" "$(awk -F'\t' '{
    printf "%s, %s body + %s header bytes", $1, $2, $3
    if ($4 != "") printf ", Content-Range: %s", $4
    if ($5 != "") printf ", Content-Encoding: %s", $5
  }' <<<"$out")"
  rm -f -- "$body"
}

# Head-of-line blocking across the lossy wire: netlab-http-server (HTTP/1.1 and
# h2c on one port) in the server's namespace, h2load in the client's, the same
# HOL_REQUESTS requests for /range (10000 bytes: 7 segments) as one HTTP/2
# connection with 10 concurrent streams and as 10 HTTP/1.1 connections — first
# across a wire with HOL_DELAY_MS each way and no loss, then with HOL_LOSS loss
# in the data direction only (server to client: what is lost is response
# data, never a request), one wire per lossy run, the same seed (the same
# ordinal frames dropped). h2load-<run>.log has each request's start and
# duration; the lab's client grades them (--hol-observed hol.tsv).
readonly HOL_REQUESTS=200 HOL_DELAY_MS=10 HOL_LOSS=0.02 HOL_PATH=/range

hol_skip() {
  say "  skipped: $1"
  printf 'skipped: %s\n' "$1" >"$NETLAB_RUN/hol.txt"
}

# hol_h2load RUN H2LOAD-OPTIONS...: one h2load run from the client's namespace
# (h2load-RUN.log: its --log-file; h2load-RUN.txt: its report); false when h2load failed.
hol_h2load() {
  local run=$1 status=0
  shift
  rm -f -- "$NETLAB_RUN/h2load-$run.log"
  run_child "${NETLAB_IN_CLIENT[@]}" timeout 30 h2load -n "$HOL_REQUESTS" -N 10 -H 'accept-encoding: identity' \
    --log-file "$NETLAB_RUN/h2load-$run.log" "$@" "http://$NETLAB_SERVER_ADDR:$DEFAULT_PORT$HOL_PATH" \
    >"$NETLAB_RUN/h2load-$run.txt" 2>&1 || status=$?
  printf '  %-9s h2load %-20s %s\n' "$run" "$*" "$(grep -m1 '^requests:' "$NETLAB_RUN/h2load-$run.txt")"
  ((status == 0)) || hol_skip "h2load $* exited $status (h2load-$run.txt)"
  return "$status"
}

hol_step() {
  local loss_percent
  loss_percent=$(awk -v p="$HOL_LOSS" 'BEGIN { print p * 100 }')
  say ""
  say "--- head-of-line blocking: HTTP/2 (1 connection x 10 streams) against HTTP/1.1 (10 connections), h2load across" \
    "netlab-wire, $HOL_DELAY_MS ms each way, then $loss_percent % loss server->client (hol.txt)"
  command -v h2load >/dev/null || { hol_skip "h2load is not installed (apt-get install nghttp2-client)"; return 0; }
  path_ready || { hol_skip "$PATH_BLOCKER"; return 0; }
  printf '===== hol: h2c and HTTP/1.1 (%s, in %s) =====\n' "$(date -u +%H:%M:%SZ)" "$NETLAB_NS_SERVER" >>"$NETLAB_RUN/server.log"
  wire_start hol-clean --delay "$HOL_DELAY_MS" --seed 1
  start_server "$NETLAB_RUN/server.log" "$NETLAB_RUN/port.hol" "${NETLAB_IN_SERVER[@]}" "$NETLAB_BIN_DIR/$SERVER" \
    --host "$NETLAB_SERVER_ADDR" --port "$DEFAULT_PORT" --log-level info
  local ran=no
  local -a h2=(-c 1 -m 10) h1=(--h1 -c 10 -m 1) lossy=(--delay "$HOL_DELAY_MS" --loss "right>left=$HOL_LOSS" --seed 1)
  hol_h2load h2-clean "${h2[@]}" && hol_h2load h1-clean "${h1[@]}" &&
    wire_start hol-h2 "${lossy[@]}" && hol_h2load h2-lossy "${h2[@]}" &&
    wire_start hol-h1 "${lossy[@]}" && hol_h2load h1-lossy "${h1[@]}" && ran=yes
  stop_server "$NETLAB_SERVER_PID"
  wire_stop
  [[ $ran == yes ]] || return 0
  printf '#hol\trtt_ms\t%s\tloss\t%s\n' "$((2 * HOL_DELAY_MS))" "$HOL_LOSS" >"$NETLAB_RUN/hol.tsv"
  printf '%s\th2load-%s.log\t%s\n' h2-clean h2-clean wire-hol-clean.json h1-clean h1-clean wire-hol-clean.json \
    h2-lossy h2-lossy wire-hol-h2.json h1-lossy h1-lossy wire-hol-h1.json >>"$NETLAB_RUN/hol.tsv"
  lab_client hol "$NETLAB_BIN_DIR/$CLIENT" --hol-observed "$NETLAB_RUN/hol.tsv" >"$NETLAB_RUN/hol.txt"
  sed -n '2,/^  beyond:/p' "$NETLAB_RUN/hol.txt"
}

# HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3) on a server of its own
# (server-h2.log, --log-level info: one DOWN line per connection, "h2c, N
# streams"): the same 100 requests with h2load over h2c (one connection, 10
# streams at a time) and over HTTP/1.1 (--h1, one keep-alive connection), then
# nghttp with 10 URLs at once (not curl: Debian 12's curl 7.88.1 fails every
# transfer after the first on a reused h2c connection, nginx's too). h2load's
# figures, the streams per h2c connection the server logged and nghttp's
# answers go to h2load.tsv, which the lab's client grades (--h2load-observed).
h2_step() {
  local url tsv=$NETLAB_RUN/h2load.tsv pid
  say ""
  say "--- HTTP/2 (h2c): the same 100 requests with h2load over h2c and over HTTP/1.1, then nghttp (h2load.tsv)"
  if ! command -v h2load >/dev/null; then
    say "  skipped: h2load is not installed (apt-get install nghttp2-client)"
    return 0
  fi
  start_server "$NETLAB_RUN/server-h2.log" "$NETLAB_RUN/port.h2" "$NETLAB_BIN_DIR/$SERVER" --port 0 --log-level info \
    --json "$NETLAB_RUN/server-h2.json"
  pid=$NETLAB_SERVER_PID url=http://127.0.0.1:$NETLAB_SERVER_PORT
  : >"$tsv"
  h2load_row h2c -n 100 -c 1 -m 10 "$url/"
  h2load_row h1 --h1 -n 100 -c 1 "$url/"
  if command -v nghttp >/dev/null; then
    local urls=() out i
    for i in $(seq 10); do urls+=("$url/headers?$i"); done
    # -n: discard the bodies, -s: the table of streams (id, code, path) once all are done.
    out=$(run_child timeout 20 nghttp -ns "${urls[@]}" 2>&1) || true
    printf 'nghttp\t10\t%s\n' "$(awk '$1 ~ /^[0-9]+$/ && $5 == 200 { n++ } END { print n + 0 }' <<<"$out")" >>"$tsv"
    say "  nghttp -ns, 10 URLs at once: $(awk -F'\t' '$1 == "nghttp" { printf "%s of %s answered 200", $3, $2 }' "$tsv")"
  fi
  stop_server "$pid"
  grep -o 'h2c, [0-9]* streams' "$NETLAB_RUN/server-h2.log" | awk '{ printf "connection\t%s\n", $2 }' >>"$tsv"
  say "  the server's h2c connections: $(awk -F'\t' '$1 == "connection" { printf "%s%s streams", sep, $2; sep = ", " }' "$tsv")"
  lab_client h2 "$NETLAB_BIN_DIR/$CLIENT" --h2load-observed "$tsv" >"$NETLAB_RUN/client-h2.txt"
}

# h2load_row NAME H2LOAD-ARGS...: one h2load run; its "requests:" and
# "traffic:" figures as a line of h2load.tsv (name, succeeded, header bytes, total bytes).
h2load_row() {
  local name=$1 out row
  shift
  out=$(run_child timeout 20 h2load "$@" 2>&1) || true
  row=$(awk -v name="$name" '
    /^requests:/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^succeeded/) ok = $i }
    /^traffic:/ { total = $3; gsub(/[()]/, "", total); headers = $6; gsub(/[()]/, "", headers)
      savings = $10; gsub(/[),]/, "", savings) }
    END { printf "h2load\t%s\t%d\t%d\t%d\t%s\n", name, ok, headers, total, savings }' <<<"$out")
  printf '%s\n' "${row%$'\t'*}" >>"$NETLAB_RUN/h2load.tsv"
  say "$(awk -F'\t' '{ printf "  h2load %-4s %s requests succeeded, header bytes %s of %s (h2load: space savings %s)",
    $2, $3, $4, $5, $6 }' <<<"$row")"
}

report() {
  local -a results=("$NETLAB_RUN/client.json" "$NETLAB_RUN/server-auth.json")
  [[ ! -f $NETLAB_RUN/client-status.json ]] || results+=("$NETLAB_RUN/client-status.json")
  [[ ! -f $NETLAB_RUN/client-cache.json ]] || results+=("$NETLAB_RUN/client-cache.json")
  [[ ! -f $NETLAB_RUN/client-gateway.json ]] || results+=("$NETLAB_RUN/client-gateway.json")
  [[ ! -f $NETLAB_RUN/client-hol.json ]] || results+=("$NETLAB_RUN/client-hol.json")
  [[ ! -f $NETLAB_RUN/client-h2.json ]] || results+=("$NETLAB_RUN/client-h2.json")
  lab_merge "${results[@]}"
  lab_verdicts
  # shellcheck disable=SC2016  # backquotes are Markdown
  [[ ! -s $NETLAB_RUN/hol.txt ]] || printf '\n## Head-of-line blocking (h2load across netlab-wire)\n\n```\n%s\n```\n' \
    "$(cat "$NETLAB_RUN/hol.txt")" >>"$NETLAB_RUN/summary.md"
  if command -v ss >/dev/null; then
    say "ss now: $(ss -Htan state time-wait "( sport = :$NETLAB_PORT )" 2>/dev/null | wc -l) TIME-WAIT sockets" \
      "on the server's side of port $NETLAB_PORT (ss -tan state time-wait '( sport = :$NETLAB_PORT )')"
  fi
  lab_run_folder "summary.md, client.json, client.txt, server-auth.json, client-auth.txt, curl.txt, curl-status.tsv," \
    "curl-cache.tsv, curl-gateway.tsv, h2load.tsv, server-h2.log, hol.txt, hol.tsv, h2load-*.log, wire-hol-*.json," \
    "server-upstream.log, ss.csv, server.log"
  [[ -n $NETLAB_CAPTURE_SKIPPED ]] ||
    say "read the exchanges: tcpdump -r $NETLAB_RUN/capture.pcap -n -A 'tcp[tcpflags] & tcp-push != 0' | less"
}

main() {
  lab_begin "$@"
  auth_flow_step
  lab_server "" "main run"
  ask_with_curl
  status_classes_step
  caching_step
  lab_client_shown --requests 200
  stop_server "$NETLAB_SERVER_PID"
  gateway_step
  h2_step
  hol_step
  lab_end
}

main "$@"
