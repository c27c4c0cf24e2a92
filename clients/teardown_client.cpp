// netlab-teardown-client — the teardown lab's client (为什么四次挥手).
//
// Plays the scenario of netlab-teardown-server --mode (the same --mode here)
// and records, at each step, the state of both ends of the connection in the
// socket census (what `ss -tan` shows):
//   normal       two connections that we close first (shutdown(SHUT_WR)): the
//                server closes one at once and one after --pause-ms (or with
//                TCP_QUICKACK, --quickack); the kernel's own segment counters
//                (TCP_INFO segs_in/segs_out) give the segments each close took.
//   half-close   request, shutdown(SHUT_WR), and the whole response still
//                arrives after our FIN: FIN_WAIT_2 here, CLOSE_WAIT there,
//                then LAST_ACK there, then TIME_WAIT here.
//   unread-data  a second request the server never reads: its close() sends
//                RST; we read what reached us, then ECONNRESET; bytes lost.
//   linger0      the server aborts with SO_LINGER {on, 0}: RST, no TIME_WAIT.
// Across netlab-wire (teardown/wire.cpp; each side sees only its own end):
//   lost-last-ack       our last ACK is lost: the server's FIN comes again and
//                       our TIME_WAIT answers it (server --mode passive-close)
//   no-time-wait        the same with no TIME_WAIT socket: we answer with RST
//   simultaneous-close  both sides close at once (server --mode simultaneous-close)
//   rfc1337             an RST reaches our TIME_WAIT (server --mode passive-close)
//   old-segment         an old segment replayed into a new connection on the
//                       same four-tuple (server --mode old-segment);
//                       old-segment-bare: no TIME_WAIT (linger 0), no timestamps
//   cut-cable, keepalive  a dead peer: the cable cut under a connection
//                       (teardown/dead_peer.cpp; server --mode dead-peer)
#include "io/net.hpp"
#include "kernel/lifecycle.hpp"
#include "kernel/tcp_info.hpp"
#include "program/client.hpp"
#include "program/logging.hpp"
#include "program/options.hpp"
#include "program/result.hpp"
#include "teardown/dead_peer.hpp"
#include "teardown/wire.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/describe/class.hpp>

#include <iostream>

namespace {

using namespace netlab;
using asio::awaitable;
namespace json = boost::json;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct Config {
  std::string mode = "normal";
  long pause_ms = 300;
  bool quickack = false;
  std::size_t response_bytes = 0;  // 0 = the server's default for the mode
  std::chrono::milliseconds settle{3000};
};

// The result's "params": this run's options (response_bytes 0: the server's default).
struct Params {
  std::string mode;
  long pause_ms = 0;
  bool quickack = false;
  std::size_t response_bytes = 0;
};
BOOST_DESCRIBE_STRUCT(Params, (), (mode, pause_ms, quickack, response_bytes))

// One connection, seen from both ends.
struct Connection {
  tcp::socket socket;
  std::uint16_t server_port, our_port;
  std::string buffer;  // bytes read past the answer's header line
  json::array steps;

  // The states of both ends now, recorded under `step`.
  json::object record(const std::string& step) {
    const auto server = find_socket(server_port, our_port);
    json::object row{{"step", step},
                     {"client", connection_state(our_port, server_port)},
                     {"server", server ? std::string(state_name(server->state)) : "none"},
                     {"server_send_q", server ? server->send_queue : 0}};
    spdlog::info("{:<44} client {:<11} server {} (Send-Q {})", step, row["client"].as_string().c_str(),
                 row["server"].as_string().c_str(), row["server_send_q"].as_uint64());
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

json::object segments(const std::optional<TcpInfoSnapshot>& before, const std::optional<TcpInfoSnapshot>& after) {
  if (!before || !after || after->segs_out == 0) return {{"closing_segments", nullptr}};
  const auto out = after->segs_out - before->segs_out, in = after->segs_in - before->segs_in;
  return {{"closing_segments", out + in}, {"segments_sent", out}, {"segments_received", in}};
}

// normal: we close first; the server closes at once, or after a pause / with quickack.
awaitable<json::object> close_first(const CommonOptions& options, const Config& config, long pause, bool quickack,
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
  json::object row{{"connection", label},
                   {"local_port", c.our_port},
                   {"pause_ms", pause},
                   {"quickack", quickack},
                   {"ended_by", got.ending == asio::error::eof ? "FIN" : got.ending.message()}};
  for (auto& [key, value] : segments(before, after)) row[key] = value;
  row["steps"] = std::move(c.steps);
  co_return row;
}

std::string verdict_counts(const json::array& connections) {
  std::string text;
  for (const auto& c : connections) {
    if (!text.empty()) text += ", ";
    const auto& n = c.at("closing_segments");
    text +=
        std::string(c.at("connection").as_string()) + ": " + (n.is_null() ? "?" : std::to_string(n.to_number<long>()));
  }
  return text;
}

awaitable<void> normal(const CommonOptions& options, const Config& config, Result& result) {
  json::array connections;
  json::object at_once = co_await close_first(options, config, 0, false, "server closes at once");
  connections.push_back(std::move(at_once));
  const long pause = config.quickack ? 0 : config.pause_ms;
  const std::string label =
      config.quickack ? "server sets TCP_QUICKACK" : "server pauses " + std::to_string(config.pause_ms) + " ms";
  json::object later = co_await close_first(options, config, pause, config.quickack, label);
  connections.push_back(std::move(later));
  std::size_t threes = 0, fours = 0, counted = 0;
  for (const auto& c : connections) {
    const auto& n = c.at("closing_segments");
    if (n.is_null()) continue;
    ++counted;
    threes += n.to_number<long>() == 3;
    fours += n.to_number<long>() == 4;
  }
  const bool known = counted == connections.size();
  result.observed()["connections"] = connections;
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
  for (const auto& step : c.steps) last_ack = last_ack || step.at("server") == "LAST-ACK";
  const bool whole = got.bytes == size && got.wrong == 0 && got.ending == asio::error::eof;
  result.observed() = {{"local_port", c.our_port},
                       {"response_bytes", size},
                       {"bytes_after_our_fin", got.bytes},
                       {"wrong_bytes", got.wrong},
                       {"ended_by", got.ending == asio::error::eof ? "FIN" : got.ending.message()},
                       {"server_was_close_wait", after_fin.at("server") == "CLOSE-WAIT"},
                       {"server_seen_in_last_ack", last_ack},
                       {"steps", std::move(c.steps)}};
  result.add_check({.id = "half-close",
                    .claim = "either side can still send after receiving a FIN (半关闭)",
                    .expected = std::to_string(size) + " bytes after our FIN, intact",
                    .observed = std::to_string(got.bytes) + " bytes after our FIN, " + std::to_string(got.wrong) +
                                " wrong; the server was " + std::string(after_fin.at("server").as_string()) +
                                " meanwhile",
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
  result.observed() = {{"local_port", c.our_port},       {"response_bytes", size},
                       {"bytes_received", got.bytes},    {"bytes_lost", lost},
                       {"wrong_bytes", got.wrong},       {"ended_by", was_reset ? "ECONNRESET" : got.ending.message()},
                       {"time_wait_sockets", time_wait}, {"steps", std::move(c.steps)}};
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

void print_summary(std::ostream& out, const Config& config, const Result& result) {
  out << "netlab-teardown-client --mode " << config.mode << "\n";
  const auto& o = result.observed();
  auto print_steps = [&out](const json::array& steps) {
    for (const auto& s : steps)
      out << "  " << s.at("step").as_string().c_str() << ": client " << s.at("client").as_string().c_str()
          << ", server " << s.at("server").as_string().c_str() << " (Send-Q " << s.at("server_send_q") << ")\n";
  };
  if (o.contains("connections"))
    for (const auto& c : o.at("connections").as_array()) {
      out << " " << c.at("connection").as_string().c_str() << ": " << c.at("closing_segments")
          << " segments to close\n";
      print_steps(c.at("steps").as_array());
    }
  if (o.contains("steps")) print_steps(o.at("steps").as_array());
  if (o.contains("our_path")) out << "  our end: " << o.at("our_path").as_string().c_str() << "\n";
  if (o.contains("server_path")) out << "  the server's end: " << o.at("server_path").as_string().c_str() << "\n";
  out << render_checks(result.checks());
}

}  // namespace

int main(int argc, char** argv) {
  ClientProgram program("teardown", "The teardown lab's client: how a TCP connection closes, state by state.", 7003,
                        60);
  auto& app = program.app();
  Config config;
  long settle_ms = config.settle.count();
  std::string compare_with;
  app.add_option("--mode", config.mode,
                 "normal | half-close | unread-data | linger0 (as the server's --mode); across the wire: "
                 "lost-last-ack | no-time-wait | rfc1337 (server passive-close), simultaneous-close, old-segment, "
                 "old-segment-bare (server old-segment); cut-cable | keepalive (server dead-peer)")
      ->capture_default_str()
      ->check(CLI::IsMember({"normal", "half-close", "unread-data", "linger0", "lost-last-ack", "no-time-wait",
                             "simultaneous-close", "rfc1337", "old-segment", "old-segment-bare", "cut-cable",
                             "keepalive"}));
  teardown::DeadPeerConfig dead_peer;
  teardown::add_dead_peer_options(app, dead_peer);
  app.add_option("--compare-with", compare_with, "rfc1337: the result JSON of the run with the other tcp_rfc1337")
      ->check(CLI::ExistingFile);
  app.add_option("--pause-ms", config.pause_ms, "the server's pause before it closes (normal: second connection)")
      ->capture_default_str()
      ->check(CLI::Range(0L, 10'000L));
  app.add_flag("--quickack", config.quickack, "normal: the second connection asks for TCP_QUICKACK instead of a pause");
  app.add_option("--response-bytes", config.response_bytes, "response size (default: the server's for the mode)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{16} << 20));
  app.add_option("--settle-ms", settle_ms, "bound on each wait for a state to show")
      ->capture_default_str()
      ->check(CLI::Range(10L, 60'000L));
  return program.run(argc, argv, [&](ClientRun& run) {
    config.settle = std::chrono::milliseconds(settle_ms);
    Result& result = run.result();
    result.set_params(Params{.mode = config.mode,
                             .pause_ms = config.pause_ms,
                             .quickack = config.quickack,
                             .response_bytes = config.response_bytes});
    const auto& options = run.options();
    const teardown::WireConfig wire{config.mode, config.settle, compare_with};
    dead_peer.settle = config.settle;
    run.within(teardown::is_dead_peer_mode(config.mode)
                   ? teardown::dead_peer_scenario(options, config.mode, dead_peer, result)
               : teardown::is_wire_mode(config.mode) ? teardown::wire_scenario(options, wire, result)
               : config.mode == "normal"             ? normal(options, config, result)
               : config.mode == "half-close"         ? half_close(options, config, result)
                                                     : reset(options, config, result));
    run.summary([&](std::ostream& out) { print_summary(out, config, result); });
  });
}
