// The teardown stories on loopback: see loopback.hpp.
#include "loopback.hpp"

#include "io/coro.hpp"
#include "io/net.hpp"
#include "kernel/census.hpp"
#include "kernel/lifecycle.hpp"
#include "kernel/tcp_info.hpp"
#include "program/client.hpp"
#include "program/logging.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/describe/class.hpp>

#include <functional>
#include <optional>
#include <vector>

namespace netlab::teardown {

namespace {

using asio::awaitable;

// Both ends' states at one step of the story (the census).
struct Step {
  std::string step, client, server;
  std::uint64_t server_send_q = 0;  // the server's unsent and unacknowledged bytes
};
BOOST_DESCRIBE_STRUCT(Step, (), (step, client, server, server_send_q))

// One connection, seen from both ends.
struct Connection {
  tcp::socket socket;
  std::uint16_t server_port, our_port;
  std::string buffer;  // bytes read past the answer's header line
  std::vector<Step> steps;

  // The states of both ends now, recorded under `step`.
  Step record(const std::string& step) {
    const auto server = find_socket(server_port, our_port);
    Step row{.step = step,
             .client = connection_state(our_port, server_port),
             .server = server ? std::string(state_name(server->state)) : "none",
             .server_send_q = server ? server->send_queue : 0};
    spdlog::info("{:<44} client {:<11} server {} (Send-Q {})", step, row.client, row.server, row.server_send_q);
    steps.push_back(row);
    return row;
  }
  std::string server_state() { return connection_state(server_port, our_port); }
  // The server's kernel has our FIN and has acknowledged it (its ACK may be delayed).
  bool fin_acknowledged() {
    return server_state() != "ESTAB" && connection_state(our_port, server_port) != "FIN-WAIT-1";
  }
};

awaitable<Connection> open_connection(const CommonOptions& options, const std::string& request) {
  // (Not inside the braces: g++ 12 mishandles a co_await in an aggregate initialiser.)
  tcp::socket socket = co_await connect_to(options.host, options.port, "netlab-teardown-server");
  const std::uint16_t our_port = socket.local_endpoint().port();
  Connection c{std::move(socket), options.port, our_port, {}, {}};
  if (auto [ec, n] = co_await asio::async_write(c.socket, asio::buffer(request), use_tuple); ec)
    throw failure("send request", ec);
  co_return c;
}

// "OK <n>\n": the response size. Bytes after the line stay in c.buffer.
awaitable<std::size_t> read_header(Connection& c) {
  auto [ec, n] = co_await asio::async_read_until(c.socket, asio::dynamic_buffer(c.buffer, 4096), '\n', use_tuple);
  if (ec) throw failure("read the server's answer", ec);
  const std::string line = c.buffer.substr(0, n - 1);
  c.buffer.erase(0, n);
  if (line.rfind("OK ", 0) != 0) throw std::runtime_error("the server answered: " + line.substr(0, 200));
  co_return std::stoul(line.substr(3));
}

struct Received {
  std::size_t bytes = 0, wrong = 0;
  boost::system::error_code ending;  // eof, or the error that ended the stream
};

// Reads to the end of the stream; `limit` bytes are the response, any more is wrong.
awaitable<Received> read_response(Connection& c, std::size_t limit, std::function<void()> between_reads = {}) {
  Received got;
  got.wrong = count_wrong_bytes(c.buffer, 0);
  got.bytes = c.buffer.size();
  std::vector<char> chunk(16384);
  for (;;) {
    auto [ec, n] = co_await c.socket.async_read_some(asio::buffer(chunk), use_tuple);
    if (ec) {
      got.ending = ec;
      co_return got;
    }
    got.wrong += count_wrong_bytes({chunk.data(), n}, got.bytes);
    got.bytes += n;
    if (got.bytes > limit) got.wrong += n;
    if (between_reads) between_reads();
  }
}

// --mode normal, one connection (the result's "connections"): the segments
// from our shutdown() to the server's FIN, counted by TCP_INFO when it can.
struct ClosedConnection {
  std::string connection;
  std::uint16_t local_port = 0;
  long pause_ms = 0;
  bool quickack = false;
  std::string ended_by;
  std::optional<std::uint64_t> closing_segments{}, segments_sent{}, segments_received{};  // null: not counted
  std::vector<Step> steps{};
};
BOOST_DESCRIBE_STRUCT(ClosedConnection, (),
                      (connection, local_port, pause_ms, quickack, ended_by, closing_segments, segments_sent,
                       segments_received, steps))

struct NormalObserved {
  std::vector<ClosedConnection> connections;
};
BOOST_DESCRIBE_STRUCT(NormalObserved, (), (connections))

// normal: we close first; the server closes at once, or after a pause / with quickack.
awaitable<ClosedConnection> close_first(const CommonOptions& options, const Config& config, long pause, bool quickack,
                                        const std::string& label) {
  const std::string request = "normal pause=" + std::to_string(pause) + " quickack=" + (quickack ? "1" : "0") +
                              (config.response_bytes ? " bytes=" + std::to_string(config.response_bytes) : "") + "\n";
  Connection c = co_await open_connection(options, request);
  const std::size_t size = co_await read_header(c);
  while (c.buffer.size() < size) {  // the whole response, before we close
    std::vector<char> chunk(16384);
    auto [ec, n] = co_await c.socket.async_read_some(asio::buffer(chunk), use_tuple);
    if (ec) throw failure("read response", ec);
    c.buffer.append(chunk.data(), n);
  }
  const auto before = read_tcp_info(c.socket.native_handle());
  c.socket.shutdown(tcp::socket::shutdown_send);  // our FIN
  co_await poll_until([&] { return c.fin_acknowledged(); }, config.settle);
  c.record("our FIN sent (shutdown SHUT_WR)");
  c.buffer.clear();
  const Received got = co_await read_response(c, 0);  // waits for the server's FIN
  const auto after = read_tcp_info(c.socket.native_handle());
  c.record("server's FIN read (EOF)");
  ClosedConnection row{.connection = label,
                       .local_port = c.our_port,
                       .pause_ms = pause,
                       .quickack = quickack,
                       .ended_by = got.ending == asio::error::eof ? "FIN" : got.ending.message()};
  if (before && after && after->segs_out != 0) {
    row.segments_sent = after->segs_out - before->segs_out;
    row.segments_received = after->segs_in - before->segs_in;
    row.closing_segments = *row.segments_sent + *row.segments_received;
  }
  row.steps = std::move(c.steps);
  co_return row;
}

std::string verdict_counts(const std::vector<ClosedConnection>& connections) {
  std::string text;
  for (const auto& c : connections) {
    if (!text.empty()) text += ", ";
    text += c.connection + ": " + (c.closing_segments ? std::to_string(*c.closing_segments) : "?");
  }
  return text;
}

awaitable<void> normal(const CommonOptions& options, const Config& config, Result& result) {
  NormalObserved o;
  o.connections.push_back(co_await close_first(options, config, 0, false, "server closes at once"));
  const long pause = config.quickack ? 0 : config.pause_ms;
  const std::string label =
      config.quickack ? "server sets TCP_QUICKACK" : "server pauses " + std::to_string(config.pause_ms) + " ms";
  o.connections.push_back(co_await close_first(options, config, pause, config.quickack, label));
  std::size_t threes = 0, fours = 0, counted = 0;
  for (const auto& c : o.connections) {
    if (!c.closing_segments) continue;
    ++counted;
    threes += *c.closing_segments == 3;
    fours += *c.closing_segments == 4;
  }
  const auto& connections = o.connections;
  const bool known = counted == connections.size();
  result.set_observed(o);
  result.add_check(
      {.id = "four-segments-to-close",
       .claim = "四次挥手: closing a connection takes four segments",
       .expected = "4 segments for every close",
       .observed = verdict_counts(connections) + " segments",
       .verdict = !known                         ? Verdict::skipped
                  : fours == connections.size()  ? Verdict::confirmed
                  : threes == connections.size() ? Verdict::refuted
                                                 : Verdict::nuanced,
       .evidence = known
                       ? "TCP_INFO segs_out + segs_in of our socket from shutdown() to EOF; 3 when the passive "
                         "side's FIN carries its delayed ACK of ours"
                       : "this kernel reports no segment counters (TCP_INFO segs_in/segs_out): count in the capture"});
}

// --mode half-close: the response the server wrote after our FIN.
struct HalfCloseObserved {
  std::uint16_t local_port = 0;
  std::size_t response_bytes = 0, bytes_after_our_fin = 0, wrong_bytes = 0;
  std::string ended_by;
  bool server_was_close_wait = false, server_seen_in_last_ack = false;
  std::vector<Step> steps;
};
BOOST_DESCRIBE_STRUCT(HalfCloseObserved, (),
                      (local_port, response_bytes, bytes_after_our_fin, wrong_bytes, ended_by, server_was_close_wait,
                       server_seen_in_last_ack, steps))

// --mode unread-data and linger0: how the server's close() ended our read.
struct ResetObserved {
  std::uint16_t local_port = 0;
  std::size_t response_bytes = 0, bytes_received = 0, bytes_lost = 0, wrong_bytes = 0;
  std::string ended_by;
  std::size_t time_wait_sockets = 0;
  std::vector<Step> steps;
};
BOOST_DESCRIBE_STRUCT(ResetObserved, (),
                      (local_port, response_bytes, bytes_received, bytes_lost, wrong_bytes, ended_by, time_wait_sockets,
                       steps))

awaitable<void> half_close(const CommonOptions& options, const Config& config, Result& result) {
  const std::string request = "half-close pause=" + std::to_string(config.pause_ms) +
                              (config.response_bytes ? " bytes=" + std::to_string(config.response_bytes) : "") + "\n";
  Connection c = co_await open_connection(options, request);
  c.socket.shutdown(tcp::socket::shutdown_send);  // the request is complete: our FIN
  co_await poll_until([&] { return c.fin_acknowledged(); }, config.settle);
  const auto after_fin = c.record("request sent, then our FIN");
  // Not reading yet: the server writes into its send buffer and closes.
  co_await poll_until([&] { return c.server_state() != "CLOSE-WAIT"; },
                      std::chrono::milliseconds(config.pause_ms) + config.settle);
  c.record("server paused, wrote, closed; we read nothing yet");
  bool saw_last_ack = false;
  const std::size_t size = co_await read_header(c);
  const std::function<void()> watch_last_ack = [&] {
    if (!saw_last_ack && c.server_state() == "LAST-ACK") saw_last_ack = true;
  };
  const Received got = co_await read_response(c, size, watch_last_ack);
  c.record("response read to EOF");
  bool last_ack = saw_last_ack;
  for (const auto& step : c.steps) last_ack = last_ack || step.server == "LAST-ACK";
  const bool whole = got.bytes == size && got.wrong == 0 && got.ending == asio::error::eof;
  result.set_observed(HalfCloseObserved{.local_port = c.our_port,
                                        .response_bytes = size,
                                        .bytes_after_our_fin = got.bytes,
                                        .wrong_bytes = got.wrong,
                                        .ended_by = got.ending == asio::error::eof ? "FIN" : got.ending.message(),
                                        .server_was_close_wait = after_fin.server == "CLOSE-WAIT",
                                        .server_seen_in_last_ack = last_ack,
                                        .steps = std::move(c.steps)});
  result.add_check({.id = "half-close",
                    .claim = "either side can still send after receiving a FIN (半关闭)",
                    .expected = std::to_string(size) + " bytes after our FIN, intact",
                    .observed = std::to_string(got.bytes) + " bytes after our FIN, " + std::to_string(got.wrong) +
                                " wrong; the server was " + after_fin.server + " meanwhile",
                    .verdict = whole ? Verdict::confirmed : Verdict::refuted,
                    .evidence = "bytes read after shutdown(SHUT_WR), each checked; server state from the census"});
}

// unread-data and linger0: the server's close() turns into RST.
awaitable<void> reset(const CommonOptions& options, const Config& config, Result& result) {
  const bool unread = config.mode == "unread-data";
  std::string request = config.mode + " pause=" + std::to_string(unread ? 0 : config.pause_ms) +
                        (config.response_bytes ? " bytes=" + std::to_string(config.response_bytes) : "") + "\n";
  if (unread) request += "SECOND REQUEST, PIPELINED: THE SERVER NEVER READS IT\n";
  Connection c = co_await open_connection(options, request);
  std::size_t size = 0;
  Received got;
  if (unread) {
    // Not reading until the server's socket is gone: its RST cut off what it had not sent.
    co_await poll_until([&] { return c.server_state() == "none"; }, config.settle);
    c.record("server closed, our reading not begun");
  }
  size = co_await read_header(c);
  got = co_await read_response(c, size);
  const bool was_reset = got.ending == asio::error::connection_reset;
  c.record(was_reset ? "read ended by ECONNRESET" : "read ended by " + got.ending.message());
  // TIME_WAIT on either end of this connection, if any.
  std::size_t time_wait = 0;
  for (const auto& s : list_tcp_sockets({}))
    if ((s.local_port == c.our_port && s.remote_port == c.server_port) ||
        (s.local_port == c.server_port && s.remote_port == c.our_port))
      time_wait += s.state == TcpState::time_wait;
  const std::size_t lost = size > got.bytes ? size - got.bytes : 0;
  result.set_observed(ResetObserved{.local_port = c.our_port,
                                    .response_bytes = size,
                                    .bytes_received = got.bytes,
                                    .bytes_lost = lost,
                                    .wrong_bytes = got.wrong,
                                    .ended_by = was_reset ? "ECONNRESET" : got.ending.message(),
                                    .time_wait_sockets = time_wait,
                                    .steps = std::move(c.steps)});
  const std::string what = std::string(was_reset ? "ECONNRESET" : got.ending.message()) + " after " +
                           std::to_string(got.bytes) + " of " + std::to_string(size) + " bytes (" +
                           std::to_string(lost) + " lost), TIME_WAIT sockets " + std::to_string(time_wait);
  if (unread)
    result.add_check(
        {.id = "close-is-graceful",
         .claim = "close() always ends a connection gracefully, with FIN (四次挥手)",
         .expected = "FIN and the whole response",
         .observed = what,
         .verdict = was_reset ? Verdict::refuted : Verdict::confirmed,
         .evidence = "the server closed with our second request unread in its receive queue; our read's ending"});
  else
    result.add_check({.id = "linger0-aborts",
                      .claim = "SO_LINGER {on, 0}: close() aborts with RST and leaves no TIME_WAIT",
                      .expected = "ECONNRESET and 0 TIME_WAIT",
                      .observed = what,
                      .verdict = was_reset && time_wait == 0 ? Verdict::confirmed : Verdict::refuted,
                      .evidence = "our read's ending; the census of both ends after it"});
}

}  // namespace

bool is_loopback_mode(const std::string& mode) {
  return mode == "normal" || mode == "half-close" || mode == "unread-data" || mode == "linger0";
}

awaitable<void> loopback_scenario(const CommonOptions& options, const Config& config, Result& result) {
  if (config.mode == "normal") return normal(options, config, result);
  if (config.mode == "half-close") return half_close(options, config, result);
  return reset(options, config, result);
}

}  // namespace netlab::teardown
