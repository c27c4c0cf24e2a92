// netlab-timewait-server — the TIME_WAIT lab's server.
//
// A tiny request/response service: "PING n\n" is answered "PONG n\n".
// Who closes the connection first decides who keeps the TIME_WAIT socket:
//   --closer client   (default) answer, then wait for the client's next request
//                     or its FIN; the client closes first and holds TIME_WAIT,
//                     we only follow (CLOSE_WAIT -> LAST_ACK -> gone).
//   --closer server   answer "PONG n close\n" and close at once, as an
//                     HTTP/1.0 server does: we send the first FIN, so the
//                     TIME_WAIT sockets pile up here, on the server's port.
//   --idle-timeout S  close a connection nobody used for S seconds (a
//                     keep-alive timeout, default 300): a pool must notice and
//                     not reuse it.
// A malformed request gets "ERR ..." and that connection is closed; every
// other connection keeps being served.
#include "io/coro.hpp"
#include "kernel/census.hpp"
#include "program/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <charconv>
#include <iostream>
#include <optional>

namespace {

using namespace netlab;
using asio::awaitable;

enum class Closer { client, server };

const ProgramInfo program_info{
    "timewait", "The TIME_WAIT lab's server: PING n -> PONG n; --closer decides who closes first.", 7004};

struct Config {
  Closer closer = Closer::client;
  double idle_timeout = default_idle_timeout;  // seconds; 0 = keep idle connections forever
};

struct Counters {
  std::size_t connections = 0;
  std::size_t requests = 0;
  std::size_t bad_requests = 0;
  std::size_t closed_first_by_client = 0;  // we saw its FIN: it holds the TIME_WAIT
  std::size_t closed_first_by_server = 0;  // we sent the first FIN: we hold it
  std::size_t idle_closed = 0;
};
BOOST_DESCRIBE_STRUCT(Counters, (),
                      (connections, requests, bad_requests, closed_first_by_client, closed_first_by_server,
                       idle_closed))

// "PING 42" is the longest useful request by far; anything longer is not ours.
constexpr std::size_t max_request_line = 64;

std::string_view closer_name(Closer closer) { return closer == Closer::server ? "server" : "client"; }

// The number in "PING <n>", or nothing when the line is not a request.
std::optional<std::uint64_t> parse_ping(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  constexpr std::string_view prefix = "PING ";
  if (!line.starts_with(prefix)) return std::nullopt;
  line.remove_prefix(prefix.size());
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
  if (ec != std::errc() || end != line.data() + line.size() || line.empty()) return std::nullopt;
  return n;
}

// One request line, or the error that ended the wait for it.
awaitable<std::tuple<boost::system::error_code, std::size_t>> read_request(tcp::socket& socket, std::string& buffer) {
  co_return co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer, max_request_line), '\n', use_tuple);
}

awaitable<void> session(tcp::socket socket, const Config& config, Counters& counters, ConnectionRegistry& registry) {
  // A keep-alive timeout: a connection nobody used for a while is closed by us.
  ServedConnection served(socket, registry, config.idle_timeout, spdlog::level::debug);
  const std::string& who = served.who();
  std::string buffer;
  std::string ending;
  for (;;) {
    auto [ec, n] = co_await read_request(socket, buffer);
    if (served.idle().expired()) {
      ++counters.idle_closed;
      ++counters.closed_first_by_server;
      ending = "idle timeout: server closes first";
      break;
    }
    if (ec == asio::error::eof) {
      // The client's FIN came first: it is the active closer and keeps the TIME_WAIT.
      ++counters.closed_first_by_client;
      ending = "client closed first";
      break;
    }
    if (ec == asio::error::not_found || (!ec && !parse_ping(std::string_view(buffer).substr(0, n - 1)))) {
      ++counters.bad_requests;
      spdlog::warn("{}: bad request (want \"PING <n>\\n\", at most {} bytes) — closing this connection", who,
                   max_request_line);
      co_await asio::async_write(socket, asio::buffer(std::string_view("ERR want PING <n>\n")), use_tuple);
      ending = "bad request";
      break;
    }
    if (ec) {
      ending = is_normal_ending(ec) ? ec.message() : "read: " + ec.message();
      break;
    }
    const auto number = *parse_ping(std::string_view(buffer).substr(0, n - 1));
    buffer.erase(0, n);
    // "close" tells the client we are about to send our FIN, as HTTP's
    // "Connection: close" does, so it waits for it instead of closing too.
    const std::string reply = "PONG " + std::to_string(number) + (config.closer == Closer::server ? " close\n" : "\n");
    auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(reply), use_tuple);
    (void)written;
    if (write_ec) {
      ending = "write: " + write_ec.message();
      // A client that never reads our answers is cut by the idle timeout while this write waits.
      if (served.idle().expired()) {
        ++counters.idle_closed;
        ++counters.closed_first_by_server;
        ending = "idle timeout while writing: server closes first";
      }
      break;
    }
    if (++counters.requests == 1) spdlog::info("serving: first request answered ({})", who);
    if (config.closer == Closer::server) {
      ++counters.closed_first_by_server;
      ending = "server closes first (--closer server)";
      break;
    }
  }
  // close(): our FIN. Sent first, it puts this socket in FIN_WAIT_1 -> FIN_WAIT_2
  // -> TIME_WAIT; sent after the client's FIN, it only ends our LAST_ACK.
  boost::system::error_code ignored;
  socket.close(ignored);
  served.down(ending);
}

}  // namespace

int timewait_server(ServerProgram& program, CLI::App& app, Config& config) {
  app.add_option("--closer", config.closer,
                 "who closes first: client (wait for its FIN) | server (close after replying)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, Closer>{{"client", Closer::client}, {"server", Closer::server}}))
      ->capture_default_str();
  program.add_idle_timeout(config.idle_timeout);
  program.add_max_connections();
  // A backlog large enough for a burst of short connections.
  program.backlog(4096);
  Counters counters;
  return program.run([&](ServerRun& run) {
    run.serve([&](tcp::socket socket) {
      ++counters.connections;
      return session(std::move(socket), config, counters, run.registry());
    });
    run.listening("closer " + std::string(closer_name(config.closer)));
    run.report([&](Result& result, std::ostream& out) {
      // What is left on our port once everything is closed: TIME_WAIT sockets
      // here are connections this server closed first.
      const auto left = count_tcp_states({.local_port = run.bound().port()});
      result.set_params(
          boost::json::object{{"closer", closer_name(config.closer)}, {"idle_timeout", config.idle_timeout}});
      result.set_observed(counters);
      result.observed()["time_wait_on_port_at_stop"] = left.of(TcpState::time_wait);
      out << "netlab-timewait-server (closer " << closer_name(config.closer) << ") on " << to_string(run.bound())
          << " stopped by " << run.stop_reason() << " after " << run.seconds() << " s\n"
          << "  connections " << counters.connections << ", requests " << counters.requests << ", bad requests "
          << counters.bad_requests << ", refused (--max-connections " << run.limit().max() << ") "
          << run.limit().refused() << "\n"
          << "  closed first by the client " << counters.closed_first_by_client << ", by this server "
          << counters.closed_first_by_server << " (idle " << counters.idle_closed << ")\n"
          << "  on port " << run.bound().port() << " now: " << describe(left) << "\n";
    });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, timewait_server); }
