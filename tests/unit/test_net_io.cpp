// write_all and read_some_now (netlab/net.hpp) on a real loopback pair: the
// inline send and the inline read, and the fall-back to Asio's asynchronous
// path when the socket cannot take (or does not hold) the bytes right now.
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
      auto [ec, n] = co_await netlab::read_some_now(reader, asio::buffer(chunk));
      received.append(chunk.data(), n);
      if (ec) break;
    }
  }, asio::detached);
  io.run_for(std::chrono::seconds(60));
  CHECK_FALSE(write_result);
  REQUIRE(received.size() == sent.size());
  CHECK(netlab::crc32(received) == netlab::crc32(sent));
}

TEST_CASE("read_some_now: queued bytes at once, otherwise waits, and end of stream is eof", "[net]") {
  asio::io_context io(1);
  auto [writer, reader] = connected_pair(io);
  asio::write(writer, asio::buffer(std::string("queued")));
  std::string first, second;
  boost::system::error_code last;
  bool second_sent = false;
  asio::co_spawn(io, [&]() -> awaitable<void> {
    std::array<char, 64> chunk;
    // "queued" is in the socket already (loopback delivers within the write): one read gets it.
    auto [ec, n] = co_await netlab::read_some_now(reader, asio::buffer(chunk));
    first.assign(chunk.data(), n);
    // Nothing is queued now: the read waits until the writer, which runs
    // only once this coroutine has suspended, sends more.
    asio::co_spawn(io, [&]() -> awaitable<void> {
      second_sent = true;
      co_await netlab::write_all(writer, asio::buffer(std::string("later")));
      writer.shutdown(tcp::socket::shutdown_send);
    }, asio::detached);
    auto [ec2, n2] = co_await netlab::read_some_now(reader, asio::buffer(chunk));
    CHECK(second_sent);
    second.assign(chunk.data(), n2);
    auto [ec3, n3] = co_await netlab::read_some_now(reader, asio::buffer(chunk));
    CHECK(n3 == 0);
    last = ec3;
    CHECK_FALSE(ec);
    CHECK_FALSE(ec2);
  }, asio::detached);
  io.run_for(std::chrono::seconds(30));
  CHECK(first == "queued");
  CHECK(second == "later");
  CHECK(last == asio::error::eof);
}
