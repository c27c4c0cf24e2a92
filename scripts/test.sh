#!/usr/bin/env bash
# Builds netlab (through setup.sh) and runs every test with ctest: unit,
# integration (real pairs on loopback), --help smoke tests and the scripts.
# Its exit code is ctest's.
#
#   scripts/test.sh           the default preset (RelWithDebInfo)
#   scripts/test.sh --asan    the ASan + UBSan preset
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT

usage() {
  cat <<'EOF'
usage: scripts/test.sh [--asan]

Runs scripts/setup.sh for the preset (default, or asan with --asan), then
ctest on it. Tests run one at a time: they open many sockets and count them
by state, and tests running side by side would change each other's counts.
EOF
}

main() {
  local preset=default
  while (($#)); do
    case $1 in
      --asan) preset=asan ;;
      -h | --help) usage; exit 0 ;;
      *) printf 'test.sh: unknown option %s (see --help)\n' "$1" >&2; exit 2 ;;
    esac
    shift
  done
  "$ROOT/scripts/setup.sh" --preset "$preset"
  cd "$ROOT"
  exec ctest --preset "$preset" --parallel 1
}

main "$@"
