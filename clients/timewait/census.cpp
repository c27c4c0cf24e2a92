#include "timewait.hpp"

#include <fstream>
#include <thread>

namespace netlab::timewait {

namespace {

// The client's port of a connection to the server's port, seen from either end.
std::uint16_t our_port(const SocketRecord& socket, std::uint16_t server_port) {
  return socket.local_port == server_port ? socket.remote_port : socket.local_port;
}

// Our sockets still between their first FIN and TIME_WAIT (or gone): the
// last closes of a run need a moment for the peer to answer.
std::size_t closing_now(const Run& run) {
  const std::uint16_t server_port = run.server.port();
  const auto& ours = run.tally.ended_at;
  auto closing = [](TcpState state) {
    return state == TcpState::fin_wait1 || state == TcpState::fin_wait2 || state == TcpState::closing ||
           state == TcpState::last_ack || state == TcpState::close_wait;
  };
  std::size_t count = 0;
  for (const auto& socket : both_ends(server_port))
    count += closing(socket.state) && ours.contains(our_port(socket, server_port));
  return count;
}

}  // namespace

TimeWaitCensus time_wait_census(const Run& run) {
  // Poll (at most 2 s) until every closing handshake of ours has finished.
  for (int i = 0; i < 200 && closing_now(run) > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  TimeWaitCensus census;
  const auto now = Clock::now();
  const std::uint16_t server_port = run.server.port();
  const auto& ours = run.tally.ended_at;
  auto note_timer = [&](const SocketRecord& socket, std::uint16_t our_port) {
    if (socket.timer != SocketTimer::time_wait || socket.timer_expires_ms < census.timer_max_ms) return;
    census.timer_max_ms = socket.timer_expires_ms;
    const auto ended = ours.find(our_port);
    if (ended != ours.end())
      census.lifetime_s = socket.timer_expires_ms / 1000.0 + std::chrono::duration<double>(now - ended->second).count();
  };
  for (const auto& socket : both_ends(server_port)) {
    const std::uint16_t port = our_port(socket, server_port);
    if (socket.state != TcpState::time_wait || !ours.contains(port)) continue;
    ++(socket.local_port == server_port ? census.server_side : census.client_side);
    note_timer(socket, port);
  }
  return census;
}

std::size_t client_time_wait_now(const Run& run) {
  std::size_t count = 0;
  for (const auto& socket : list_tcp_sockets({.remote_port = run.server.port()}))
    count += socket.state == TcpState::time_wait && run.tally.ended_at.contains(socket.local_port);
  return count;
}

std::string read_sysctl(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  for (auto& c : text)
    if (c == '\t') c = ' ';
  return text.empty() ? "unavailable" : text;
}

}  // namespace netlab::timewait
