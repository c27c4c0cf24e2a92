#!/usr/bin/env bash
# Sets netlab up on Debian 12: installs the missing packages (as root), then
# configures and builds one CMake preset into build/<preset>/.
# Idempotent: with nothing to do it finishes in seconds.
#
#   scripts/setup.sh [--preset default|asan|release|fuzz]
# shellcheck source-path=SCRIPTDIR/lib
set -euo pipefail

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/lib" && pwd)
source "$LIB/common.sh"

# nftables: where a lab filters packets; ethtool: netlab-wire's veth ends need
# their offloads off (scripts/lib/netns.sh); openssl: the https lab's interop
# checks (openssl s_client).
# zlib1g-dev: crc32() (end-to-end checksums of every echo and transfer).
# libpcap-dev: netlab-pcap reads captures (pcap and pcapng, any link type) through libpcap;
# tshark: the tests compare netlab-pcap's TCP analysis with Wireshark's on the same file,
# and the https lab decrypts its own capture with the key log it writes (keylog-decrypts).
# iperf3: the capture agreement tests make their captures with it (through
# netlab-wire, and on loopback); without it they skip.
# curl, testssl.sh: the http, rpc and https interop tests (they skip, exit 77,
# without them, so a fresh install must have them or those tests never run).
# slowhttptest: scripts.slow-attacks (slowloris, slow body, range, slow read).
# tcpreplay: scripts.test_wire replays garbage frames into both sides of netlab-wire.
# tmux: scripts/lab <lab> --tmux (live panes) and scripts.lab-tmux; chromium:
# scripts.report-page loads the report page (index.html) in headless Chromium;
# fonts-wqy-microhei: a Chinese font for it (its screenshot shows the zh text).
readonly PACKAGES=(cmake g++ make libboost1.81-dev libboost-json1.81-dev libcli11-dev
  libspdlog-dev catch2 libssl-dev zlib1g-dev openssl tcpdump iproute2 nftables ethtool libpcap-dev tshark
  curl testssl.sh iperf3 slowhttptest tcpreplay tmux chromium fonts-wqy-microhei)
# The fuzz preset only: clang, and libclang-rt-14-dev for libFuzzer and the sanitizer runtimes.
readonly FUZZ_PACKAGES=(clang libclang-rt-14-dev)

usage() {
  cat <<'EOF'
usage: scripts/setup.sh [--preset default|asan|release|fuzz] [--labs]

Installs the Debian packages netlab needs (as root; otherwise prints the
apt-get command to run), then configures and builds the preset (default:
default) into build/<preset>/. Programs land in build/<preset>/bin/.
--labs builds only what the labs run (the programs and tools, target
netlab_labs), not the test suites: scripts/lab's first build.
The build prints one line per file; the compiler's whole output goes to
build/<preset>/build.log, whose end is shown if the build fails.
The fuzz preset also needs clang and libclang-rt-14-dev, and builds only the
libFuzzer targets (tests/fuzz) into build/fuzz/tests/fuzz/.
EOF
}

# The packages of PACKAGES (and of the arguments) that dpkg does not report as installed.
missing_packages() {
  local package
  for package in "${PACKAGES[@]}" "$@"; do
    [[ $(dpkg-query -W -f='${Status}' "$package" 2>/dev/null) == "install ok installed" ]] ||
      echo "$package"
  done
}

# install_packages [EXTRA_PACKAGE...]
install_packages() {
  local -a missing
  if ! command -v dpkg-query >/dev/null; then
    warn "dpkg-query not found: not a Debian system, so the packages are not checked"
    return 0
  fi
  mapfile -t missing < <(missing_packages "$@")
  ((${#missing[@]} > 0)) || return 0
  if ((EUID != 0)); then
    warn "missing packages: ${missing[*]}"
    warn "install them as root, then run this again:"
    warn "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
    exit 1
  fi
  say "installing: ${missing[*]}"
  # tshark (wireshark-common) asks whether non-root users may capture: answer
  # no (its default) before it asks, so the install never stops for a question.
  if command -v debconf-set-selections >/dev/null; then
    echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

# progress_lines: from CMake's build output, one line per compiled file or
# linked target ("[ 42%] compiling servers/http_server.cpp"); the rest (the
# compiler's warnings too) stays in the build log.
progress_lines() {
  local line
  while IFS= read -r line; do
    case $line in
      *"Building CXX object "*)
        printf '  %s compiling %s\n' "${line%%]*}]" "$(object_source "${line##*Building CXX object }")"
        ;;
      *"Linking CXX executable "* | *"Linking CXX static library "*)
        printf '  %s linking %s\n' "${line%%]*}]" "${line##* }"
        ;;
    esac
  done
}

# object_source "DIR/CMakeFiles/TARGET.dir/PATH.cpp.o": DIR/PATH.cpp; a target
# of the top CMakeLists.txt (the labs' programs: "CMakeFiles/TARGET.dir/PATH.cpp.o"): PATH.cpp
object_source() {
  local object=$1 dir rest
  rest=${object#*CMakeFiles/*.dir/}
  rest=${rest%.o}
  if [[ $object == CMakeFiles/* ]]; then
    printf '%s\n' "$rest"
  else
    dir=${object%%/CMakeFiles/*}
    printf '%s/%s\n' "$dir" "$rest"
  fi
}

# configure_and_build PRESET [TARGET]: configure once, then build TARGET (or
# everything) with one progress line per file; the compiler's whole output is
# in build/PRESET/build.log, and its end is shown when the build fails.
configure_and_build() {
  local preset=$1 target=${2-} log start status=0 last_file seconds
  cd "$NETLAB_ROOT"
  mkdir -p "build/$preset"
  log=build/$preset/build.log
  last_file=build/$preset/.last-build-seconds
  : >"$log"
  start=$SECONDS
  # Configured every time (a few seconds): a target a newer CMakeLists.txt
  # added (netlab_labs) must be known before it is asked for.
  [[ -f build/$preset/CMakeCache.txt ]] || say "configuring build/$preset (cmake --preset $preset)"
  cmake --preset "$preset" >>"$log" 2>&1 || status=$?
  if ((status == 0)); then
    say "building ${target:-everything} in build/$preset with $(nproc) jobs (the compiler's output: $log)$(
      [[ ! -s $last_file ]] || printf '; the last build here took %s s' "$(<"$last_file")")"
    # In a || list errexit is off, so a failed build reaches the message below.
    {
      cmake --build --preset "$preset" -j"$(nproc)" ${target:+--target "$target"} 2>&1 | tee -a "$log" | progress_lines
      status=${PIPESTATUS[0]}
    } || true
  fi
  seconds=$((SECONDS - start))
  if ((status != 0)); then
    warn "the build failed after $seconds s; the end of $log:"
    tail -n 40 "$log" >&2
    exit 1
  fi
  printf '%s\n' "$seconds" >"$last_file"
  say "built in $seconds s"
  if [[ $preset == fuzz ]]; then
    say "built: build/fuzz/tests/fuzz/ (the libFuzzer targets)"
  else
    say "built: build/$preset/bin/"
  fi
}

main() {
  local preset=default target=""
  while (($#)); do
    case $1 in
      --labs) target=netlab_labs; shift ;;
      --preset | --preset=*)
        option_value --preset "$@"
        preset=$OPTION_VALUE
        shift "$OPTION_WORDS"
        ;;
      -h | --help) usage; exit 0 ;;
      *) usage_error "unknown option '$1'" ;;
    esac
  done
  [[ -z $target || $preset != fuzz ]] || usage_error "--labs builds the programs, which the fuzz preset does not have"
  case $preset in
    default | asan | release) install_packages ;;
    fuzz) install_packages "${FUZZ_PACKAGES[@]}" ;;
    *) usage_error "--preset is default, asan, release or fuzz, not '$preset'" ;;
  esac
  configure_and_build "$preset" "$target"
}

main "$@"
