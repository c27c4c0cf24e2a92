// netlab-closewait-server — the closewait lab's server (closewait是什么状态).
//
// CLOSE_WAIT is the state of a socket whose peer has sent its FIN while the
// local application has not yet called close(). The kernel cannot leave it by
// itself: only close() sends our FIN. This server shows both ways:
//   --bug    after reading EOF it "forgets" to close: every finished client
//            leaves one CLOSE_WAIT socket and one file descriptor behind.
//   --fixed  it closes as soon as it reads EOF: no CLOSE_WAIT stays.
//   --idle-timeout-ms T  the defensive fix: a connection with no traffic for
//            T ms is closed, whether the peer vanished or the code forgot it.
// Protocol (one line per connection): "HELLO\n" -> "OK <n>\n", then the client
// closes; "STATUS\n" -> one JSON line (open fds, connections held), then we close.
#include "io/coro.hpp"
#include "kernel/lifecycle.hpp"
#include "program/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/serialize.hpp>

#include <iostream>
#include <optional>

namespace {

using namespace netlab;
using asio::awaitable;
using namespace std::chrono_literals;
constexpr std::size_t max_request_line = 64;

const ProgramInfo program_info{
    "closewait", "The closewait lab's server: --bug never closes after EOF (CLOSE_WAIT leaks), --fixed does.", 7005};

struct Config {
  bool bug = false;
  std::chrono::milliseconds idle_timeout{0};  // 0 = never
};

// The result's "observed", besides the skeleton's.
struct Observed {
  std::size_t connections = 0;
  std::size_t close_wait_held_at_stop = 0;
  std::size_t closed_on_eof = 0, closed_idle = 0;  // closed by us: after the client's EOF, or idle
  std::size_t bad_requests = 0;
};
BOOST_DESCRIBE_STRUCT(Observed, (), (connections, close_wait_held_at_stop, closed_on_eof, closed_idle, bad_requests))

// What the sessions count: the observed figures, and the live ones.
struct Counters : Observed {
  std::size_t close_wait_held = 0;  // EOF read, close() not called (yet)
  std::size_t fds_at_start = 0;
};

// Waits for `duration`, or for ever when it is zero; a server stop cancels it.
awaitable<void> idle_timer(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  if (duration.count() > 0)
    timer.expires_after(duration);
  else
    timer.expires_at(asio::steady_timer::time_point::max());
  co_await timer.async_wait(asio::use_awaitable);
}

// Reads until the peer's FIN (true) or the idle timeout (false).
awaitable<bool> read_until_eof(tcp::socket& socket, std::string& pending, const Config& config) {
  using namespace asio::experimental::awaitable_operators;
  for (;;) {
    char buffer[4096];
    auto result = co_await (socket.async_read_some(asio::buffer(buffer), use_tuple) || idle_timer(config.idle_timeout));
    if (result.index() == 1) co_return false;
    auto [ec, n] = std::get<0>(result);
    if (ec == asio::error::eof) co_return true;
    if (ec) throw boost::system::system_error(ec);
    if (pending.size() < max_request_line) pending.append(buffer, std::min(n, max_request_line));
  }
}

std::string status_line(const Config& config, const Counters& counters) {
  return boost::json::serialize(boost::json::object{{"mode", config.bug ? "bug" : "fixed"},
                                                    {"idle_timeout_ms", config.idle_timeout.count()},
                                                    {"open_fds", open_fd_count()},
                                                    {"fds_at_start", counters.fds_at_start},
                                                    {"close_wait_held", counters.close_wait_held},
                                                    {"connections", counters.connections}}) +
         "\n";
}

awaitable<std::string> serve(tcp::socket& socket, const Config& config, Counters& counters,
                             asio::steady_timer& stopping) {
  using namespace asio::experimental::awaitable_operators;
  std::string line;
  auto first =
      co_await (asio::async_read_until(socket, asio::dynamic_buffer(line, max_request_line), '\n', use_tuple) ||
                idle_timer(config.idle_timeout));
  if (first.index() == 1) {
    ++counters.closed_idle;
    co_return "idle before its request: closed (--idle-timeout-ms)";
  }
  auto [ec, n] = std::get<0>(first);
  if (ec == asio::error::eof) co_return "closed before a request";
  if (ec == asio::error::not_found) {
    ++counters.bad_requests;
    co_return "no request line within " + std::to_string(max_request_line) + " bytes: closed";
  }
  if (ec) throw boost::system::system_error(ec);
  const std::string request = line.substr(0, n - 1);
  line.erase(0, n);

  if (request == "STATUS") {
    co_await asio::async_write(socket, asio::buffer(status_line(config, counters)), use_tuple);
    co_return "status sent";
  }
  if (request != "HELLO") {
    ++counters.bad_requests;
    const std::string reply = "ERR unknown request (send HELLO or STATUS)\n";
    co_await asio::async_write(socket, asio::buffer(reply), use_tuple);
    co_return "unknown request '" + request.substr(0, 32) + "': closed";
  }
  const std::string reply = "OK " + std::to_string(counters.connections) + "\n";
  if (auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(reply), use_tuple); write_ec)
    co_return "write: " + write_ec.message();

  // The peer's FIN moves our socket to CLOSE_WAIT: it waits for us, not for the network.
  if (!co_await read_until_eof(socket, line, config)) {
    ++counters.closed_idle;
    co_return "idle for " + std::to_string(config.idle_timeout.count()) + " ms: closed (--idle-timeout-ms)";
  }
  if (!config.bug) {
    ++counters.closed_on_eof;
    co_return "EOF: closed at once";
  }
  // The bug: the code returns without closing, and the socket stays in
  // CLOSE_WAIT, holding its descriptor, until something finally closes it:
  // here the idle timeout if one is set, else the server's own stop.
  ++counters.close_wait_held;
  spdlog::info("EOF from {}: not closing (--bug), the socket stays in CLOSE_WAIT", describe_connection(socket));
  const auto held = co_await (idle_timer(config.idle_timeout) || stopping.async_wait(use_tuple));
  --counters.close_wait_held;
  if (held.index() == 0) {
    ++counters.closed_idle;
    co_return "held in CLOSE_WAIT " + std::to_string(config.idle_timeout.count()) +
        " ms, then closed by --idle-timeout-ms";
  }
  co_return "held in CLOSE_WAIT until the server stopped";
}

awaitable<void> session(tcp::socket socket, const Config& config, Counters& counters, ConnectionRegistry& registry,
                        asio::steady_timer& stopping) {
  // No IdleTimeout: --idle-timeout-ms races the reads itself (the lesson's defensive fix).
  ServedConnection served(socket, registry);
  std::string ending;
  try {
    ending = co_await serve(socket, config, counters, stopping);
  } catch (const boost::system::system_error& e) {
    if (!is_normal_ending(e.code())) throw;
    ending = e.code().message();
  }
  served.down(ending);
}

}  // namespace

int closewait_server(ServerProgram& program, CLI::App& app, Config& config) {
  bool fixed = false;
  long idle_ms = 0;
  auto* bug_flag = app.add_flag("--bug", config.bug, "never close a connection after reading EOF (the leak)");
  app.add_flag("--fixed", fixed, "close as soon as EOF is read (the default)")->excludes(bug_flag);
  add_bounded_option(app, "--idle-timeout-ms", idle_ms, "close a connection idle this long (0 = never)", 0L,
                     3'600'000L);
  program.add_max_connections();
  program.after_parse([&] {
    // --bug is exempt from the default limit: its lesson is that every leaked
    // CLOSE_WAIT socket keeps a descriptor until the process runs out of them
    // (accept() fails with EMFILE). A limit given on the command line still holds.
    if (config.bug && app.count("--max-connections") == 0) program.options().max_connections = 0;
    config.idle_timeout = std::chrono::milliseconds(idle_ms);
  });
  Counters counters;
  std::optional<asio::steady_timer> stopping;  // cancelled at the stop: ends every CLOSE_WAIT held
  return program.run([&](ServerRun& run) {
    const std::string mode = config.bug ? "bug" : "fixed";
    counters.fds_at_start = open_fd_count();
    stopping.emplace(run.io(), asio::steady_timer::time_point::max());
    run.at_exit([&] { stopping.reset(); });  // made on run.io(): gone before it
    run.on_stop([&](std::string_view reason) {
      counters.close_wait_held_at_stop = counters.close_wait_held;
      spdlog::info("stopping ({}): {} connection(s) held in CLOSE_WAIT", reason, counters.close_wait_held_at_stop);
      stopping->cancel();
    });
    run.serve([&](tcp::socket socket) {
      ++counters.connections;
      return session(std::move(socket), config, counters, run.registry(), *stopping);
    });
    run.listening(
        "--" + mode + ", idle timeout " + std::to_string(idle_ms) + " ms, " +
        (run.limit().max() ? "at most " + std::to_string(run.limit().max()) + " connections" : "no connection limit"));
    run.report([&, mode](Result& result, std::ostream& out) {
      result.set_params(boost::json::object{{"mode", mode}, {"idle_timeout_ms", idle_ms}});
      result.set_observed(static_cast<const Observed&>(counters));
      out << "netlab-closewait-server (--" << mode << ") on " << to_string(run.bound()) << " stopped by "
          << run.stop_reason() << "\n  connections " << counters.connections << ", closed on EOF "
          << counters.closed_on_eof << ", closed idle " << counters.closed_idle << ", still in CLOSE_WAIT at the stop "
          << counters.close_wait_held_at_stop << ", bad requests " << counters.bad_requests
          << ", refused (--max-connections " << run.limit().max() << ") " << run.limit().refused() << "\n";
    });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, closewait_server); }
