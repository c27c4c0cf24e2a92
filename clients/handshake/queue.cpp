// The accept-queue experiment: handshake/experiments.hpp.
#include "experiments.hpp"
#include "io/coro.hpp"
#include "kernel/census.hpp"
#include "kernel/lifecycle.hpp"
#include "kernel/netstat.hpp"
#include "kernel/tcp_info.hpp"
#include "observed.hpp"
#include "program/client.hpp"
#include "program/logging.hpp"
#include "syn.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/describe/class.hpp>
#include <boost/json/value_from.hpp>

#include <set>

namespace netlab::handshake {
namespace {

using asio::awaitable;
namespace json = boost::json;

// What the queue run observed (the result's "observed"): one connect() each.
struct Attempt {
  std::uint16_t local_port = 0;
  double ms = 0;
  std::string outcome{};
  std::optional<std::uint32_t> segments_out{}, segments_in{}, syn_retransmits{};  // TCP_INFO, once connected

  friend void tag_invoke(json::value_from_tag, json::value& v, const Attempt& a) { v = present_members(a); }
};
BOOST_DESCRIBE_STRUCT(Attempt, (), (local_port, ms, outcome, segments_out, segments_in, syn_retransmits))

struct Isns {
  std::uint16_t local_port = 0;
  std::uint32_t client_isn = 0, server_isn = 0;
};
BOOST_DESCRIBE_STRUCT(Isns, (), (local_port, client_isn, server_isn))

struct QueueObserved {
  std::vector<Attempt> attempts;
  std::size_t connected = 0, stalled = 0, client_established = 0, server_established = 0;
  std::size_t accept_queue_length = 0, backlog = 0;
  std::vector<Isns> isns;
  std::optional<std::uint64_t> listen_overflows_delta{}, listen_drops_delta{};  // when /proc/net/netstat was read

  friend void tag_invoke(json::value_from_tag, json::value& v, const QueueObserved& o) { v = present_members(o); }
};
BOOST_DESCRIBE_STRUCT(QueueObserved, (),
                      (attempts, connected, stalled, client_established, server_established, accept_queue_length,
                       backlog, isns, listen_overflows_delta, listen_drops_delta))

}  // namespace

awaitable<void> run_queue(const CommonOptions& options, const QueueConfig& config, Result& result) {
  const tcp::endpoint server(asio::ip::make_address(options.host), options.port);
  const auto counters_before = read_listen_counters();
  std::vector<tcp::socket> open;
  std::set<std::uint16_t> ours;
  QueueObserved o;
  std::size_t three_segment = 0, clean = 0;
  std::string isn_skipped;
  for (std::size_t i = 0; i < config.connections; ++i) {
    tcp::socket socket(co_await asio::this_coro::executor);
    socket.open(server.protocol());
    boost::system::error_code error;
    const auto started = Clock::now();
    const bool finished =
        co_await finish_within(connect_socket(socket, server, error), static_cast<double>(config.timeout_ms) / 1000.0);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    if (finished && error == asio::error::connection_refused && i == 0)
      throw std::runtime_error("connect " + to_string(server) + ": connection refused — is " + server_program +
                               " running?");
    boost::system::error_code ignored;
    const std::uint16_t port = socket.local_endpoint(ignored).port();
    ours.insert(port);
    Attempt attempt{.local_port = port, .ms = ms};
    if (!finished) {
      // Still SYN-SENT: the server's kernel dropped our SYN (its accept queue is full).
      attempt.outcome = "timed out in " + connection_state(port, options.port);
      ++o.stalled;
    } else if (error) {
      attempt.outcome = error.message();
    } else {
      ++o.connected;
      attempt.outcome = "connected";
      if (const auto info = read_tcp_info(socket.native_handle())) {
        attempt.segments_out = info->segs_out;
        attempt.segments_in = info->segs_in;
        attempt.syn_retransmits = info->total_retrans;
        if (info->total_retrans > 0) {
          ++o.stalled;  // connected, but only after its SYN was retransmitted
        } else {
          ++clean;
          three_segment += info->segs_out + info->segs_in == 3;
        }
      }
      std::string why_not;
      if (auto isn = read_initial_sequence_numbers(socket.native_handle(), why_not))
        o.isns.push_back({.local_port = port, .client_isn = isn->local, .server_isn = isn->remote});
      else
        isn_skipped = why_not;
      open.push_back(std::move(socket));
    }
    spdlog::info("connection {}: {} after {:.1f} ms", i + 1, attempt.outcome, ms);
    o.attempts.push_back(std::move(attempt));
  }
  // The census, with every connection still open.
  const auto queue = find_listener(options.port);
  for (const auto& s : both_ends(options.port)) {
    const bool server_end = s.local_port == options.port;
    if (s.state == TcpState::established && ours.contains(server_end ? s.remote_port : s.local_port))
      ++(server_end ? o.server_established : o.client_established);
  }
  const auto counters_after = read_listen_counters();
  co_await pause_for(std::chrono::milliseconds(config.hold_ms));  // for `ss` to see it too

  o.accept_queue_length = queue ? queue->receive_queue : 0;
  o.backlog = queue ? queue->send_queue : 0;
  if (counters_before && counters_after) {
    o.listen_overflows_delta = counters_after->overflows - counters_before->overflows;
    o.listen_drops_delta = counters_after->drops - counters_before->drops;
  }
  result.set_observed(o);
  result.add_check({.id = "three-segments",
                    .claim = "三次握手: the connection is established after three segments",
                    .expected = "SYN, SYN-ACK, ACK: 3 segments per connect()",
                    .observed = std::to_string(three_segment) + " of " + std::to_string(clean) +
                                " connections without retransmission took 3 segments",
                    // A fact: a connect() that returns has done the handshake the kernel implements.
                    .verdict = clean == 0 ? Verdict::skipped : Verdict::fact,
                    .evidence = "TCP_INFO segs_out + segs_in of each socket when connect() returned"});
  result.add_check({.id = "kernel-handshake",
                    .claim = "the handshake is done by the kernel, before accept()",
                    .expected = "connect() returns while the connection waits in the accept queue",
                    .observed = std::to_string(o.client_established) + " ESTAB here, " +
                                std::to_string(o.server_established) + " ESTAB at the server, accept queue " +
                                std::to_string(o.accept_queue_length) + " (backlog " + std::to_string(o.backlog) + ")",
                    .verdict = o.accept_queue_length == 0                             ? Verdict::skipped
                               : o.server_established > 0 && o.client_established > 0 ? Verdict::confirmed
                                                                                      : Verdict::refuted,
                    .evidence = o.accept_queue_length > 0
                                    ? "census: the listener's Recv-Q is the accept queue"
                                    : "the server accepted at once: run it with --no-accept or --accept-delay-ms"});
  // The kernel's own count must agree with the stalls we timed (when /proc/net/netstat could be read).
  const bool kernel_counted = !o.listen_overflows_delta || *o.listen_overflows_delta > 0;
  const bool overflowed = o.stalled > 0 && kernel_counted;
  result.add_check(
      {.id = "backlog-bounds-queue",
       .claim = "a full accept queue makes new connections wait (backlog)",
       .expected = "connections beyond backlog + 1 stall; ListenOverflows grows",
       .observed = std::to_string(o.stalled) + " of " + std::to_string(config.connections) +
                   " stalled (SYN retransmitted or timed out), ListenOverflows +" +
                   (o.listen_overflows_delta ? std::to_string(*o.listen_overflows_delta) : "?"),
       .verdict = overflowed      ? Verdict::confirmed
                  : o.stalled > 0 ? Verdict::nuanced
                                  : Verdict::skipped,
       .evidence = overflowed ? "connect() timings and TCP_INFO retransmissions; /proc/net/netstat (namespace-wide)"
                              : "no connection stalled: use more connections than backlog + 1 against --no-accept"});
  std::set<std::uint32_t> distinct;
  for (const auto& isn : o.isns) distinct.insert(isn.client_isn);
  result.add_check({.id = "isn-per-connection",
                    .claim = "each connection starts from its own initial sequence number",
                    .expected = "a different client ISN for every connection",
                    .observed = o.isns.empty()
                                    ? isn_skipped
                                    : std::to_string(distinct.size()) + " distinct of " + std::to_string(o.isns.size()),
                    // A fact of the kernel's ISN generator (RFC 6528); what the handshake does with
                    // the ISNs is isn-acknowledged, judged from the capture (--isn-capture).
                    .verdict = o.isns.empty() ? Verdict::skipped : Verdict::fact,
                    .evidence = o.isns.empty() ? "the capture shows them (tcpdump -S)"
                                               : "TCP_REPAIR / TCP_QUEUE_SEQ before any data"});
}

}  // namespace netlab::handshake
