#!/usr/bin/env bash
# Test: `scripts/lab list` names every available lab (scripts/labs/*.sh) with its
# note heading, in the note's order; every lab declares what the tour needs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

main() {
  local out
  out=$("$ROOT/scripts/lab" list) || fail "scripts/lab list exited $?"
  printf '%s\n' "$out"
  grep -Eq '^framing +粘包怎么解决$' <<<"$out" || fail "no 'framing  粘包怎么解决' line"
  local lab key previous=0 order
  for lab in "$ROOT"/scripts/labs/*.sh; do
    lab=${lab##*/}
    grep -q "^${lab%.sh} " <<<"$out" || fail "lab ${lab%.sh} is not listed"
  done
  echo "ok: scripts/lab list"
  # The declaration (scripts/lib/declare.sh): what list, the lab and the tour read.
  NETLAB_ROOT=$ROOT
  source "$ROOT/scripts/lib/declare.sh"
  while read -r lab _; do
    for key in note order port claim claim-zh run run-zh look look-zh; do
      [[ -n $(lab_field "$lab" "$key") ]] || fail "scripts/labs/$lab.sh declares no lab-$key"
    done
    order=$(lab_field "$lab" order)
    awk -v a="$previous" -v b="$order" 'BEGIN { exit !(b > a) }' || fail "$lab (lab-order $order) is listed after lab-order $previous"
    previous=$order
  done <<<"$out"
  echo "ok: every lab declares its heading, order, port and narration (en, zh); listed in lab-order"
}

main "$@"
