// Load: a server holds 5,000 concurrent connections on loopback and serves one
// request on each. The kernel's own census (NETLINK_SOCK_DIAG, what `ss` reads)
// must show 5,000 ESTABLISHED sockets on the server's port while they are open,
// and none once the client has closed them; the server must be back to the
// file descriptors it had before. Both processes need 5,000+ descriptors: the
// test raises its RLIMIT_NOFILE within the hard limit (posix_spawn passes it
// on to the server), or skips (exit 77) saying why.
#include "process.hpp"

#include "netlab/census.hpp"
#include "netlab/codec.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

using namespace netlab::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t connections = 5000;
constexpr rlim_t wanted_fds = 2 * connections + 1024;

// Raises the soft limit; false (with the reason) when the hard limit is too low.
bool raise_fd_limit(std::string& why) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    why = std::string("getrlimit: ") + std::strerror(errno);
    return false;
  }
  if (limit.rlim_cur >= wanted_fds) return true;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < wanted_fds) {
    why = "RLIMIT_NOFILE hard limit " + std::to_string(limit.rlim_max) + " < " + std::to_string(wanted_fds) +
          " (needed for " + std::to_string(connections) + " connections); raise it with ulimit -Hn";
    return false;
  }
  limit.rlim_cur = wanted_fds;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    why = std::string("setrlimit: ") + std::strerror(errno);
    return false;
  }
  return true;
}

void require_fd_limit() {
  std::string why;
  if (!raise_fd_limit(why)) {
    std::cout << "skipped: " << why << "\n";
    std::exit(77);
  }
}

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error(std::string("connect: ") + std::strerror(error));
  }
  return fd;
}

// Reads exactly `size` bytes, bounded by `timeout`; returns what came.
std::string read_exactly(int fd, std::size_t size, std::chrono::milliseconds timeout = 10s) {
  std::string got;
  const auto deadline = Clock::now() + timeout;
  char buffer[256];
  while (got.size() < size && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const auto n = ::recv(fd, buffer, std::min(sizeof buffer, size - got.size()), 0);
    if (n <= 0) break;
    got.append(buffer, static_cast<std::size_t>(n));
  }
  return got;
}

std::size_t established(std::uint16_t port) {
  return netlab::count_tcp_states(netlab::PortFilter{.local_port = port}).of(netlab::TcpState::established);
}

// Polls (bounded) until the server-side ESTABLISHED count on `port` is `want`; returns the last count.
std::size_t wait_established(std::uint16_t port, std::size_t want, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = Clock::now() + timeout;
  auto count = established(port);
  while (count != want && Clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    count = established(port);
  }
  return count;
}

std::size_t wait_fds(pid_t pid, std::size_t want, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = Clock::now() + timeout;
  auto count = open_fds(pid);
  while (count != want && Clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    count = open_fds(pid);
  }
  return count;
}

// request(i) is sent on connection i; its answer must be exactly answer(i).
template <typename Request, typename Answer>
void hold_and_serve(const std::string& program, std::vector<std::string> args, Request request, Answer answer) {
  require_fd_limit();
  Server server(program, std::move(args));
  const auto port = server.port();
  const auto baseline = open_fds(server.pid());

  std::vector<int> sockets;
  sockets.reserve(connections);
  struct CloseAll {
    std::vector<int>& fds;
    ~CloseAll() {
      for (int fd : fds) ::close(fd);
    }
  } close_all{sockets};
  for (std::size_t i = 0; i < connections; ++i) sockets.push_back(connect_loopback(port));

  // Every connection: the kernel completed the handshake and the server accepted it.
  CHECK(wait_established(port, connections) == connections);
  CHECK(wait_fds(server.pid(), baseline + connections) == baseline + connections);

  // One request on each, all in flight at once, then every answer.
  for (std::size_t i = 0; i < connections; ++i) {
    const auto bytes = request(i);
    REQUIRE(::send(sockets[i], bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  }
  std::size_t answered = 0;
  for (std::size_t i = 0; i < connections; ++i) {
    const auto want = answer(i);
    if (read_exactly(sockets[i], want.size()) == want) ++answered;
  }
  CHECK(answered == connections);
  CHECK(established(port) == connections);

  for (int fd : sockets) ::close(fd);
  sockets.clear();
  // Closed cleanly: no ESTABLISHED socket left on the port, no descriptor left in the server.
  CHECK(wait_established(port, 0) == 0);
  CHECK(wait_fds(server.pid(), baseline) == baseline);
  CHECK(server.stop() == 0);
}

std::string length_frame(const std::string& payload) {
  std::string out;
  netlab::LengthHeaderCodec::put_header(static_cast<std::uint32_t>(payload.size()), out);
  return out + payload;
}

}  // namespace

TEST_CASE("the framing server (length codec) holds and serves 5000 connections", "[load]") {
  const auto frame = [](std::size_t i) { return length_frame("message " + std::to_string(i)); };
  hold_and_serve("netlab-framing-server", {"--codec", "length"}, frame, frame);
}

TEST_CASE("the timewait server holds and serves 5000 connections", "[load]") {
  hold_and_serve(
      "netlab-timewait-server", {"--closer", "client"},
      [](std::size_t i) { return "PING " + std::to_string(i) + "\n"; },
      [](std::size_t i) { return "PONG " + std::to_string(i) + "\n"; });
}
