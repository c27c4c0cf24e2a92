// netlab-teardown-server — the teardown lab's server (为什么四次挥手).
//
// Each connection starts with one request line from the client,
//   "<mode> [pause=MS] [quickack=0|1] [bytes=N]\n"
// read one byte at a time, so that whatever the client sends after the line
// stays in the kernel's receive queue. The answer is "OK <N>\n" and N bytes.
// The server plays one --mode (a client asking for another gets one ERR line):
//   normal       answer, read to the client's FIN, (TCP_QUICKACK), pause, close:
//                the passive close. At once, our FIN carries the ACK of theirs
//                (3 segments); after a pause the delayed ACK has gone alone (4).
//   half-close   read the request and the client's FIN, pause in CLOSE_WAIT,
//                then still send the response (data after a FIN), then close.
//   unread-data  answer and close while the client's second request sits unread
//                in our receive queue: the kernel sends RST, not FIN.
//   linger0      answer, pause, then close with SO_LINGER {on, 0}: an abort (RST),
//                so this active closer keeps no TIME_WAIT.
// Across netlab-wire (the client in another network namespace, so each side
// can see only its own end in the census):
//   passive-close    the client sends nothing and closes: we close at once and
//                    watch our end (LAST_ACK, a FIN retransmitted when the
//                    client's last ACK is lost) until the kernel lets it go.
//   simultaneous-close  "simultaneous-close at=NS": at that CLOCK_MONOTONIC
//                    time, the client and we both shutdown(SHUT_WR); we watch
//                    our end (FIN_WAIT_1, CLOSING, TIME_WAIT).
//   old-segment      read to the client's FIN and report the bytes and the
//                    PAWS drops (an old segment replayed into a new connection).
//   dead-peer        read the request line and then nothing: the peer that a
//                    cut cable leaves behind (the client's dead-peer stories).
// In every mode, "report port=N" answers "OK <n>\n" and what we saw of our
// end of the connection from client port N, as JSON.
// A connection that moves no byte for --idle-timeout (default 300 s) is closed;
// the pauses a request asks for do not count as idle.
#include "io/coro.hpp"
#include "kernel/lifecycle.hpp"
#include "program/server.hpp"
#include "teardown/wire.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/describe/class.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <iostream>
#include <map>
#include <sstream>

namespace {

using namespace netlab;
using namespace netlab::teardown;
using asio::awaitable;
using namespace std::chrono_literals;

constexpr std::size_t max_request_line = 128;
constexpr std::size_t max_response = std::size_t{16} << 20;
constexpr long max_pause_ms = 10'000;

const ProgramInfo program_info{
    "teardown", "The teardown lab's server: passive close, half-close, close with unread data, SO_LINGER 0.", 7003};

struct Config {
  std::string mode = "normal";
  long pause_ms = 0;
  bool quickack = false;
  std::size_t response_bytes = 0;  // 0 = the mode's default
  double idle_timeout = default_idle_timeout;
};

// The result's "params".
BOOST_DESCRIBE_STRUCT(Config, (), (mode, pause_ms, quickack, idle_timeout))

struct Request {
  std::string mode;
  long pause_ms;
  bool quickack;
  std::size_t bytes;
  long long at_ns = 0;  // simultaneous-close: when to close (CLOCK_MONOTONIC)
  long report_port = -1;
};

struct Counters {
  std::size_t connections = 0, completed = 0, resets_sent = 0, bad_requests = 0, idle_closed = 0;
};
BOOST_DESCRIBE_STRUCT(Counters, (), (connections, completed, resets_sent, bad_requests, idle_closed))

std::size_t default_bytes(const std::string& mode) {
  return mode == "half-close" || mode == "unread-data" ? 262144 : 1000;
}

// "half-close pause=300 bytes=262144": the server's defaults fill what is not named.
std::optional<Request> parse_request(const std::string& line, const Config& config, std::string& error) {
  std::istringstream in(line);
  Request request{"", config.pause_ms, config.quickack, config.response_bytes};
  in >> request.mode;
  for (std::string item; in >> item;) {
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    try {
      if (key == "pause")
        request.pause_ms = std::stol(value);
      else if (key == "quickack")
        request.quickack = std::stoi(value) != 0;
      else if (key == "bytes")
        request.bytes = std::stoul(value);
      else if (key == "at")
        request.at_ns = std::stoll(value);
      else if (key == "port" && request.mode == "report")
        request.report_port = std::stol(value);
      else
        throw std::invalid_argument(key);
    } catch (const std::exception&) {
      error = "bad item '" + item.substr(0, 32) + "' (pause=MS quickack=0|1 bytes=N)";
      return std::nullopt;
    }
  }
  if (request.pause_ms < 0 || request.pause_ms > max_pause_ms || request.bytes > max_response) {
    error = "pause must be 0.." + std::to_string(max_pause_ms) + " ms, bytes at most " + std::to_string(max_response);
    return std::nullopt;
  }
  if (request.bytes == 0) request.bytes = default_bytes(request.mode);
  return request;
}

// One byte at a time up to '\n': the bytes after the line stay in the kernel.
awaitable<std::string> read_request_line(tcp::socket& socket) {
  std::string line;
  for (char byte = 0; line.size() < max_request_line;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(&byte, 1), use_tuple);
    if (ec) throw boost::system::system_error(ec, "read request");
    if (byte == '\n') co_return line;
    line += byte;
  }
  throw std::runtime_error("no request line within " + std::to_string(max_request_line) + " bytes");
}

awaitable<void> drain_until_eof(tcp::socket& socket) {
  char buffer[4096];
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_tuple);
    if (ec == asio::error::eof) co_return;
    if (ec) throw boost::system::system_error(ec, "read to the client's FIN");
  }
}

awaitable<void> send_response(tcp::socket& socket, std::size_t bytes) {
  const std::string response = "OK " + std::to_string(bytes) + "\n" + response_bytes(0, bytes);
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(response), use_tuple);
  if (ec) throw boost::system::system_error(ec, "write response");
}

// A send buffer that holds the whole response, so close() can be called while
// most of it is still queued (the client is not reading yet). The kernel caps
// the size at net.core.wmem_max (times two).
void hold_response_in_send_buffer(tcp::socket& socket, std::size_t bytes) {
  boost::system::error_code ignored;
  socket.set_option(asio::socket_base::send_buffer_size(static_cast<int>(std::min(bytes * 2, max_response))), ignored);
}

// A pause the request asked for is the server's own doing, not an idle peer.
awaitable<void> pause_busy(std::chrono::milliseconds pause, IdleTimeout& idle) {
  if (pause.count() <= 0) co_return;
  IdleTimeout::Busy busy(idle);
  co_await pause_for(pause);
}

awaitable<std::string> play(tcp::socket& socket, const Request& request, Counters& counters, IdleTimeout& idle,
                            Reports& reports) {
  const auto pause = std::chrono::milliseconds(request.pause_ms);
  if (request.mode == "simultaneous-close") co_return co_await simultaneous_close(socket, request.at_ns, reports);
  if (request.mode == "old-segment") co_return co_await receive_and_report(socket, reports);
  if (request.mode == "dead-peer") {  // silent: the wire cuts the cable, nothing more reaches us
    co_await drain_until_eof(socket);
    co_return "the client's FIN";
  }
  if (request.mode == "normal") {
    co_await send_response(socket, request.bytes);
    co_await drain_until_eof(socket);  // their FIN: we are in CLOSE_WAIT, our ACK of it is delayed
    if (request.quickack) {
      // Leaving delayed-ACK mode sends the pending ACK of the FIN now, on its own.
      int on = 1;
      ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
    }
    co_await pause_busy(pause, idle);
    socket.close();
    co_return "passive close after " + std::to_string(request.pause_ms) + " ms" +
        (request.quickack ? ", quickack" : "");
  }
  if (request.mode == "half-close") {
    co_await drain_until_eof(socket);  // the request came with the client's FIN
    co_await pause_busy(pause, idle);  // CLOSE_WAIT here, FIN_WAIT_2 there
    hold_response_in_send_buffer(socket, request.bytes);
    co_await send_response(socket, request.bytes);  // data after the peer's FIN
    socket.close();                                 // LAST_ACK until the client has taken every byte and our FIN
    co_return std::to_string(request.bytes) + " bytes sent after the client's FIN, then closed";
  }
  if (request.mode == "unread-data") {
    // Wait (bounded) until the client's next bytes are in our receive queue; we never read them.
    using namespace asio::experimental::awaitable_operators;
    co_await (socket.async_wait(tcp::socket::wait_read, use_tuple) || pause_for(5s));
    const std::size_t unread = socket.available();
    hold_response_in_send_buffer(socket, request.bytes);
    co_await send_response(socket, request.bytes);
    socket.close();  // unread data: RST, and whatever we had not sent yet is dropped
    if (unread > 0) ++counters.resets_sent;
    co_return "closed with " + std::to_string(unread) + " unread bytes" + (unread ? ": RST" : "");
  }
  // linger0
  co_await send_response(socket, request.bytes);
  co_await pause_busy(pause, idle);
  socket.set_option(asio::socket_base::linger(true, 0));
  socket.close();  // an abort: RST, no FIN, no TIME_WAIT
  ++counters.resets_sent;
  co_return "aborted with SO_LINGER {on, 0}: RST";
}

awaitable<void> session(tcp::socket socket, const Config& config, Counters& counters, ConnectionRegistry& registry,
                        Reports& reports) {
  ServedConnection served(socket, registry, config.idle_timeout);
  std::string ending;
  try {
    std::string line;
    if (config.mode == "passive-close") {
      // A client that sends nothing and closes is the scenario; one that sends a line asks for a report.
      char byte = 0;
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(&byte, 1), use_tuple);
      if (ec == asio::error::eof) {
        ending = co_await passive_close(socket, reports);
        ++counters.completed;
        served.down(ending);
        co_return;
      }
      if (ec) throw boost::system::system_error(ec, "read request");
      if (byte != '\n') line = byte + co_await read_request_line(socket);
    } else {
      line = co_await read_request_line(socket);
    }
    std::string error;
    auto request = parse_request(line, config, error);
    if (request && request->mode == "report" && request->report_port > 0 && request->report_port < 65536) {
      ending = co_await answer_report(socket, request->report_port, reports);
    } else {
      if (request && request->mode != config.mode)
        error = "this server plays --mode " + config.mode + ", the client asked for '" + request->mode.substr(0, 32) +
                "' (start the server with --mode " + request->mode.substr(0, 32) + ")";
      if (!error.empty()) {
        ++counters.bad_requests;
        const std::string reply = "ERR " + error + "\n";
        co_await asio::async_write(socket, asio::buffer(reply), use_tuple);
        ending = error;
      } else {
        ending = co_await play(socket, *request, counters, served.idle(), reports);
        ++counters.completed;
      }
    }
  } catch (const boost::system::system_error& e) {
    if (!is_normal_ending(e.code())) throw;
    ending = e.code().message();
  } catch (const std::runtime_error& e) {
    ++counters.bad_requests;
    ending = e.what();
  }
  if (served.idle().expired()) {
    ++counters.idle_closed;
    ending = "idle timeout";
  }
  served.down(ending);
}

}  // namespace

int teardown_server(ServerProgram& program, CLI::App& app, Config& config) {
  app.add_option("--mode", config.mode,
                 "normal | half-close | unread-data | linger0 | passive-close | simultaneous-close | old-segment | "
                 "dead-peer")
      ->capture_default_str()
      ->check(CLI::IsMember({"normal", "half-close", "unread-data", "linger0", "passive-close", "simultaneous-close",
                             "old-segment", "dead-peer"}));
  add_bounded_option(app, "--pause-ms", config.pause_ms, "pause before closing (when the client's request names none)",
                     0L, max_pause_ms);
  app.add_flag("--quickack", config.quickack, "normal: ACK the client's FIN at once (when the request names none)");
  app.add_option("--response-bytes", config.response_bytes,
                 "response size when the request names none (default: 262144 half-close/unread-data, else 1000)")
      ->check(CLI::Range(std::size_t{1}, max_response));
  program.add_idle_timeout(config.idle_timeout);
  program.add_max_connections();
  Counters counters;
  Reports reports;
  return program.run([&](ServerRun& run) {
    run.serve([&](tcp::socket socket) {
      ++counters.connections;
      return session(std::move(socket), config, counters, run.registry(), reports);
    });
    run.listening("--mode " + config.mode);
    run.report([&](Result& result, std::ostream& out) {
      result.set_params(config);
      result.set_observed(counters);
      out << "netlab-teardown-server (--mode " << config.mode << ") on " << to_string(run.bound()) << " stopped by "
          << run.stop_reason() << "\n  connections " << counters.connections << ", completed " << counters.completed
          << ", closed with RST " << counters.resets_sent << ", bad requests " << counters.bad_requests
          << "\n  closed idle " << counters.idle_closed << ", refused (--max-connections " << run.limit().max() << ") "
          << run.limit().refused() << "\n";
    });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, teardown_server); }
