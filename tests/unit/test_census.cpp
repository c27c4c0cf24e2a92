// The socket census on real loopback connections: make the kernel put sockets
// in ESTAB, TIME-WAIT, CLOSE-WAIT, FIN-WAIT-2 and LISTEN, and count them.
#include <catch2/catch.hpp>

#include "kernel/census.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using netlab::PortFilter;
using netlab::SocketRecord;
using netlab::StateCounts;
using netlab::TcpState;

constexpr std::size_t connection_count = 20;

// A listener on 127.0.0.1:0 whose port no other socket uses at either end: a
// TIME-WAIT left by an earlier run can still name a port the kernel hands out
// again as its peer, and would be counted with ours.
tcp::acceptor fresh_listener(asio::io_context& io, int backlog) {
  std::vector<tcp::acceptor> rejected;  // kept open so the kernel offers another port
  for (int attempt = 0; attempt < 50; ++attempt) {
    tcp::acceptor acceptor(io);
    acceptor.open(tcp::v4());
    acceptor.bind({asio::ip::make_address_v4("127.0.0.1"), 0});
    acceptor.listen(backlog);
    const std::uint16_t port = acceptor.local_endpoint().port();
    if (netlab::list_tcp_sockets({.local_port = port}).size() == 1 &&
        netlab::list_tcp_sockets({.remote_port = port}).empty())
      return acceptor;
    rejected.push_back(std::move(acceptor));
  }
  throw std::runtime_error("no loopback port free of old sockets");
}

struct Connection {
  tcp::socket client;
  tcp::socket server;
};

std::vector<Connection> connect_all(asio::io_context& io, tcp::acceptor& listener, std::size_t count) {
  std::vector<Connection> connections;
  for (std::size_t i = 0; i < count; ++i) {
    tcp::socket client(io);
    client.connect(listener.local_endpoint());
    connections.push_back({std::move(client), listener.accept()});
  }
  return connections;
}

// connection_count loopback connections to a fresh listener, both ends held here.
struct Pairs {
  asio::io_context io;
  tcp::acceptor listener = fresh_listener(io, 64);
  std::uint16_t port = listener.local_endpoint().port();
  std::vector<Connection> connections = connect_all(io, listener, connection_count);
};

// Loopback segments are processed asynchronously (softirq), so a state may show
// up a moment after the call that causes it: poll, bounded, then let the caller assert.
template <typename Done>
std::vector<SocketRecord> poll_census(const PortFilter& filter, Done done) {
  auto sockets = netlab::list_tcp_sockets(filter);
  for (int round = 0; round < 200 && !done(sockets); ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    sockets = netlab::list_tcp_sockets(filter);
  }
  return sockets;
}

StateCounts poll_counts(const PortFilter& filter, TcpState state, std::size_t expected) {
  return netlab::count_states(
      poll_census(filter, [&](const auto& sockets) { return netlab::count_states(sockets).of(state) == expected; }));
}

void drain_until_eof(tcp::socket& socket) {
  std::array<char, 256> buffer{};
  boost::system::error_code ec;
  while (!ec) socket.read_some(asio::buffer(buffer), ec);
  REQUIRE(ec == asio::error::eof);
}

}  // namespace

TEST_CASE("established connections counted at both ends") {
  Pairs pairs;  // held open while the census counts them
  const std::uint16_t port = pairs.port;

  const auto server = poll_counts({.local_port = port}, TcpState::established, connection_count);
  CHECK(server.of(TcpState::established) == connection_count);
  CHECK(server.of(TcpState::listen) == 1);
  CHECK(server.total == connection_count + 1);

  const auto client_sockets = netlab::list_tcp_sockets({.remote_port = port});
  const auto client = netlab::count_states(client_sockets);
  CHECK(client.of(TcpState::established) == connection_count);
  CHECK(client.total == connection_count);
  for (const auto& socket : client_sockets) {
    CHECK(socket.local_address == "127.0.0.1");
    CHECK(socket.remote_address == "127.0.0.1");
    CHECK(socket.inode != 0);  // an open file descriptor owns it
  }
}

TEST_CASE("active closer holds TIME-WAIT") {
  Pairs pairs;
  const std::uint16_t port = pairs.port;

  for (auto& connection : pairs.connections) connection.client.close();
  for (auto& connection : pairs.connections) {
    drain_until_eof(connection.server);
    connection.server.close();
  }

  const auto client = poll_counts({.remote_port = port}, TcpState::time_wait, connection_count);
  CHECK(client.of(TcpState::time_wait) == connection_count);
  CHECK(client.total == connection_count);
  for (const auto& socket : netlab::list_tcp_sockets({.remote_port = port})) {
    CHECK(socket.timer == netlab::SocketTimer::time_wait);
    CHECK(socket.timer_expires_ms > 0);
    CHECK(socket.timer_expires_ms <= 60000);  // 2MSL is 60 s on Linux
    CHECK(socket.inode == 0);                 // no process owns a TIME-WAIT socket
  }

  // The passive closer goes LAST-ACK -> CLOSED: only the listener stays.
  const auto server =
      netlab::count_states(poll_census({.local_port = port}, [](const auto& sockets) { return sockets.size() == 1; }));
  CHECK(server.of(TcpState::time_wait) == 0);
  CHECK(server.total - server.of(TcpState::listen) == 0);
}

TEST_CASE("passive side that does not close stays in CLOSE-WAIT") {
  Pairs pairs;
  const std::uint16_t port = pairs.port;

  for (auto& connection : pairs.connections) connection.client.close();

  const auto server = poll_counts({.local_port = port}, TcpState::close_wait, connection_count);
  CHECK(server.of(TcpState::close_wait) == connection_count);
  // Our FIN was acknowledged; the peer's FIN never comes.
  const auto client = poll_counts({.remote_port = port}, TcpState::fin_wait2, connection_count);
  CHECK(client.of(TcpState::fin_wait2) == connection_count);
  CHECK(client.total == connection_count);
}

TEST_CASE("LISTEN shows accept queue and backlog") {
  constexpr int backlog = 8;
  constexpr std::uint32_t waiting = 3;
  asio::io_context io;
  auto listener = fresh_listener(io, backlog);
  const std::uint16_t port = listener.local_endpoint().port();

  // The kernel completes the handshakes itself; accept() would only dequeue them.
  std::vector<tcp::socket> clients;
  for (std::uint32_t i = 0; i < waiting; ++i) {
    clients.emplace_back(io);
    clients.back().connect(listener.local_endpoint());
  }

  const auto is_listener = [](const SocketRecord& socket) { return socket.state == TcpState::listen; };
  const auto sockets = poll_census({.local_port = port}, [&](const auto& found) {
    return std::any_of(found.begin(), found.end(),
                       [&](const auto& socket) { return is_listener(socket) && socket.receive_queue == waiting; });
  });
  const auto record = std::find_if(sockets.begin(), sockets.end(), is_listener);
  REQUIRE(record != sockets.end());
  CHECK(record->receive_queue == waiting);
  CHECK(record->send_queue == static_cast<std::uint32_t>(backlog));
}

TEST_CASE("filter with no match counts nothing") {
  asio::io_context io;
  auto listener = fresh_listener(io, 8);
  const std::uint16_t port = listener.local_endpoint().port();
  // Every port given must match: no socket has the listener's port at both ends.
  const auto counts = netlab::count_tcp_states({.local_port = port, .remote_port = port});
  CHECK(counts.total == 0);
  CHECK(netlab::describe(counts) == "none");
}

TEST_CASE("describe lists counted states") {
  std::vector<SocketRecord> sockets(5);
  for (std::size_t i = 0; i < sockets.size(); ++i)
    sockets[i].state = i < 3 ? TcpState::established : TcpState::time_wait;
  const auto counts = netlab::count_states(sockets);
  CHECK(counts.total == 5);
  CHECK(netlab::describe(counts) == "ESTAB=3 TIME-WAIT=2");
  CHECK(netlab::describe(StateCounts{}) == "none");
}

TEST_CASE("state and timer names match ss") {
  CHECK(netlab::state_name(TcpState::established) == "ESTAB");
  CHECK(netlab::state_name(TcpState::syn_sent) == "SYN-SENT");
  CHECK(netlab::state_name(TcpState::syn_recv) == "SYN-RECV");
  CHECK(netlab::state_name(TcpState::fin_wait1) == "FIN-WAIT-1");
  CHECK(netlab::state_name(TcpState::fin_wait2) == "FIN-WAIT-2");
  CHECK(netlab::state_name(TcpState::time_wait) == "TIME-WAIT");
  CHECK(netlab::state_name(TcpState::close) == "UNCONN");
  CHECK(netlab::state_name(TcpState::close_wait) == "CLOSE-WAIT");
  CHECK(netlab::state_name(TcpState::last_ack) == "LAST-ACK");
  CHECK(netlab::state_name(TcpState::listen) == "LISTEN");
  CHECK(netlab::state_name(TcpState::closing) == "CLOSING");
  CHECK(netlab::state_name(TcpState::new_syn_recv) == "NEW-SYN-RECV");

  CHECK(netlab::timer_name(netlab::SocketTimer::none) == "off");
  CHECK(netlab::timer_name(netlab::SocketTimer::retransmit) == "on");
  CHECK(netlab::timer_name(netlab::SocketTimer::keepalive) == "keepalive");
  CHECK(netlab::timer_name(netlab::SocketTimer::time_wait) == "timewait");
  CHECK(netlab::timer_name(netlab::SocketTimer::probe) == "persist");
}
