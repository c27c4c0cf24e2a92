#!/usr/bin/env bash
# Test: `scripts/lab transport --quick` runs its nine steps and writes its run
# folder (server.log, relay.log, client.json with every step, ss.csv, env.txt,
# summary.md); TCP delivers every message in every step; on the impaired path
# the relay's counts equal the server's; the slow reader's UDP loss equals the
# kernel's drop count. Across netlab-wire (as root, and for any user where user
# namespaces are allowed): the lossy-link step ran (TCP retransmitted, UDP lost
# exactly what the wire dropped) and no namespace is left behind; the
# congestion step sampled TCP_INFO into cwnd.csv, drew cwnd.svg, and every
# check got a verdict while the bottleneck queue really dropped; with
# tcpdump, the per-step captures hold the RST and the ICMP port unreachables
# from the closed port (netlab-pcap facts), as the lab reported them, and
# tcp-costs-more is judged from the overhead capture's bytes (tcpdump's own).
# flow-control is confirmed exactly when the sender saw the receiver's window
# hold it back (rwnd-limited time or a zero window) and UDP lost datagrams.
# The window step (across the wire, as root and as nobody): its two verdicts
# follow from its three flows' numbers, the unscaled flow agreed no scale and
# never saw a window above 65535, the other two did; with tcpdump, the SYN and
# SYN-ACK carry a wscale option except in the unscaled flow. The persist step:
# the zero-window probes counted in its capture are Wireshark's (tshark), and
# zero-window-probes-back-off follows from their gaps.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

value() { "$BIN/netlab-report" get "$RUN/client.json" "$1"; }

# The steps of client.json by name: "plain slow-reader ...".
step_index() {
  local i=0 name
  while name=$(value "/observed/steps/$i/params/mode" 2>/dev/null); do
    [[ $name == "$1" ]] && { echo "$i"; return 0; }
    i=$((i + 1))
    ((i < 20)) || break
  done
  return 1
}

check_files() {
  check_run_files server.log relay.log client.json ss.csv env.txt summary.md
  grep -q '^net.core.rmem_max = ' "$RUN/env.txt" || fail "env.txt lacks net.core.rmem_max"
  grep -q 'relay-equals-server' "$RUN/summary.md" || fail "summary.md lacks the relay check"
  grep -q 'What the captures and the kernel counted' "$RUN/summary.md" || fail "summary.md lacks the capture notes"
  grep -q 'flow-control' "$TMP/out.txt" || fail "the verdict table was not printed"
  echo "ok: run folder files"
}

check_steps() {
  local step i
  for step in plain slow-reader impaired semantics overhead; do
    step_index "$step" >/dev/null || fail "client.json has no step $step"
  done
  for step in plain slow-reader overhead; do
    i=$(step_index "$step")
    [[ $(value "/observed/steps/$i/observed/tcp/server/lost") == 0 ]] || fail "$step: TCP lost messages"
    [[ $(value "/observed/steps/$i/observed/tcp/server/unique") == "$(value "/observed/steps/$i/params/messages")" ]] ||
      fail "$step: TCP did not deliver every message"
  done
  echo "ok: TCP delivered every message in plain, slow-reader and overhead"

  i=$(step_index slow-reader)
  local lost kernel
  lost=$(value "/observed/steps/$i/observed/udp/server/lost")
  kernel=$(value "/observed/steps/$i/observed/udp/server/socket_drops_of_data")
  ((lost > 0)) || fail "slow-reader: UDP lost nothing"
  [[ $lost == "$kernel" ]] || fail "slow-reader: UDP lost $lost but SO_RXQ_OVFL counted $kernel"
  echo "ok: slow reader: UDP lost $lost = the kernel's $kernel"
  # flow-control is confirmed only on the receiver's window: TCP_INFO's
  # rwnd-limited time or a zero window seen by the sender, not EAGAIN.
  local rwnd zero got want
  rwnd=$(value "/observed/steps/$i/observed/tcp/rwnd_limited_ms" 2>/dev/null) || rwnd=0
  zero=$(value "/observed/steps/$i/observed/tcp/zero_window_samples" 2>/dev/null) || zero=0
  got=$(verdict flow-control "$RUN/client-slow-reader.json")
  want=$(awk -v r="$rwnd" -v z="$zero" -v l="$lost" 'BEGIN { print ((r > 0 || z > 0) && l > 0 ? "confirmed" : "nuanced") }')
  [[ $got == "$want" ]] || fail "slow-reader: flow-control is $got; rwnd-limited $rwnd ms, $zero zero-window samples: want $want"
  echo "ok: slow reader: flow-control $got (rwnd-limited $rwnd ms, $zero zero-window samples)"

  i=$(step_index impaired)
  local what
  for what in lost:dropped reordered:reordered duplicated:duplicated_out; do
    [[ $(value "/observed/steps/$i/observed/udp/server/${what%%:*}") == \
       $(value "/observed/steps/$i/observed/udp/relay/${what#*:}") ]] ||
      fail "impaired: server ${what%%:*} differs from relay ${what#*:}"
  done
  (($(value "/observed/steps/$i/observed/udp/server/lost") > 0)) || fail "impaired: the relay dropped nothing"
  echo "ok: impaired: the relay's counts equal the server's"

  i=$(step_index semantics)
  [[ $(value "/observed/steps/$i/observed/semantics/tcp_connect_refused") == true ]] ||
    fail "semantics: TCP connect to the closed port was not refused"
  echo "ok: semantics: TCP refused"
}

# The lossy link and the congestion step run across netlab-wire, as root and
# (in a user namespace) as any user; only a system that forbids both skips them.
check_lossy_link() {
  if grep -q 'lossy-link: skipped' "$TMP/out.txt"; then
    ((EUID != 0)) || fail "as root the lossy link must run ($(grep -m1 'lossy-link: skipped' "$TMP/out.txt"))"
    grep -q 'user namespace' "$TMP/out.txt" || fail "lossy-link skipped without saying user namespaces are refused"
    echo "skipped: $(grep -m1 'lossy-link: skipped' "$TMP/out.txt")"
    return 0
  fi
  local i udp_dropped lost attempt socket_drops ns wire=$RUN/wire-lossy-link.json
  i=$(step_index lossy-link) || fail "client.json has no lossy-link step"
  [[ $(value "/observed/steps/$i/observed/tcp/server/lost") == 0 ]] || fail "lossy-link: TCP lost messages"
  (($(value "/observed/steps/$i/observed/tcp/total_retrans") > 0)) || fail "lossy-link: TCP retransmitted nothing"
  lost=$(value "/observed/steps/$i/observed/udp/server/lost")
  attempt=$(value "/observed/steps/$i/observed/udp/server/done_attempt")
  socket_drops=$(value "/observed/steps/$i/observed/udp/server/socket_drops")
  [[ -f $wire ]] || fail "lossy-link: no wire-lossy-link.json"
  udp_dropped=$("$BIN/netlab-report" get "$wire" '/directions/left>right/dropped/udp')
  ((udp_dropped > 0)) || fail "lossy-link: the wire dropped no UDP datagram"
  ((lost + attempt - 1 == udp_dropped + socket_drops)) ||
    fail "lossy-link: UDP lost $lost (+$((attempt - 1)) done copies), the wire dropped $udp_dropped, socket $socket_drops"
  grep -qF "netlab-wire (seed 7) dropped udp $udp_dropped packets" "$RUN/summary.md" ||
    fail "summary.md does not give the wire's drop count"
  # The namespaces this run made (named in its output) must be gone.
  for ns in $(grep -o 'netlab-\(client\|wire\|server\)-[0-9a-f]*' "$TMP/out.txt" | sort -u); do
    ! ip netns list 2>/dev/null | grep -q "^$ns\b" || fail "the lab left the namespace $ns behind"
  done
  # Seeded: the same seed drops the same datagrams of the same stream, in every run.
  if [[ -n ${FIRST_UDP_DROPPED-} ]]; then
    ((udp_dropped == FIRST_UDP_DROPPED)) ||
      fail "lossy-link: the same seed dropped $udp_dropped datagrams in this run, $FIRST_UDP_DROPPED in the first"
  fi
  FIRST_UDP_DROPPED=$udp_dropped
  echo "ok: lossy link: TCP retransmitted, UDP lost $lost = the wire's $udp_dropped drops + $socket_drops socket drops + $((attempt - 1)) retried done; namespaces removed"
}

check_congestion() {
  if grep -q 'congestion: skipped' "$TMP/out.txt"; then
    ((EUID != 0)) || fail "as root the congestion step must run"
    echo "skipped: $(grep -m1 'congestion: skipped' "$TMP/out.txt")"
    return 0
  fi
  local i id rows flows drops
  i=$(step_index congestion) || fail "client.json has no congestion step"
  [[ -s $RUN/cwnd.csv && -s $RUN/cwnd.svg ]] || fail "congestion: no cwnd.csv or cwnd.svg"
  rows=$(($(wc -l <"$RUN/cwnd.csv") - 1))
  ((rows > 100)) || fail "congestion: only $rows TCP_INFO samples in cwnd.csv"
  grep -q '<polyline' "$RUN/cwnd.svg" || fail "congestion: cwnd.svg draws nothing"
  for id in tcp-slow-start tcp-backs-off-on-loss tcp-fills-the-link tcp-flows-share udp-ignores-congestion tcp-algorithms-differ; do
    [[ $(verdict "$id" "$RUN/client-congestion.json") =~ ^(confirmed|refuted|nuanced)$ ]] || fail "congestion: check $id has no verdict"
  done
  # Every message of every flow arrived once with its checksum right.
  [[ $(value "/observed/steps/$i/observed/single/server/lost") == 0 &&
     $(value "/observed/steps/$i/observed/single/server/corrupted") == 0 ]] || fail "congestion: the single flow lost or corrupted messages"
  # The back-off was measured at a loss the wire really caused: its queue dropped frames.
  drops=$("$BIN/netlab-report" get "$RUN/wire-congestion.json" '/directions/left>right/dropped/queue')
  ((drops > 0)) || fail "congestion: the bottleneck queue dropped nothing"
  flows=$(cut -d, -f1 "$RUN/cwnd.csv" | sort -u | grep -c -v '^flow$')
  ((flows >= 4)) || fail "congestion: cwnd.csv has $flows flows"
  echo "ok: congestion: $rows samples of $flows flows, the queue dropped $drops frames, every check has a verdict"
}

# window/RTT: the verdicts recomputed from the three flows' numbers (so a
# wrong rule fails here), and the facts the unscaled flow must show.
check_window() {
  if grep -q 'window: skipped' "$TMP/out.txt"; then
    ((EUID != 0)) || fail "as root the window step must run"
    echo "skipped: $(grep -m1 'window: skipped' "$TMP/out.txt")"
    return 0
  fi
  local j=$RUN/client-window.json want got c
  [[ -s $j ]] || fail "window: no client-window.json"
  flow_value() { "$BIN/netlab-report" get "$RUN/client-window-$1.json" "/observed/window/$2"; }
  [[ $(flow_value unscaled window_scaling) == false && $(flow_value unscaled sysctl_tcp_window_scaling) == 0 ]] ||
    fail "window: the unscaled flow agreed a scale ($(flow_value unscaled window_scaling), sysctl $(flow_value unscaled sysctl_tcp_window_scaling))"
  (($(flow_value unscaled peer_window_max) <= 65535)) || fail "window: the unscaled flow saw a window of $(flow_value unscaled peer_window_max)"
  for c in small autotuned; do
    [[ $(flow_value "$c" window_scaling) == true ]] || fail "window: the $c flow agreed no window scale"
    [[ $(flow_value "$c" server_lost) == 0 && $(flow_value "$c" server_unique) -gt 0 ]] || fail "window: the $c flow lost messages"
  done
  want=$(awk -v s="$(flow_value small goodput_share_of_bound)" -v sg="$(flow_value small goodput_mbit)" -v sw="$(flow_value small peer_window_median)" \
    -v ag="$(flow_value autotuned goodput_mbit)" -v aw="$(flow_value autotuned peer_window_median)" 'BEGIN {
      print (s > 1.15 ? "refuted" : s >= 0.7 && ag >= 1.5 * sg && aw >= 1.5 * sw ? "confirmed" : "nuanced") }')
  got=$(verdict rwnd-bounds-throughput "$j")
  [[ $got == "$want" ]] || fail "window: rwnd-bounds-throughput is $got, the numbers say $want"
  want=$(awk -v ug="$(flow_value unscaled goodput_mbit)" -v ur="$(flow_value unscaled srtt_ms)" -v am="$(flow_value autotuned peer_window_max)" \
    -v ag="$(flow_value autotuned goodput_mbit)" 'BEGIN { cap = 65535 * 8 / 1e6 / (ur / 1000); opens = am > 65535; faster = ag >= 1.5 * ug
      print (ug > 1.15 * cap || (opens && !faster) ? "refuted" : opens && faster ? "confirmed" : "nuanced") }')
  got=$(verdict window-scaling-needed-for-long-fat-paths "$j")
  [[ $got == "$want" ]] || fail "window: window-scaling-needed-for-long-fat-paths is $got, the numbers say $want"
  if [[ -s $RUN/capture-window-small.pcap ]]; then
    (($(tcpdump -r "$RUN/capture-window-autotuned.pcap" -n 2>/dev/null | grep -c 'wscale') == 2)) ||
      fail "window: the autotuned flow's SYN and SYN-ACK do not both carry wscale"
    (($(tcpdump -r "$RUN/capture-window-unscaled.pcap" -n 2>/dev/null | grep -c 'wscale') == 0)) ||
      fail "window: a SYN of the unscaled flow carries wscale"
  fi
  echo "ok: window: small $(flow_value small goodput_mbit) Mbit/s at $(flow_value small goodput_share_of_bound) of its window/RTT, autotuned $(flow_value autotuned goodput_mbit), unscaled $(flow_value unscaled goodput_mbit) (window max $(flow_value unscaled peer_window_max)); verdicts follow"
}

# The persist step: our probe count is Wireshark's, the verdict follows from the gaps.
check_persist() {
  local j=$RUN/client-persist-probes.json pcap=$RUN/capture-persist.pcap port probes by_tshark want got
  [[ -s $pcap ]] || { echo "skipped: no capture-persist.pcap"; return 0; }
  [[ -s $j ]] || fail "persist: a capture but no client-persist-probes.json"
  probes=$("$BIN/netlab-report" get "$j" /observed/persist/probes)
  ((probes > 0)) || fail "persist: no zero-window probe in the capture"
  port=$(<"$RUN/port.persist")
  by_tshark=$(tshark -n -r "$pcap" -Y "tcp.dstport == $port && (tcp.analysis.zero_window_probe || tcp.analysis.keep_alive)" 2>/dev/null | wc -l)
  ((probes == by_tshark)) || fail "persist: $probes probes counted, tshark marks $by_tshark"
  # Each gap against the one before it in its stall: all at least 1.5 times -> confirmed.
  local i k gap last pairs=0 grew=0
  for ((i = 0; i < 50; i++)); do
    "$BIN/netlab-report" get "$j" "/observed/persist/gaps_ms_per_stall/$i" >/dev/null 2>&1 || break
    last=""
    for ((k = 0; k < 50; k++)); do
      gap=$("$BIN/netlab-report" get "$j" "/observed/persist/gaps_ms_per_stall/$i/$k" 2>/dev/null) || break
      if [[ -n $last ]]; then
        pairs=$((pairs + 1))
        grew=$((grew + $(awk -v a="$last" -v b="$gap" 'BEGIN { print (b >= 1.5 * a) }')))
      fi
      last=$gap
    done
  done
  want=$(awk -v p="$pairs" -v g="$grew" 'BEGIN { print (p == 0 ? "skipped" : g == p ? "confirmed" : g == 0 ? "refuted" : "nuanced") }')
  got=$(verdict zero-window-probes-back-off "$j")
  [[ $got == "$want" ]] || fail "persist: zero-window-probes-back-off is $got, the gaps say $want"
  echo "ok: persist: $probes probes (tshark agrees), zero-window-probes-back-off $got"
}

check_capture() {
  if [[ ! -e $RUN/capture.pcap ]]; then
    ((EUID != 0)) || ! command -v tcpdump >/dev/null || fail "no capture.pcap as root with tcpdump"
    echo "skipped: no capture ($(grep -m1 'capture skipped' "$RUN/summary.md" || echo 'no reason given'))"
    return 0
  fi
  [[ -s $RUN/capture-semantics.pcap ]] || fail "no capture-semantics.pcap"
  local dead rst icmp said
  dead=$(value "/observed/steps/$(step_index semantics)/observed/semantics/dead_port")
  { read -r rst; read -r icmp; } < <("$BIN/netlab-pcap" facts "$RUN/capture-semantics.pcap" --port "$dead" \
    --get /rst_from_server --get /icmp_port_unreachable)
  ((rst >= 1)) || fail "capture-semantics.pcap has no RST from the closed port $dead"
  # Loopback is exempt from the kernel's ICMP rate limit: every datagram to the closed port is answered.
  ((icmp >= 1)) || fail "capture-semantics.pcap has no ICMP port unreachable for the closed port $dead"
  # tcpdump's own filters, as a second reader of the same file.
  local by_tcpdump
  by_tcpdump=$(tcpdump -r "$RUN/capture-semantics.pcap" -nn "tcp src port $dead and tcp[13] & 4 != 0" 2>/dev/null | wc -l)
  ((rst == by_tcpdump)) || fail "netlab-pcap counts $rst RST from port $dead, tcpdump $by_tcpdump"
  by_tcpdump=$(tcpdump -r "$RUN/capture-semantics.pcap" -nn "icmp[0] = 3 and icmp[1] = 3" 2>/dev/null | wc -l)
  ((icmp == by_tcpdump)) || fail "netlab-pcap counts $icmp ICMP port unreachable, tcpdump $by_tcpdump"
  # What the lab printed is what the reader counts in the same file.
  said="the closed port $dead answered the SYN with $rst RST; $icmp ICMP port-unreachable"
  grep -qF "$said" "$RUN/summary.md" || fail "summary.md does not say: $said"
  check_overhead
  check_dissected
  echo "ok: capture-semantics.pcap: $rst RST from the closed port $dead, $icmp ICMP port unreachable (as the lab said)"
}

# As nobody the lab enters an unprivileged user namespace and makes its path
# there: the lossy link and the congestion step run and measure the same things.
as_nobody() {
  ((EUID == 0)) || return 0
  if ! setpriv --reuid=65534 --regid=65534 --clear-groups unshare --map-current-user --net --mount --keep-caps true 2>/dev/null; then
    echo "skipped as nobody: this system does not allow an unprivileged user + network namespace"
    return 0
  fi
  setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$BIN/netlab-wire" ||
    fail "nobody cannot run $BIN/netlab-wire (the build must be readable by everyone)"
  local status=0 runs
  mkdir -m 777 "$TMP/nobody"
  setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$TMP/nobody" NETLAB_BIN_DIR="$BIN" \
    NETLAB_RUNS_DIR="$TMP/nobody" "$ROOT/scripts/lab" transport --port 0 --quick >"$TMP/out.txt" 2>&1 || status=$?
  ((status == 0)) || fail "scripts/lab transport --quick as nobody exited $status"
  runs=("$TMP"/nobody/*-transport)
  RUN=${runs[0]}
  ! grep -qE '(lossy-link|congestion): skipped' "$TMP/out.txt" || fail "as nobody a wire step was skipped: $(grep -m1 -E '(lossy-link|congestion): skipped' "$TMP/out.txt")"
  check_lossy_link
  check_congestion
  check_window
  echo "ok: as nobody, through a user namespace"
}

# The overhead row of summary.md against tcpdump's own reading of the same
# capture (each IP packet's total length, summed per protocol), and the
# overhead step's tcp-costs-more verdict against those bytes.
check_overhead() {
  local pcap=$RUN/capture-overhead.pcap messages said_tcp said_udp wire_tcp wire_udp want
  [[ -s $pcap ]] || fail "no capture-overhead.pcap although the lab captured"
  messages=$(value "/observed/steps/$(step_index overhead)/params/messages")
  read -r said_tcp said_udp < <(sed -n 's/^- overhead: per message, from the capture: TCP \([0-9.]*\) IP bytes in [0-9.]* packets, UDP \([0-9.]*\) IP bytes.*/\1 \2/p' "$RUN/summary.md")
  [[ -n $said_tcp && -n $said_udp ]] || fail "summary.md lacks the overhead measured in the capture"
  read -r wire_tcp wire_udp < <(tcpdump -r "$pcap" -n -v 2>/dev/null | awk -v n="$messages" '
    match($0, /proto TCP \(6\), length [0-9]+/) { split(substr($0, RSTART, RLENGTH), f, " "); tcp += f[5] }
    match($0, /proto UDP \(17\), length [0-9]+/) { split(substr($0, RSTART, RLENGTH), f, " "); udp += f[5] }
    END { printf "%.1f %.1f\n", tcp / n, udp / n }')
  [[ $said_tcp == "$wire_tcp" && $said_udp == "$wire_udp" ]] ||
    fail "summary.md says TCP $said_tcp / UDP $said_udp IP bytes per message, tcpdump reads $wire_tcp / $wire_udp"
  # With a capture, the capture judges: the overhead step leaves tcp-costs-more
  # to overhead-capture, which reads the same file as tcpdump here: its verdict
  # and numbers are tcpdump's, even when tcpdump missed packets (then the lab
  # says the counts undercount).
  local judge=$RUN/client-overhead-capture.json observed missed
  want=$(awk -v t="$wire_tcp" -v u="$wire_udp" 'BEGIN { print (t > u ? "confirmed" : "nuanced") }')
  [[ -s $judge ]] || fail "no client-overhead-capture.json although the lab captured"
  [[ $("$BIN/netlab-report" checks "$RUN/client-overhead.json" | cut -f2 | grep -cx tcp-costs-more || true) == 0 ]] ||
    fail "overhead: the header-size estimate still judged tcp-costs-more although there was a capture"
  [[ $(verdict tcp-costs-more "$judge") == "$want" ]] ||
    fail "overhead: tcp-costs-more is $(verdict tcp-costs-more "$judge"), the capture says $want (TCP $wire_tcp, UDP $wire_udp B/message)"
  observed=$("$BIN/netlab-report" checks "$judge" | awk -F'\t' '$2 == "tcp-costs-more" { print $5 }')
  [[ $observed == "per message: TCP $wire_tcp bytes in "*", UDP $wire_udp bytes in "* ]] ||
    fail "overhead-capture says '$observed', tcpdump reads TCP $wire_tcp / UDP $wire_udp IP bytes per message"
  missed=$(capture_dropped "$pcap.log")
  ((${missed:-0} == 0)) || echo "note: tcpdump missed $missed packets of capture-overhead.pcap: both readings undercount alike"
  echo "ok: overhead: TCP $wire_tcp, UDP $wire_udp IP bytes per message (tcpdump agrees with summary.md and overhead-capture); tcp-costs-more $want"
}

# capture-overhead.pcap as the Wireshark dissector decodes it
# (tools/wireshark/netlab.lua, found by the messages' magic on the step's
# port): every data message the step sent, over TCP and over UDP, with a
# CRC-32 that matches. On loopback tcpdump sees every datagram sent, also
# those the receiver's buffer drops later; unless it missed packets itself.
check_dissected() {
  local pcap=$RUN/capture-overhead.pcap messages tcp udp bad missed
  messages=$(value "/observed/steps/$(step_index overhead)/params/messages")
  missed=$(capture_dropped "$pcap.log")
  # kind 1 is data; unique sequence numbers (a retransmitted segment repeats some)
  dissected "$pcap" netlab_transport.kind+netlab_transport.sequence -Y tcp >"$TMP/tcp.txt"
  dissected "$pcap" netlab_transport.kind+netlab_transport.sequence -Y udp >"$TMP/udp.txt"
  dissected "$pcap" frame.number -Y 'netlab_transport.bad_checksum || netlab_transport.bad_magic' >"$TMP/bad.txt"
  tcp=$(awk '$1 == 1 { print $2 }' "$TMP/tcp.txt" | sort -nu | wc -l)
  udp=$(awk '$1 == 1 { print $2 }' "$TMP/udp.txt" | sort -nu | wc -l)
  bad=$(wc -l <"$TMP/bad.txt")
  ((bad == 0)) || fail "the dissector marks $bad packets of capture-overhead.pcap with a bad checksum or magic"
  if ((${missed:-0} > 0)); then
    echo "not counted: tcpdump missed $missed packets of capture-overhead.pcap; the dissector decoded $tcp TCP and $udp UDP data messages"
    return 0
  fi
  ((tcp == messages && udp == messages)) ||
    fail "the dissector decodes $tcp TCP and $udp UDP data messages in capture-overhead.pcap; the step sent $messages each way"
  echo "ok: the Wireshark dissector decodes the $messages data messages over TCP and over UDP, every CRC-32 matching"
}

main() {
  TMP=$(mktemp -d)
  chmod 755 "$TMP"
  trap cleanup EXIT INT TERM
  run_lab transport --port 0 --quick
  check_files
  check_steps
  check_lossy_link
  check_congestion
  check_window
  check_capture
  check_persist
  as_nobody
}

main "$@"
