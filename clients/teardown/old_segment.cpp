// The teardown client's old-segment stories across netlab-wire (the note's
// second reason for 2MSL): see wire.hpp.
#include "helpers.hpp"

#include "io/coro.hpp"
#include "kernel/lifecycle.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/describe/class.hpp>
#include <boost/json.hpp>

#include <cerrno>

namespace netlab::teardown {

namespace {

using asio::awaitable;
using namespace std::chrono_literals;
namespace json = boost::json;

// Connects from a given local port (SO_REUSEADDR: bind may share a port with a
// TIME_WAIT socket; connect() is where the kernel decides on the four-tuple).
awaitable<boost::system::error_code> connect_from(tcp::socket& socket, std::uint16_t port,
                                                  const tcp::endpoint& server) {
  boost::system::error_code ec;
  socket.open(tcp::v4(), ec);
  if (!ec) socket.set_option(tcp::socket::reuse_address(true), ec);
  if (!ec) socket.bind({asio::ip::address_v4::any(), port}, ec);
  if (ec) co_return ec;
  auto [connected] = co_await socket.async_connect(server, use_tuple);
  co_return connected;
}

awaitable<void> send_all(tcp::socket& socket, const std::string& bytes, const char* what) {
  if (auto [ec, n] = co_await asio::async_write(socket, asio::buffer(bytes), use_tuple); ec)
    throw failure(std::string(what), ec);
}

// What the old-segment stories observed (the result's "observed").
struct OldSegmentObserved {
  std::uint16_t local_port = 0;
  std::string first_end_after_close;  // connection 1's end once closed: TIME-WAIT, or none (linger 0)
  std::string reuse_at_once;          // connect() on the same four-tuple at once: its error, or "connected"
  std::string tcp_tw_reuse, tcp_timestamps;
  long reuse_delay_ms = 0;
  bool reuse_refused_at_once = false;
  std::string second_data_at_server;
  std::uint64_t server_paws_estab = 0;
  bool old_bytes_in_new_connection = false;
  std::string our_path;
};
BOOST_DESCRIBE_STRUCT(OldSegmentObserved, (),
                      (local_port, first_end_after_close, reuse_at_once, tcp_tw_reuse, tcp_timestamps, reuse_delay_ms,
                       reuse_refused_at_once, second_data_at_server, server_paws_estab, old_bytes_in_new_connection,
                       our_path))

}  // namespace

// old-segment: the note's second reason for 2MSL. Connection 1's data segment
// is held in the wire and replayed 2.5 s later ('left>right tcp len>0 nth=1
// hold-and-replay=2500'); connection 1 closes (TIME_WAIT here); connection 2
// asks for the same four-tuple at once. Linux lets a connect() from a bound
// port take a TIME_WAIT socket over when the old connection used timestamps
// (tcp_twsk_unique: PAWS will guard the new one); elsewhere it is refused until
// the reuse delay. The old segment then reaches connection 2: what did the
// server's kernel do with it?
awaitable<void> old_segment(const CommonOptions& options, const WireConfig& config, Result& result) {
  const tcp::endpoint server{asio::ip::make_address(options.host), options.port};
  const std::string old_bytes = "OLD-DATA-OF-CONNECTION-1\n", new_bytes = "NEW-DATA-OF-CONNECTION-2\n";
  // SO_REUSEADDR on connection 1 too: its TIME_WAIT socket keeps the flag, and
  // bind() shares a port only when both sockets have it.
  tcp::socket first(co_await asio::this_coro::executor);
  if (auto ec = co_await connect_from(first, 0, server); ec)
    throw failure("connect " + options.host + ":" + std::to_string(options.port), ec,
                  " — is netlab-teardown-server --mode old-segment running?");
  const std::uint16_t port = first.local_endpoint().port();
  co_await send_all(first, "old-segment\n" + old_bytes, "connection 1: send");
  const bool bare = config.mode == "old-segment-bare";
  if (bare) {
    // The counterfactual: no TIME_WAIT (an abort with SO_LINGER {on, 0}, once
    // the data is acknowledged) and, from the script, tcp_timestamps 0: no PAWS.
    co_await pause_for(100ms);
    first.set_option(asio::socket_base::linger(true, 0));
  } else {
    first.shutdown(tcp::socket::shutdown_send);
    co_await read_to_eof(first, config.settle);
  }
  first.close();
  const auto closed = std::chrono::steady_clock::now();
  const std::string time_wait = connection_state(port, options.port);
  // Connection 2 on the same four-tuple, at once; if refused (TIME_WAIT),
  // again once the TIME_WAIT socket is older than the reuse delay.
  const long reuse_ms = sysctl("tcp_tw_reuse_delay") == "?" ? 1000 : std::stol(sysctl("tcp_tw_reuse_delay"));
  tcp::socket second(first.get_executor());
  const auto refused = co_await connect_from(second, port, server);
  if (refused) {
    second.close();
    co_await pause_for(
        std::chrono::milliseconds(reuse_ms + 200) -
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - closed));
    if (auto ec = co_await connect_from(second, port, server); ec)
      throw failure("connection 2 from port " + std::to_string(port) + ": " + error_text(refused) +
                        " at once, then after " + std::to_string(reuse_ms + 200) + " ms",
                    ec, " (tcp_tw_reuse " + sysctl("tcp_tw_reuse") + ")");
  }
  co_await send_all(second, "old-segment\n", "connection 2: send");
  // The wire replays connection 1's segment 2.5 s after it first passed.
  co_await pause_for(3200ms -
                     std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - closed));
  co_await send_all(second, new_bytes, "connection 2: send");
  second.shutdown(tcp::socket::shutdown_send);
  co_await read_to_eof(second, config.settle);
  second.close();
  const json::object report = co_await server_report(options, port);
  const std::string data(report.at("data").as_string());
  const auto paws = report.at("paws_estab").to_number<std::uint64_t>();
  const bool old_in_new = data.find("OLD-DATA") != std::string::npos;
  result.set_observed(
      OldSegmentObserved{.local_port = port,
                         .first_end_after_close = time_wait,
                         .reuse_at_once = refused ? refused.message() : "connected",
                         .tcp_tw_reuse = sysctl("tcp_tw_reuse"),
                         .tcp_timestamps = sysctl("tcp_timestamps"),
                         .reuse_delay_ms = reuse_ms,
                         .reuse_refused_at_once = refused.value() == EADDRNOTAVAIL,
                         .second_data_at_server = data,
                         .server_paws_estab = paws,
                         .old_bytes_in_new_connection = old_in_new,
                         .our_path = "connection 1 " + time_wait + "; connection 2 on the same four-tuple"});
  const std::string what = "connection 1 left " + time_wait + "; the same four-tuple at once: " +
                           (refused ? refused.message() + ", after " + std::to_string(reuse_ms + 200) + " ms: connected"
                            : time_wait == "TIME-WAIT" ? "connected (the TIME_WAIT socket taken over)"
                                                       : "connected") +
                           "; the wire replayed connection 1's data into it; the server's connection 2 got " +
                           std::to_string(data.size()) + " bytes (" +
                           (old_in_new ? "the old ones among them" : "only the new ones") + "), " +
                           std::to_string(paws) + " PAWS drop(s)";
  if (bare) {
    result.add_check(
        {.id = "old-segment-without-time-wait",
         .claim = "asked next: with no TIME_WAIT and no timestamps (no PAWS), do the old bytes enter the new "
                  "connection?",
         .expected = "the old bytes in the server's connection 2",
         .observed = what,
         .verdict = old_in_new          ? Verdict::confirmed
                    : data == new_bytes ? Verdict::refuted
                                        : Verdict::nuanced,
         .evidence = "the server's bytes on connection 2 (its receive buffer, read to the FIN); tcp_timestamps " +
                     sysctl("tcp_timestamps") +
                     " here; the old and new sequence numbers in wire-steps.txt "
                     "(the rule log's seq, connection 2's SYN)"});
    co_return;
  }
  result.add_check(
      {.id = "old-segment-rejected",
       .claim = "asked next (2MSL's second reason): can an old segment of connection 1 land in a new connection on "
                "the same four-tuple?",
       .expected = "no: TIME_WAIT refuses the four-tuple, or, where it is taken over, PAWS drops the old segment",
       .observed = what,
       .verdict = old_in_new                                   ? Verdict::refuted
                  : data == new_bytes && (refused || paws > 0) ? Verdict::confirmed
                                                               : Verdict::nuanced,
       .evidence = "our connect() errors; the server's bytes and its namespace's TcpExt PAWSEstab delta, reported "
                   "after; the wire's replay in wire-old-segment.json"});
}

}  // namespace netlab::teardown
