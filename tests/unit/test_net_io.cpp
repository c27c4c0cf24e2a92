// write_all and BlockingSocket (io/net.hpp) on a real loopback pair:
// write_all's inline send, its fall-back to async_write when the socket cannot
// take all the bytes now, and the errors of either path; BlockingSocket's
// transfers, its bounded wait, the end of the stream and a peer that has gone.
#include "io/coro.hpp"

#include <catch2/catch.hpp>

#include "io/net.hpp"
#include "io/stats.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <boost/asio/write.hpp>

#include <fcntl.h>

#include <array>
#include <string>
#include <thread>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::awaitable;
using netlab::use_tuple;

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
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        write_result = co_await netlab::write_all(writer, asio::buffer(sent));
        writer.shutdown(tcp::socket::shutdown_send);
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        std::array<char, 1500> chunk;
        for (std::size_t reads = 0; reads < (16u << 20); ++reads) {
          auto [ec, n] = co_await reader.async_read_some(asio::buffer(chunk), use_tuple);
          received.append(chunk.data(), n);
          if (ec) break;
        }
      },
      asio::detached);
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
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        for (; writes < 100 && !last; ++writes) last = co_await netlab::write_all(writer, asio::buffer(bytes));
      },
      asio::detached);
  io.run_for(std::chrono::seconds(30));
  INFO(writes << " writes, then: " << last.message());
  CHECK((last == asio::error::broken_pipe || last == asio::error::connection_reset));
}

TEST_CASE("BlockingSocket: 16 MiB through asio::write arrive whole, read back in scattered pieces", "[net]") {
  asio::io_context io(1);
  auto [writer, reader] = connected_pair(io);
  writer.set_option(asio::socket_base::send_buffer_size(65536));
  reader.set_option(asio::socket_base::receive_buffer_size(65536));
  const auto deadline = netlab::Clock::now() + std::chrono::seconds(60);
  const std::string sent = pattern(16 << 20);
  boost::system::error_code write_result = asio::error::would_block;
  std::size_t written = 0;
  std::thread sender([&] {
    netlab::BlockingSocket out(writer, deadline);
    written = asio::write(out, asio::buffer(sent), write_result);
    writer.shutdown(tcp::socket::shutdown_send);
  });
  netlab::BlockingSocket in(reader, deadline);
  std::string received;
  std::array<char, 1000> head;
  std::array<char, 3000> tail;  // two buffers per read: recvmsg fills them in order
  const std::array<asio::mutable_buffer, 2> pieces{asio::buffer(head), asio::buffer(tail)};
  boost::system::error_code read_result;
  for (std::size_t reads = 0; reads < (16u << 20) && !read_result; ++reads) {
    const std::size_t n = in.read_some(pieces, read_result);
    received.append(head.data(), std::min(n, head.size()));
    if (n > head.size()) received.append(tail.data(), n - head.size());
  }
  sender.join();
  CHECK_FALSE(write_result);
  CHECK(written == sent.size());
  CHECK(read_result == asio::error::eof);
  REQUIRE(received.size() == sent.size());
  CHECK(netlab::crc32(received) == netlab::crc32(sent));
}

TEST_CASE("BlockingSocket: a peer that never answers ends in timed_out at the deadline, not before", "[net]") {
  asio::io_context io(1);
  auto [writer, reader] = connected_pair(io);
  const auto deadline = netlab::Clock::now() + std::chrono::milliseconds(300);
  netlab::BlockingSocket in(reader, deadline);
  std::array<char, 64> chunk;
  boost::system::error_code ec;
  CHECK(in.read_some(asio::buffer(chunk), ec) == 0);
  CHECK(ec == asio::error::timed_out);
  CHECK(netlab::Clock::now() >= deadline);
  CHECK_THROWS_AS(in.read_some(asio::buffer(chunk)), boost::system::system_error);
  // Nothing is consumed by the wait: what comes later is read in full, and an
  // empty read is no wait and no error.
  asio::write(writer, asio::buffer(std::string_view("late")));
  CHECK(in.read_some(asio::mutable_buffer(), ec) == 0);
  CHECK_FALSE(ec);
  netlab::BlockingSocket again(reader, netlab::Clock::now() + std::chrono::seconds(30));
  CHECK(again.read_some(asio::buffer(chunk)) == 4);
}

TEST_CASE("BlockingSocket: the socket is asynchronous again afterwards", "[net]") {
  asio::io_context io(1);
  auto [writer, reader] = connected_pair(io);
  const auto non_blocking = [&] { return (::fcntl(reader.native_handle(), F_GETFL) & O_NONBLOCK) != 0; };
  { netlab::BlockingSocket blocking(reader, netlab::Clock::now() + std::chrono::seconds(30)); }
  CHECK_FALSE(non_blocking());
  // Starting an async read puts the descriptor back in non-blocking mode: its
  // wait happens in the event loop, not in the kernel's recv.
  boost::system::error_code ec = asio::error::would_block;
  std::size_t got = 0;
  std::array<char, 16> chunk;
  reader.async_read_some(asio::buffer(chunk), [&](boost::system::error_code e, std::size_t n) { ec = e, got = n; });
  CHECK(non_blocking());
  asio::write(writer, asio::buffer(std::string_view("hi")));
  io.run_for(std::chrono::seconds(30));
  CHECK_FALSE(ec);
  CHECK(got == 2);
}

TEST_CASE("BlockingSocket to a peer that has gone: reset or broken pipe, no SIGPIPE", "[net]") {
  asio::io_context io(1);
  auto [writer, reader] = connected_pair(io);
  reader.close();
  netlab::BlockingSocket out(writer, netlab::Clock::now() + std::chrono::seconds(30));
  const std::string bytes = pattern(100'000);
  boost::system::error_code last;
  std::size_t writes = 0;
  for (; writes < 100 && !last; ++writes) asio::write(out, asio::buffer(bytes), last);
  INFO(writes << " writes, then: " << last.message());
  CHECK((last == asio::error::broken_pipe || last == asio::error::connection_reset));
  std::array<char, 16> chunk;
  boost::system::error_code read_ec;
  netlab::BlockingSocket in(writer, netlab::Clock::now() + std::chrono::seconds(30));
  in.read_some(asio::buffer(chunk), read_ec);
  CHECK((read_ec == asio::error::eof || read_ec == asio::error::connection_reset));
}
