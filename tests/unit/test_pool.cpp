// The connection pool on real loopback connections: an in-process line-echo
// server on 127.0.0.1:0 counts what the pool really opened and closed, and the
// pool's own statistics must agree with it.
#include "io/coro.hpp"

#include <catch2/catch.hpp>

#include "pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <set>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::awaitable;
using netlab::ConnectionPool;
using netlab::PoolError;
using netlab::use_tuple;
using netlab::PoolOptions;
using namespace std::chrono_literals;

struct Behaviour {
  std::chrono::milliseconds close_when_idle{0};  // 0 = never
  bool close_after_reply = false;
};

// Echoes each line back. Counts connections accepted, open now, the most open
// at once, and those it closed itself (when idle, or after each reply).
class EchoServer {
 public:
  EchoServer(asio::io_context& io, Behaviour behaviour = {})
      : acceptor_(io, {asio::ip::make_address_v4("127.0.0.1"), 0}), behaviour_(behaviour) {
    asio::co_spawn(io, accept_loop(), asio::detached);
  }

  tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }
  void stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto* socket : sockets_) socket->close(ignored);
  }

  std::size_t accepted = 0;
  std::size_t open = 0;
  std::size_t max_open = 0;
  std::size_t closed_by_server = 0;
  std::size_t eof_seen = 0;  // connections the client closed

 private:
  awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
      if (ec) co_return;
      ++accepted;
      asio::co_spawn(acceptor_.get_executor(), session(std::move(socket)), asio::detached);
    }
  }

  awaitable<std::tuple<boost::system::error_code, std::size_t>> read_line(tcp::socket& socket, std::string& buffer) {
    auto read = asio::async_read_until(socket, asio::dynamic_buffer(buffer, 1024), '\n', use_tuple);
    if (behaviour_.close_when_idle == 0ms) co_return co_await std::move(read);
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer idle(socket.get_executor());
    idle.expires_after(behaviour_.close_when_idle);
    auto winner = co_await (std::move(read) || idle.async_wait(use_tuple));
    if (winner.index() == 0) co_return std::get<0>(winner);
    co_return std::tuple{boost::system::error_code(asio::error::timed_out), std::size_t{0}};
  }

  awaitable<void> session(tcp::socket socket) {
    sockets_.insert(&socket);
    max_open = std::max(max_open, ++open);
    std::string buffer;
    for (;;) {
      auto [ec, n] = co_await read_line(socket, buffer);
      if (ec == asio::error::eof) ++eof_seen;
      if (ec == asio::error::timed_out) ++closed_by_server;
      if (ec) break;
      auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(buffer.data(), n), use_tuple);
      (void)written;
      buffer.erase(0, n);
      if (write_ec) break;
      if (behaviour_.close_after_reply) {
        ++closed_by_server;
        break;
      }
    }
    --open;
    sockets_.erase(&socket);
  }

  tcp::acceptor acceptor_;
  Behaviour behaviour_;
  std::set<tcp::socket*> sockets_;
};

ConnectionPool::Connector connector_to(tcp::endpoint endpoint) {
  return [endpoint]() -> awaitable<tcp::socket> {
    tcp::socket socket(co_await asio::this_coro::executor);
    co_await socket.async_connect(endpoint, asio::use_awaitable);
    co_return socket;
  };
}

// One line out, the same line back; throws on any error.
awaitable<std::string> ask(tcp::socket& socket, const std::string& line) {
  co_await asio::async_write(socket, asio::buffer(line + "\n"), asio::use_awaitable);
  std::string reply;
  const std::size_t n =
      co_await asio::async_read_until(socket, asio::dynamic_buffer(reply, 1024), '\n', asio::use_awaitable);
  reply.resize(n - 1);
  co_return reply;
}

// One request through the pool; a connection that fails is discarded.
awaitable<std::string> request(ConnectionPool& pool, const std::string& line) {
  auto lease = co_await pool.acquire();
  try {
    co_return co_await ask(lease.socket(), line);
  } catch (...) {
    lease.discard();
    throw;
  }
}

// A request whose answer must be the same line.
awaitable<void> expect_echo(ConnectionPool& pool, const std::string& line) {
  const std::string reply = co_await request(pool, line);
  CHECK(reply == line);
}

awaitable<void> pause(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(duration);
  co_await timer.async_wait(asio::use_awaitable);
}

// Polls `condition` every 5 ms, at most 2 s: a bounded wait for something the kernel or the other side does.
awaitable<bool> eventually(std::function<bool()> condition) {
  for (int i = 0; i < 400; ++i) {
    if (condition()) co_return true;
    co_await pause(5ms);
  }
  co_return condition();
}

// co_await never goes inside CHECK(): under g++, Catch2's macro evaluates its
// expression more than once, which would send a request twice.
#define CHECK_EVENTUALLY(condition)                   \
  do {                                                \
    const bool came = co_await eventually(condition); \
    CHECK(came);                                      \
  } while (false)

// Runs the scenario on `io` until it ends (then the server stops), at most 20 s.
void run(asio::io_context& io, EchoServer& server, std::function<awaitable<void>()> scenario) {
  std::exception_ptr error;
  bool finished = false;
  asio::co_spawn(io, scenario(), [&](std::exception_ptr e) {
    error = e;
    finished = true;
    server.stop();
  });
  io.run_for(20s);
  REQUIRE(finished);
  if (error) std::rethrow_exception(error);
}

// An echo server and a pool of connections to it, on one io_context.
struct PoolLab {
  asio::io_context io;
  EchoServer server;
  ConnectionPool pool;
  explicit PoolLab(PoolOptions options, Behaviour behaviour = {})
      : server(io, behaviour), pool(io.get_executor(), connector_to(server.endpoint()), options) {}
};

}  // namespace

TEST_CASE("sequential requests share one connection", "[pool]") {
  PoolLab lab({.max_size = 4});
  auto& [io, server, pool] = lab;
  run(io, server, [&]() -> awaitable<void> {
    for (int i = 0; i < 20; ++i) co_await expect_echo(pool, "PING " + std::to_string(i));
    pool.close();
  });
  CHECK(pool.stats().created == 1);
  CHECK(pool.stats().reused == 19);
  CHECK(server.accepted == 1);
}

TEST_CASE("concurrent callers never open more than max_size connections", "[pool][concurrency]") {
  PoolLab lab({.max_size = 4, .max_waiters = 64});
  auto& [io, server, pool] = lab;
  std::size_t answered = 0;
  run(io, server, [&]() -> awaitable<void> {
    auto caller = [&](int id) -> awaitable<void> {
      for (int i = 0; i < 10; ++i) {
        const std::string line = std::to_string(id) + "/" + std::to_string(i);
        if (co_await request(pool, line) == line) ++answered;
      }
    };
    using namespace asio::experimental::awaitable_operators;
    // 8 groups of 4 callers at once: 32 callers over 4 connections.
    for (int group = 0; group < 8; ++group)
      co_await (caller(group * 4) && caller(group * 4 + 1) && caller(group * 4 + 2) && caller(group * 4 + 3));
    auto spread = [&](int base) -> awaitable<void> {
      co_await (caller(base) && caller(base + 1) && caller(base + 2) && caller(base + 3) && caller(base + 4) &&
                caller(base + 5) && caller(base + 6) && caller(base + 7));
    };
    co_await (spread(100) && spread(200));  // 16 at once: most must wait
    pool.close();
  });
  CHECK(answered == 32 * 10 + 16 * 10);
  CHECK(pool.stats().created <= 4);
  CHECK(server.accepted == pool.stats().created);
  CHECK(server.max_open <= 4);
  CHECK(pool.stats().waited > 0);
  CHECK(pool.stats().created + pool.stats().reused == answered);
  CHECK(pool.stats().timed_out == 0);
}

TEST_CASE("exhaustion: a caller waits at most acquire_timeout", "[pool][exhaustion]") {
  PoolLab lab({.max_size = 1, .acquire_timeout = 100ms});
  auto& [io, server, pool] = lab;
  run(io, server, [&]() -> awaitable<void> {
    auto held = co_await pool.acquire();
    // Nobody gives the connection back: the waiter gives up after acquire_timeout.
    // The wait is timed here: not before the 100 ms, and well before 1 s (a
    // behaviour bound with room for ASan on 2 cores, not a speed: a waiter
    // that gave up at once, or only at some other deadline, fails).
    bool timed_out = false;
    const auto asked = std::chrono::steady_clock::now();
    try {
      (void)co_await pool.acquire();
    } catch (const PoolError&) {
      timed_out = true;
    }
    const auto waited = std::chrono::steady_clock::now() - asked;
    INFO("waited " << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms");
    CHECK(timed_out);
    CHECK(waited >= 100ms);
    CHECK(waited < 1s);
    CHECK(pool.waiting() == 0);
    pool.close();
  });
  CHECK(pool.stats().timed_out == 1);
  CHECK(pool.stats().waited == 1);
  CHECK(pool.stats().created == 1);
}

TEST_CASE("exhaustion: the wait queue is bounded, and a returned connection goes to the waiter", "[pool][exhaustion]") {
  PoolLab lab({.max_size = 1, .max_waiters = 1, .acquire_timeout = 15s});
  auto& [io, server, pool] = lab;
  run(io, server, [&]() -> awaitable<void> {
    auto held = co_await pool.acquire();
    // One waiter fills the queue; the next caller is refused at once.
    std::optional<std::string> waiter_got;
    asio::co_spawn(
        io, [&]() -> awaitable<void> { waiter_got = co_await request(pool, "after you"); }, asio::detached);
    CHECK_EVENTUALLY([&] { return pool.waiting() == 1; });
    bool refused = false;
    const auto asked = std::chrono::steady_clock::now();
    try {
      (void)co_await pool.acquire();
    } catch (const PoolError&) {
      refused = true;
    }
    CHECK(refused);
    // At once: not after the 15 s acquire_timeout (1 s leaves room for ASan).
    CHECK(std::chrono::steady_clock::now() - asked < 1s);
    // Giving the connection back hands it to the waiter directly.
    held.release();
    CHECK_EVENTUALLY([&] { return waiter_got.has_value(); });
    CHECK(waiter_got == "after you");
    pool.close();
  });
  CHECK(pool.stats().rejected == 1);
  CHECK(pool.stats().created == 1);
  CHECK(pool.stats().reused == 1);
  CHECK(pool.stats().waited == 1);
  CHECK(server.accepted == 1);
}

TEST_CASE("idle connections expire after idle_timeout", "[pool][idle]") {
  PoolLab lab({.max_size = 2, .idle_timeout = 50ms});
  auto& [io, server, pool] = lab;
  run(io, server, [&]() -> awaitable<void> {
    co_await expect_echo(pool, "one");
    CHECK(pool.idle() == 1);
    // The pool's own timer closes it: the server sees the client's FIN.
    CHECK_EVENTUALLY([&] { return pool.idle() == 0 && server.eof_seen == 1; });
    CHECK(pool.stats().expired == 1);
    co_await expect_echo(pool, "two");
    pool.close();
  });
  CHECK(pool.stats().created == 2);
  CHECK(pool.stats().reused == 0);
  CHECK(server.accepted == 2);
}

TEST_CASE("a connection the server closed while idle is found on checkout and not reused", "[pool][validation]") {
  PoolLab lab({.max_size = 2}, {.close_when_idle = 30ms});
  auto& [io, server, pool] = lab;
  run(io, server, [&]() -> awaitable<void> {
    co_await expect_echo(pool, "one");
    // The server's keep-alive timeout closes it; its FIN waits in our receive queue.
    CHECK_EVENTUALLY([&] { return server.closed_by_server == 1 && server.open == 0; });
    CHECK(pool.idle() == 1);
    co_await expect_echo(pool, "two");  // not an error: a fresh connection carried it
    pool.close();
  });
  CHECK(pool.stats().discarded_closed_by_peer == 1);
  CHECK(pool.stats().created == 2);
  CHECK(pool.stats().reused == 0);
}

TEST_CASE("a server that closes after every reply: each connection is used once", "[pool][validation]") {
  PoolLab lab({.max_size = 1}, {.close_after_reply = true});
  auto& [io, server, pool] = lab;
  run(io, server, [&]() -> awaitable<void> {
    for (int i = 0; i < 5; ++i) {
      co_await expect_echo(pool, "x");
      CHECK_EVENTUALLY([&] { return server.open == 0; });
    }
    pool.close();
  });
  CHECK(pool.stats().created == 5);
  CHECK(pool.stats().discarded_closed_by_peer == 4);
  CHECK(pool.stats().reused == 0);
}

TEST_CASE("a connection returned after an error is discarded", "[pool][errors]") {
  PoolLab lab({.max_size = 1});
  auto& [io, server, pool] = lab;
  run(io, server, [&]() -> awaitable<void> {
    {
      auto lease = co_await pool.acquire();
      lease.discard();
    }
    CHECK(pool.idle() == 0);
    CHECK(pool.in_use() == 0);
    co_await expect_echo(pool, "fresh");
    pool.close();
  });
  CHECK(pool.stats().discarded_after_error == 1);
  CHECK(pool.stats().created == 2);
  CHECK(server.accepted == 2);
}

TEST_CASE("no server: the connect error reaches the caller and frees the slot", "[pool][errors]") {
  asio::io_context io;
  EchoServer server(io);
  const auto endpoint = server.endpoint();
  server.stop();  // nothing listens there any more
  ConnectionPool pool(io.get_executor(), connector_to(endpoint), {.max_size = 1});
  run(io, server, [&]() -> awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      boost::system::error_code seen;
      try {
        (void)co_await pool.acquire();
      } catch (const boost::system::system_error& e) {
        seen = e.code();
      }
      CHECK(seen == asio::error::connection_refused);
    }
  });
  CHECK(pool.stats().connect_failures == 3);
  CHECK(pool.in_use() == 0);
}

TEST_CASE("the server dies while connections are pooled: errors, discards, no hang", "[pool][errors]") {
  PoolLab lab({.max_size = 3});
  auto& [io, server, pool] = lab;
  std::size_t failures = 0;
  run(io, server, [&]() -> awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    co_await (request(pool, "a") && request(pool, "b") && request(pool, "c"));
    CHECK(pool.idle() == 3);
    server.stop();
    CHECK_EVENTUALLY([&] { return server.open == 0; });
    for (int i = 0; i < 5; ++i) {
      try {
        (void)co_await request(pool, "after");
      } catch (const std::exception&) {
        ++failures;
      }
    }
    pool.close();
  });
  CHECK(failures == 5);
  CHECK(pool.stats().discarded_closed_by_peer == 3);
  CHECK(pool.stats().connect_failures == 5);
  CHECK(pool.in_use() == 0);
}

TEST_CASE("close() fails waiting callers", "[pool][lifecycle]") {
  PoolLab lab({.max_size = 1});
  auto& [io, server, pool] = lab;
  run(io, server, [&]() -> awaitable<void> {
    auto held = co_await pool.acquire();
    std::optional<std::string> waiter_error;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          try {
            (void)co_await pool.acquire();
          } catch (const PoolError& e) {
            waiter_error = e.what();
          }
        },
        asio::detached);
    CHECK_EVENTUALLY([&] { return pool.waiting() == 1; });
    pool.close();
    CHECK_EVENTUALLY([&] { return waiter_error.has_value(); });
    CHECK(waiter_error->find("closed") != std::string::npos);
  });
  CHECK(pool.idle() == 0);
}

TEST_CASE("a pool of size 0 is refused", "[pool]") {
  asio::io_context io;
  CHECK_THROWS_AS(ConnectionPool(io.get_executor(), connector_to({}), {.max_size = 0}), std::invalid_argument);
}
