// syn-queue (asked_next.hpp): the SYN queue, apart from the accept queue.
// The wire drops our pure ACKs, so every connect() here returns (for this end
// the handshake is done when the SYN-ACK arrives) while the server never gets
// the third segment: its kernel keeps a request socket in SYN-RECV for each
// (the SYN queue; accept() cannot see them), sends the SYN-ACK again on a
// doubling timer (reqsk_timer_handler), and after tcp_synack_retries
// retransmissions forgets the connection without a word. Seen from both
// sides: our raw socket catches every SYN-ACK with its time, the server's
// census (sock_diag dumps request sockets too) shows SYN-RECV, the kernel's
// own retransmission count of each, and when it is gone.
#include "asked_next_modes.hpp"
#include "syn.hpp"

#include <spdlog/spdlog.h>
#include <boost/describe/class.hpp>

#include <algorithm>
#include <map>
#include <thread>

namespace netlab::handshake {
namespace {

using namespace std::chrono_literals;

struct HalfOpen {
  std::uint16_t local_port = 0;
  std::string connect;  // this end's connect(): "connected" after one round trip
  double connect_ms = 0;
  std::vector<double> synack_ms{};       // each SYN-ACK's arrival, ms after the first (our raw socket)
  double syn_recv_ms = 0;                // how long the server's census showed it SYN-RECV
  std::uint32_t census_retransmits = 0;  // the request socket's own count (idiag_retrans), its last value
  std::string then = "never seen";       // what the census showed after SYN-RECV: gone, ESTAB, or still SYN-RECV
  bool reset_after_close = false;        // our FIN, sent after it was gone, was answered RST
};
BOOST_DESCRIBE_STRUCT(HalfOpen, (),
                      (local_port, connect, connect_ms, synack_ms, syn_recv_ms, census_retransmits, then,
                       reset_after_close))

struct SynQueueObserved {
  long tcp_synack_retries = -1;       // the server namespace's, as the script set it
  long tcp_syn_linear_timeouts = -1;  // -1: this kernel has no such sysctl
  std::size_t connected = 0, syn_recv_peak = 0, accept_queue_peak = 0, backlog = 0;
  std::size_t census_samples = 0;
  std::vector<HalfOpen> connections;
};
BOOST_DESCRIBE_STRUCT(SynQueueObserved, (),
                      (tcp_synack_retries, tcp_syn_linear_timeouts, connected, syn_recv_peak, accept_queue_peak,
                       backlog, census_samples, connections))

std::string join_ms(const std::vector<double>& ms) {
  std::string s;
  for (double m : ms) s += (s.empty() ? "" : ", ") + std::to_string(static_cast<long>(m + 0.5));
  return s.empty() ? "none" : s + " ms";
}

}  // namespace

void run_syn_queue(const CommonOptions& options, const AskedNextConfig& config, Result& result) {
  SynQueueObserved o;
  in_netns(config.server_netns, [&] {
    o.tcp_synack_retries = read_sysctl("net/ipv4/tcp_synack_retries");
    o.tcp_syn_linear_timeouts = read_sysctl("net/ipv4/tcp_syn_linear_timeouts");
  });
  const auto server_port = options.port;
  // Our capture: every segment from the server's port that reaches this namespace.
  RawTcpProbe probe(local_address_toward(options.host));
  std::vector<Segment> seen;
  std::thread catcher([&] {
    seen = probe.collect(server_port, 0, RawTcpProbe::rst, std::chrono::milliseconds(config.watch_ms + 2000));
  });
  std::vector<Fd> sockets;
  std::map<std::uint16_t, HalfOpen> by_port;
  for (std::size_t i = 0; i < config.connections; ++i) {
    auto fd = tcp_socket();
    const auto c = connect_within(fd.get(), options.host, server_port, config.timeout_ms);
    const auto port = fd.local_port();
    by_port[port] = {.local_port = port, .connect = c.outcome, .connect_ms = c.ms};
    o.connected += c.connected();
    spdlog::info("syn-queue: port {}: {} after {:.1f} ms", port, c.outcome, c.ms);
    if (!c.connected() && i == 0 && c.outcome != "timed out") {
      catcher.join();  // the server's RST that refused us ended its watch too
      throw std::runtime_error("connect " + options.host + ":" + std::to_string(server_port) + ": " + c.outcome +
                               " — is netlab-handshake-server running?");
    }
    sockets.push_back(std::move(fd));
  }
  // The server's census every 5 ms until every one of ours has left SYN-RECV (or the watch ends).
  std::map<std::uint16_t, double> first_seen;
  const double started = monotonic_ms();
  while (monotonic_ms() - started < static_cast<double>(config.watch_ms)) {
    std::vector<SocketRecord> sockets_there;
    in_netns(config.server_netns, [&] { sockets_there = list_tcp_sockets({.local_port = server_port}); });
    const double now = monotonic_ms();
    ++o.census_samples;
    std::size_t syn_recv = 0;
    std::map<std::uint16_t, const SocketRecord*> present;
    for (const auto& s : sockets_there) {
      if (s.state == TcpState::listen) {
        o.accept_queue_peak = std::max<std::size_t>(o.accept_queue_peak, s.receive_queue);
        o.backlog = s.send_queue;
      } else if (by_port.contains(s.remote_port)) {
        present[s.remote_port] = &s;
      }
    }
    for (auto& [port, h] : by_port) {
      const auto it = present.find(port);
      if (it != present.end() && half_open(it->second->state)) {
        ++syn_recv;
        if (!first_seen.contains(port)) first_seen[port] = now;
        h.syn_recv_ms = now - first_seen[port];
        h.census_retransmits = it->second->retransmits;
        h.then = "SYN-RECV";
      } else if (first_seen.contains(port) && h.then == "SYN-RECV") {
        h.then = it == present.end() ? "gone" : std::string(state_name(it->second->state));
      }
    }
    o.syn_recv_peak = std::max(o.syn_recv_peak, syn_recv);
    const bool settled = std::ranges::all_of(by_port, [&](const auto& p) { return p.second.then != "SYN-RECV"; });
    if (settled && !first_seen.empty()) break;
    std::this_thread::sleep_for(5ms);
  }
  // Our end still thinks it is connected: its FIN now reaches a server that
  // has forgotten the connection, and is answered RST (which ends the catcher).
  sockets.clear();
  catcher.join();
  std::map<std::uint16_t, double> first_synack;
  for (const auto& s : seen) {
    auto it = by_port.find(s.destination_port);
    if (it == by_port.end()) continue;
    if (s.flag_text() == "S.") {
      if (!first_synack.contains(s.destination_port)) first_synack[s.destination_port] = s.at_ms;
      it->second.synack_ms.push_back(s.at_ms - first_synack[s.destination_port]);
    }
    if (s.flags & RawTcpProbe::rst) it->second.reset_after_close = true;
  }
  for (auto& [port, h] : by_port) o.connections.push_back(h);
  result.params()["connections"] = config.connections;
  result.params()["watch_ms"] = config.watch_ms;
  result.set_observed(o);

  const std::size_t n = config.connections;
  const bool held_apart = o.connected == n && o.syn_recv_peak == n && o.accept_queue_peak == 0;
  result.add_check({.id = "syn-queue-holds-half-open",
                    .claim = "half-open connections wait in the SYN queue, apart from the accept queue",
                    .expected = std::to_string(n) + " connect() return here, " + std::to_string(n) +
                                " SYN-RECV at the server while the third ACKs are lost, its accept queue 0",
                    .observed = std::to_string(o.connected) + " connected here; at the server " +
                                std::to_string(o.syn_recv_peak) + " SYN-RECV at once, accept queue at most " +
                                std::to_string(o.accept_queue_peak) + " (backlog " + std::to_string(o.backlog) + ")",
                    .verdict = o.connected == 0 ? Verdict::skipped
                               : held_apart     ? Verdict::confirmed
                                                : Verdict::refuted,
                    .evidence = "connect() here; the server namespace's sock_diag census every 5 ms (" +
                                std::to_string(o.census_samples) + " samples): request sockets show as SYN-RECV"});

  const auto retries = static_cast<std::size_t>(std::max(0L, o.tcp_synack_retries));
  std::size_t right_count = 0, gone = 0;
  std::string per;
  for (const auto& h : o.connections) {
    right_count += h.synack_ms.size() == 1 + retries && h.census_retransmits == retries;
    gone += h.then == "gone";
    per += (per.empty() ? "" : "; ") + std::string("port ") + std::to_string(h.local_port) + ": SYN-ACK at " +
           join_ms(h.synack_ms) + ", census retrans " + std::to_string(h.census_retransmits) + ", " + h.then +
           " after " + std::to_string(static_cast<long>(h.syn_recv_ms)) + " ms";
  }
  result.add_check(
      {.id = "synack-retries-bound-half-open",
       .claim = "the server sends its SYN-ACK again tcp_synack_retries times, then drops the half-open connection",
       .expected = std::to_string(1 + retries) + " SYN-ACKs per connection (tcp_synack_retries = " +
                   std::to_string(o.tcp_synack_retries) + "), then its SYN-RECV socket gone, never accepted",
       .observed = per.empty() ? std::string("no connection") : per,
       .verdict = o.connected == 0 || o.tcp_synack_retries < 0 ? Verdict::skipped
                  : right_count != n                           ? Verdict::refuted
                  : gone == n                                  ? Verdict::confirmed
                                                               : Verdict::nuanced,
       .evidence = "a raw socket in the client's namespace timed every SYN-ACK; the server's census its request "
                   "sockets' retransmissions (idiag_retrans) and their end" +
                   std::string(gone == n ? "" : "; not every one was gone before the watch ended")});
}

}  // namespace netlab::handshake
