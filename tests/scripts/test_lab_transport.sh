#!/usr/bin/env bash
# Test: `scripts/lab transport` runs its six steps and writes its run folder
# (server.log, relay.log, client.json with every step, ss.csv, env.txt,
# summary.md); TCP delivers every message in every step; on the impaired path
# the relay's counts equal the server's; the slow reader's UDP loss equals the
# kernel's drop count. As root: the lossy-link step ran (TCP retransmitted,
# UDP lost exactly what nftables dropped) and no namespace is left behind; with
# tcpdump, the per-step captures hold the RST and the ICMP port unreachables
# from the closed port (netlab-pcap facts), as the lab reported them.
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
  local file
  for file in server.log relay.log client.json ss.csv env.txt summary.md; do
    [[ -s $RUN/$file ]] || fail "$file is missing or empty"
  done
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

check_lossy_link() {
  if ((EUID != 0)) || ! command -v nft >/dev/null; then
    grep -q 'lossy-link: skipped' "$TMP/out.txt" || fail "without root or nft the lossy link must say it was skipped"
    echo "skipped: the lossy-link checks need root and nft ($(grep -m1 'lossy-link: skipped' "$TMP/out.txt"))"
    return 0
  fi
  local i udp_dropped lost attempt socket_drops ns
  i=$(step_index lossy-link) || fail "as root, client.json has no lossy-link step"
  [[ $(value "/observed/steps/$i/observed/tcp/server/lost") == 0 ]] || fail "lossy-link: TCP lost messages"
  (($(value "/observed/steps/$i/observed/tcp/total_retrans") > 0)) || fail "lossy-link: TCP retransmitted nothing"
  lost=$(value "/observed/steps/$i/observed/udp/server/lost")
  attempt=$(value "/observed/steps/$i/observed/udp/server/done_attempt")
  socket_drops=$(value "/observed/steps/$i/observed/udp/server/socket_drops")
  udp_dropped=$(sed -n 's/.*the nftables rules dropped udp \([0-9]*\) packets.*/\1/p' "$TMP/out.txt")
  [[ -n $udp_dropped ]] || fail "lossy-link: the nftables counters were not reported"
  ((lost + attempt - 1 == udp_dropped + socket_drops)) ||
    fail "lossy-link: UDP lost $lost (+$((attempt - 1)) done copies), nftables dropped $udp_dropped, socket $socket_drops"
  # The namespaces this run made (named in its output) must be gone.
  for ns in $(grep -o 'netlab-tr-[ab]-[0-9a-f]*' "$TMP/out.txt" | sort -u); do
    ! ip netns list | grep -q "^$ns\b" || fail "the lab left the namespace $ns behind"
  done
  echo "ok: lossy link: TCP retransmitted, UDP lost $lost = nftables' $udp_dropped drops; namespaces removed"
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
  echo "ok: capture-semantics.pcap: $rst RST from the closed port $dead, $icmp ICMP port unreachable (as the lab said)"
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
  # tcpdump on a busy machine may miss packets (the lab says so): then the
  # capture undercounts and cannot judge the verdict.
  local missed
  missed=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$pcap.log" 2>/dev/null | head -n 1)
  if ((${missed:-0} > 0)); then
    echo "not judged: overhead: tcpdump missed $missed packets, so tcp-costs-more is not compared with the capture"
    return 0
  fi
  want=$(awk -v t="$wire_tcp" -v u="$wire_udp" 'BEGIN { print (t > u ? "confirmed" : "nuanced") }')
  [[ $(verdict tcp-costs-more "$RUN/client-overhead.json") == "$want" ]] ||
    fail "overhead: tcp-costs-more is $(verdict tcp-costs-more "$RUN/client-overhead.json"), the capture says $want (TCP $wire_tcp, UDP $wire_udp B/message)"
  echo "ok: overhead: TCP $wire_tcp, UDP $wire_udp IP bytes per message (tcpdump agrees with summary.md); tcp-costs-more $want"
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  run_lab transport --port 0
  check_files
  check_steps
  check_lossy_link
  check_capture
}

main "$@"
