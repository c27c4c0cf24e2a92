#!/usr/bin/env bash
# smoke.<program>.help: `<program> --help` exits 0 and prints the program's own
# usage line on stdout. (ctest's PASS_REGULAR_EXPRESSION alone would ignore the
# exit code, and "--port" also matched netlab-report's "has no --port".)
#   check-help.sh PATH NAME
set -euo pipefail

main() {
  local path=$1 name=$2 out status=0
  out=$("$path" --help 2>/dev/null) || status=$?
  if ((status != 0)); then
    echo "FAIL: $name --help exited $status, not 0" >&2
    exit 1
  fi
  if ! grep -Eq "^Usage: (.*/)?${name}( |$)" <<<"$out"; then
    echo "FAIL: $name --help printed no 'Usage: $name ...' line; it said:" >&2
    head -n 5 <<<"$out" >&2
    exit 1
  fi
  echo "ok: $name --help exits 0 with its usage line"
}

main "$@"
