#pragma once
// The socket census: what `ss -tan` shows, read the way `ss` reads it, through
// NETLINK_SOCK_DIAG (inet_diag). Labs count TIME_WAIT, CLOSE_WAIT, FIN_WAIT_2 ...
// with it and tests assert on those counts.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace netlab {

// The kernel's TCP states (include/net/tcp_states.h), numbered as the kernel numbers them.
enum class TcpState : std::uint8_t {
  established = 1,
  syn_sent,
  syn_recv,
  fin_wait1,
  fin_wait2,
  time_wait,
  close,
  close_wait,
  last_ack,
  listen,
  closing,
  new_syn_recv,
};
inline constexpr std::size_t tcp_state_count = 13;  // index 0 unused

// The name `ss` prints: ESTAB, SYN-SENT, TIME-WAIT, CLOSE-WAIT, LISTEN ...
std::string_view state_name(TcpState state);

// The inet_diag timer (what `ss -o` shows as timer:(...)).
enum class SocketTimer : std::uint8_t { none = 0, retransmit = 1, keepalive = 2, time_wait = 3, probe = 4 };
std::string_view timer_name(SocketTimer timer);

struct SocketRecord {
  TcpState state = TcpState::close;
  std::string local_address;
  std::uint16_t local_port = 0;
  std::string remote_address;
  std::uint16_t remote_port = 0;
  SocketTimer timer = SocketTimer::none;
  std::uint32_t timer_expires_ms = 0;  // time left on the timer
  std::uint32_t retransmits = 0;
  // LISTEN: receive_queue = connections waiting in the accept queue,
  // send_queue = the backlog. Otherwise bytes queued (Recv-Q / Send-Q).
  std::uint32_t receive_queue = 0;
  std::uint32_t send_queue = 0;
  std::uint32_t inode = 0;  // 0 for sockets no process owns (TIME_WAIT, orphans)
};

// Which sockets to count: by local port, by remote port, or either (a socket
// matches when every given port matches). Both IPv4 and IPv6 are read.
// The empty initialisers let callers name just one port ({.remote_port = p})
// without g++'s -Wmissing-field-initializers.
struct PortFilter {
  std::optional<std::uint16_t> local_port{};
  std::optional<std::uint16_t> remote_port{};
};

// Every TCP socket matching `filter`, in every state.
// Throws std::system_error ("sock_diag: ...") when netlink fails.
std::vector<SocketRecord> list_tcp_sockets(const PortFilter& filter);

// Both ends of the connections to a server's port: the server's sockets
// (local port = `port`, the listener included) and the clients' (remote port = `port`).
std::vector<SocketRecord> both_ends(std::uint16_t port);

// The socket listening on `port`, if any: its receive_queue is the accept
// queue's length, its send_queue the backlog.
std::optional<SocketRecord> find_listener(std::uint16_t port);

struct StateCounts {
  std::array<std::size_t, tcp_state_count> by_state{};
  std::size_t total = 0;
  std::size_t of(TcpState state) const { return by_state[static_cast<std::size_t>(state)]; }
};

StateCounts count_states(const std::vector<SocketRecord>& sockets);
StateCounts count_tcp_states(const PortFilter& filter);

// "ESTAB=3 TIME-WAIT=2" (states with a count of zero are left out; "none" when empty).
std::string describe(const StateCounts& counts);

}  // namespace netlab
