#pragma once
// What the interviewer asks next about the handshake (为什么三次握手), each made
// to happen across netlab-wire between the lab's two network namespaces:
//   syn-queue          the wire drops our third ACKs: the server holds the
//                      connections half-open in SYN-RECV (the SYN queue, apart
//                      from the accept queue), sends its SYN-ACK again
//                      tcp_synack_retries times, then forgets them
//   syn-flood          a bounded burst of SYNs from spoofed sources that never
//                      answer, then one legitimate connect(): with
//                      tcp_syncookies=0 the SYN queue is full and it stalls;
//                      with 1 the kernel answers with cookies, keeps no state
//                      for them, and the legitimate client gets in
//   simultaneous-open  two sockets, one in each namespace, connect to each
//                      other at once: the SYNs cross (RFC 9293 §3.5)
// This process runs in the client's namespace and looks into the server's
// (--server-netns, an `ip netns` file) for what only that side shows: its
// sockets (sock_diag, request sockets included), its /proc/net/netstat, its
// sysctls, and for simultaneous-open the second socket.
#include "program/options.hpp"
#include "program/result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace netlab::handshake {

struct AskedNextConfig {
  std::string mode;             // syn-queue, syn-flood, simultaneous-open
  std::string server_netns;     // /run/netns/NAME of the server's namespace
  std::size_t connections = 3;  // syn-queue: connections whose third ACK the wire drops
  long timeout_ms = 2500;       // bound on each connect()
  long watch_ms = 9000;         // syn-queue: bound on watching the half-open connections
  std::size_t flood_syns = 64;  // syn-flood: spoofed SYNs in the burst
  std::uint64_t seed = 1;
};

bool is_asked_next_mode(const std::string& mode);
void run_asked_next(const CommonOptions& options, const AskedNextConfig& config, Result& result);

// --- shared by the three (asked_next.cpp) ---

// Runs `what` with this thread in the network namespace of `netns_path`, then
// returns it to its own. Throws std::system_error when setns is refused (it
// needs CAP_SYS_ADMIN over that namespace: root, or the lab's user namespace).
void in_netns(const std::string& netns_path, const std::function<void()>& what);

// A sysctl of the calling thread's network namespace, e.g. "net/ipv4/tcp_syncookies"; -1 when unreadable.
long read_sysctl(const std::string& name);

// A non-blocking connect() of `fd` to host:port, waited for at most `ms`:
// "connected", the error's text, or "timed out" (then the socket is still SYN-SENT).
struct ConnectOutcome {
  std::string outcome;
  double ms = 0;
  bool connected() const { return outcome == "connected"; }
};
ConnectOutcome connect_within(int fd, const std::string& host, std::uint16_t port, long ms);

// A TCP socket (-1 on failure, with errno), closed by its owner.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&&) = delete;
  Fd(const Fd&) = delete;
  int get() const { return fd_; }
  std::uint16_t local_port() const;

 private:
  int fd_;
};
Fd tcp_socket();

double monotonic_ms();

}  // namespace netlab::handshake
