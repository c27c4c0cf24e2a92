#!/usr/bin/env bash
# Builds netlab (through setup.sh) and runs every test with ctest: unit,
# integration (real pairs on loopback), --help smoke tests and the scripts.
# Its exit code is ctest's.
#
#   scripts/test.sh           the default preset (RelWithDebInfo)
#   scripts/test.sh --asan    the ASan + UBSan preset
#   scripts/test.sh --fuzz    the libFuzzer targets (clang), each fuzzed for a bounded time
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT

usage() {
  cat <<'EOF'
usage: scripts/test.sh [--asan | --fuzz]

Runs scripts/setup.sh for the preset (default, or asan with --asan), then
ctest on it. Tests run one at a time: they open many sockets and count them
by state, and tests running side by side would change each other's counts.
Every preset also replays the fuzz regression inputs (tests/fuzz/regressions)
and generated seeds through each fuzz harness (tests fuzz_replay.*).

The asan preset leaves out scripts.tour, scripts.bench-smoke and
scripts.test_testssl: the first two run the same programs the lab tests run
(under ASan the tour alone took 5 minutes of CI's 60), and what is their own
— the narration, the report card, the bench's tables — is tested in the
default preset; testssl's three scans (3 minutes under ASan) judge the TLS
configuration, which is the same in both builds, while the https server's
handshake code runs under ASan in the https tests and the tls fuzz target.
It leaves out scripts.lab-tmux too: the tmux session and its panes are
scripts, the same in both builds, around the framing lab that
scripts.lab-framing runs under ASan; and scripts.report-page: Chromium is
not built with ASan, and the page's own code (netlab-report html, its
escaping) runs under ASan in the html unit tests.

--fuzz builds the fuzz preset (clang; setup.sh installs clang and
libclang-rt-14-dev when missing) into build/fuzz, only the libFuzzer targets,
then runs ctest --preset fuzz -L fuzz: each decoder's target (codecs,
transport_message, rpc_frame, pcap, http, tls, wire) is fuzzed under ASan + UBSan
for 30 seconds (NETLAB_FUZZ_SECONDS), two targets at a time (each is one
process on one core, with no sockets), from seeds the build generates. Any crash,
sanitizer report, leak or per-input timeout fails its test and leaves the
input in build/fuzz/tests/fuzz/findings-<target>/ (tests/fuzz/README.md says
how it becomes a regression input).
EOF
}

main() {
  local preset=default
  while (($#)); do
    case $1 in
      --asan) preset=asan ;;
      --fuzz) preset=fuzz ;;
      -h | --help) usage; exit 0 ;;
      *) printf 'test.sh: unknown option %s (see --help)\n' "$1" >&2; exit 2 ;;
    esac
    shift
  done
  "$ROOT/scripts/setup.sh" --preset "$preset"
  cd "$ROOT"
  if [[ $preset == fuzz ]]; then
    # Each fuzz target is one process on one core, with no sockets: two at a time.
    exec ctest --preset fuzz -L fuzz --parallel 2
  fi
  exec ctest --preset "$preset" --parallel 1
}

main "$@"
