# shellcheck shell=bash
# netlab script library: a lab's declaration, the header block at the top of
# scripts/labs/<lab>.sh that scripts/lab, the tour and the lab itself (lab_begin, lab.sh) read:
#
#   # lab-note: http code / http header      the note's heading (scripts/lab list)
#   # lab-order: 7                           its place in the note (list, tour)
#   # lab-port: 7080                         the server's default port
#   # lab-options: [--quick]                 its own options, for its usage line (lab_option takes them)
#   # lab-programs: netlab-pcap              programs it needs besides its pair and netlab-report
#   # lab-dissector: netlab_rpc              its protocol in tools/wireshark/netlab.lua (labs with their own wire format)
#   # lab-netns: why it makes namespaces     (only labs that make namespaces or need CAP_NET_RAW)
#   # lab-claim: / lab-claim-zh:             the tour's narration, in English and Chinese:
#   # lab-run: / lab-run-zh:                 the note's claim, what runs, what to look at
#   # lab-look: / lab-look-zh:
#   # lab-tour: / lab-tour-quick:            the options the tour gives it (and with --quick)
#
# A field goes on for lines of '#' and four spaces, joined with one space; the
# block ends at the first other line. Sourced after common.sh; no side effects.

NETLAB_LABS_DIR=$NETLAB_ROOT/scripts/labs

# lab_field LAB KEY: the value of "# lab-KEY:" in the lab's header, or nothing.
lab_field() {
  awk -v key="$2" '
    NR == 1 { next }
    /^# lab-[a-z-]+:/ {
      current = substr($0, 7); sub(/:.*/, "", current)
      if (current == key) { value = substr($0, length(key) + 9); found = 1 }
      next
    }
    /^#     [^ ]/ && current != "" { if (current == key) value = value " " substr($0, 7); next }
    { exit }
    END { if (found) print value }' "$NETLAB_LABS_DIR/$1.sh"
}

# lab_programs LAB: the programs LAB runs, one line: its pair, netlab-report,
# netlab-pcap (the summary's capture facts) and its lab-programs.
lab_programs() {
  printf '%s\n' "netlab-$1-server netlab-$1-client netlab-report netlab-pcap $(lab_field "$1" programs)" |
    tr ' ' '\n' | awk 'NF && !seen[$0]++' | paste -sd' '
}

# The note's heading of a lab.
note_heading() { lab_field "$1" note; }

# The available labs in the note's order (lab-order); a lab without one comes
# after, by name.
available_labs() {
  local file lab order
  for file in "$NETLAB_LABS_DIR"/*.sh; do
    [[ -f $file ]] || continue
    lab=${file##*/}
    lab=${lab%.sh}
    order=$(lab_field "$lab" order)
    printf '%s\t%s\n' "${order:-999999}" "$lab"
  done | sort -t $'\t' -k1,1n -k2,2 | cut -f2
}
