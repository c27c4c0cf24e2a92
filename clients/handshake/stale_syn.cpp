// The old duplicate SYN: handshake/experiments.hpp.
#include "experiments.hpp"
#include "kernel/census.hpp"
#include "program/logging.hpp"
#include "syn.hpp"

#include <boost/describe/class.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <random>
#include <thread>

namespace netlab::handshake {

using namespace std::chrono_literals;

// Why this process cannot open a raw TCP socket, or "": the capability that
// counts is CAP_NET_RAW over this network namespace, which root has and so
// has a normal user inside a user namespace of its own; the uid tells nothing.
std::string raw_socket_blocker() {
  const int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd >= 0) {
    ::close(fd);
    return {};
  }
  return std::string("a raw socket is refused (") + std::strerror(errno) +
         "): it needs CAP_NET_RAW in this network namespace (root, or scripts/lab's user namespace)";
}

namespace {

// What --stale-syn observed (the result's "observed").
struct SeenSegment {
  double at_ms = 0;
  std::string from;  // "server" or "stale port"
  std::string flags;
  std::uint32_t seq = 0, ack = 0;
};
BOOST_DESCRIBE_STRUCT(SeenSegment, (), (at_ms, from, flags, seq, ack))

struct StaleObserved {
  std::uint16_t stale_port = 0;
  std::uint32_t syn_seq = 0;
  std::vector<SeenSegment> segments{};
  bool syn_ack_seen = false, rst_seen = false;
  std::size_t sockets_created = 0, accept_queue_before = 0, accept_queue_after = 0;
};
BOOST_DESCRIBE_STRUCT(StaleObserved, (),
                      (stale_port, syn_seq, segments, syn_ack_seen, rst_seen, sockets_created, accept_queue_before,
                       accept_queue_after))

}  // namespace

void run_stale_syn(const CommonOptions& options, Result& result) {
  // A port that is ours but has no connection and no listener: bound only.
  asio::io_context io;
  tcp::socket reserved(io, tcp::endpoint(asio::ip::make_address(options.host), 0));
  const std::uint16_t stale_port = reserved.local_endpoint().port();
  const auto before = find_listener(options.port);
  if (!before)
    throw std::runtime_error("nothing listens on " + options.host + ":" + std::to_string(options.port) + " — is " +
                             server_program + " running?");
  std::mt19937 random(static_cast<std::uint32_t>(options.seed));
  const auto seq = static_cast<std::uint32_t>(random());  // mt19937 draws 32 bits
  RawTcpProbe probe(options.host);
  probe.send_syn(stale_port, options.port, seq);
  const auto segments = probe.collect(stale_port, options.port, RawTcpProbe::rst, 2000ms);
  // Whatever the server's kernel made of the SYN, once the RST has been processed.
  std::size_t created = 0;
  for (int i = 0; i < 50; ++i) {
    created = list_tcp_sockets({.local_port = options.port, .remote_port = stale_port}).size();
    if (created == 0) break;
    std::this_thread::sleep_for(10ms);
  }
  const auto after = find_listener(options.port);
  StaleObserved o{.stale_port = stale_port, .syn_seq = seq};
  for (const auto& s : segments) {
    const bool from_server = s.source_port == options.port;
    o.segments.push_back({.at_ms = s.at_ms,
                          .from = from_server ? "server" : "stale port",
                          .flags = s.flag_text(),
                          .seq = s.seq,
                          .ack = s.ack});
    o.syn_ack_seen = o.syn_ack_seen || (from_server && s.flag_text() == "S." && s.ack == seq + 1);
    o.rst_seen = o.rst_seen || (!from_server && (s.flags & RawTcpProbe::rst) && s.seq == seq + 1);
    spdlog::info("{:8.3f} ms  {} -> {}  [{}] seq {} ack {}", s.at_ms, s.source_port, s.destination_port, s.flag_text(),
                 s.seq, s.ack);
  }
  o.sockets_created = created;
  o.accept_queue_before = before->receive_queue;
  o.accept_queue_after = after ? after->receive_queue : 0;
  result.set_observed(o);
  const bool syn_ack = o.syn_ack_seen, rst = o.rst_seen;
  const std::size_t queue_before = o.accept_queue_before, queue_after = o.accept_queue_after;
  std::string flags;
  for (const auto& s : segments) flags += (flags.empty() ? "" : ", ") + s.flag_text();
  const bool nothing = created == 0 && queue_after <= queue_before;
  result.add_check({.id = "stale-syn-rejected",
                    .claim = "三次握手 lets the client reject an old duplicate SYN: no connection",
                    .expected = "S, S., R and no connection at the server",
                    .observed = "segments " + (flags.empty() ? std::string("none") : flags) +
                                "; sockets at the server for it " + std::to_string(created) + ", accept queue " +
                                std::to_string(queue_before) + " -> " + std::to_string(queue_after),
                    .verdict = syn_ack && rst && nothing ? Verdict::confirmed
                               : !nothing                ? Verdict::refuted
                                                         : Verdict::nuanced,
                    .evidence = "a raw socket sees the segments; the census shows what the server's kernel kept"});
}

void stale_syn_skipped(Result& result, const std::string& why) {
  result.add_check({.id = "stale-syn-rejected",
                    .claim = "三次握手 lets the client reject an old duplicate SYN: no connection",
                    .expected = "S, S., R and no connection at the server",
                    .observed = "not run",
                    .verdict = Verdict::skipped,
                    .evidence = why});
}

}  // namespace netlab::handshake
