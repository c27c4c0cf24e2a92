// TCP_INFO on a real loopback connection: what the kernel knows about it.
#include <catch2/catch.hpp>

#include "kernel/tcp_info.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <string>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr std::uint8_t tcp_established = 1;

// Sends `size` bytes from `from` and reads them all on `to`.
void transfer(tcp::socket& from, tcp::socket& to, std::size_t size) {
  const std::string sent(size, 'x');
  asio::write(from, asio::buffer(sent));
  std::string received(size, '\0');
  asio::read(to, asio::buffer(received));
  REQUIRE(received == sent);
}

}  // namespace

TEST_CASE("tcp_info of a connected socket") {
  constexpr std::size_t request_size = 1000;
  constexpr std::size_t reply_size = 500;
  asio::io_context io;
  tcp::acceptor listener(io);
  listener.open(tcp::v4());
  listener.bind({asio::ip::make_address_v4("127.0.0.1"), 0});
  listener.listen();
  tcp::socket client(io);
  client.connect(listener.local_endpoint());
  tcp::socket server = listener.accept();

  // The reply carries the ACK of the request, so the client has an RTT sample.
  transfer(client, server, request_size);
  transfer(server, client, reply_size);

  const auto client_info = netlab::read_tcp_info(client.native_handle());
  const auto server_info = netlab::read_tcp_info(server.native_handle());
  REQUIRE(client_info);
  REQUIRE(server_info);
  CHECK(client_info->state == tcp_established);
  CHECK(server_info->state == tcp_established);
  CHECK(client_info->rtt_us > 0);
  CHECK(client_info->segs_out > 0);
  CHECK(client_info->snd_cwnd > 0);
  // Kernels before 4.1 do not report the byte counters (they read as 0).
  if (server_info->bytes_received != 0) CHECK(server_info->bytes_received == request_size);
  if (client_info->bytes_received != 0) CHECK(client_info->bytes_received == reply_size);
  // The SYN takes one sequence number, and the kernel counts its ACK as one byte acked.
  if (client_info->bytes_acked != 0) CHECK(client_info->bytes_acked == request_size + 1);
  CHECK(netlab::describe(*client_info).rfind("state=ESTAB rtt=", 0) == 0);
}

TEST_CASE("tcp_info of a UDP socket is absent") {
  asio::io_context io;
  asio::ip::udp::socket socket(io, asio::ip::udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
  CHECK_FALSE(netlab::read_tcp_info(socket.native_handle()));
}

TEST_CASE("tcp_info describe format") {
  netlab::TcpInfoSnapshot info;
  info.state = tcp_established;
  info.rtt_us = 45;
  info.snd_cwnd = 10;
  info.bytes_acked = 123;
  info.bytes_received = 456;
  CHECK(netlab::describe(info) == "state=ESTAB rtt=45us cwnd=10 retrans=0/0 unacked=0 acked=123 received=456");
}
