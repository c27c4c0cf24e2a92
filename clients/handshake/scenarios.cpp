// The failure scenarios' connections (see failures.hpp). The wire does the
// damage; this end only connects, gives up, connects again, sends, and writes
// down when, on CLOCK_MONOTONIC.
#include "failures.hpp"

#include "io/coro.hpp"
#include "kernel/census.hpp"
#include "kernel/lifecycle.hpp"
#include "kernel/tcp_info.hpp"
#include "program/client.hpp"
#include "syn.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace netlab::handshake {
namespace {

namespace json = boost::json;
using asio::awaitable;

double monotonic_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct TimedConnect {
  bool finished = false;
  boost::system::error_code error;
  double started_ms = 0, ended_ms = 0;
  std::string outcome;
};

// connect() bounded by `ms`; on time out the socket is still SYN-SENT.
awaitable<TimedConnect> connect_within(tcp::socket& socket, tcp::endpoint server, long ms) {
  TimedConnect a;
  a.started_ms = monotonic_ms();
  a.finished = co_await finish_within(connect_socket(socket, server, a.error), static_cast<double>(ms) / 1000.0);
  a.ended_ms = monotonic_ms();
  a.outcome = !a.finished ? "gave up" : a.error ? a.error.message() : "connected";
  co_return a;
}

// A socket bound to `port` (0: any) with SO_REUSEADDR, so that a second
// attempt can take the same local port the first one just left.
tcp::socket bound_socket(const asio::any_io_executor& executor, std::uint16_t port) {
  tcp::socket socket(executor);
  socket.open(tcp::v4());
  socket.set_option(asio::socket_base::reuse_address(true));
  socket.bind(tcp::endpoint(tcp::v4(), port));
  return socket;
}

ConnectRecord record(const TimedConnect& a) {
  return {.started_mono_ms = a.started_ms,
          .ended_mono_ms = a.ended_ms,
          .ms = a.ended_ms - a.started_ms,
          .outcome = a.outcome};
}

void refused_check(const TimedConnect& a, const tcp::endpoint& server) {
  if (a.finished && a.error == asio::error::connection_refused)
    throw std::runtime_error("connect " + to_string(server) +
                             ": connection refused — is netlab-handshake-server running?");
}

// One connect() from a fresh port, bounded by --timeout-ms (a refusal ends the run), logged under `story`.
struct FirstConnect {
  tcp::socket socket;
  std::uint16_t port;
  TimedConnect attempt;
};
awaitable<FirstConnect> connect_once(const tcp::endpoint& server, const FailureConfig& config, std::string_view story) {
  auto socket = bound_socket(co_await asio::this_coro::executor, 0);
  const std::uint16_t port = socket.local_endpoint().port();
  TimedConnect a = co_await connect_within(socket, server, config.timeout_ms);
  refused_check(a, server);
  spdlog::info("{}: port {}: {} after {:.1f} ms", story, port, a.outcome, a.ended_ms - a.started_ms);
  co_return FirstConnect{std::move(socket), port, std::move(a)};
}

// What TCP_INFO and TCP_REPAIR say about a connected socket.
void describe_connected(tcp::socket& socket, ConnectRecord& r) {
  if (const auto info = read_tcp_info(socket.native_handle())) {
    r.segments_out = info->segs_out;
    r.segments_in = info->segs_in;
    r.retransmits = info->total_retrans;
  }
  std::string why_not;
  if (auto isn = read_initial_sequence_numbers(socket.native_handle(), why_not)) {
    r.client_isn = isn->local;
    r.server_isn = isn->remote;
  }
}

awaitable<void> close_after(tcp::socket& socket, long ms) {
  co_await pause_for(std::chrono::milliseconds(ms));
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

// RFC 9293 Figure 8: an old SYN arrives after we have moved on. Our first
// SYN is held in the wire; we give up before the kernel would retransmit it
// (1 s), and connect again from the same port: a new ISN, since the kernel's
// ISN is a clock plus a hash of the four-tuple (RFC 6528).
awaitable<void> old_syn(const tcp::endpoint& server, const FailureConfig& config, FailureRecord& o) {
  const auto executor = co_await asio::this_coro::executor;
  auto first = bound_socket(executor, 0);
  const std::uint16_t port = first.local_endpoint().port();
  const TimedConnect given_up = co_await connect_within(first, server, config.give_up_ms);
  refused_check(given_up, server);
  // Closing a SYN-SENT socket sends nothing: the SYN already in flight is on its own now.
  boost::system::error_code ignored;
  first.close(ignored);
  auto second = bound_socket(executor, port);
  const TimedConnect again = co_await connect_within(second, server, config.timeout_ms);
  ConnectRecord second_record = record(again);
  if (again.finished && !again.error) describe_connected(second, second_record);
  spdlog::info("old-syn: port {}: first attempt {}, second {} after {:.1f} ms", port, given_up.outcome, again.outcome,
               again.ended_ms - again.started_ms);
  o = {.local_port = port, .first = record(given_up), .second = std::move(second_record)};
  if (again.finished && !again.error) co_await close_after(second, config.hold_ms);
}

// The SYN-ACK is lost: connect() returns only when a SYN-ACK gets through,
// after a retransmission (ours of the SYN, or the server's of the SYN-ACK).
awaitable<void> lost_synack(const tcp::endpoint& server, const FailureConfig& config, FailureRecord& o) {
  auto [socket, port, a] = co_await connect_once(server, config, "lost-synack");
  ConnectRecord attempt = record(a);
  if (a.finished && !a.error) describe_connected(socket, attempt);
  o = {.local_port = port, .connect = std::move(attempt)};
  if (a.finished && !a.error) co_await close_after(socket, config.hold_ms);
}

// The third segment is lost: connect() has returned — for this end the
// connection is ESTABLISHED — while the server still waits in SYN-RECV.
awaitable<void> lost_ack(const tcp::endpoint& server, const FailureConfig& config, FailureRecord& o) {
  auto [socket, port, a] = co_await connect_once(server, config, "lost-ack");
  o = {.local_port = port, .connect = record(a)};
  if (!a.finished || a.error) co_return;
  o.client_state_after_connect = connection_state(port, server.port());
  co_await pause_for(std::chrono::milliseconds(config.data_after_ms));
  const std::string data = "first data after a lost ACK\n";
  o.data_sent_mono_ms = monotonic_ms();
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(data), use_tuple);
  if (ec) throw failure("send the first data to " + to_string(server), ec);
  o.data_bytes = n;
  co_await close_after(socket, config.hold_ms);
}

}  // namespace

bool is_failure_mode(const std::string& mode) {
  return mode == "old-syn" || mode == "lost-synack" || mode == "lost-ack";
}

awaitable<void> run_failure(const CommonOptions& options, const FailureConfig& config, Result& result) {
  const tcp::endpoint server(asio::ip::make_address(options.host), options.port);
  FailureRecord o;
  if (config.mode == "old-syn") co_await old_syn(server, config, o);
  if (config.mode == "lost-synack") co_await lost_synack(server, config, o);
  if (config.mode == "lost-ack") co_await lost_ack(server, config, o);
  result.set_observed(o);
}

FailureRecord read_failure_record(const boost::json::object& observed) {
  const auto number = [](const json::object& o, const char* key) -> std::optional<double> {
    const auto* v = o.if_contains(key);
    return v && v->is_number() ? std::optional(v->to_number<double>()) : std::nullopt;
  };
  const auto connect = [&](const char* key) -> std::optional<ConnectRecord> {
    const auto* v = observed.if_contains(key);
    if (!v || !v->is_object()) return std::nullopt;
    const auto& o = v->as_object();
    ConnectRecord r{.started_mono_ms = number(o, "started_mono_ms").value_or(0),
                    .ended_mono_ms = number(o, "ended_mono_ms").value_or(0),
                    .ms = number(o, "ms").value_or(0),
                    .outcome = o.contains("outcome") ? std::string(o.at("outcome").as_string()) : ""};
    const auto u32 = [&](const char* field) -> std::optional<std::uint32_t> {
      const auto n = number(o, field);
      return n ? std::optional(static_cast<std::uint32_t>(*n)) : std::nullopt;
    };
    r.segments_out = u32("segments_out");
    r.segments_in = u32("segments_in");
    r.retransmits = u32("retransmits");
    r.client_isn = u32("client_isn");
    r.server_isn = u32("server_isn");
    return r;
  };
  FailureRecord r{.local_port = static_cast<std::uint16_t>(number(observed, "local_port").value_or(0)),
                  .first = connect("first"),
                  .second = connect("second"),
                  .connect = connect("connect"),
                  .data_sent_mono_ms = number(observed, "data_sent_mono_ms")};
  if (const auto* state = observed.if_contains("client_state_after_connect"); state && state->is_string())
    r.client_state_after_connect = std::string(state->as_string());
  if (const auto bytes = number(observed, "data_bytes")) r.data_bytes = static_cast<std::size_t>(*bytes);
  return r;
}

}  // namespace netlab::handshake
