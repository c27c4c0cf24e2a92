#!/usr/bin/env bash
# Test: `scripts/lab closewait` runs half-close, bug, fixed and idle-timeout on
# one port and writes its run folder; the half-close server sends its whole
# response in CLOSE_WAIT and close-wait-is-not-sending is nuanced from both
# measurements; the bug step leaves 5 CLOSE_WAIT sockets and 5
# more descriptors (and close-wait.txt shows them as ss does), the fixed step
# none, the idle timeout cleans up; as root, the capture shows no FIN from
# the server on the bug step's connections and one on each of the fixed step's.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

value() { "$BIN/netlab-report" get "$RUN/client-$1.json" "$2"; }

check_files() {
  check_run_files server.log client.json ss.csv env.txt summary.md close-wait.txt
  check_ss_sampled
  check_listed close-wait-means-not-closed
  local port rows
  port=$(<"$RUN/port.bug")
  rows=$(grep -c "127.0.0.1:$port " "$RUN/close-wait.txt") || true
  ((rows == 5)) || fail "close-wait.txt shows $rows CLOSE-WAIT sockets on port $port, want 5"
  echo "ok: run folder files; ss shows 5 CLOSE-WAIT after the bug step"
}

check_steps() {
  [[ $(value bug /observed/server_close_wait) == 5 ]] || fail "bug: server_close_wait is not 5"
  [[ $(value bug /observed/server_fd_growth) == 5 ]] || fail "bug: server descriptors did not grow by 5"
  [[ $(value bug /checks/0/verdict) == confirmed ]] || fail "bug: the CLOSE_WAIT check is not confirmed"
  check_sending_in_close_wait
  [[ $(value fixed /observed/server_close_wait) == 0 ]] || fail "fixed: CLOSE_WAIT left behind"
  [[ $(value fixed /observed/server_fd_growth) == 0 ]] || fail "fixed: descriptors grew"
  [[ $(value idle-timeout /observed/server_close_wait) == 5 ]] || fail "idle-timeout: the leak did not show first"
  [[ $(value idle-timeout /observed/server_close_wait_after_idle_timeout) == 0 ]] ||
    fail "idle-timeout: CLOSE_WAIT left after the timeout"
  echo "ok: bug 5 CLOSE_WAIT (+5 fds), fixed 0, idle timeout 5 -> 0"
}

# close-wait-is-not-sending weighs two measurements: the bug server's
# CLOSE_WAIT lasting with 0 bytes queued (not waiting for data), and the
# teardown half-close (client-half-close.json): a server with data left at
# the FIN sent all of it in CLOSE_WAIT, then its FIN. Both held: nuanced.
check_sending_in_close_wait() {
  local bytes sent state queued verdict
  bytes=$(value half-close /observed/response_bytes)
  sent=$(value half-close /observed/bytes_after_our_fin)
  state=$(value half-close /observed/steps/0/server)
  queued=$(value half-close /observed/steps/0/server_send_q)
  ((bytes > 0 && sent == bytes)) || fail "half-close: $sent of $bytes bytes after the client's FIN"
  # Once the client's FIN was acked the server still had its data: CLOSE-WAIT
  # (not written yet), or LAST-ACK with it queued behind its close().
  [[ $state == CLOSE-WAIT || ($state == LAST-ACK && $queued -gt 0) ]] ||
    fail "half-close: after the client's FIN the server was $state with $queued bytes queued: no data left"
  [[ $(value bug /observed/half_close/bytes_after_peer_fin) == "$sent" ]] ||
    fail "bug: observed.half_close is not client-half-close.json's measurement"
  (($(value bug /observed/server_close_wait_after_observe) == 5)) || fail "bug: CLOSE_WAIT did not last"
  [[ $(value bug /observed/server_close_wait_send_queue_bytes) == 0 ]] || fail "bug: CLOSE_WAIT with bytes queued"
  verdict=$(value bug /checks/1/verdict)
  [[ $verdict == nuanced ]] || fail "bug: close-wait-is-not-sending is $verdict, want nuanced: $(value bug /checks/1/observed)"
  echo "ok: close-wait-is-not-sending nuanced: bug CLOSE_WAIT with 0 bytes queued; half-close: $state, $queued bytes queued after the FIN, $sent sent"
}

check_capture() {
  capture_to_check capture.pcap || return 0
  local port groups
  port=$(<"$RUN/port.bug")
  groups=$(server_fins_by_step "$port")
  # bug: the server sends no FIN on its 5 connections while the client looks
  # (its FIN comes only when the server stops); fixed: all 5 at once;
  # idle-timeout: the bug again (the timer's FIN comes later).
  [[ $groups == $'5 0\n5 5\n5 0' ]] ||
    fail "server FINs (HELLO connections, FINs before the client's next STATUS) per step, want '5 0 / 5 5 / 5 0': ${groups//$'\n'/ \/ }"
  echo "ok: capture.pcap: the server sent no FIN on the bug step's 5 connections, 5 of 5 on the fixed step's"
}

# server_fins_by_step PORT: for each step, one line "HELLO-connections
# server-FINs": the connections that said HELLO (6 bytes) in the step, and how
# many of them got a FIN from the server's port before the client's next
# STATUS connection (7 bytes: the client asks for STATUS once it has seen the
# server side settle, so a FIN after it is the stop's, not the code's). Read
# from the capture, in capture order: no timing involved.
server_fins_by_step() {
  local port=$1
  tcpdump -r "$RUN/capture.pcap" -n "tcp port $port" 2>/dev/null | awk -v port="$port" '
    {
      src = $3; dst = $5; sub(/:$/, "", dst)
      sp = src; sub(/.*\./, "", sp); dp = dst; sub(/.*\./, "", dp)
      flags = $7; length_ = 0
      if (match($0, /length [0-9]+/)) length_ = substr($0, RSTART + 7, RLENGTH - 7) + 0
      ++n
      if (dp == port) {
        if (flags ~ /S/ && flags !~ /\./) { id[sp] = ++conns; syn[conns] = n }
        c = id[sp]
        if (c && length_ > 0 && !(c in kind)) kind[c] = length_
      } else if (sp == port) {
        c = id[dp]
        if (c && flags ~ /F/ && !(c in fin)) fin[c] = n
      }
    }
    END {
      hellos = 0
      for (c = 1; c <= conns; ++c) {
        if (kind[c] == 6) { members[++hellos] = c; continue }
        if (kind[c] == 7 && hellos > 0) {
          fins = 0
          for (m = 1; m <= hellos; ++m) if ((members[m] in fin) && fin[members[m]] < syn[c]) ++fins
          print hellos, fins
          hellos = 0
        }
      }
    }'
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  run_lab closewait
  check_files
  check_steps
  check_capture
}

main "$@"
