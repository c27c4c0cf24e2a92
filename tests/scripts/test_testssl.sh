#!/usr/bin/env bash
# testssl.sh (Debian package testssl.sh, installed by scripts/setup.sh) against
# the https lab's server: the default mode (TLS 1.3) offers TLS 1.3 only, is not
# found vulnerable to anything testssl checks, and its certificate chains to the
# lab's CA; the 1.2-ecdhe mode offers no protocol below TLS 1.2 and forward
# secrecy only; neither offers a NULL, anonymous, export, low, RC4 or 3DES
# suite; the deliberate historical mode (1.2-rsa) is flagged for having no
# forward secrecy — and netlab-https-server --help says so. Skips (77) when
# testssl is not installed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TESTSSL=$(command -v testssl || command -v testssl.sh || true)
if [[ -z $TESTSSL ]]; then
  echo "skipped: testssl.sh is not installed (scripts/setup.sh installs it: apt-get install testssl.sh)"
  exit 77
fi

TMP=$(mktemp -d)
SERVER_PID=""
stop_server() {
  [[ -z $SERVER_PID ]] && return 0
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap 'stop_server; cleanup' EXIT INT TERM

# start MODE: the https server on a free port with the test's own certificates.
start() {
  stop_server
  rm -f "$TMP/port"
  "$BIN/netlab-https-server" --tls "$1" --port 0 --port-file "$TMP/port" --cert-dir "$TMP/certs" \
    --log-level warn --max-seconds 600 >"$TMP/server-$1.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    [[ -s $TMP/port ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$TMP/server-$1.log" >&2
  fail "netlab-https-server --tls $1 did not start"
}

# scan MODE [CHECKS...]: by default protocols (-p), the standard cipher
# categories (-s), server defaults (-S), preferences (-P), forward secrecy
# (-f), vulnerabilities (-U); JSON findings to $TMP/MODE.json.
scan() {
  local mode=$1
  shift
  local -a checks=("$@")
  ((${#checks[@]})) || checks=(-p -s -S -P -f -U)
  set -- "$mode"
  start "$1"
  # testssl's exit status counts what it found; the JSON findings are read instead.
  timeout 300 "$TESTSSL" --quiet --color 0 --warnings batch --ip one --add-ca "$TMP/certs/ca.pem" \
    "${checks[@]}" --jsonfile "$TMP/$1.json" "127.0.0.1:$(cat "$TMP/port")" >"$TMP/$1.txt" 2>&1 || true
  stop_server
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$TMP/$1.json" 2>/dev/null ||
    fail "testssl on --tls $1 wrote no findings ($(tail -n 3 "$TMP/$1.txt"))"
}

# finding MODE ID: testssl's finding for this id.
finding() {
  python3 -c 'import json,sys
for f in json.load(open(sys.argv[1])):
    if f["id"] == sys.argv[2]: print(f["finding"]); break' "$TMP/$1.json" "$2"
}

# severe MODE: findings rated HIGH or CRITICAL, one "id: finding" a line, leaving
# out what a lab certificate can't have (a revocation URL) and its 30-day life.
severe() {
  python3 -c 'import json,sys
lab_cert = {"cert_revocation", "cert_expirationStatus", "cert_notAfter", "engine_problem"}
for f in json.load(open(sys.argv[1])):
    if f.get("severity") in ("HIGH", "CRITICAL") and f["id"] not in lab_cert:
        print(f["id"] + ": " + f["finding"])' "$TMP/$1.json"
}

# no_weak_suites MODE: testssl's standard cipher categories that must not be offered.
no_weak_suites() {
  local category
  for category in NULL aNULL EXPORT LOW 3DES_IDEA; do
    [[ $(finding "$1" "cipherlist_$category") == "not offered"* ]] ||
      fail "$1 mode: $category suites are '$(finding "$1" "cipherlist_$category")', expected not offered"
  done
  # testssl says "no RC4 ciphers detected", or "not vulnerable, TLS 1.3 only".
  local rc4
  rc4=$(finding "$1" RC4)
  [[ $rc4 == *"no RC4"* || $rc4 == "not vulnerable"* ]] || fail "$1 mode: RC4 is '$rc4', expected no RC4 ciphers"
}

scan 1.3
no_weak_suites 1.3
for old in SSLv2 SSLv3 TLS1 TLS1_1 TLS1_2; do
  [[ $(finding 1.3 "$old") == "not offered"* ]] || fail "1.3 mode: $old is '$(finding 1.3 "$old")', expected not offered"
done
[[ $(finding 1.3 TLS1_3) == "offered"* ]] || fail "1.3 mode: TLS 1.3 is '$(finding 1.3 TLS1_3)'"
[[ $(finding 1.3 cert_chain_of_trust) == passed* ]] ||
  fail "1.3 mode: chain of trust '$(finding 1.3 cert_chain_of_trust)' with the lab's CA added"
bad=$(severe 1.3)
[[ -z $bad ]] || fail "1.3 mode: testssl rates these HIGH or CRITICAL: $bad"
echo "ok: --tls 1.3 offers TLS 1.3 only, chains to the lab's CA, no HIGH/CRITICAL finding"

scan 1.2-ecdhe -p -s -f -4
for old in SSLv2 SSLv3 TLS1 TLS1_1; do
  [[ $(finding 1.2-ecdhe "$old") == "not offered"* ]] ||
    fail "1.2-ecdhe mode: $old is '$(finding 1.2-ecdhe "$old")', expected not offered"
done
[[ $(finding 1.2-ecdhe TLS1_2) == "offered"* ]] || fail "1.2-ecdhe mode: TLS 1.2 is '$(finding 1.2-ecdhe TLS1_2)'"
no_weak_suites 1.2-ecdhe
[[ $(finding 1.2-ecdhe PFS) == "offered"* ]] ||
  fail "1.2-ecdhe mode: forward secrecy is '$(finding 1.2-ecdhe PFS)', expected offered"
echo "ok: --tls 1.2-ecdhe offers TLS 1.2 and nothing older, forward secrecy ($(finding 1.2-ecdhe PFS_ECDHE_curves)), no NULL/anonymous/export/low/RC4/3DES suite"

"$BIN/netlab-https-server" --help | grep -q -- '1.2-rsa.*no forward secrecy' ||
  fail "netlab-https-server --help does not say that 1.2-rsa has no forward secrecy"
# Only what is asserted: forward secrecy (-f) and the server's cipher order (-P).
scan 1.2-rsa -f -P
[[ $(finding 1.2-rsa PFS) == *"No ciphers supporting"* ]] ||
  fail "1.2-rsa mode: expected testssl to flag the missing forward secrecy, got '$(finding 1.2-rsa PFS)'"
[[ $(finding 1.2-rsa cipher_order) != *"NOT a cipher order"* ]] ||
  fail "1.2-rsa mode: the server has no cipher order of its own"
echo "ok: --tls 1.2-rsa is flagged for no forward secrecy (the historical mode it is meant to be)"
