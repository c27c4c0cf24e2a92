#!/usr/bin/env bash
# Compares netlab-pcap's TCP analysis with Wireshark's on the same capture
# files: for each class, the frames `netlab-pcap analysis` names and the frames
# `tshark -r FILE -Y tcp.analysis.<class>` matches. Prints one table row per
# capture and class (ours, tshark's, agreed or explained), then the frame
# numbers of every difference. (tshark runs once per file and its PDML is
# read for the same fields the -Y filters match.) A difference fails the run unless the
# differences file explains it:
#   <capture file name> <class> <frame number or *> <explanation...>
# Any capture file works (pcap or pcapng): the synthetic ones of
# netlab_test_make_captures, a loopback capture where tcpdump dropped, or one
# made through netlab-wire with seeded loss, reordering and duplication.
#
#   agree_with_tshark.sh [--differences FILE] [--table FILE] CAPTURE...
# Exit: 0 agreed (or explained), 1 an unexplained difference, 77 no tshark.
set -euo pipefail

readonly CLASSES=(retransmission fast_retransmission spurious_retransmission out_of_order lost_segment
  ack_lost_segment duplicate_ack zero_window zero_window_probe zero_window_probe_ack keep_alive keep_alive_ack)

PCAP=${NETLAB_PCAP:-$(dirname "$0")/../../build/default/bin/netlab-pcap}
DIFFERENCES=/dev/null
TABLE=

usage() {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
}

# The explanation of a difference, or nothing.
explained() {
  local capture=$1 class=$2 frame=$3
  awk -v c="$capture" -v k="$class" -v f="$frame" \
    '($1 == c || $1 == "*") && $2 == k && ($3 == f || $3 == "*") { $1 = $2 = $3 = ""; sub(/^ +/, ""); print; exit }' "$DIFFERENCES"
}

compare() {
  local file=$1 name ours theirs only_ours only_theirs class frame why status=0
  name=$(basename "$file")
  local tmp
  tmp=$(mktemp -d)
  "$PCAP" analysis "$file" > "$tmp/ours" || { echo "netlab-pcap analysis $file failed" >&2; rm -rf "$tmp"; return 1; }
  # One tshark pass: the tcp.analysis.<class> fields of every flagged frame,
  # "<frame> <class>" a line (what -Y tcp.analysis.<class> would match).
  tshark -r "$file" -Y tcp.analysis.flags -T pdml 2>/dev/null |
    awk '/<field name="num"/ { match($0, /show="[0-9]+"/); n = substr($0, RSTART + 6, RLENGTH - 7) }
         /<field name="tcp\.analysis\.[a-z_]+"/ { match($0, /name="tcp\.analysis\.[a-z_]+"/); print n, substr($0, RSTART + 19, RLENGTH - 20) }' \
    > "$tmp/theirs"
  for class in "${CLASSES[@]}"; do
    awk -v k="$class" '{ n = split($2, c, ","); for (i = 1; i <= n; ++i) if (c[i] == k) print $1 }' "$tmp/ours" | sort > "$tmp/o"
    awk -v k="$class" '$2 == k { print $1 }' "$tmp/theirs" | sort -u > "$tmp/t"
    ours=$(wc -l < "$tmp/o")
    theirs=$(wc -l < "$tmp/t")
    only_ours=$(comm -23 "$tmp/o" "$tmp/t" | tr '\n' ' ')
    only_theirs=$(comm -13 "$tmp/o" "$tmp/t" | tr '\n' ' ')
    local verdict=agree notes=""
    for frame in $only_ours; do
      why=$(explained "$name" "$class" "$frame")
      if [[ -n $why ]]; then notes+=" frame $frame ours only: $why;"; else notes+=" frame $frame ours only: UNEXPLAINED;"; status=1; fi
    done
    for frame in $only_theirs; do
      why=$(explained "$name" "$class" "$frame")
      if [[ -n $why ]]; then notes+=" frame $frame tshark only: $why;"; else notes+=" frame $frame tshark only: UNEXPLAINED;"; status=1; fi
    done
    [[ -z $notes ]] || verdict=$([[ $notes == *UNEXPLAINED* ]] && echo DIFFERENT || echo explained)
    printf '| %s | %s | %s | %s | %s |\n' "$name" "$class" "$ours" "$theirs" "$verdict" | tee -a "${TABLE:-/dev/null}"
    [[ -z $notes ]] || echo "    $name $class:$notes" >&2
  done
  rm -rf "$tmp"
  return "$status"
}

main() {
  while (($#)); do
    case $1 in
      --differences) DIFFERENCES=$2; shift 2 ;;
      --table) TABLE=$2; shift 2 ;;
      -h | --help) usage; exit 0 ;;
      *) break ;;
    esac
  done
  (($#)) || { usage >&2; exit 2; }
  if ! command -v tshark >/dev/null; then
    echo "skipped: tshark is not installed (scripts/setup.sh installs it)"
    exit 77
  fi
  [[ -x $PCAP ]] || { echo "no netlab-pcap at $PCAP (set NETLAB_PCAP)" >&2; exit 2; }
  local file status=0
  echo "| capture | class | netlab-pcap | tshark | |"
  echo "|---|---|---|---|---|"
  for file in "$@"; do
    compare "$file" || status=1
  done
  return "$status"
}

main "$@"
