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
source "$LIB/declare.sh"

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
# libnghttp2-dev: HTTP/2 on the http and https servers (h2c, h2 through ALPN);
# nghttp2-client: nghttp and h2load, the outside HTTP/2 clients of the http lab.
# libgrpc++-dev, libprotobuf-dev, protobuf-compiler, protobuf-compiler-grpc: the rpc
# lab's gRPC service (protoc and grpc_cpp_plugin generate its code at build time).
readonly PACKAGES=(cmake g++ make libboost1.81-dev libboost-json1.81-dev libcli11-dev
  libspdlog-dev catch2 libssl-dev zlib1g-dev openssl tcpdump iproute2 nftables ethtool libpcap-dev tshark
  curl testssl.sh iperf3 slowhttptest tcpreplay tmux chromium fonts-wqy-microhei
  libnghttp2-dev nghttp2-client libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc)
# The fuzz preset only: clang, and libclang-rt-14-dev for libFuzzer and the sanitizer runtimes.
readonly FUZZ_PACKAGES=(clang libclang-rt-14-dev)

usage() {
  cat <<'EOF'
usage: scripts/setup.sh [--preset default|asan|release|fuzz] [--labs | --targets T,T,...]
       scripts/setup.sh [--preset P] --in-order LAB,LAB,... --ready FILE

Installs the Debian packages netlab needs (as root; otherwise prints the
apt-get command to run), then configures and builds the preset (default:
default) into build/<preset>/. Programs land in build/<preset>/bin/.
--labs builds only what the labs run (the programs and tools, target
netlab_labs), not the test suites; --targets only the targets named
(scripts/lab: what one lab runs). --in-order builds the labs' programs lab
after lab, appending each lab's name to FILE once its programs are built
("failed LAB" if they are not; the compiler's output in
build/<preset>/build-beside.log): what the tour builds beside its labs.
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

# configure PRESET: cmake --preset PRESET, its output appended to BUILD_LOG.
# Configured every time (a few seconds): a target a newer CMakeLists.txt
# added (netlab_labs) must be known before it is asked for.
configure() {
  [[ -f build/$1/CMakeCache.txt ]] || say "configuring build/$1 (cmake --preset $1)"
  cmake --preset "$1" >>"$BUILD_LOG" 2>&1
}

# build PRESET [TARGET...]: builds the targets (or everything) with one
# progress line per file, the compiler's whole output appended to BUILD_LOG;
# returns cmake's exit status.
build() {
  local preset=$1 status=0
  shift
  # In a || list errexit is off, so a failed build reaches the caller.
  {
    cmake --build --preset "$preset" -j"$(nproc)" ${1:+--target "$@"} 2>&1 | tee -a "$BUILD_LOG" | progress_lines
    status=${PIPESTATUS[0]}
  } || true
  return "$status"
}

# build_failed SECONDS: the failure, with the end of the build log; exits 1.
build_failed() {
  warn "the build failed after $1 s; the end of $BUILD_LOG:"
  tail -n 40 "$BUILD_LOG" >&2
  exit 1
}

# configure_and_build PRESET [TARGET...]: configure once, then build the
# targets (or everything) with one progress line per file; the compiler's
# whole output is in build/PRESET/build.log, and its end is shown when the
# build fails.
configure_and_build() {
  local preset=$1 start last_file seconds targets
  shift
  targets=${*:-everything}
  cd "$NETLAB_ROOT"
  mkdir -p "build/$preset"
  BUILD_LOG=build/$preset/build.log
  last_file=build/$preset/.last-build-seconds
  : >"$BUILD_LOG"
  start=$SECONDS
  configure "$preset" || build_failed $((SECONDS - start))
  say "building ${targets// /, } in build/$preset with $(nproc) jobs (the compiler's output: $BUILD_LOG)$(
    [[ ! -s $last_file || $# -gt 0 ]] || printf '; the last build here took %s s' "$(<"$last_file")")"
  build "$preset" "$@" || build_failed $((SECONDS - start))
  seconds=$((SECONDS - start))
  (($#)) || printf '%s\n' "$seconds" >"$last_file"
  say "built in $seconds s"
  if [[ $preset == fuzz ]]; then
    say "built: build/fuzz/tests/fuzz/ (the libFuzzer targets)"
  else
    say "built: build/$preset/bin/"
  fi
}

# build_in_order PRESET READY LAB...: the labs' programs (lab_programs), lab
# after lab in the order given (the tour's), each lab's name appended to the
# file READY once its programs are built, "failed LAB" if they could not be.
# The compiler's output goes to build/PRESET/build-beside.log. What the tour
# runs beside its labs (scripts/lab); it waits for each lab's line.
build_in_order() {
  local preset=$1 ready=$2 lab start=$SECONDS
  local -a programs
  shift 2
  cd "$NETLAB_ROOT"
  mkdir -p "build/$preset"
  BUILD_LOG=build/$preset/build-beside.log
  : >"$BUILD_LOG"
  configure "$preset" || { printf 'failed %s\n' "$1" >>"$ready"; build_failed $((SECONDS - start)); }
  for lab in "$@"; do
    read -r -a programs <<<"$(lab_programs "$lab")"
    say "building the $lab lab's programs: ${programs[*]}"
    build "$preset" "${programs[@]}" || { printf 'failed %s\n' "$lab" >>"$ready"; build_failed $((SECONDS - start)); }
    printf '%s\n' "$lab" >>"$ready"
  done
  say "built in $((SECONDS - start)) s"
}

main() {
  local preset=default target="" in_order="" ready=""
  local -a targets=()
  while (($#)); do
    case $1 in
      --labs) target=netlab_labs; shift ;;
      --targets | --targets=*)
        option_value --targets "$@"
        target=$OPTION_VALUE
        shift "$OPTION_WORDS"
        ;;
      --in-order | --in-order=*)
        option_value --in-order "$@"
        in_order=$OPTION_VALUE
        shift "$OPTION_WORDS"
        ;;
      --ready | --ready=*)
        option_value --ready "$@"
        ready=$OPTION_VALUE
        shift "$OPTION_WORDS"
        ;;
      --preset | --preset=*)
        option_value --preset "$@"
        preset=$OPTION_VALUE
        shift "$OPTION_WORDS"
        ;;
      -h | --help) usage; exit 0 ;;
      *) usage_error "unknown option '$1'" ;;
    esac
  done
  [[ -z $target$in_order || $preset != fuzz ]] || usage_error "--labs, --targets and --in-order build the programs, which the fuzz preset does not have"
  [[ -z $in_order || (-n $ready && -z $target) ]] || usage_error "--in-order needs --ready FILE, and goes without --labs or --targets"
  [[ -n $in_order || -z $ready ]] || usage_error "--ready goes with --in-order"
  case $preset in
    default | asan | release) install_packages ;;
    fuzz) install_packages "${FUZZ_PACKAGES[@]}" ;;
    *) usage_error "--preset is default, asan, release or fuzz, not '$preset'" ;;
  esac
  if [[ -n $in_order ]]; then
    read -r -a targets <<<"${in_order//,/ }"
    build_in_order "$preset" "$ready" "${targets[@]}"
    return
  fi
  read -r -a targets <<<"${target//,/ }"
  configure_and_build "$preset" "${targets[@]}"
}

main "$@"
