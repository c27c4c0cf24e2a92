#include "timewait.hpp"

#include "io/coro.hpp"
#include "program/logging.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstring>
#include <iostream>

#include <unistd.h>

namespace netlab::timewait {

namespace {

using asio::awaitable;
using error_code = boost::system::error_code;

// The connection on our `port` ended; note who closed it first.
void note_close(Tally& tally, std::uint16_t port, bool server_closed) {
  if (const auto earlier = tally.closed_by_server.find(port); earlier != tally.closed_by_server.end())
    ++(earlier->second ? tally.reused_after_server_close : tally.reused_after_our_close);
  tally.closed_by_server[port] = server_closed;
}

std::string errno_name(const error_code& ec) {
  if (ec == asio::error::eof) return "EOF";
  if (ec == asio::error::timed_out || ec == asio::error::operation_aborted) return "timeout";
  if (ec.category() == boost::system::system_category())
    if (const char* name = ::strerrorname_np(ec.value())) return name;
  return ec.message();
}

// ---- one request ------------------------------------------------------------

struct Reply {
  error_code ec;
  bool server_closes = false;  // "PONG n close": the server sends its FIN next
};

// PING n -> PONG n [close], on an open connection.
awaitable<Reply> exchange(tcp::socket& socket, std::size_t n) {
  const std::string request = "PING " + std::to_string(n) + "\n";
  auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(request), use_tuple);
  (void)written;
  if (write_ec) co_return Reply{write_ec};
  std::string line;
  auto [read_ec, length] = co_await asio::async_read_until(socket, asio::dynamic_buffer(line, 64), '\n', use_tuple);
  if (read_ec) co_return Reply{read_ec == asio::error::not_found ? asio::error::message_size : read_ec};
  line.resize(length - 1);
  const std::string expected = "PONG " + std::to_string(n);
  if (line == expected) co_return Reply{};
  if (line == expected + " close") co_return Reply{{}, true};
  co_return Reply{asio::error::invalid_argument};  // not our answer: not a netlab-timewait-server?
}

// The server said it closes: wait for its FIN, so that it — not we — is the active closer.
awaitable<error_code> wait_for_fin(tcp::socket& socket) {
  char byte;
  auto [ec, n] = co_await socket.async_read_some(asio::buffer(&byte, 1), use_tuple);
  co_return (ec == asio::error::eof) ? error_code{} : (ec ? ec : asio::error::invalid_argument);
}

// SO_LINGER {on, 0 s}: close() then aborts the connection with an RST instead
// of a FIN, and the socket is freed at once — no TIME_WAIT, and no graceful end.
void set_linger0(tcp::socket& socket) { socket.set_option(asio::socket_base::linger(true, 0)); }

template <typename T>
awaitable<std::optional<T>> within(awaitable<T> operation, double seconds) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
  auto winner = co_await (std::move(operation) || timer.async_wait(use_tuple));
  if (winner.index() == 0) co_return std::move(std::get<0>(winner));
  co_return std::nullopt;
}

struct Outcome {
  enum Step { done, connect, request } step = done;
  error_code ec;
  bool reused = false;
};

// --mode short: connect, PING, PONG, close — the connection-per-request client.
awaitable<Outcome> short_request(tcp::endpoint server, std::size_t n, const Config& config, Tally& tally) {
  tcp::socket socket(co_await asio::this_coro::executor);
  auto [connect_ec] = co_await socket.async_connect(server, use_tuple);
  if (connect_ec) co_return Outcome{Outcome::connect, connect_ec};
  if (config.linger0) set_linger0(socket);
  const std::uint16_t port = socket.local_endpoint().port();
  const Reply reply = co_await exchange(socket, n);
  if (reply.ec) co_return Outcome{Outcome::request, reply.ec};
  if (reply.server_closes) {
    if (auto ec = co_await wait_for_fin(socket)) co_return Outcome{Outcome::request, ec};
    ++tally.closed_first_by_server;
  } else {
    ++tally.closed_first_by_client;
  }
  // Our close: the first FIN of the four (or the answer to the server's FIN).
  socket.close();
  note_close(tally, port, reply.server_closes);
  tally.ended_at[port] = Clock::now();
  co_return Outcome{};
}

// --mode pool: the same request on a pooled connection.
awaitable<Outcome> pooled_request(ConnectionPool& pool, std::size_t n, Tally& tally) {
  std::optional<ConnectionPool::Lease> lease;
  try {
    lease.emplace(co_await pool.acquire());
  } catch (const boost::system::system_error& e) {
    co_return Outcome{Outcome::connect, e.code()};
  } catch (const PoolError&) {
    co_return Outcome{Outcome::connect, asio::error::timed_out};
  }
  const bool reused = lease->reused();
  const Reply reply = co_await exchange(lease->socket(), n);
  if (reply.ec) {
    lease->discard();  // never hand a broken connection to the next request
    co_return Outcome{Outcome::request, reply.ec, reused};
  }
  if (reply.server_closes) {
    // The server closes this one (--closer server): it cannot go back to the pool.
    lease->discard();
    const auto port = lease->socket().local_endpoint().port();
    if (auto ec = co_await wait_for_fin(lease->socket())) co_return Outcome{Outcome::request, ec, reused};
    ++tally.closed_first_by_server;
    tally.ended_at[port] = Clock::now();
  }
  co_return Outcome{Outcome::done, {}, reused};
}

void count_error(Tally& tally, const Outcome& outcome) {
  auto& errors = outcome.step == Outcome::connect ? tally.connect_errors : tally.request_errors;
  ++errors[errno_name(outcome.ec)];
  if (outcome.ec == asio::error::connection_refused) {
    ++tally.refused;
    ++tally.refused_in_a_row;
  }
}

// Nobody listens any more (never did, or the server died mid-run): stop
// sending instead of counting thousands more refusals.
constexpr std::size_t give_up_after_refused_in_a_row = 100;

awaitable<void> worker(Run& run) {
  auto& tally = run.tally;
  while (tally.next < run.config.requests && !run.stopping) {
    if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) co_return;
    const std::size_t n = tally.next++;
    const auto started = Clock::now();
    std::optional<Outcome> outcome;
    // A reused pooled connection may have been closed by the server a moment
    // ago; like an HTTP client, retry such a request once on a fresh connection.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (run.config.mode == Mode::short_lived)
        outcome = co_await within(short_request(run.server, n, run.config, tally), run.config.request_timeout);
      else
        outcome = co_await within(pooled_request(*run.pool, n, tally), run.config.request_timeout);
      if (!outcome) outcome = Outcome{Outcome::request, asio::error::timed_out};
      if (!(outcome->step == Outcome::request && outcome->reused)) break;
      ++tally.retried;
    }
    if (outcome->step == Outcome::done) {
      ++tally.succeeded;
      tally.refused_in_a_row = 0;
      tally.latency_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - started).count());
      continue;
    }
    count_error(tally, *outcome);
    if (tally.refused_in_a_row >= give_up_after_refused_in_a_row ||
        (tally.succeeded == 0 && tally.refused >= run.config.concurrency)) {
      if (!run.stopping && tally.succeeded > 0)
        spdlog::warn("{} connects refused in a row: the server is gone, stopping", tally.refused_in_a_row);
      run.stopping = true;
    }
  }
}

// A live line on a terminal: requests done and TIME_WAIT sockets so far.
awaitable<void> show_progress(const Run& run) {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  const auto started = Clock::now();
  for (;;) {
    tick.expires_after(std::chrono::milliseconds(250));
    co_await tick.async_wait(asio::use_awaitable);
    if (Clock::now() - started < std::chrono::seconds(1)) continue;
    std::cout << "\r  " << run.tally.next << "/" << run.config.requests << " requests, TIME-WAIT (client side) "
              << client_time_wait_now(run) << "   " << std::flush;
  }
}

}  // namespace

awaitable<void> run_requests(Run& run) {
  const auto executor = co_await asio::this_coro::executor;
  if (run.config.mode == Mode::pool) {
    auto connector = [&run]() -> awaitable<tcp::socket> {
      tcp::socket socket(co_await asio::this_coro::executor);
      auto [ec] = co_await socket.async_connect(run.server, use_tuple);
      if (ec) throw boost::system::system_error(ec, "connect");
      if (run.config.linger0) set_linger0(socket);
      run.tally.ended_at.emplace(socket.local_endpoint().port(), Clock::time_point::max());
      co_return socket;
    };
    run.pool = std::make_unique<ConnectionPool>(
        executor, connector,
        PoolOptions{.max_size = run.config.pool_size,
                    .max_waiters = run.config.concurrency,
                    .acquire_timeout = std::chrono::milliseconds(static_cast<long>(run.config.request_timeout * 1000)),
                    .idle_timeout = std::chrono::seconds(30)});
  }
  using op_type = decltype(asio::co_spawn(executor, worker(run), asio::deferred));
  std::vector<op_type> workers;
  for (std::size_t i = 0; i < run.config.concurrency; ++i)
    workers.push_back(asio::co_spawn(executor, worker(run), asio::deferred));
  auto all_done = asio::experimental::make_parallel_group(std::move(workers))
                      .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  if (::isatty(STDOUT_FILENO) && run.options.json != "-") {
    using namespace asio::experimental::awaitable_operators;
    co_await (std::move(all_done) || show_progress(run));
    std::cout << "\r\033[K" << std::flush;
  } else {
    co_await std::move(all_done);
  }
  if (run.pool) {
    // The end of the long-lived connections: only now does the client close them.
    run.pool->close();
    const auto closed = Clock::now();
    for (auto& [port, ended] : run.tally.ended_at)
      if (ended == Clock::time_point::max()) {
        ended = closed;
        ++run.tally.closed_first_by_client;
      }
  }
}

}  // namespace netlab::timewait
