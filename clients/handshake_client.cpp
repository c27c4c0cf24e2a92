// netlab-handshake-client — the handshake lab's client (为什么三次握手).
//
// Default: M connections, one after another, each connect() bounded by
// --timeout-ms, timed, and counted in segments by the kernel itself
// (TCP_INFO segs_out/segs_in: SYN + ACK out, SYN-ACK in). Then the socket census
// shows both ends ESTAB and the listener's accept queue holding them, whether
// or not the server called accept(); connections beyond the queue's bound
// stall (their SYNs are dropped and retransmitted after ~1 s, ~3 s), and
// /proc/net/netstat counts ListenOverflows. As root, TCP_REPAIR reads each
// connection's two initial sequence numbers.
// --stale-syn: a SYN from a port where no socket exists, through a raw socket
// (CAP_NET_RAW in this network namespace: root, or a user namespace), as an old
// duplicate SYN would arrive: the server's kernel answers SYN-ACK, ours
// answers RST, and no connection is created.
// --isn-capture PCAP: from the lab's capture, whether each handshake's two
// ISNs were acknowledged (ack = ISN + 1): handshake/isns.hpp.
// --mode old-syn | lost-synack | lost-ack: the failure stories across
// netlab-wire (handshake/failures.hpp); --judge RUN.json then gives their
// verdicts from the capture, the server's census and the wire's rule log.
#include "handshake/asked_next.hpp"
#include "handshake/failures.hpp"
#include "handshake/isns.hpp"
#include "handshake/syn.hpp"
#include "io/net.hpp"
#include "kernel/lifecycle.hpp"
#include "kernel/netstat.hpp"
#include "kernel/tcp_info.hpp"
#include "observed.hpp"
#include "program/client.hpp"
#include "program/logging.hpp"
#include "program/options.hpp"
#include "program/result.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/describe/class.hpp>
#include <boost/json/serialize.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <iostream>
#include <random>
#include <set>
#include <thread>

namespace {

using namespace netlab;
using asio::awaitable;
using namespace std::chrono_literals;
namespace json = boost::json;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto server_program = "netlab-handshake-server";

struct Config {
  std::size_t connections = 6;
  long timeout_ms = 2500;
  long hold_ms = 300;
  bool stale_syn = false;
};

awaitable<void> connect_socket(tcp::socket& socket, tcp::endpoint endpoint, boost::system::error_code& error) {
  auto [ec] = co_await socket.async_connect(endpoint, use_tuple);
  error = ec;
}

std::optional<SocketRecord> listener(std::uint16_t port) {
  for (auto& s : list_tcp_sockets({.local_port = port}))
    if (s.state == TcpState::listen) return s;
  return std::nullopt;
}

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

awaitable<void> run_queue(const CommonOptions& options, const Config& config, Result& result) {
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
  const auto queue = listener(options.port);
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

// ---- --stale-syn: an old duplicate SYN, from a port with no socket ----------

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

void run_stale_syn(const CommonOptions& options, Result& result) {
  // A port that is ours but has no connection and no listener: bound only.
  asio::io_context io;
  tcp::socket reserved(io, tcp::endpoint(asio::ip::make_address(options.host), 0));
  const std::uint16_t stale_port = reserved.local_endpoint().port();
  const auto before = listener(options.port);
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
  const auto after = listener(options.port);
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

void print_summary(std::ostream& out, const Result& result) {
  const auto& o = result.observed();
  out << "netlab-handshake-client\n";
  if (o.contains("attempts")) {
    for (const auto& a : o.at("attempts").as_array())
      out << "  port " << a.at("local_port") << ": " << a.at("outcome").as_string().c_str() << " after "
          << static_cast<long>(a.at("ms").as_double()) << " ms\n";
    out << "  accept queue " << o.at("accept_queue_length") << " (backlog " << o.at("backlog") << ")";
    if (o.contains("listen_overflows_delta"))
      out << ", ListenOverflows +" << o.at("listen_overflows_delta") << ", ListenDrops +" << o.at("listen_drops_delta");
    out << "\n";
    for (const auto& isn : o.at("isns").as_array())
      out << "  port " << isn.at("local_port") << ": client ISN " << isn.at("client_isn") << ", server ISN "
          << isn.at("server_isn") << "\n";
  }
  for (const char* key : {"first", "second", "connect"})
    if (const auto* a = o.if_contains(key); a && a->is_object())
      out << "  port " << o.at("local_port") << ", " << (key == std::string("connect") ? "" : key)
          << (key == std::string("connect") ? "" : " ")
          << "connect(): " << a->as_object().at("outcome").as_string().c_str() << " after "
          << static_cast<long>(a->as_object().at("ms").as_double()) << " ms\n";
  if (o.contains("segments"))
    for (const auto& s : o.at("segments").as_array())
      out << "  " << s.at("from").as_string().c_str() << " [" << s.at("flags").as_string().c_str() << "] seq "
          << s.at("seq") << " ack " << s.at("ack") << "\n";
  out << render_checks(result.checks());
}

}  // namespace

int main(int argc, char** argv) {
  ClientProgram program("handshake",
                        "The handshake lab's client: connects, times, counts segments; --stale-syn sends an old SYN.",
                        7002, 60);
  auto& app = program.app();
  Config config;
  app.add_option("--connections", config.connections, "connections to open, one after another")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{64}));
  app.add_option("--timeout-ms", config.timeout_ms, "bound on each connect()")
      ->capture_default_str()
      ->check(CLI::Range(50L, 30'000L));
  app.add_option("--hold-ms", config.hold_ms, "keep the connections open this long after the census")
      ->capture_default_str()
      ->check(CLI::Range(0L, 60'000L));
  app.add_flag("--stale-syn", config.stale_syn, "send a SYN from a port with no socket (raw socket: CAP_NET_RAW)");
  handshake::FailureConfig failure;
  app.add_option("--mode", failure.mode,
                 "across netlab-wire: old-syn, lost-synack, lost-ack; syn-queue, syn-flood, simultaneous-open")
      ->check(CLI::IsMember({"old-syn", "lost-synack", "lost-ack", "syn-queue", "syn-flood", "simultaneous-open"}));
  handshake::AskedNextConfig asked;
  app.add_option("--server-netns", asked.server_netns,
                 "syn-queue, syn-flood, simultaneous-open: the server's network namespace (/run/netns/NAME)");
  app.add_option("--flood-syns", asked.flood_syns, "syn-flood: spoofed SYNs in the burst")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000}));
  app.add_option("--give-up-ms", failure.give_up_ms, "old-syn: abandon the first connect() after this")
      ->capture_default_str()
      ->check(CLI::Range(20L, 900L));
  app.add_option("--data-after-ms", failure.data_after_ms, "lost-ack: send the first data this long after connect()")
      ->capture_default_str()
      ->check(CLI::Range(0L, 10'000L));
  handshake::Evidence evidence;
  app.add_option("--judge", evidence.run_json, "give the verdicts of the scenario recorded in this JSON");
  app.add_option("--server-json", evidence.server_json, "with --judge: netlab-handshake-server's JSON");
  app.add_option("--wire-json", evidence.wire_json, "with --judge: netlab-wire's stats JSON");
  app.add_option("--pcap", evidence.pcap, "with --judge: the capture on the client's link");
  std::string isn_capture;
  app.add_option("--isn-capture", isn_capture,
                 "judge whether each handshake in this capture (on --port) acked both ISNs");
  program.check_usage([&] {
    if (!evidence.run_json.empty() && (evidence.server_json.empty() || evidence.wire_json.empty()))
      throw UsageError("--judge needs --server-json and --wire-json");
  });
  return program.run(argc, argv, [&](ClientRun& run) {
    const auto& options = run.options();
    Result& result = run.result();
    if (!evidence.run_json.empty()) {
      handshake::judge_failure(evidence, result);  // the recorded run's params replace ours
      run.summary([&](std::ostream& out) { out << render_checks(result.checks()); });
      return;
    }
    if (!isn_capture.empty()) {
      handshake::judge_isns(isn_capture, options.port, result);
      run.summary([&](std::ostream& out) { out << render_checks(result.checks()); });
      return;
    }
    result.set_params(boost::json::object{{"mode", config.stale_syn ? "stale-syn" : "queue"},
                                          {"connections", config.connections},
                                          {"timeout_ms", config.timeout_ms},
                                          {"seed", options.seed}});
    const std::string raw_refused = config.stale_syn ? raw_socket_blocker() : std::string();
    if (!raw_refused.empty()) {
      std::cerr << "netlab-handshake-client: --stale-syn skipped: " << raw_refused << "\n";
      result.add_check({.id = "stale-syn-rejected",
                        .claim = "三次握手 lets the client reject an old duplicate SYN: no connection",
                        .expected = "S, S., R and no connection at the server",
                        .observed = "not run",
                        .verdict = Verdict::skipped,
                        .evidence = raw_refused});
    } else if (config.stale_syn) {
      run_stale_syn(options, result);
    } else if (handshake::is_asked_next_mode(failure.mode)) {
      asked.mode = failure.mode;
      asked.connections = config.connections;
      asked.timeout_ms = config.timeout_ms;
      asked.seed = options.seed;
      result.params()["mode"] = failure.mode;
      handshake::run_asked_next(options, asked, result);
    } else if (handshake::is_failure_mode(failure.mode)) {
      failure.timeout_ms = config.timeout_ms;
      failure.hold_ms = config.hold_ms;
      result.params()["mode"] = failure.mode;
      result.params()["give_up_ms"] = failure.give_up_ms;
      result.params()["data_after_ms"] = failure.data_after_ms;
      run.within(handshake::run_failure(options, failure, result));
    } else {
      run.within(run_queue(options, config, result));
    }
    run.summary([&](std::ostream& out) { print_summary(out, result); });
  });
}
