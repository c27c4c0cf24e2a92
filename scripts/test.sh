#!/usr/bin/env bash
# Builds netlab (through setup.sh) and runs every test with ctest: unit,
# integration (real pairs on loopback), --help smoke tests and the scripts.
# Its exit code is ctest's.
#
#   scripts/test.sh           the default preset (RelWithDebInfo)
#   scripts/test.sh --asan    the ASan + UBSan preset
#   scripts/test.sh --fuzz    the libFuzzer targets (clang), each fuzzed for a bounded time
#   scripts/test.sh --all     all three, each build beside the tests before it (CI: .ci/run)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT

usage() {
  cat <<'EOF'
usage: scripts/test.sh [--asan | --fuzz | --all]

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

--all runs the three in turn (default, asan, fuzz: what CI runs) and exits 1
if any of them failed (each still runs). Each build after the first runs
beside the tests before it, at the lowest CPU priority (nice 19): the tests
mostly wait on the network and timers, so the compiler takes the idle CPU
and a test that needs a core gets it first (CFS gives nice 0 about 68 times
the share of nice 19). The build's progress goes to build/<preset>/setup.log,
whose end is shown if it fails.
EOF
}

# run_ctest PRESET: the preset's tests (fuzz targets two at a time: each is
# one process on one core, with no sockets); returns ctest's exit code.
run_ctest() {
  if [[ $1 == fuzz ]]; then
    ctest --preset fuzz -L fuzz --parallel 2
  else
    ctest --preset "$1" --parallel 1
  fi
}

# BUILD_PID: the background build of run_all, stopped if the run is interrupted.
BUILD_PID=""
stop_build() {
  [[ -z $BUILD_PID ]] || kill -- "-$BUILD_PID" 2>/dev/null || true
}

# build_beside PRESET: scripts/setup.sh for PRESET in the background, at
# nice 19, in its own process group (stop_build ends all of it); its lines
# go to build/PRESET/setup.log.
build_beside() {
  mkdir -p "$ROOT/build/$1"
  set -m
  nice -n 19 "$ROOT/scripts/setup.sh" --preset "$1" </dev/null >"$ROOT/build/$1/setup.log" 2>&1 &
  BUILD_PID=$!
  set +m
  printf 'test.sh: building the %s preset beside the tests (nice 19; its lines: build/%s/setup.log)\n' "$1" "$1"
}

# wait_build PRESET: 0 once the background build of PRESET has succeeded.
wait_build() {
  local status=0
  wait "$BUILD_PID" || status=$?
  BUILD_PID=""
  if ((status != 0)); then
    printf 'test.sh: the %s build failed; the end of build/%s/setup.log:\n' "$1" "$1" >&2
    tail -n 40 "$ROOT/build/$1/setup.log" >&2
  fi
  return "$status"
}

# run_all: default, asan and fuzz; each build beside the previous tests.
run_all() {
  local failed=() next preset presets=(default asan fuzz) i
  trap stop_build EXIT
  trap 'exit 130' INT TERM
  "$ROOT/scripts/setup.sh" --preset default || { printf 'test.sh: the default build failed\n' >&2; return 1; }
  cd "$ROOT"
  for i in "${!presets[@]}"; do
    preset=${presets[i]}
    next=${presets[i + 1]-}
    [[ -z $next ]] || build_beside "$next"
    printf 'test.sh: the %s preset'"'"'s tests\n' "$preset"
    run_ctest "$preset" || failed+=("$preset tests")
    if [[ -n $next ]] && ! wait_build "$next"; then
      failed+=("$next build")
      break
    fi
  done
  if ((${#failed[@]})); then
    printf 'test.sh: failed: %s\n' "${failed[*]}" >&2
    return 1
  fi
  printf 'test.sh: default, asan and fuzz passed\n'
}

main() {
  local preset=default
  while (($#)); do
    case $1 in
      --asan) preset=asan ;;
      --fuzz) preset=fuzz ;;
      --all) preset=all ;;
      -h | --help) usage; exit 0 ;;
      *) printf 'test.sh: unknown option %s (see --help)\n' "$1" >&2; exit 2 ;;
    esac
    shift
  done
  if [[ $preset == all ]]; then
    run_all
    return
  fi
  "$ROOT/scripts/setup.sh" --preset "$preset"
  cd "$ROOT"
  run_ctest "$preset"
}

main "$@"
