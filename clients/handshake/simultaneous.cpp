// simultaneous-open (asked_next.hpp): two sockets, one in each namespace,
// each bound to the lab's port, connect to each other in the same
// microsecond; across the wire's delay their SYNs cross. RFC 9293 §3.5
// (Figure 7, "simultaneous initiation"): each end, in SYN-SENT, receives a
// SYN without an ACK, goes to SYN-RECEIVED and sends SYN-ACK (Linux:
// tcp_rcv_synsent_state_process); each SYN-ACK then acknowledges the other's
// SYN and both are ESTABLISHED: one connection, four segments, no listener.
// Measured: each socket's state from TCP_INFO every 0.5 ms, each end's
// address pair, the census of each namespace, and the segments each side
// received, from a raw socket in each namespace.
#include "asked_next_modes.hpp"
#include "kernel/tcp_info.hpp"
#include "syn.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>
#include <boost/describe/class.hpp>

#include <algorithm>
#include <optional>
#include <system_error>
#include <thread>
#include <tuple>

namespace netlab::handshake {
namespace {

using namespace std::chrono_literals;

struct StateChange {
  double ms = 0;  // since both connect() calls
  std::string state;
};
BOOST_DESCRIBE_STRUCT(StateChange, (), (ms, state))

struct CrossingSegment {
  double ms = 0;   // when it reached the receiving namespace, since the connect() calls
  std::string to;  // "client" or "server": the namespace whose raw socket saw it arrive
  std::string flags;
  std::uint32_t seq = 0, ack = 0;
};
BOOST_DESCRIBE_STRUCT(CrossingSegment, (), (ms, to, flags, seq, ack))

struct End {
  std::string local, remote;  // address:port, from getsockname / getpeername
  std::string connect;        // the connect() outcome
  std::vector<StateChange> states;
  std::size_t sockets_on_port = 0;  // the census of its namespace: sockets on the lab's port
  std::string census;               // their states
};
BOOST_DESCRIBE_STRUCT(End, (), (local, remote, connect, states, sockets_on_port, census))

struct SimultaneousObserved {
  End client, server;
  std::vector<CrossingSegment> arrived;  // the SYN and SYN-ACK segments, as they reached each namespace
};
BOOST_DESCRIBE_STRUCT(SimultaneousObserved, (), (client, server, arrived))

sockaddr_in ipv4(const std::string& host, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  return a;
}

// A socket bound to host:port (SO_REUSEADDR: the lab's port, again and again).
void bind_to(const Fd& fd, const std::string& host, std::uint16_t port) {
  const int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  const auto a = ipv4(host, port);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
    throw std::system_error(errno, std::generic_category(), "bind " + host + ":" + std::to_string(port));
}

std::string name_of(int fd, bool peer) {
  sockaddr_in a{};
  socklen_t length = sizeof a;
  const int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &length)
                      : ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
  if (rc != 0) return "none";
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
  return std::string(text) + ":" + std::to_string(ntohs(a.sin_port));
}

// Non-blocking: it returns at once, SYN sent.
void start_connect(const Fd& fd, const std::string& host, std::uint16_t port) {
  const auto a = ipv4(host, port);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS)
    throw std::system_error(errno, std::generic_category(), "connect " + host + ":" + std::to_string(port));
}

void census_of(End& end, std::uint16_t port) {
  const auto sockets = list_tcp_sockets({.local_port = port});
  end.sockets_on_port = sockets.size();
  end.census = describe(count_states(sockets));
}

bool went_through(const End& end) {
  std::string path;
  for (const auto& s : end.states) path += (path.empty() ? "" : " ") + s.state;
  return path == "SYN-SENT SYN-RECV ESTAB";
}

std::string path_text(const End& end) {
  std::string path;
  for (const auto& s : end.states)
    path += (path.empty() ? "" : " -> ") + s.state + " (" + std::to_string(static_cast<long>(s.ms)) + " ms)";
  return path.empty() ? "none" : path;
}

}  // namespace

void run_simultaneous_open(const CommonOptions& options, const AskedNextConfig& config, Result& result) {
  const auto port = options.port;
  const std::string client_host = local_address_toward(options.host), server_host = options.host;
  SimultaneousObserved o;
  auto here = tcp_socket();
  bind_to(here, client_host, port);
  std::optional<Fd> there;
  std::optional<RawTcpProbe> server_probe;
  const double server_probe_made = monotonic_ms();
  in_netns(config.server_netns, [&] {
    there.emplace(tcp_socket());
    bind_to(*there, server_host, port);
    server_probe.emplace(server_host);
  });
  const double client_probe_made = monotonic_ms();
  RawTcpProbe client_probe(client_host);
  std::vector<Segment> to_client, to_server;
  const auto bound = std::chrono::milliseconds(config.timeout_ms + 1000);
  // Each raw socket sees what arrives in its namespace, until the FIN we send at the end.
  std::thread client_catcher([&] { to_client = client_probe.collect(port, port, RawTcpProbe::fin, bound); });
  std::thread server_catcher([&] { to_server = server_probe->collect(port, port, RawTcpProbe::fin, bound); });

  const double started = monotonic_ms();
  start_connect(here, server_host, port);
  start_connect(*there, client_host, port);
  // Each socket's state as the kernel reports it, every 0.5 ms, until both are ESTABLISHED.
  for (int i = 0; i < 2 * config.timeout_ms; ++i) {
    bool both = true;
    for (auto [fd, end] : {std::pair{here.get(), &o.client}, std::pair{there->get(), &o.server}}) {
      const auto info = read_tcp_info(fd);
      const std::string state = info ? std::string(state_name(static_cast<TcpState>(info->state))) : "?";
      if (end->states.empty() || end->states.back().state != state)
        end->states.push_back({.ms = monotonic_ms() - started, .state = state});
      both = both && state == "ESTAB";
    }
    if (both) break;
    std::this_thread::sleep_for(500us);
  }
  for (auto [fd, end] : {std::pair{here.get(), &o.client}, std::pair{there->get(), &o.server}}) {
    end->local = name_of(fd, false);
    end->remote = name_of(fd, true);
    end->connect = end->states.empty() || end->states.back().state != "ESTAB" ? "not established" : "connected";
  }
  census_of(o.client, port);
  in_netns(config.server_netns, [&] { census_of(o.server, port); });
  spdlog::info("simultaneous-open: here {} ({}), there {} ({})", path_text(o.client), o.client.local,
               path_text(o.server), o.server.local);
  // Closing both sends the FINs that end the raw sockets' watch.
  ::shutdown(here.get(), SHUT_WR);
  ::shutdown(there->get(), SHUT_WR);
  client_catcher.join();
  server_catcher.join();
  for (auto [seen, made, to] :
       {std::tuple{&to_client, client_probe_made, "client"}, std::tuple{&to_server, server_probe_made, "server"}})
    for (const auto& s : *seen)
      if (s.flags & RawTcpProbe::syn)
        o.arrived.push_back(
            {.ms = made + s.at_ms - started, .to = to, .flags = s.flag_text(), .seq = s.seq, .ack = s.ack});
  std::ranges::sort(o.arrived, {}, &CrossingSegment::ms);
  result.set_observed(o);

  // The segments: a SYN each way, then a SYN-ACK each way acknowledging the other's SYN + 1.
  std::size_t syns = 0, syn_acks = 0, acked = 0;
  std::string flags;
  for (const auto& s : o.arrived) {
    flags += (flags.empty() ? "" : ", ") + s.flags + " to " + s.to;
    syns += s.flags == "S";
    syn_acks += s.flags == "S.";
  }
  // A SYN-ACK from X to Y carries X's ISN (the SYN that reached Y) and acks Y's (the SYN that reached X).
  auto syn_to = [&](const std::string& to, std::uint32_t seq) {
    return std::ranges::any_of(o.arrived, [&](const auto& s) { return s.flags == "S" && s.to == to && s.seq == seq; });
  };
  for (const auto& a : o.arrived)
    acked += a.flags == "S." && syn_to(a.to, a.seq) && syn_to(a.to == "client" ? "server" : "client", a.ack - 1);
  const bool mirrored = o.client.local == o.server.remote && o.client.remote == o.server.local;
  const bool one = o.client.sockets_on_port == 1 && o.server.sockets_on_port == 1;
  const bool crossed = went_through(o.client) && went_through(o.server);
  const bool four = syns == 2 && syn_acks == 2 && acked == 2;
  result.add_check(
      {.id = "simultaneous-open-one-connection",
       .claim = "two ends that connect to each other at once make one connection (simultaneous open)",
       .expected = "both SYN-SENT -> SYN-RECV -> ESTAB, each end's address pair the other's mirrored, one socket per "
                   "namespace, the segments S, S, S., S. (each SYN-ACK acking the other's SYN + 1)",
       .observed = "client " + path_text(o.client) + ", " + o.client.local + " -> " + o.client.remote + "; server " +
                   path_text(o.server) + ", " + o.server.local + " -> " + o.server.remote + "; census " +
                   o.client.census + " / " + o.server.census + "; segments " + (flags.empty() ? "none" : flags),
       .verdict = crossed && mirrored && one && four                        ? Verdict::confirmed
                  : o.client.connect == "connected" && mirrored && !crossed ? Verdict::nuanced
                                                                            : Verdict::refuted,
       .evidence = "TCP_INFO state every 0.5 ms; getsockname/getpeername; sock_diag in each namespace; a raw socket "
                   "in each namespace (what arrived there)"});
}

}  // namespace netlab::handshake
