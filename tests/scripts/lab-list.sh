#!/usr/bin/env bash
# Test: `scripts/lab list` names every available lab (scripts/labs/*.sh) with its note heading.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

main() {
  local out
  out=$("$ROOT/scripts/lab" list) || fail "scripts/lab list exited $?"
  printf '%s\n' "$out"
  grep -Eq '^framing +粘包怎么解决$' <<<"$out" || fail "no 'framing  粘包怎么解决' line"
  local lab
  for lab in "$ROOT"/scripts/labs/*.sh; do
    lab=${lab##*/}
    grep -q "^${lab%.sh} " <<<"$out" || fail "lab ${lab%.sh} is not listed"
  done
  echo "ok: scripts/lab list"
}

main "$@"
