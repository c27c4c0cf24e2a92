# shellcheck shell=bash disable=SC2034  # globals are for the caller
# netlab script library: a real path between two hosts, for root and non-root.
#
#   client namespace           wire namespace               server namespace
#   198.18.0.1  nlc0 ==veth== nlwc  [netlab-wire]  nlws ==veth== nls0  198.18.0.2
#
# netlab-wire forwards every frame between its two veth ends (AF_PACKET) with
# the delay, loss, queue and rules a step asks for, so the client's and the
# server's kernels talk across a link with a real round trip and a real
# bottleneck. All three namespaces, the veth pairs and the wire go into the
# script's cleanup registry the moment they exist.
#
# As root the namespaces are `ip netns` names a class can look into
# (`ip netns exec netlab-server-XXXX ss -tan`). Without root the lab script
# runs inside an unprivileged user namespace (observe.sh:
# enter_namespace_if_needed with NETLAB_WANTS_NETNS=yes), which holds
# CAP_NET_ADMIN and CAP_NET_RAW over the namespaces it makes: a private tmpfs
# on /run lets `ip netns` work there, and veth, ethtool, sysctls and AF_PACKET
# all work as for root. Where the system forbids that, netns_blocker says so.
# Sourced after common.sh and run.sh.

NETLAB_CLIENT_ADDR=198.18.0.1
NETLAB_SERVER_ADDR=198.18.0.2
NETLAB_NS_CLIENT=""
NETLAB_NS_WIRE=""
NETLAB_NS_SERVER=""
NETLAB_WIRE_PID=""
NETLAB_WIRE_STATS=""   # the stats JSON of the wire that runs now (or ran last)
NETLAB_WIRE_EVENTS=""  # its event log (JSON lines)
NETLAB_WIRE_LOG=""
NETLAB_WIRE_RULES=""   # its --rules-file (wire_rules rewrites it and makes the wire read it again)
PATH_BLOCKER=""        # why path_ready could not build the path

# Why the path cannot be built here, or nothing.
netns_blocker() {
  if ((EUID != 0)) && [[ -z ${NETLAB_IN_NS-} ]]; then
    if [[ -n ${NETLAB_NS_REFUSED-} ]]; then
      echo "not root, and $NETLAB_NS_REFUSED"
    else
      echo "not root, and not inside a user namespace (run it through scripts/lab)"
    fi
  elif ! command -v ip >/dev/null; then
    echo "ip is not installed (apt-get install iproute2)"
  elif ! command -v ethtool >/dev/null; then
    echo "ethtool is not installed (apt-get install ethtool): the veth offloads must be turned off"
  elif [[ ! -x $NETLAB_BIN_DIR/netlab-wire ]]; then
    echo "$NETLAB_BIN_DIR/netlab-wire is missing (build it with scripts/setup.sh)"
  fi
}

# Inside a user namespace /run belongs to the real root: a private tmpfs over
# it (in this script's own mount namespace) gives `ip netns` a place for its names.
netns_private_run() {
  [[ -n ${NETLAB_IN_NS-} && ! -e /run/.netlab-private ]] || return 0
  mount -t tmpfs -o mode=0755 netlab-run /run || die "cannot mount a private /run in the user namespace"
  : >/run/.netlab-private
}

netns_add() {
  ip netns add "$1" || die "ip netns add $1 failed"
  register_netns "$1"
  ip -n "$1" link set lo up
  # No IPv6 chatter (router solicitations, DAD) on the lab's wire.
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
}

# Real MSS-sized segments with full checksums: with offloads on, a frame read
# through AF_PACKET may be a 64 KiB super-segment or carry a partial checksum
# that the far end drops.
netns_offloads_off() {
  ip netns exec "$1" ethtool -K "$2" gro off gso off tso off tx off rx off >/dev/null 2>&1 ||
    die "ethtool -K $2 (in $1) failed: cannot turn the offloads off"
}

# netns_path_up: the three namespaces and two veth pairs (MTU 1500, offloads
# off), no wire running yet (wire_start starts one).
netns_path_up() {
  local suffix
  suffix=$(printf '%04x%04x' "$RANDOM" "$RANDOM")
  netns_private_run
  NETLAB_NS_CLIENT=netlab-client-$suffix
  NETLAB_NS_WIRE=netlab-wire-$suffix
  NETLAB_NS_SERVER=netlab-server-$suffix
  NETLAB_IN_CLIENT=(ip netns exec "$NETLAB_NS_CLIENT")
  NETLAB_IN_SERVER=(ip netns exec "$NETLAB_NS_SERVER")
  NETLAB_IN_WIRE=(ip netns exec "$NETLAB_NS_WIRE")
  netns_add "$NETLAB_NS_CLIENT"
  netns_add "$NETLAB_NS_WIRE"
  netns_add "$NETLAB_NS_SERVER"
  netns_veth "$NETLAB_NS_CLIENT" nlc0 "$NETLAB_NS_WIRE" nlwc
  netns_veth "$NETLAB_NS_SERVER" nls0 "$NETLAB_NS_WIRE" nlws
  ip -n "$NETLAB_NS_CLIENT" addr add "$NETLAB_CLIENT_ADDR/24" dev nlc0
  ip -n "$NETLAB_NS_SERVER" addr add "$NETLAB_SERVER_ADDR/24" dev nls0
}

# netns_veth NS_A IF_A NS_B IF_B: a veth pair between two namespaces, MTU
# 1500, offloads off, both ends up; registered, so it goes before its namespaces.
netns_veth() {
  ip link add "$2" netns "$1" mtu 1500 type veth peer name "$4" netns "$3" mtu 1500 ||
    die "ip link add (veth $1/$2 <-> $3/$4) failed"
  register_veth "$1" "$2"
  netns_offloads_off "$1" "$2"
  netns_offloads_off "$3" "$4"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}

# Command prefixes: "${NETLAB_IN_SERVER[@]}" PROGRAM ... runs PROGRAM in the
# server's namespace. Arrays, not functions: a function run in the background
# is a subshell, and a signal to its PID would not reach the program.
NETLAB_IN_CLIENT=()
NETLAB_IN_SERVER=()
NETLAB_IN_WIRE=()

# path_ready: the path, built once (by the first step that needs it) and its
# settings added to env.txt; 1 with PATH_BLOCKER saying why where this system
# cannot build it.
path_ready() {
  local reason
  [[ -z $NETLAB_NS_CLIENT ]] || return 0
  reason=$(netns_blocker)
  if [[ -n $reason ]]; then
    PATH_BLOCKER=$reason
    return 1
  fi
  netns_path_up
  netns_env >>"$NETLAB_RUN/env.txt"
  say ""
  say "path: $NETLAB_NS_CLIENT ($NETLAB_CLIENT_ADDR) <-> netlab-wire in $NETLAB_NS_WIRE <-> $NETLAB_NS_SERVER ($NETLAB_SERVER_ADDR)"
}

# wire_start NAME [netlab-wire options...]: starts the wire for one step; its
# stats go to $NETLAB_RUN/wire-NAME.json, its events to wire-NAME.events,
# its log to wire.log. Waits (at most 10 s) until both interfaces are open.
wire_start() {
  local name=$1 ready
  shift
  [[ -z $NETLAB_WIRE_PID ]] || wire_stop
  NETLAB_WIRE_STATS=$NETLAB_RUN/wire-$name.json
  NETLAB_WIRE_EVENTS=$NETLAB_RUN/wire-$name.events
  NETLAB_WIRE_LOG=$NETLAB_RUN/wire.log
  NETLAB_WIRE_RULES=$NETLAB_RUN/wire-$name.rules
  ready=$NETLAB_RUN/.wire-ready
  rm -f -- "$ready" "$ready.reloaded" "$NETLAB_WIRE_STATS"
  : >"$NETLAB_WIRE_RULES"
  printf '===== %s: netlab-wire %s =====\n' "$name" "$*" >>"$NETLAB_WIRE_LOG"
  "${NETLAB_IN_WIRE[@]}" "$NETLAB_BIN_DIR/netlab-wire" --left nlwc --right nlws --stats-json "$NETLAB_WIRE_STATS" \
    --events "$NETLAB_WIRE_EVENTS" --ready-file "$ready" --rules-file "$NETLAB_WIRE_RULES" "$@" >>"$NETLAB_WIRE_LOG" 2>&1 </dev/null &
  NETLAB_WIRE_PID=$!
  register_pid "$NETLAB_WIRE_PID" TERM
  wait_for_file "$ready" "$NETLAB_WIRE_PID" 100 && return 0
  warn "netlab-wire did not start; last lines of $NETLAB_WIRE_LOG:"
  tail -n 5 -- "$NETLAB_WIRE_LOG" >&2 || true
  die "netlab-wire did not start"
}

# wire_rules RULE...: the running wire's file rules become these (none: no
# file rules), e.g. wire_rules 'both ip drop' for a cut cable. Returns once
# the wire has read them (at most 5 s).
wire_rules() {
  local reloaded=$NETLAB_RUN/.wire-ready.reloaded
  [[ -n $NETLAB_WIRE_PID ]] || die "wire_rules: no wire is running"
  rm -f -- "$reloaded"
  if (($#)); then printf '%s\n' "$@" >"$NETLAB_WIRE_RULES"; else : >"$NETLAB_WIRE_RULES"; fi
  kill -HUP "$NETLAB_WIRE_PID"
  wait_for_file "$reloaded" "$NETLAB_WIRE_PID" 50 && return 0
  die "netlab-wire did not read its new rules (see $NETLAB_WIRE_LOG)"
}

# Stops the wire; it writes its stats JSON as it exits.
wire_stop() {
  [[ -n $NETLAB_WIRE_PID ]] || return 0
  release_pid "$NETLAB_WIRE_PID" TERM || warn "warning: netlab-wire exited with an error (see $NETLAB_WIRE_LOG)"
  NETLAB_WIRE_PID=""
}

# wire_value POINTER: a value from the last wire's stats JSON.
wire_value() { "$NETLAB_BIN_DIR/netlab-report" get "$NETLAB_WIRE_STATS" "$1"; }

# The path's settings, for env.txt.
netns_env() {
  printf 'path client %s (%s) <-> wire %s (netlab-wire) <-> server %s (%s); veth MTU 1500, offloads off\n' \
    "$NETLAB_NS_CLIENT" "$NETLAB_CLIENT_ADDR" "$NETLAB_NS_WIRE" "$NETLAB_NS_SERVER" "$NETLAB_SERVER_ADDR"
  local key
  for key in net.ipv4.tcp_congestion_control net.ipv4.tcp_available_congestion_control net.ipv4.tcp_tw_reuse \
             net.ipv4.tcp_rfc1337 net.ipv4.tcp_timestamps net.ipv4.tcp_syncookies; do
    printf 'client-ns %s = %s\n' "$key" "$("${NETLAB_IN_CLIENT[@]}" sysctl -n "$key" 2>/dev/null || echo unavailable)"
  done
}
