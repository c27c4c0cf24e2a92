// netlab-transport-client — the tcp和udp lab's client.
//
// --mode stream (default): sends N numbered messages over TCP, then the same
// N over UDP (--proto both), each ending with "done, I sent N", and gets the
// server's account back: received, lost, reordered, duplicated, corrupted.
// Over TCP it also measures flow control from the sender's side: how often
// and how long the kernel refused more bytes (EAGAIN: the send buffer is full
// because the receiver's window is closed), and TCP_INFO's rwnd_limited time
// and the peer's advertised window.
// --mode semantics: what "connection-oriented" means on the wire: TCP connect
// to a port where nothing listens, UDP sendto there (unconnected, then
// connected), and the packets one message costs over each protocol.
// --mode congestion: TCP flows through a bottleneck (netlab-wire between
// namespaces), TCP_INFO sampled every few milliseconds: slow start, the
// back-off after a loss, two flows sharing, UDP beside TCP, one flow per
// congestion-control algorithm (transport/congestion.hpp).
// Every verdict is computed from what this run measured.
#include "program/client.hpp"
#include "program/logging.hpp"
#include "io/net.hpp"
#include "program/options.hpp"
#include "program/result.hpp"
#include "io/stats.hpp"
#include "kernel/transport_kernel.hpp"
#include "proto/transport_message.hpp"
#include "transport/congestion.hpp"
#include "transport/stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <iostream>

namespace {

using namespace netlab;
namespace tr = netlab::transport;
namespace json = boost::json;
using asio::awaitable;
using udp = asio::ip::udp;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using tr::now_us;
using tr::seconds_since;
using tr::server_program;
using tr::SendTally;
using tr::sample_window;

enum class Proto { tcp, udp, both };
enum class Mode { stream, semantics, congestion };

struct Config {
  Proto proto = Proto::both;
  Mode mode = Mode::stream;
  std::size_t messages = 10'000;
  std::size_t size = 200;
  double rate = 0;  // messages per second; 0 = as fast as the socket takes them
  bool relay = false;
  double link_loss = 0;
  int sndbuf = 0;  // TCP SO_SNDBUF; 0 = the kernel's default (autotuned)
  std::uint16_t dead_port = 0;
  int done_attempts = 25;
  int done_interval_ms = 200;
  std::uint64_t seed = 1;
  tr::CongestionConfig congestion;
};

std::uint64_t number(const json::value& v) { return v.to_number<std::uint64_t>(); }

// ---- UDP: the stream, then "done" ----------------------------------------------

awaitable<json::object> udp_stream(const CommonOptions& options, const Config& config) {
  const udp::endpoint to(asio::ip::make_address(options.host), options.port);
  udp::socket socket(co_await asio::this_coro::executor, udp::v4());
  // A connected UDP socket: no packet is sent, but the kernel now reports an
  // ICMP "port unreachable" for this peer back to us as ECONNREFUSED.
  socket.connect(to);
  PayloadGenerator payloads(config.seed, config.size, config.size);
  std::string datagram;
  std::uint64_t bytes = 0;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < config.messages; ++i) {
    co_await tr::pace(config.rate, start, i);
    datagram.clear();
    tr::encode(tr::Kind::data, i, now_us(), payloads.next(), datagram);
    auto [ec, n] = co_await socket.async_send(asio::buffer(datagram), use_tuple);
    if (ec) throw tr::udp_failure(to, ec);
    bytes += n;
  }
  const double send_seconds = seconds_since(start);
  int attempts = 0;
  auto server = co_await tr::ask(socket, tr::Kind::done, config.messages, tr::Kind::report, config.done_attempts,
                                 config.done_interval_ms, tr::server_program, attempts);
  json::object result{{"sent", config.messages}, {"bytes_sent", bytes}, {"send_seconds", send_seconds},
                      {"done_attempts", attempts}, {"server", server}};
  if (config.relay) {
    int relay_attempts = 0;
    result["relay"] = (co_await tr::ask(socket, tr::Kind::relay_query, 0, tr::Kind::relay_report, config.done_attempts,
                                        config.done_interval_ms, "netlab-relay", relay_attempts))
                          .at("session");
  }
  co_return result;
}

// ---- TCP: the stream, flow control seen from the sender --------------------------

awaitable<json::object> tcp_stream(const CommonOptions& options, const Config& config) {
  tcp::socket socket = co_await connect_to(options.host, options.port, server_program);
  const std::string who = describe_connection(socket);
  spdlog::info("UP   {}", who);
  // A small send buffer makes the wait visible sooner: the kernel refuses more
  // bytes as soon as the peer's closed window keeps them from leaving.
  if (config.sndbuf > 0) socket.set_option(asio::socket_base::send_buffer_size(config.sndbuf));
  socket.non_blocking(true);  // so that a full send buffer shows as EAGAIN, which we count
  PayloadGenerator payloads(config.seed, config.size, config.size);
  SendTally tally;
  std::string frame;
  std::uint64_t bytes = 0, bytes_in = 0;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < config.messages; ++i) {
    co_await tr::pace(config.rate, start, i);
    frame.clear();
    tr::encode(tr::Kind::data, i, now_us(), payloads.next(), frame);
    co_await tr::write_counted(socket, frame, tally);
    bytes += frame.size();
    if (i % 64 == 0) sample_window(socket, tally);
  }
  const double send_seconds = seconds_since(start);
  frame.clear();
  tr::encode(tr::Kind::done, config.messages, now_us(), {}, frame);
  co_await tr::write_counted(socket, frame, tally);
  bytes += frame.size();
  tr::StreamDecoder decoder;
  auto report = co_await tr::read_until(socket, decoder, tr::Kind::report, bytes_in);
  if (!report) throw std::runtime_error("the server closed the connection without a report");
  const auto flow = read_tcp_flow(socket.native_handle());
  // Our FIN; the server answers with its own, and we read to the end.
  socket.shutdown(tcp::socket::shutdown_send);
  co_await tr::read_until(socket, decoder, tr::Kind::report, bytes_in);
  spdlog::info("DOWN {}", who);

  json::object result{{"sent", config.messages},        {"bytes_sent", bytes},
                      {"bytes_received", bytes_in},     {"send_seconds", send_seconds},
                      {"would_block", tally.would_block}, {"blocked_seconds", tally.blocked_seconds},
                      {"server", json::parse(report->payload).as_object()}};
  if (tally.min_peer_window != UINT32_MAX) {
    result["min_peer_window"] = tally.min_peer_window;
    result["zero_window_samples"] = tally.zero_window_samples;
  }
  if (flow) {
    result["total_retrans"] = flow->total_retrans;
    result["segs_out"] = flow->segs_out;
    result["segs_in"] = flow->segs_in;
    result["rwnd_limited_ms"] = static_cast<double>(flow->rwnd_limited_us) / 1000.0;
    result["sndbuf_limited_ms"] = static_cast<double>(flow->sndbuf_limited_us) / 1000.0;
    result["timestamps"] = flow->timestamps;
  }
  co_return result;
}

// ---- semantics: connections, and what one message costs ---------------------------

std::uint16_t pick_dead_port(asio::any_io_executor executor, const std::string& host) {
  // Bind a port and let it go: nothing listens on it afterwards.
  tcp::acceptor probe(executor, tcp::endpoint(asio::ip::make_address(host), 0));
  return probe.local_endpoint().port();
}

// Waits up to `ms` for a datagram or an error on `socket`: "" when nothing came.
awaitable<std::string> wait_for_anything(udp::socket& socket, int ms) {
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(std::chrono::milliseconds(ms));
  std::vector<char> buffer(65536);
  udp::endpoint from;
  auto got = co_await (socket.async_receive_from(asio::buffer(buffer), from, use_tuple) || timer.async_wait(use_tuple));
  if (got.index() == 1) co_return "";
  auto [ec, n] = std::get<0>(got);
  co_return ec ? ec.message() : "a " + std::to_string(n) + "-byte datagram";
}

awaitable<json::object> semantics(const CommonOptions& options, const Config& config) {
  auto executor = co_await asio::this_coro::executor;
  const auto address = asio::ip::make_address(options.host);
  const std::uint16_t dead = config.dead_port ? config.dead_port : pick_dead_port(executor, options.host);
  std::string message;
  tr::encode(tr::Kind::data, 0, now_us(), std::string(config.size, 'x'), message);
  json::object out{{"dead_port", dead}};

  // TCP: connect needs the other side to answer; nobody there, the kernel answers RST.
  tcp::socket tcp_probe(executor);
  auto t0 = Clock::now();
  auto [connect_ec] = co_await tcp_probe.async_connect({address, dead}, use_tuple);
  out["tcp_connect_error"] = connect_ec ? connect_ec.message() : "none (it connected)";
  out["tcp_connect_refused"] = connect_ec == asio::error::connection_refused;
  out["tcp_connect_ms"] = seconds_since(t0) * 1000;

  // UDP unconnected: sendto hands the datagram to the kernel and returns; the
  // ICMP "port unreachable" that comes back is not reported to this socket.
  udp::socket loose(executor, udp::v4());
  auto [send_ec, sent] = co_await loose.async_send_to(asio::buffer(message), udp::endpoint(address, dead), use_tuple);
  out["udp_sendto_error"] = send_ec ? send_ec.message() : "none";
  out["udp_sendto_bytes"] = sent;
  out["udp_unconnected_then"] = co_await wait_for_anything(loose, 300);

  // UDP connected: same datagram, but now the kernel ties the ICMP error to us.
  udp::socket tied(executor, udp::v4());
  tied.connect({address, dead});
  auto [tied_ec, tied_sent] = co_await tied.async_send(asio::buffer(message), use_tuple);
  (void)tied_sent;
  out["udp_connected_send_error"] = tied_ec ? tied_ec.message() : "none";
  const std::string then = co_await wait_for_anything(tied, 1000);
  out["udp_connected_then"] = then.empty() ? "nothing within 1 s" : then;
  out["udp_connected_refused"] = then == asio::error::make_error_code(asio::error::connection_refused).message();

  // One message to the live server over TCP: handshake, data, teardown.
  {
    tcp::socket socket = co_await connect_to(options.host, options.port, server_program);
    SendTally tally;
    co_await tr::write_counted(socket, message, tally);
    socket.shutdown(tcp::socket::shutdown_send);
    tr::StreamDecoder decoder;
    std::uint64_t bytes_in = 0;
    co_await tr::read_until(socket, decoder, tr::Kind::report, bytes_in);  // to the server's FIN
    const auto flow = read_tcp_flow(socket.native_handle());
    if (flow) {
      out["tcp_one_message_segs_out"] = flow->segs_out;
      out["tcp_one_message_segs_in"] = flow->segs_in;
      out["tcp_one_message_packets"] = flow->segs_out + flow->segs_in;
    }
  }
  // ... and over UDP: one datagram. We ask the server afterwards whether it came.
  {
    udp::socket socket(executor, udp::v4());
    socket.connect({address, options.port});
    auto [ec, n] = co_await socket.async_send(asio::buffer(message), use_tuple);
    (void)n;
    if (ec) throw tr::udp_failure({address, options.port}, ec);
    int attempts = 0;
    const auto report = co_await tr::ask(socket, tr::Kind::done, 1, tr::Kind::report, config.done_attempts,
                                         config.done_interval_ms, tr::server_program, attempts);
    out["udp_one_message_packets"] = 1;
    out["udp_one_message_arrived"] = number(report.at("unique")) == 1;
  }
  co_return out;
}

// ---- the note's claims ---------------------------------------------------------

std::string share(std::uint64_t part, std::uint64_t whole) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
  return text;
}

std::string account_text(const json::object& s) {
  return std::to_string(number(s.at("unique"))) + " of " + std::to_string(number(s.at("expected"))) +
         " arrived; lost " + std::to_string(number(s.at("lost"))) + ", reordered " +
         std::to_string(number(s.at("reordered"))) + ", duplicated " + std::to_string(number(s.at("duplicated"))) +
         ", corrupted " + std::to_string(number(s.at("corrupted")));
}

bool slow_reader(const json::object& s) { return number(s.at("reader_delay_us")) > 0; }

void tcp_checks(Result& result, const json::object& tcp) {
  const auto& s = tcp.at("server").as_object();
  const bool perfect = number(s.at("unique")) == number(s.at("expected")) && number(s.at("lost")) == 0 &&
                       number(s.at("reordered")) == 0 && number(s.at("duplicated")) == 0 &&
                       number(s.at("corrupted")) == 0;
  const std::uint64_t retrans = tcp.contains("total_retrans") ? number(tcp.at("total_retrans")) : 0;
  result.add_check({.id = "tcp-reliable-ordered", .claim = "TCP is reliable and ordered (acks and retransmission)",
                    .expected = "every message once, in order, even when segments were lost underneath",
                    .observed = account_text(s) + "; " + std::to_string(retrans) + " segments retransmitted",
                    .verdict = !perfect ? Verdict::refuted : retrans > 0 ? Verdict::confirmed : Verdict::nuanced,
                    .evidence = retrans > 0 ? "the server's per-sender account; tcpi_total_retrans of the sender"
                                : "the server's per-sender account; nothing was lost underneath (0 retransmissions), "
                                  "so this run shows order and completeness, not recovery — see the lossy link"});
}

void udp_checks(Result& result, const json::object& udp, const Config& config) {
  const auto& s = udp.at("server").as_object();
  const std::uint64_t lost = number(s.at("lost")), reordered = number(s.at("reordered")),
                      duplicated = number(s.at("duplicated"));
  std::string observed = account_text(s) + " (loss " + share(lost, number(s.at("expected"))) + ")";
  if (config.link_loss > 0) observed += "; configured link loss " + share(static_cast<std::uint64_t>(config.link_loss * 1e6), 1'000'000);
  result.add_check({.id = "udp-no-guarantee", .claim = "UDP does not guarantee delivery or order",
                    .expected = "messages lost, reordered or duplicated with nothing in UDP to notice or repair it", .observed = observed,
                    .verdict = lost + reordered + duplicated > 0 ? Verdict::confirmed : Verdict::nuanced,
                    .evidence = lost + reordered + duplicated > 0
                        ? "the server's per-sender account of the numbered datagrams"
                        : "nothing went wrong on this path: with room in the buffers, loopback loses and reorders "
                          "nothing — UDP did not repair anything, there was nothing to repair"});
  // The loss a slow reader causes is the kernel's drop at a full receive buffer.
  if (!config.relay && config.link_loss == 0 && (lost > 0 || number(s.at("socket_drops")) > 0)) {
    const std::uint64_t kernel = number(s.at("socket_drops_of_data"));
    const bool has_snmp = s.contains("udp_rcvbuf_errors_delta");
    const std::int64_t snmp = has_snmp ? s.at("udp_rcvbuf_errors_delta").to_number<std::int64_t>() : -1;
    const bool agree = kernel == lost && (!has_snmp || snmp >= static_cast<std::int64_t>(number(s.at("socket_drops"))));
    result.add_check({.id = "udp-loss-is-kernel-drop", .claim = "UDP has no flow control: a slow receiver loses datagrams",
                      .expected = "the receiver's count of lost messages equals the kernel's count of drops",
                      .observed = "server counted " + std::to_string(lost) + " lost; SO_RXQ_OVFL counted " +
                          std::to_string(kernel) + " data drops on the socket; UdpRcvbufErrors grew by " +
                          (has_snmp ? std::to_string(snmp) : std::string("(unreadable)")) + " (whole host)",
                      .verdict = agree ? Verdict::confirmed : Verdict::refuted,
                      .evidence = "SO_RXQ_OVFL stamps on the server's datagrams; /proc/net/snmp before and after"});
  }
  if (udp.contains("relay")) {
    const auto& r = udp.at("relay").as_object();
    const bool equal = number(r.at("lost")) == lost && number(r.at("reordered")) == reordered &&
                       number(r.at("duplicated_out")) == duplicated &&
                       number(r.at("garbage_forwarded")) == number(s.at("corrupted"));
    result.add_check({.id = "relay-equals-server", .claim = "the impaired path: what the relay did is what the receiver saw",
                      .expected = "server's lost/reordered/duplicated/corrupted = relay's dropped/reordered/duplicated/garbage",
                      .observed = "relay dropped " + std::to_string(number(r.at("dropped"))) + ", duplicated " +
                          std::to_string(number(r.at("duplicated"))) + ", sent " + std::to_string(number(r.at("reordered"))) +
                          " out of order; server: " + account_text(s),
                      .verdict = equal ? Verdict::confirmed : Verdict::refuted,
                      .evidence = "netlab-relay's counts (relay_query) against the server's account of the same stream"});
  }
}

void comparison_checks(Result& result, const json::object& tcp, const json::object& udp) {
  const auto& ts = tcp.at("server").as_object();
  const auto& us = udp.at("server").as_object();
  if (slow_reader(ts) || slow_reader(us)) {
    const std::uint64_t udp_lost = number(us.at("lost")), tcp_lost = number(ts.at("lost"));
    const bool throttled = number(tcp.at("would_block")) > 0 ||
                           (tcp.contains("rwnd_limited_ms") && tcp.at("rwnd_limited_ms").as_double() > 0);
    std::string observed = "TCP: lost " + std::to_string(tcp_lost) + ", sender refused " +
                           std::to_string(number(tcp.at("would_block"))) + " times, blocked " +
                           std::to_string(static_cast<long>(tcp.at("blocked_seconds").as_double() * 1000)) + " ms";
    if (tcp.contains("rwnd_limited_ms"))
      observed += ", rwnd-limited " + std::to_string(static_cast<long>(tcp.at("rwnd_limited_ms").as_double())) + " ms";
    if (tcp.contains("min_peer_window")) observed += ", smallest window seen " + std::to_string(number(tcp.at("min_peer_window"))) + " B";
    observed += "; UDP: lost " + std::to_string(udp_lost) + " of " + std::to_string(number(us.at("expected")));
    result.add_check({.id = "flow-control", .claim = "TCP has flow control, UDP has none",
                      .expected = "slow reader: TCP loses nothing and the sender waits; UDP's sender never waits and datagrams drop",
                      .observed = observed,
                      .verdict = tcp_lost > 0 ? Verdict::refuted
                      : (throttled && udp_lost > 0) ? Verdict::confirmed : Verdict::nuanced,
                      .evidence = (throttled && udp_lost > 0)
                          ? "EAGAIN on the TCP sender's socket, TCP_INFO, the server's accounts"
                          : "the reader kept up in this run (no drop or no wait): slow it further (--reader-delay-us, --rcvbuf)"});
  }
  // Bytes on the wire, from header sizes: IPv4 20 + TCP 20 (+12 with timestamps) per segment
  // (segments counted by TCP_INFO, both directions) against IPv4 20 + UDP 8 per datagram.
  if (!tcp.contains("segs_out")) return;
  const double n = static_cast<double>(number(tcp.at("sent")));
  const double tcp_header = 40 + (tcp.at("timestamps").as_bool() ? 12 : 0);
  const double tcp_packets = static_cast<double>(number(tcp.at("segs_out")) + number(tcp.at("segs_in")));
  const double tcp_bytes = static_cast<double>(number(tcp.at("bytes_sent")) + number(tcp.at("bytes_received"))) +
                           tcp_packets * tcp_header;
  const double udp_packets = static_cast<double>(number(udp.at("sent")) + 2 * number(udp.at("done_attempts")));
  const double udp_bytes = static_cast<double>(number(udp.at("bytes_sent"))) + udp_packets * 28;
  json::object overhead{{"source", "header sizes x packet counts (TCP_INFO segs_out+segs_in; datagrams sent)"},
                        {"tcp_packets_per_message", tcp_packets / n}, {"udp_packets_per_message", udp_packets / n},
                        {"tcp_wire_bytes_per_message", tcp_bytes / n}, {"udp_wire_bytes_per_message", udp_bytes / n}};
  char text[200];
  std::snprintf(text, sizeof text, "per message: TCP %.1f bytes in %.3f packets, UDP %.1f bytes in %.3f packets",
                tcp_bytes / n, tcp_packets / n, udp_bytes / n, udp_packets / n);
  result.observed()["overhead"] = overhead;
  const bool costlier = tcp_bytes > udp_bytes;
  result.add_check({.id = "tcp-costs-more", .claim = "TCP is heavier: more header bytes and packets per message",
                    .expected = "more bytes on the wire per message over TCP than over UDP", .observed = text,
                    .verdict = costlier ? Verdict::confirmed : Verdict::nuanced,
                    .evidence = costlier ? "estimated from header sizes (see the capture for exact bytes)"
                             : "estimated from header sizes: TCP packed many messages into each segment (a byte "
                               "stream), so its headers cost less per message than one UDP header per datagram"});
}

void semantics_checks(Result& result, const json::object& s) {
  const bool tcp_refused = s.at("tcp_connect_refused").as_bool();
  const bool udp_silent = s.at("udp_sendto_error").as_string() == "none" && s.at("udp_unconnected_then").as_string().empty();
  result.add_check({.id = "tcp-needs-connection", .claim = "TCP needs a connection, UDP does not",
                    .expected = "TCP connect to a closed port fails (RST); UDP sendto there succeeds and nothing comes back",
                    .observed = "TCP connect: " + std::string(s.at("tcp_connect_error").as_string()) + " after " +
                        std::to_string(s.at("tcp_connect_ms").as_double()).substr(0, 5) + " ms; UDP sendto: " +
                        std::to_string(number(s.at("udp_sendto_bytes"))) + " bytes accepted, then " +
                        (udp_silent ? std::string("nothing") : std::string(s.at("udp_unconnected_then").as_string())) +
                        "; connected UDP: " + std::string(s.at("udp_connected_then").as_string()),
                    .verdict = tcp_refused && udp_silent ? Verdict::confirmed : Verdict::refuted,
                    .evidence = "return codes of connect(), sendto() and the next receive; a connected UDP socket does learn of "
                    "the ICMP port unreachable (ECONNREFUSED) — the kernel, not UDP, tells it"});
  if (s.contains("tcp_one_message_packets")) {
    const auto tcp_packets = number(s.at("tcp_one_message_packets"));
    result.add_check({.id = "tcp-costs-more-packets", .claim = "TCP costs more: one message takes a handshake, acks and a teardown",
                      .expected = "more packets than UDP's single datagram",
                      .observed = "one message: TCP " + std::to_string(tcp_packets) + " packets (both directions), UDP 1 datagram" +
                          (s.at("udp_one_message_arrived").as_bool() ? " (it arrived)" : " (it did not arrive)"),
                      .verdict = tcp_packets > 1 ? Verdict::confirmed : Verdict::refuted,
                      .evidence = "TCP_INFO segs_out + segs_in at the end of the connection; the capture shows each packet"});
  }
}

// ---- the run -------------------------------------------------------------------------

awaitable<void> run_lab(const CommonOptions& options, const Config& config, Result& result) {
  auto& observed = result.observed();
  if (config.mode == Mode::congestion) {
    co_await tr::run_congestion(options, config.congestion, result);
    co_return;
  }
  if (config.mode == Mode::semantics) {
    observed["semantics"] = co_await semantics(options, config);
    semantics_checks(result, observed["semantics"].as_object());
    co_return;
  }
  if (config.proto != Proto::udp) {
    observed["tcp"] = co_await tcp_stream(options, config);
    tcp_checks(result, observed["tcp"].as_object());
  }
  if (config.proto != Proto::tcp) {
    observed["udp"] = co_await udp_stream(options, config);
    udp_checks(result, observed["udp"].as_object(), config);
  }
  if (config.proto == Proto::both)
    comparison_checks(result, observed["tcp"].as_object(), observed["udp"].as_object());
}

void print_summary(std::ostream& out, const Result& result) {
  const auto& o = result.observed();
  for (const char* proto : {"tcp", "udp"}) {
    if (!o.contains(proto) || !o.at(proto).as_object().contains("server")) continue;
    const auto& p = o.at(proto).as_object();
    out << "  " << proto << ": " << account_text(p.at("server").as_object()) << "\n";
  }
  out << render_checks(result.checks());
}

}  // namespace

int main(int argc, char** argv) {
  ClientProgram program("transport",
                        "The tcp和udp lab's client: one numbered stream over TCP and UDP, set against the server's account.",
                        7001, 60);
  auto& app = program.app();
  Config config;
  std::string rate = "max";
  std::string step;
  app.add_option("--proto", config.proto, "tcp | udp | both")
      ->transform(CLI::CheckedTransformer(std::map<std::string, Proto>{
          {"tcp", Proto::tcp}, {"udp", Proto::udp}, {"both", Proto::both}}))
      ->capture_default_str();
  app.add_option("--mode", config.mode, "stream | semantics | congestion")
      ->transform(CLI::CheckedTransformer(std::map<std::string, Mode>{
          {"stream", Mode::stream}, {"semantics", Mode::semantics}, {"congestion", Mode::congestion}}))
      ->capture_default_str();
  auto& cc = config.congestion;
  app.add_option("--scenario", cc.scenarios, "congestion: single share udp algorithms (any of them)")
      ->check(CLI::IsMember({"single", "share", "udp", "algorithms"}))->delimiter(',');
  app.add_option("--seconds", cc.seconds, "congestion: how long each flow sends")
      ->capture_default_str()->check(CLI::Range(0.5, 120.0));
  app.add_option("--sample-ms", cc.sample_ms, "congestion: TCP_INFO every this many ms")
      ->capture_default_str()->check(CLI::Range(1.0, 1000.0));
  app.add_option("--bottleneck-kbit", cc.bottleneck_kbit, "congestion: the bottleneck's rate (what netlab-wire was given)")
      ->capture_default_str()->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}));
  app.add_option("--udp-factor", cc.udp_factor, "congestion: the UDP sender's rate, times the bottleneck")
      ->capture_default_str()->check(CLI::Range(0.1, 10.0));
  app.add_option("--cc", cc.algorithms, "congestion: algorithms for the algorithms scenario (default cubic,reno,bbr)")
      ->delimiter(',');
  app.add_option("--wire-events", cc.wire_events, "congestion: netlab-wire's --events file, to set its drops beside TCP_INFO");
  app.add_option("--csv", cc.csv, "congestion: write every TCP_INFO sample here");
  app.add_option("--svg", cc.svg, "congestion: draw cwnd and the queue here (and NAME-algorithms.svg)");
  app.add_option("--messages", config.messages, "messages per protocol")
      ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  app.add_option("--size", config.size, "payload bytes per message (a 32-byte header is added)")
      ->capture_default_str()->check(CLI::Range(std::size_t{0}, tr::max_payload));
  app.add_option("--rate", rate, "messages per second, or max")->capture_default_str()
      ->check([](const std::string& v) {
        if (v == "max") return std::string();
        try {
          const double r = std::stod(v);
          return r > 0 && r <= 10'000'000 ? std::string() : std::string("--rate wants max or 0 < R <= 1e7");
        } catch (const std::exception&) {
          return std::string("--rate wants max or a number");
        }
      });
  app.add_option("--step", step, "name this run in the result (params.mode; default: the mode), e.g. slow-reader");
  app.add_flag("--relay", config.relay, "--port is a netlab-relay: ask it for its counts after the UDP run");
  app.add_option("--sndbuf", config.sndbuf, "TCP SO_SNDBUF in bytes (0 = the kernel's default)")
      ->capture_default_str()->check(CLI::Range(0, 64 << 20));
  app.add_option("--link-loss", config.link_loss, "the share the lossy link drops (for the report only)")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--dead-port", config.dead_port, "semantics: a port where nothing listens (0 = pick one)")
      ->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--done-attempts", config.done_attempts, "how often UDP 'done' is sent before giving up")
      ->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--done-interval-ms", config.done_interval_ms, "wait for a report this long per attempt")
      ->capture_default_str()->check(CLI::Range(1, 10'000));
  return program.run(argc, argv, [&](ClientRun& run) {
    const auto& options = run.options();
    config.rate = rate == "max" ? 0 : std::stod(rate);
    config.seed = options.seed;
    config.congestion.seed = options.seed;
    if (app.count("--size") > 0) config.congestion.size = config.size;  // else full-sized segments
    Result& result = run.result();
    const char* mode = config.mode == Mode::stream      ? "stream"
                       : config.mode == Mode::semantics ? "semantics"
                                                        : "congestion";
    const char* proto = config.proto == Proto::tcp ? "tcp" : config.proto == Proto::udp ? "udp" : "both";
    result.set_params(boost::json::object{{"mode", step.empty() ? std::string(mode) : step},
                                          {"scenario", mode},
                                          {"proto", proto},
                                          {"messages", config.messages},
                                          {"size", config.size},
                                          {"rate", rate},
                                          {"sndbuf", config.sndbuf},
                                          {"relay", config.relay},
                                          {"link_loss", config.link_loss},
                                          {"seed", config.seed},
                                          {"host", options.host}});
    run.within(run_lab(options, config, result));
    run.summary([&, mode, proto](std::ostream& out) {
      out << "netlab-transport-client --mode " << mode;
      if (config.mode == Mode::stream)
        out << " --proto " << proto << ": " << config.messages << " messages of " << config.size << " bytes, rate "
            << rate;
      else if (config.mode == Mode::congestion)
        out << ": flows of " << config.congestion.seconds << " s through a "
            << static_cast<double>(config.congestion.bottleneck_kbit) / 1000 << " Mbit/s bottleneck";
      else
        out << ": port " << result.observed().at("semantics").at("dead_port") << " (nothing there) and port "
            << options.port << " (the server)";
      out << "\n";
      print_summary(out, result);
    });
  });
}
