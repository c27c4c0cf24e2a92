#!/usr/bin/env bash
# Test: `scripts/lab timewait --decay 0 -- --requests 500` runs every step on
# one port and writes its run folder; the client-closed step leaves >= 450
# TIME_WAIT sockets on the client side, the server-closed step on the server
# side, the pool (K = 8) at most 8, SO_LINGER 0 none; each step's verdicts
# are the ones the kernel and the run fix (Linux: 60 s, not 2MSL; loopback
# loses nothing unless the capture shows it; 400 ports with tcp_tw_reuse 0 run
# out); the exhaustion step runs in namespaces it creates (tcp_tw_reuse 0 runs
# out of ports, the pool does not; 1 and 2 take the TIME_WAIT ports over after
# the reuse delay) and deletes them, and summary.md's SYN / FIN / RST counts are
# those netlab-pcap facts counts in capture.pcap. As root the lab runs twice:
# as root, then as nobody, who gets the same exhaustion step and capture inside
# an unprivileged user namespace; where the system forbids one, the only thing
# accepted instead is the one line that says so.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

value() { "$BIN/netlab-report" get "$RUN/client-$1.json" "$2"; }

check_files() {
  check_run_files server.log client.json ss.csv env.txt summary.md exhaustion.txt
  check_ss_sampled
  # The TIME-WAIT column (7th) must have risen during the run.
  local peak
  peak=$(awk -F, 'NR > 1 && $7 > max { max = $7 } END { print max + 0 }' "$RUN/ss.csv")
  ((peak > 0)) || fail "ss.csv never saw a TIME-WAIT socket on the lab's port"
  check_listed closer-holds-time-wait
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
  if ! step_ran exhaustion client-exhaustion-reuse0-short.json; then
    # One reason, one line, the same on the terminal and in exhaustion.txt.
    [[ $(<"$RUN/exhaustion.txt") == "skipped: $SKIP_REASON" ]] ||
      fail "exhaustion.txt is not the one skip line: $(head -n 3 "$RUN/exhaustion.txt")"
    return 0
  fi
  local full ns made
  full=$(value exhaustion-reuse0-short /observed/connect_errors/EADDRNOTAVAIL) || fail "reuse 0: no EADDRNOTAVAIL"
  ((full > 0)) || fail "reuse 0: no EADDRNOTAVAIL"
  [[ $(value exhaustion-reuse0-pool /observed/succeeded) == 1000 ]] || fail "reuse 0: the pool did not complete"
  [[ $(value exhaustion-reuse0-pool /params/tcp_tw_reuse) == 0 ]] ||
    fail "reuse 0: the client did not see tcp_tw_reuse 0"
  # As root the namespaces are the host's; nobody's lived in its user namespace's /run.
  made=$(grep -c 'namespace=netlab-tw-[0-9]* ' "$RUN/exhaustion.txt") || true
  ((made == 3)) || fail "exhaustion.txt names $made namespaces, want 3"
  while read -r ns; do
    ! ip netns list | grep -qw "$ns" || fail "namespace $ns was left behind"
  done < <(grep -o 'namespace=netlab-tw-[0-9]*' "$RUN/exhaustion.txt" | cut -d= -f2)
  # 400 ports: with tcp_tw_reuse 0 they run out; with 1 or 2 the 400 later
  # connections take over the 400 TIME_WAIT ports, all older than 1 s by then.
  local reuse
  expect_verdict exhaustion-reuse0-short time-wait-exhausts-ports confirmed "400 ports, tcp_tw_reuse 0"
  # 1 s later all 400 ports are still in TIME_WAIT: no connection, so no verdict either.
  [[ $(value exhaustion-reuse0-after-1s /observed/succeeded) == 0 ]] ||
    fail "reuse 0: $(value exhaustion-reuse0-after-1s /observed/succeeded) connections 1 s after the burst, want 0"
  for reuse in 1 2; do
    expect_verdict "exhaustion-reuse$reuse-after-1s" time-wait-exhausts-ports nuanced \
      "tcp_tw_reuse $reuse: 400 TIME_WAIT ports older than 1 s for 400 connections"
  done
  # The pool, without a short run to compare its rate with (no --compare-with).
  for reuse in 0 1 2; do
    expect_verdict "exhaustion-reuse$reuse-pool" pool-fixes-time-wait nuanced "<= 8 TIME_WAIT, no rate to compare"
  done
  echo "ok: exhaustion: $full EADDRNOTAVAIL with tcp_tw_reuse 0 (time-wait-exhausts-ports confirmed), and 0 connections" \
    "after the reuse delay; none failed then with tcp_tw_reuse 1 and 2 (nuanced), the pool completed; namespaces removed ($MODE)"
}

# step_verdict STEP ID: the verdict of check ID in client-STEP.json.
step_verdict() { verdict "$2" "$RUN/client-$1.json"; }

# expect_verdict STEP ID WANT WHY: fail unless check ID of STEP is WANT.
expect_verdict() {
  local got
  got=$(step_verdict "$1" "$2")
  [[ $got == "$3" ]] || fail "$1: $2 is $got, want $3 ($4)"
}

# What the capture holds on the lab's port, by JSON pointer (netlab-pcap facts).
capture_fact() {
  "$BIN/netlab-pcap" facts "$RUN/capture.pcap" --port "$(value short-client /params/port)" --get "$1"
}

# The verdicts, each pinned to what the kernel or the run fixes, or to what
# this test counts again in capture.pcap.
check_verdicts() {
  local step buckets retrans=none closer_tw lost ratio want got
  # Linux holds TIME_WAIT for TCP_TIMEWAIT_LEN (60 s), never the RFC's 4 min:
  # the closer holds it (check_steps), for the wrong duration.
  for step in short-client short-server pool; do
    expect_verdict "$step" closer-holds-time-wait nuanced "Linux: the closer holds TIME_WAIT 60 s, not 2MSL"
  done
  buckets=$(cat /proc/sys/net/ipv4/tcp_max_tw_buckets 2>/dev/null || echo 0)
  for step in short-client short-server; do
    if ((buckets >= 1000)); then
      expect_verdict "$step" mass-time-wait-from-many-closes confirmed "tcp_max_tw_buckets $buckets: room for one TIME_WAIT per close"
    fi
    # 500 connections cannot fill the host's ephemeral range (>= 2000 ports).
    if awk '/^net.ipv4.ip_local_port_range = / { wide = $4 - $3 + 1 >= 2000 } END { exit !wide }' "$RUN/env.txt"; then
      expect_verdict "$step" time-wait-exhausts-ports nuanced "500 connections, an ephemeral range of 2000 ports or more"
    fi
  done
  # Loopback loses nothing: refuted, as long as the capture (all steps) shows
  # fewer retransmissions on the port than a tenth of the step's TIME_WAIT.
  [[ ! -s $RUN/capture.pcap ]] || retrans=$(capture_fact /retransmissions)
  for step in short-client short-server; do
    closer_tw=$(value "$step" /observed/time_wait/client_side)
    [[ $step == short-client ]] || closer_tw=$(value "$step" /observed/time_wait/server_side)
    if [[ $retrans != none ]] && ((retrans * 10 >= closer_tw)); then
      echo "not pinned: $step: time-wait-not-from-lost-fourth-segment: the capture shows $retrans retransmissions on the port"
      continue
    fi
    got=$(step_verdict "$step" time-wait-not-from-lost-fourth-segment)
    [[ $got != refuted ]] || continue
    # The client reads Tcp RetransSegs of its whole network namespace: in the
    # host's, other programs' retransmissions land in it too.
    lost=$(value "$step" /observed/kernel/retransmitted_segments)
    if [[ $got == nuanced ]] && grep -qx 'network_namespace host' "$RUN/env.txt" && ((lost > ${retrans/none/0})); then
      echo "not pinned: $step: time-wait-not-from-lost-fourth-segment nuanced: $lost segments retransmitted in the host's namespace, $retrans captured on the lab's port"
    else
      fail "$step: time-wait-not-from-lost-fourth-segment is $got, want refuted ($retrans retransmissions captured on the port, $lost in the namespace)"
    fi
  done
  # The pool holds <= 8 (check_steps); the rate against short-client decides,
  # timed on the wire (wire_rate_ratio), not taken from the client's ratio.
  ratio=$(value pool /observed/rate_ratio_vs_short)
  want=$(wire_rate_ratio)
  case $want in
    "") echo "not pinned: pool-fixes-time-wait: no complete capture to time the steps (root, tcpdump, no drops)"; want="not pinned" ;;
    *either*) echo "not pinned: pool-fixes-time-wait: on the wire the pool ran at ${want% *} the short step's rate, within 25 % of 1" ;;
    *)
      expect_verdict pool pool-fixes-time-wait "${want#* }" "on the wire the pool ran at ${want% *} the short step's rate (the client says x$ratio)"
      want=${want#* }
      ;;
  esac
  expect_verdict linger0 linger0-is-not-the-fix nuanced "SO_LINGER 0: no TIME_WAIT, an RST per connection"
  echo "ok: verdicts: closer-holds-time-wait nuanced (60 s); mass-time-wait $(step_verdict short-client mass-time-wait-from-many-closes);" \
    "lost-fourth-segment $(step_verdict short-client time-wait-not-from-lost-fourth-segment) ($retrans retransmissions captured);" \
    "pool $want (x$ratio); linger0 nuanced"
}

# wire_rate_ratio: "RATIO VERDICT" for pool-fixes-time-wait from capture.pcap:
# the short-client step's connections (one request each, closed by the
# client with a FIN) and the pool's (many requests each) timed from their
# first packet to their last with tcpdump's stamps; the same number of
# requests each, so rate pool / rate short = duration short / duration pool.
# VERDICT is "either" within 25 % of 1; nothing without a complete capture.
wire_rate_ratio() {
  [[ -s $RUN/capture.pcap ]] && (($(capture_dropped) == 0)) || return 0
  tcpdump -r "$RUN/capture.pcap" -n -tt "tcp port $(value short-client /params/port)" 2>/dev/null |
    awk -v port="$(value short-client /params/port)" '
      {
        for (i = 1; i <= NF; ++i) if ($i == ">") break
        src = $(i - 1); dst = $(i + 1); sub(/:$/, "", dst)
        sp = src; sub(/.*\./, "", sp); dp = dst; sub(/.*\./, "", dp)
        flags = $(i + 3); payload = match($0, / length [1-9]/)
        from_client = dp == port
        cport = from_client ? sp : dp
        if (from_client && flags ~ /S/ && flags !~ /\./) { id[cport] = ++conns; first[conns] = $1 }
        c = id[cport]
        if (!c) next
        last[c] = $1
        if (from_client && payload) ++requests[c]
        if (flags ~ /F/ && !(c in fin)) fin[c] = from_client ? "client" : "server"
        if (flags ~ /R/) rst[c] = 1
      }
      END {
        s0 = p0 = 1e18; s1 = p1 = 0
        for (c = 1; c <= conns; ++c) {
          if (requests[c] > 2) { if (first[c] < p0) p0 = first[c]; if (last[c] > p1) p1 = last[c] }
          else if (requests[c] == 1 && fin[c] == "client" && !(c in rst)) {
            if (first[c] < s0) s0 = first[c]; if (last[c] > s1) s1 = last[c]
          }
        }
        if (p1 <= p0 || s1 <= s0) exit
        r = (s1 - s0) / (p1 - p0)
        printf "x%.2f %s\n", r, (r > 1 / 1.25 && r < 1.25) ? "either" : (r >= 1 ? "confirmed" : "nuanced")
      }'
}

check_capture() {
  if [[ ! -e $RUN/capture.pcap && $MODE == refused ]]; then
    grep -q '^capture skipped: ' "$RUN/summary.md" || fail "no capture, and summary.md does not say why"
    echo "skipped: not root and no capture ($(grep -m1 '^capture skipped: ' "$RUN/summary.md"))"
    return 0
  fi
  if ! command -v tcpdump >/dev/null; then
    grep -q '^capture skipped: tcpdump is not installed' "$RUN/summary.md" || fail "no tcpdump, and summary.md does not say so"
    echo "skipped: the capture check needs tcpdump (and summary.md said so)"
    return 0
  fi
  [[ -s $RUN/capture.pcap ]] || fail "no capture.pcap as root"
  # summary.md's counts are netlab-pcap facts' counts of the same file.
  local syn fin rst repeated dropped requests
  syn=$(capture_fact /syn_segments)
  fin=$(capture_fact /fin_segments)
  rst=$(capture_fact /rst_segments)
  repeated=$(capture_fact /fin_retransmissions)
  grep -q "^- connections opened (SYN): $syn; FIN segments: $fin; RST segments: $rst (" "$RUN/summary.md" ||
    fail "summary.md's capture counts are not netlab-pcap facts' ($syn SYN, $fin FIN, $rst RST): $(grep -m1 'connections opened' "$RUN/summary.md")"
  grep -qx -- "- retransmitted FINs (a lost fourth segment would cause them): $repeated" "$RUN/summary.md" ||
    fail "summary.md's retransmitted FINs are not netlab-pcap facts' ($repeated)"
  dropped=$(capture_dropped)
  if ((dropped > 0)); then
    grep -q "tcpdump missed $dropped packets" "$RUN/summary.md" || fail "tcpdump dropped $dropped packets, summary.md does not say so"
    # Every segment sent was either captured or among the dropped.
    requests=$(value linger0 /params/requests)
    ((rst > 0 && rst + dropped >= requests)) || fail "capture.pcap has $rst RSTs (+$dropped dropped), want >= $requests"
    ((syn + dropped >= 500 + 500 + 8 + requests)) || fail "capture.pcap has $syn SYNs (+$dropped dropped)"
    ((fin + dropped >= 2 * (500 + 500 + 8))) || fail "capture.pcap has $fin FINs (+$dropped dropped)"
    echo "ok: summary.md: $syn SYN, $fin FIN, $rst RST, $repeated FINs sent again, as netlab-pcap facts counts them;" \
      "tcpdump dropped $dropped packets (said so), so the bounds count them in"
    return 0
  fi
  # Nothing dropped: every connection is there. Short steps and linger0 open
  # one each, the pool >= 8; each graceful close has two FINs, each linger0 connection an RST.
  requests=$(value linger0 /params/requests)
  ((rst >= requests)) || fail "capture.pcap has $rst RSTs, want >= $requests (one per linger0 connection)"
  ((syn >= 500 + 500 + 8 + requests)) || fail "capture.pcap has $syn SYNs, want >= $((500 + 500 + 8 + requests))"
  ((fin >= 2 * (500 + 500 + 8))) || fail "capture.pcap has $fin FINs, want >= $((2 * (500 + 500 + 8)))"
  echo "ok: summary.md: $syn SYN, $fin FIN, $rst RST (>= $requests linger0), $repeated FINs sent again, as netlab-pcap facts counts them"
}

check_run() {
  check_where
  grep -Eq '^net.ipv4.tcp_tw_reuse_delay = ([0-9]+|unavailable)$' "$RUN/env.txt" || fail "env.txt lacks tcp_tw_reuse_delay"
  check_files
  check_steps
  check_exhaustion
  check_verdicts
  check_capture
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  run_lab_three_ways netlab-timewait-client timewait --decay 0 -- --requests 500
}

main "$@"
