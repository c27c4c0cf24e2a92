// write_all (netlab/net.hpp) on a real loopback pair: the inline send, the
// fall-back to async_write when the socket cannot take all the bytes now, and
// the errors of either path.
#include <catch2/catch.hpp>

#include "netlab/net.hpp"
#include "netlab/stats.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <boost/asio/write.hpp>

#include <array>
#include <string>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct Pair {
  tcp::socket writer, reader;
};

Pair connected_pair(asio::io_context& io) {
  tcp::acceptor acceptor(io, {asio::ip::make_address_v4("127.0.0.1"), 0});
  tcp::socket writer(io);
  writer.connect(acceptor.local_endpoint());
  tcp::socket reader = acceptor.accept();
  return {std::move(writer), std::move(reader)};
}

std::string pattern(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + i / 4099) & 0xff);
  return bytes;
}

}  // namespace

TEST_CASE("write_all: a write larger than both socket buffers arrives whole and in order", "[net]") {
  asio::io_context io(1);
  auto [writer, reader] = connected_pair(io);
  // Buffers of 64 KiB (the kernel doubles them): the first inline send takes
  // a few hundred KiB at most, the rest must go through async_write while the
  // reader drains. (Buffers of a few KiB, under loopback's 64 KiB MSS, would
  // stall TCP itself on zero-window probes.)
  writer.set_option(asio::socket_base::send_buffer_size(65536));
  reader.set_option(asio::socket_base::receive_buffer_size(65536));
  const std::string sent = pattern(16 << 20);
  boost::system::error_code write_result = asio::error::would_block;
  std::string received;
  asio::co_spawn(io, [&]() -> awaitable<void> {
    write_result = co_await netlab::write_all(writer, asio::buffer(sent));
    writer.shutdown(tcp::socket::shutdown_send);
  }, asio::detached);
  asio::co_spawn(io, [&]() -> awaitable<void> {
    std::array<char, 1500> chunk;
    for (std::size_t reads = 0; reads < (16u << 20); ++reads) {
      auto [ec, n] = co_await reader.async_read_some(asio::buffer(chunk), use_tuple);
      received.append(chunk.data(), n);
      if (ec) break;
    }
  }, asio::detached);
  io.run_for(std::chrono::seconds(60));
  CHECK_FALSE(write_result);
  REQUIRE(received.size() == sent.size());
  CHECK(netlab::crc32(received) == netlab::crc32(sent));
}

TEST_CASE("write_all to a peer that has gone: the error comes back, from either path", "[net]") {
  asio::io_context io(1);
  auto [writer, reader] = connected_pair(io);
  reader.close();  // the next segment to it is answered with a reset
  const std::string bytes = pattern(100'000);
  boost::system::error_code last;
  std::size_t writes = 0;
  asio::co_spawn(io, [&]() -> awaitable<void> {
    for (; writes < 100 && !last; ++writes) last = co_await netlab::write_all(writer, asio::buffer(bytes));
  }, asio::detached);
  io.run_for(std::chrono::seconds(30));
  INFO(writes << " writes, then: " << last.message());
  CHECK((last == asio::error::broken_pipe || last == asio::error::connection_reset));
}
