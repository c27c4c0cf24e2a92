#!/usr/bin/env bash
# Test: the Wireshark dissectors of tools/wireshark/netlab.lua on hand-made
# packets (text2pcap): a binary RPC request decodes field by field; bytes that
# break a protocol — an unknown RPC method, an RPC frame or framing length over
# the lab's maximum, a transport message with a wrong CRC-32, a datagram
# shorter or longer than its length field, a wrong magic — are each marked with
# their expert-info error, and nothing makes the Lua code fail. The labs'
# own captures are decoded in the lab tests (rpc, framing, transport).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# packet HEX...: one packet in text2pcap's input format (offset 0000 starts it).
packet() { printf '0000 %s\n' "$*"; }

# pcap NAME TEXT2PCAP_OPTIONS...: $TMP/NAME.pcap from $TMP/NAME.txt.
pcap() {
  local name=$1
  shift
  text2pcap -q "$@" "$TMP/$name.txt" "$TMP/$name.pcap" 2>"$TMP/text2pcap.err" ||
    fail "text2pcap: $(tail -n 1 "$TMP/text2pcap.err")"
}

# expect_expert PCAP FILTER WHAT [TSHARK OPTIONS...]: exactly one packet of
# PCAP matches the expert-info FILTER.
expect_expert() {
  local pcap=$1 filter=$2 what=$3 count
  shift 3
  dissected "$pcap" frame.number -Y "$filter" "$@" >"$TMP/frames.txt"
  count=$(wc -l <"$TMP/frames.txt")
  ((count == 1)) || fail "$what: $count packets marked $filter, expected 1"
  echo "ok: $what: marked $filter"
}

rpc() {
  {
    # put "abc" 5, id 7: length 18 | id | method 1 | key length 3 | "abc" | value 5
    packet 00 00 00 12 00 00 00 07 01 00 03 61 62 63 00 00 00 00 00 00 00 05
    # id 8, method 9 (there is none), empty key
    packet 00 00 00 07 00 00 00 08 09 00 00
    # a frame of 1 MiB (the lab's maximum is 64 KiB)
    packet 00 10 00 00 00 00 00 09 02 00 00
  } >"$TMP/rpc.txt"
  pcap rpc -T 40000,7007
  local fields
  dissected "$TMP/rpc.pcap" netlab_rpc.id -Y 'frame.number == 1' >"$TMP/ids.txt"
  fields="$(<"$TMP/ids.txt")"
  for field in netlab_rpc.method netlab_rpc.key netlab_rpc.value netlab_rpc.kind; do
    dissected "$TMP/rpc.pcap" "$field" -Y 'frame.number == 1' >"$TMP/field.txt"
    fields+=" $(<"$TMP/field.txt")"
  done
  [[ $fields == "7 1 abc 5 request" ]] || fail "the put request decodes as '$fields', expected '7 1 abc 5 request'"
  echo "ok: rpc: id 7, method 1 (put), key abc, value 5, a request"
  expect_expert "$TMP/rpc.pcap" netlab_rpc.bad_method "rpc: method 9"
  expect_expert "$TMP/rpc.pcap" netlab_rpc.oversized "rpc: a 1 MiB frame"
}

transport() {
  local header='4e 4c 54 31 00 01 00 00 00 00 00 00 00 00 00 2a 00 00 00 00 00 00 00 01'
  {
    # a data message, 4 payload bytes, CRC-32 0 (the right one is not 0)
    packet "$header" 00 00 00 04 00 00 00 00 de ad be ef
    # its length field says 10 bytes, the datagram holds 4
    packet "$header" 00 00 00 0a 00 00 00 00 de ad be ef
    # not the magic
    packet 58 58 58 58 00 01 00 00 00 00 00 00 00 00 00 2a 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00
    # shorter than a header
    packet 4e 4c 54 31 00 01 00 00
  } >"$TMP/transport.txt"
  pcap transport -u 40001,7001
  expect_expert "$TMP/transport.pcap" 'netlab_transport.bad_checksum && frame.number == 1' "transport: a wrong CRC-32"
  expect_expert "$TMP/transport.pcap" netlab_transport.length_mismatch "transport: a datagram shorter than its length"
  expect_expert "$TMP/transport.pcap" netlab_transport.bad_magic "transport: magic XXXX"
  expect_expert "$TMP/transport.pcap" netlab_transport.truncated "transport: 8 bytes"
}

framing() {
  # --codec length: a header saying 16 MiB + 1 (the maximum is 1 MiB). Told
  # the codec: "auto" takes a length header over the maximum for delimiter bytes.
  packet 01 00 00 01 41 42 43 >"$TMP/framing.txt"
  pcap framing -T 40002,7006
  expect_expert "$TMP/framing.pcap" netlab_framing.oversized "framing: a 16 MiB length header" \
    -o netlab_framing.codec:length
  # --codec delimiter: two segments of 40000 bytes without a newline (the maximum is 64 KiB)
  local segment
  segment=$(head -c 40000 /dev/zero | tr '\0' 'A' | od -An -tx1 -v | tr -s ' \n' ' ')
  { packet "$segment"; packet "$segment"; } >"$TMP/framing.txt"
  pcap framing -T 40002,7006
  expect_expert "$TMP/framing.pcap" netlab_framing.oversized "framing: 80000 bytes without a delimiter" \
    -o netlab_framing.codec:delimiter
}

main() {
  command -v text2pcap >/dev/null || fail "text2pcap is not installed (scripts/setup.sh installs tshark, which brings it)"
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  rpc
  transport
  framing
}

main "$@"
