#!/usr/bin/env bash
# Test: `scripts/lab https` runs 1.2-rsa, 1.2-ecdhe and 1.3 on one port, then the
# failure demos, with certificates generated into a temporary folder. The run
# folder holds the traces, the key log (NSS) and the merged verdicts: random 3
# encrypted only in 1.2-rsa, the certificate in clear only in 1.2, the demos
# refused by the client and survived by the server. With a capture, the page's
# text is nowhere in it and the certificate's bytes are only in the 1.2 ones,
# and tshark (scripts/setup.sh installs it) decrypts it with the run's key log.
# In 1.2-rsa the master secret the server recomputed from the decrypted
# pre-master equals the client's. Each mode's client resumes on a second
# connection (1.2 session id, 1.2 ticket, 1.3 PSK) without a Certificate, and
# openssl s_client -sess_out/-sess_in is Reused. The 1.3 client's --names: SNI
# gives a.netlab.test and b.netlab.test their own certificates, ALPN h2 first and
# the alert for spdy/3.1; openssl s_client -servername / -alpn graded on what it printed.
# Its --zero-rtt: the GET as early data accepted, zero-rtt-replay-refused as the
# server's counts before and after the replay say; openssl s_client -early_data.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

value() { "$BIN/netlab-report" get "$RUN/$1" "$2"; }

check_files() {
  check_run_files server.log client.json ss.csv env.txt summary.md keylog.txt capture.json demos.json \
    client-1.2-rsa.txt client-1.2-ecdhe.txt client-1.3.txt
  [[ -s $TMP/certs/ca.pem && -s $TMP/certs/server.key ]] || fail "no certificates generated in the cert dir"
  [[ $(stat -c %a "$TMP/certs/server.key") == 600 ]] || fail "server.key is not 0600"
  [[ ! -e $TMP/certs/ca.key ]] || fail "the CA's key was written"
  ! grep -rlq 'PRIVATE KEY' "$RUN" || fail "a private key landed in the run folder"
  grep -q '^CLIENT_RANDOM [0-9a-f]\{64\} ' "$RUN/keylog.txt" || fail "keylog.txt has no TLS 1.2 CLIENT_RANDOM line"
  grep -q '^CLIENT_HANDSHAKE_TRAFFIC_SECRET ' "$RUN/keylog.txt" || fail "keylog.txt has no TLS 1.3 secret"
  grep -q 'ClientKeyExchange' "$RUN/client-1.2-rsa.txt" || fail "the 1.2-rsa trace lacks ClientKeyExchange"
  grep -q 'EncryptedExtensions' "$RUN/client-1.3.txt" || fail "the 1.3 trace lacks EncryptedExtensions"
  grep -q 'random-3-encrypted-with-public-key' "$TMP/out.txt" || fail "the verdict table was not printed"
  grep -q '^openssl OpenSSL 3' "$RUN/env.txt" || fail "env.txt lacks the OpenSSL version"
  echo "ok: run folder files, key log, traces; no private key outside the cert dir"
}

# Checks 2 and 4 of each mode: random 3 encrypted, certificate in clear.
check_modes() {
  local mode expected_random3 expected_clear expected_same
  for mode in 1.2-rsa 1.2-ecdhe 1.3; do
    expected_random3=refuted expected_clear=confirmed
    [[ $mode == 1.2-rsa ]] && expected_random3=confirmed
    [[ $mode == 1.3 ]] && expected_clear=refuted
    [[ $(value "client-$mode.json" /checks/2/id) == random-3-encrypted-with-public-key ]] || fail "check order changed"
    [[ $(value "client-$mode.json" /checks/2/verdict) == "$expected_random3" ]] || fail "$mode: random 3 not $expected_random3"
    # 1.2-rsa: the recomputed master secret; the others: equal exporter digests, which a finished handshake implies.
    expected_same=fact
    [[ $mode == 1.2-rsa ]] && expected_same=confirmed
    [[ $(value "client-$mode.json" /checks/3/verdict) == "$expected_same" ]] ||
      fail "$mode: same-session-key $(value "client-$mode.json" /checks/3/verdict): $(value "client-$mode.json" /checks/3/observed)"
    [[ $(value "client-$mode.json" /checks/4/verdict) == "$expected_clear" ]] || fail "$mode: certificate in clear not $expected_clear"
    echo "ok: $mode: random 3 $expected_random3, same key $expected_same, certificate in clear $expected_clear"
  done
}

# --resume in each mode: 1.2-rsa's server sends no tickets (session id), 1.2-ecdhe
# resumes by ticket, 1.3 by the PSK of a NewSessionTicket; no Certificate the second time.
check_resumption() {
  local mode offered
  for mode in 1.2-rsa 1.2-ecdhe 1.3; do
    case $mode in
      1.2-rsa) offered="session id" ;;
      1.2-ecdhe) offered="session ticket" ;;
      1.3) offered="PSK (NewSessionTicket)" ;;
    esac
    [[ $(value "client-$mode.json" /observed/resumption/offered) == "$offered" ]] ||
      fail "$mode: resumption offered $(value "client-$mode.json" /observed/resumption/offered), not $offered"
    [[ $(value "client-$mode.json" /checks/6/id) == tls-resumption-skips-certificate ]] ||
      fail "$mode: check 6 is not tls-resumption-skips-certificate"
    [[ $(value "client-$mode.json" /checks/6/verdict) == confirmed ]] ||
      fail "$mode: tls-resumption-skips-certificate: $(value "client-$mode.json" /checks/6/observed)"
    grep -q 'resumption (--resume): offered .*the server resumed it' "$RUN/client-$mode.txt" ||
      fail "$mode: the summary does not show a resumed second handshake"
    [[ $(value "client-$mode.json" /observed/resumption/resumed/certificate) == false ]] ||
      fail "$mode: the resumed handshake had a Certificate"
    echo "ok: $mode: resumed by $offered, no Certificate, tls-resumption-skips-certificate confirmed"
  done
  grep -q 'handshakes 2 (resumed 1)' "$RUN/server.log" || fail "server.log lacks 'handshakes 2 (resumed 1)'"
}

check_demos() {
  local i id verdict
  for i in 0 1 2 3 4 5 6 7 8 9; do
    id=$(value demos.json "/checks/$i/id" 2>/dev/null) || break
    verdict=$(value demos.json "/checks/$i/verdict")
    # Facts (our server's own choices), followed to what s_client printed in check_names.
    [[ $id == openssl-sni || $id == openssl-alpn || $id == openssl-early-data ]] && continue
    [[ $verdict == confirmed ]] || fail "demo $id: $verdict ($(value demos.json "/checks/$i/observed"))"
    echo "ok: demo $id confirmed"
  done
  ((i >= 8)) || fail "only $i demo checks"
  grep -q '"id":"openssl-resumption"' "$RUN/demos.json" || fail "no openssl-resumption demo check"
  grep -q 'not TLS —' "$RUN/server.log" || fail "server.log has no 'not TLS' line for the plain HTTP request"
}

# demo_named ID: the demo check's index in demos.json.
demo_named() {
  local i
  for i in 0 1 2 3 4 5 6 7 8 9; do
    [[ $(value demos.json "/checks/$i/id" 2>/dev/null) == "$1" ]] && { echo "$i"; return 0; }
  done
  fail "no $1 demo check"
}

# --names on the 1.3 client, and the outside client's verdicts following what it printed.
check_names() {
  local at observed expected
  [[ $(value client-1.3.json /checks/7/id) == sni-selects-certificate ]] || fail "1.3: check 7 is not sni-selects-certificate"
  [[ $(value client-1.3.json /checks/7/verdict) == fact ]] ||
    fail "sni-selects-certificate: $(value client-1.3.json /checks/7/observed)"
  [[ $(value client-1.3.json /checks/8/id) == alpn-negotiated ]] || fail "1.3: check 8 is not alpn-negotiated"
  [[ $(value client-1.3.json /checks/8/verdict) == fact ]] ||
    fail "alpn-negotiated: $(value client-1.3.json /checks/8/observed)"
  [[ $(value client-1.3.json /observed/names/sni/2/certificate_subject) == *"CN = localhost" ]] ||
    fail "an unknown server_name did not get the default certificate"
  grep -q 'a.netlab.test -> O = netlab https lab, CN = a.netlab.test (names it)' "$RUN/client-1.3.txt" ||
    fail "the 1.3 summary does not show the SNI certificates"
  grep -q 'server_name b.netlab.test -> O = netlab https lab, CN = b.netlab.test' "$RUN/server.log" ||
    fail "server.log does not say which certificate b.netlab.test got"
  echo "ok: --names: sni-selects-certificate and alpn-negotiated hold (facts: our server's own choices)"

  at=$(demo_named openssl-sni)
  observed=$(value demos.json "/checks/$at/observed")
  expected=refuted
  [[ $observed == *"a.netlab.test -> O = netlab https lab, CN = a.netlab.test;"* &&
    $observed == *"b.netlab.test -> O = netlab https lab, CN = b.netlab.test" ]] && expected=fact
  [[ $(value demos.json "/checks/$at/verdict") == "$expected" ]] || fail "openssl-sni not $expected: $observed"
  at=$(demo_named openssl-alpn)
  observed=$(value demos.json "/checks/$at/observed")
  expected=refuted
  [[ $observed == "h2,http/1.1: ALPN protocol: h2; http/1.1: ALPN protocol: http/1.1; spdy/3.1: exit 1, alert no application protocol" ]] &&
    expected=fact
  [[ $(value demos.json "/checks/$at/verdict") == "$expected" ]] || fail "openssl-alpn not $expected: $observed"
  echo "ok: openssl s_client -servername / -alpn: $expected from what it printed"
}

# count COUNTS NAME: NAME's number in the server's "offered=2; accepted=1; served=1; ..." header.
count() { sed -n "s/.*\(^\|; \)$2=\([0-9]*\).*/\2/p" <<<"$1"; }

# --zero-rtt on the 1.3 client: zero-rtt-replay-refused follows the server's
# counts recorded before and after the replay; the outside client's early data.
check_zero_rtt() {
  local before after expected=nuanced verdict at
  [[ $(value client-1.3.json /checks/9/id) == zero-rtt-replay-refused ]] || fail "1.3: check 9 is not zero-rtt-replay-refused"
  verdict=$(value client-1.3.json /checks/9/verdict)
  [[ $(value client-1.3.json /observed/zero_rtt/early/early_data_status) == accepted ]] ||
    fail "0-RTT: the early data was not accepted: $(value client-1.3.json /checks/9/observed)"
  [[ $(value client-1.3.json /observed/zero_rtt/early/round_trips_to_answer) == 1 ]] ||
    fail "0-RTT: the answer did not come after one round trip"
  before=$(value client-1.3.json /observed/zero_rtt/early/server_counts)
  after=$(value client-1.3.json /observed/zero_rtt/replay/counts_after)
  if (($(count "$after" served) > $(count "$before" served) || $(count "$after" accepted) > $(count "$before" accepted))); then
    expected=refuted
  elif (($(count "$after" offered) > $(count "$before" offered) &&
    $(count "$after" "ticket already used") + $(count "$after" "ticket unknown") >
    $(count "$before" "ticket already used") + $(count "$before" "ticket unknown"))); then
    expected=confirmed
  fi
  [[ $verdict == "$expected" ]] || fail "zero-rtt-replay-refused $verdict, the counts say $expected: $before -> $after"
  [[ $verdict == confirmed ]] || fail "zero-rtt-replay-refused $verdict: $(value client-1.3.json /checks/9/observed)"
  grep -q '0-RTT rejected, ticket already used: 1' "$RUN/server.log" || fail "server.log does not count the replay"
  grep -q 'early data rejected: ticket already used' "$RUN/server.log" || fail "server.log has no line for the replay"
  echo "ok: --zero-rtt: early data accepted, answered after 1 round trip; replay $verdict ($before -> $after)"
  if [[ -s $RUN/capture.pcap ]]; then
    [[ $(value client-1.3.json /observed/zero_rtt/replay/source) == *"capture.pcap, the connection from port "*"(equal to the client's own record)" ]] ||
      fail "the replay's bytes did not come from the capture: $(value client-1.3.json /observed/zero_rtt/replay/source)"
    echo "ok: the replayed first flight came from capture.pcap, equal to the client's record"
  fi
  command -v openssl >/dev/null || return 0
  at=$(demo_named openssl-early-data)
  local observed
  expected=refuted
  observed=$(value demos.json "/checks/$at/observed")
  [[ $observed == "Early data was accepted; X-Netlab-Early-Data: accepted" ]] && expected=fact
  [[ $(value demos.json "/checks/$at/verdict") == "$expected" ]] || fail "openssl-early-data not $expected: $observed"
  echo "ok: openssl s_client -early_data: $expected, as it printed ($observed)"
}

check_capture() {
  if [[ ! -s $RUN/capture.pcap ]]; then
    ((EUID != 0)) || ! command -v tcpdump >/dev/null || fail "no capture.pcap as root with tcpdump"
    echo "skipped: no capture ($(grep -m1 'capture skipped' "$RUN/summary.md" || echo 'no reason given'))"
    return 0
  fi
  local expected=(confirmed confirmed confirmed confirmed refuted confirmed) i
  for i in 0 1 2 3 4 5; do
    [[ $(value capture.json "/checks/$i/verdict") == "${expected[i]}" ]] ||
      fail "capture check $(value capture.json "/checks/$i/id"): $(value capture.json "/checks/$i/observed")"
  done
  echo "ok: capture: page text absent in all modes, certificate bytes in 1.2 only"
  command -v tshark >/dev/null || fail "tshark is not installed (scripts/setup.sh installs it): keylog-decrypts not run"
  [[ $(value capture.json /checks/6/id) == keylog-decrypts ]] || fail "capture check 6 is not keylog-decrypts"
  [[ $(value capture.json /checks/6/verdict) == confirmed ]] ||
    fail "keylog-decrypts: $(value capture.json /checks/6/observed)"
  grep -qaF 'GET / HTTP/1.1' "$TMP/out.txt" || fail "the decrypted request line was not shown"
  echo "ok: tshark decrypted the capture with keylog.txt: request line and page shown"
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  NETLAB_HTTPS_CERT_DIR=$TMP/certs run_lab https --port 0
  check_files
  check_modes
  check_resumption
  check_demos
  check_names
  check_zero_rtt
  check_capture
}

main "$@"
