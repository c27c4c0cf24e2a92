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
// --mode probes-capture --pcap FILE: the persist timer's probes in a capture (transport/persist.hpp).
// --mode window / window-verdicts: the window over a long path (transport/window.hpp).
// --mode overhead-capture --pcap FILE: the bytes per message counted in the
// capture of a --proto both run (made with --overhead-by-capture), for tcp-costs-more.
// Every verdict is computed from what this run measured.
#include "io/net.hpp"
#include "io/stats.hpp"
#include "kernel/transport_kernel.hpp"
#include "program/client.hpp"
#include "program/logging.hpp"
#include "program/options.hpp"
#include "program/result.hpp"
#include "proto/transport_message.hpp"
#include "transport/checks.hpp"
#include "transport/congestion.hpp"
#include "transport/persist.hpp"
#include "transport/stream.hpp"
#include "transport/window.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <iostream>

namespace {

using namespace netlab;
namespace tr = netlab::transport;
namespace json = boost::json;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using tr::now_us;
using tr::sample_window;
using tr::seconds_since;
using tr::SendTally;
using tr::server_program;

enum class Proto { tcp, udp, both };
enum class Mode { stream, semantics, congestion, overhead_capture, window, window_verdicts, probes_capture };

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
  tr::WindowConfig window;
  std::string pcap;  // overhead-capture: the capture to count
  tr::OverheadCheck overhead_check = tr::OverheadCheck::from_headers;
};

// The result's "params": this run's options.
struct Params {
  std::string mode;      // --step, or the mode
  std::string scenario;  // the mode
  std::string proto;
  std::size_t messages = 0, size = 0;
  std::string rate;  // messages per second, or "max"
  int sndbuf = 0;
  bool relay = false;
  double link_loss = 0;
  std::uint64_t seed = 0;
  std::string host;
};
BOOST_DESCRIBE_STRUCT(Params, (), (mode, scenario, proto, messages, size, rate, sndbuf, relay, link_loss, seed, host))

// ---- UDP: the stream, then "done" ----------------------------------------------

awaitable<tr::UdpStream> udp_stream(const CommonOptions& options, const Config& config) {
  const asio::ip::udp::endpoint to(asio::ip::make_address(options.host), options.port);
  asio::ip::udp::socket socket(co_await asio::this_coro::executor, asio::ip::udp::v4());
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
  tr::UdpStream result{.sent = config.messages,
                       .bytes_sent = bytes,
                       .send_seconds = send_seconds,
                       .done_attempts = attempts,
                       .server = tr::read_account(std::move(server))};
  if (config.relay) {
    int relay_attempts = 0;
    auto reply = co_await tr::ask(socket, tr::Kind::relay_query, 0, tr::Kind::relay_report, config.done_attempts,
                                  config.done_interval_ms, "netlab-relay", relay_attempts);
    result.relay = tr::read_relay(reply.at("session").as_object());
  }
  co_return result;
}

// ---- TCP: the stream, flow control seen from the sender --------------------------

awaitable<tr::TcpStream> tcp_stream(const CommonOptions& options, const Config& config) {
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

  tr::TcpStream result{.sent = config.messages,
                       .bytes_sent = bytes,
                       .bytes_received = bytes_in,
                       .send_seconds = send_seconds,
                       .would_block = tally.would_block,
                       .blocked_seconds = tally.blocked_seconds,
                       .server = tr::read_account(json::parse(report->payload).as_object())};
  if (tally.min_peer_window != UINT32_MAX) {
    result.min_peer_window = tally.min_peer_window;
    result.zero_window_samples = tally.zero_window_samples;
  }
  if (flow) {
    result.total_retrans = flow->total_retrans;
    result.segs_out = flow->segs_out;
    result.segs_in = flow->segs_in;
    result.rwnd_limited_ms = static_cast<double>(flow->rwnd_limited_us) / 1000.0;
    result.sndbuf_limited_ms = static_cast<double>(flow->sndbuf_limited_us) / 1000.0;
    result.timestamps = flow->timestamps;
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
awaitable<std::string> wait_for_anything(asio::ip::udp::socket& socket, int ms) {
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(std::chrono::milliseconds(ms));
  std::vector<char> buffer(65536);
  asio::ip::udp::endpoint from;
  auto got = co_await (socket.async_receive_from(asio::buffer(buffer), from, use_tuple) || timer.async_wait(use_tuple));
  if (got.index() == 1) co_return "";
  auto [ec, n] = std::get<0>(got);
  co_return ec ? ec.message() : "a " + std::to_string(n) + "-byte datagram";
}

awaitable<tr::Semantics> semantics(const CommonOptions& options, const Config& config) {
  auto executor = co_await asio::this_coro::executor;
  const auto address = asio::ip::make_address(options.host);
  const std::uint16_t dead = config.dead_port ? config.dead_port : pick_dead_port(executor, options.host);
  std::string message;
  tr::encode(tr::Kind::data, 0, now_us(), std::string(config.size, 'x'), message);
  tr::Semantics out;
  out.dead_port = dead;

  // TCP: connect needs the other side to answer; nobody there, the kernel answers RST.
  tcp::socket tcp_probe(executor);
  auto t0 = Clock::now();
  auto [connect_ec] = co_await tcp_probe.async_connect({address, dead}, use_tuple);
  out.tcp_connect_error = connect_ec ? connect_ec.message() : "none (it connected)";
  out.tcp_connect_refused = connect_ec == asio::error::connection_refused;
  out.tcp_connect_ms = seconds_since(t0) * 1000;

  // UDP unconnected: sendto hands the datagram to the kernel and returns; the
  // ICMP "port unreachable" that comes back is not reported to this socket.
  asio::ip::udp::socket loose(executor, asio::ip::udp::v4());
  auto [send_ec, sent] =
      co_await loose.async_send_to(asio::buffer(message), asio::ip::udp::endpoint(address, dead), use_tuple);
  out.udp_sendto_error = send_ec ? send_ec.message() : "none";
  out.udp_sendto_bytes = sent;
  out.udp_unconnected_then = co_await wait_for_anything(loose, 300);

  // UDP connected: same datagram, but now the kernel ties the ICMP error to us.
  asio::ip::udp::socket tied(executor, asio::ip::udp::v4());
  tied.connect({address, dead});
  auto [tied_ec, tied_sent] = co_await tied.async_send(asio::buffer(message), use_tuple);
  (void)tied_sent;
  out.udp_connected_send_error = tied_ec ? tied_ec.message() : "none";
  const std::string then = co_await wait_for_anything(tied, 1000);
  out.udp_connected_then = then.empty() ? "nothing within 1 s" : then;
  out.udp_connected_refused = then == asio::error::make_error_code(asio::error::connection_refused).message();

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
    if (flow) out.tcp_one_message = tr::OneMessage{flow->segs_out, flow->segs_in, flow->segs_out + flow->segs_in};
  }
  // ... and over UDP: one datagram. We ask the server afterwards whether it came.
  {
    asio::ip::udp::socket socket(executor, asio::ip::udp::v4());
    socket.connect({address, options.port});
    auto [ec, n] = co_await socket.async_send(asio::buffer(message), use_tuple);
    (void)n;
    if (ec) throw tr::udp_failure({address, options.port}, ec);
    int attempts = 0;
    const auto report = co_await tr::ask(socket, tr::Kind::done, 1, tr::Kind::report, config.done_attempts,
                                         config.done_interval_ms, tr::server_program, attempts);
    out.udp_one_message_packets = 1;
    out.udp_one_message_arrived = tr::read_account(report).unique == 1;
  }
  co_return out;
}

// ---- the run -------------------------------------------------------------------------

// Each part goes into the result as soon as it is measured.
awaitable<void> run_lab(const CommonOptions& options, const Config& config, Result& result, tr::Observed& observed) {
  if (config.mode == Mode::congestion) {
    co_await tr::run_congestion(options, config.congestion, result);
    co_return;
  }
  if (config.mode == Mode::probes_capture) {
    const auto probes = tr::capture_probes(config.pcap, options.port);
    result.set_observed(tr::PersistObserved{probes});
    tr::probes_check(result, probes);
    co_return;
  }
  if (config.mode == Mode::window) {
    co_await tr::run_window(options, config.window, result);
    co_return;
  }
  if (config.mode == Mode::window_verdicts) {
    tr::window_verdicts(config.window, result);
    co_return;
  }
  if (config.mode == Mode::overhead_capture) {
    observed.overhead = tr::capture_overhead(config.pcap, options.port, config.messages);
    result.set_observed(observed);
    if (observed.overhead->tcp_packets_per_message > 0 && observed.overhead->udp_packets_per_message > 0)
      tr::costs_more_check(result, *observed.overhead);
    else
      result.add_check({.id = "tcp-costs-more",
                        .claim = "TCP is heavier: more header bytes and packets per message",
                        .expected = "more bytes on the wire per message over TCP than over UDP",
                        .observed = "not run",
                        .verdict = Verdict::skipped,
                        .evidence = "the capture " + config.pcap + " holds no TCP or no UDP packet on port " +
                                    std::to_string(options.port)});
    co_return;
  }
  if (config.mode == Mode::semantics) {
    observed.semantics = co_await semantics(options, config);
    result.set_observed(observed);
    tr::semantics_checks(result, *observed.semantics);
    co_return;
  }
  if (config.proto != Proto::udp) {
    observed.tcp = co_await tcp_stream(options, config);
    result.set_observed(observed);
    tr::tcp_checks(result, *observed.tcp);
  }
  if (config.proto != Proto::tcp) {
    observed.udp = co_await udp_stream(options, config);
    result.set_observed(observed);
    tr::udp_checks(result, *observed.udp, config.relay, config.link_loss);
  }
  if (config.proto == Proto::both) {
    observed.overhead = tr::comparison_checks(result, *observed.tcp, *observed.udp, config.overhead_check);
    result.set_observed(observed);
  }
}

void print_summary(std::ostream& out, const tr::Observed& observed, const Result& result) {
  if (observed.tcp) out << "  tcp: " << tr::account_text(observed.tcp->server) << "\n";
  if (observed.udp) out << "  udp: " << tr::account_text(observed.udp->server) << "\n";
  out << render_checks(result.checks());
}

}  // namespace

int main(int argc, char** argv) {
  ClientProgram program(
      "transport", "The tcp和udp lab's client: one numbered stream over TCP and UDP, set against the server's account.",
      7001, 60);
  auto& app = program.app();
  Config config;
  std::string rate = "max";
  std::string step;
  app.add_option("--proto", config.proto, "tcp | udp | both")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, Proto>{{"tcp", Proto::tcp}, {"udp", Proto::udp}, {"both", Proto::both}}))
      ->capture_default_str();
  app.add_option("--mode", config.mode,
                 "stream | semantics | congestion | overhead-capture | window | window-verdicts | probes-capture")
      ->transform(CLI::CheckedTransformer(std::map<std::string, Mode>{{"stream", Mode::stream},
                                                                      {"semantics", Mode::semantics},
                                                                      {"congestion", Mode::congestion},
                                                                      {"overhead-capture", Mode::overhead_capture},
                                                                      {"window", Mode::window},
                                                                      {"window-verdicts", Mode::window_verdicts},
                                                                      {"probes-capture", Mode::probes_capture}}))
      ->capture_default_str();
  app.add_option("--window-case", config.window.window_case, "window: this flow's name (small, autotuned, unscaled)")
      ->capture_default_str();
  app.add_option("--window-seconds", config.window.seconds, "window: how long the flow sends")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 60.0));
  app.add_option("--runs", config.window.runs, "window-verdicts: the small, autotuned and unscaled flows' results")
      ->delimiter(',');
  app.add_option("--pcap", config.pcap, "overhead-capture: the capture of a --proto both run (on --port)");
  app.add_flag_function(
      "--overhead-by-capture", [&](std::int64_t) { config.overhead_check = tr::OverheadCheck::from_capture; },
      "stream: leave tcp-costs-more to --mode overhead-capture over this run's capture");
  auto& cc = config.congestion;
  app.add_option("--scenario", cc.scenarios, "congestion: single share udp algorithms (any of them)")
      ->check(CLI::IsMember({"single", "share", "udp", "algorithms"}))
      ->delimiter(',');
  app.add_option("--seconds", cc.seconds, "congestion: how long each flow sends")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 120.0));
  app.add_option("--sample-ms", cc.sample_ms, "congestion: TCP_INFO every this many ms")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1000.0));
  app.add_option("--bottleneck-kbit", cc.bottleneck_kbit,
                 "congestion: the bottleneck's rate (what netlab-wire was given)")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}));
  app.add_option("--udp-factor", cc.udp_factor, "congestion: the UDP sender's rate, times the bottleneck")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 10.0));
  app.add_option("--cc", cc.algorithms, "congestion: algorithms for the algorithms scenario (default cubic,reno,bbr)")
      ->delimiter(',');
  app.add_option("--wire-events", cc.wire_events,
                 "congestion: netlab-wire's --events file, to set its drops beside TCP_INFO");
  app.add_option("--csv", cc.csv, "congestion: write every TCP_INFO sample here");
  app.add_option("--svg", cc.svg, "congestion: draw cwnd and the queue here (and NAME-algorithms.svg)");
  app.add_option("--messages", config.messages, "messages per protocol")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  app.add_option("--size", config.size, "payload bytes per message (a 32-byte header is added)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{0}, tr::max_payload));
  app.add_option("--rate", rate, "messages per second, or max")->capture_default_str()->check([](const std::string& v) {
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
      ->capture_default_str()
      ->check(CLI::Range(0, 64 << 20));
  app.add_option("--link-loss", config.link_loss, "the share the lossy link drops (for the report only)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--dead-port", config.dead_port, "semantics: a port where nothing listens (0 = pick one)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--done-attempts", config.done_attempts, "how often UDP 'done' is sent before giving up")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--done-interval-ms", config.done_interval_ms, "wait for a report this long per attempt")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000));
  program.check_usage([&] {
    if ((config.mode == Mode::overhead_capture || config.mode == Mode::probes_capture) != !config.pcap.empty())
      throw UsageError("--pcap goes with --mode overhead-capture or probes-capture, and they need one");
    if ((config.mode == Mode::window_verdicts) != !config.window.runs.empty() ||
        (!config.window.runs.empty() && config.window.runs.size() != 3))
      throw UsageError("--runs SMALL,AUTOTUNED,UNSCALED goes with --mode window-verdicts, and it needs all three");
  });
  tr::Observed observed;  // --mode stream and semantics: what the run measured (the summary reads it)
  return program.run(argc, argv, [&](ClientRun& run) {
    const auto& options = run.options();
    config.rate = rate == "max" ? 0 : std::stod(rate);
    config.seed = options.seed;
    config.congestion.seed = options.seed;
    config.window.seed = options.seed;
    if (app.count("--size") > 0) config.congestion.size = config.size;  // else full-sized segments
    Result& result = run.result();
    const char* mode = config.mode == Mode::stream            ? "stream"
                       : config.mode == Mode::semantics       ? "semantics"
                       : config.mode == Mode::congestion      ? "congestion"
                       : config.mode == Mode::window          ? "window"
                       : config.mode == Mode::window_verdicts ? "window-verdicts"
                       : config.mode == Mode::probes_capture  ? "probes-capture"
                                                              : "overhead-capture";
    const char* proto = config.proto == Proto::tcp ? "tcp" : config.proto == Proto::udp ? "udp" : "both";
    result.set_params(Params{.mode = step.empty() ? std::string(mode) : step,
                             .scenario = mode,
                             .proto = proto,
                             .messages = config.messages,
                             .size = config.size,
                             .rate = rate,
                             .sndbuf = config.sndbuf,
                             .relay = config.relay,
                             .link_loss = config.link_loss,
                             .seed = config.seed,
                             .host = options.host});
    run.within(run_lab(options, config, result, observed));
    run.summary([&, mode, proto](std::ostream& out) {
      out << "netlab-transport-client --mode " << mode;
      if (config.mode == Mode::stream)
        out << " --proto " << proto << ": " << config.messages << " messages of " << config.size << " bytes, rate "
            << rate;
      else if (config.mode == Mode::overhead_capture)
        out << ": " << config.pcap << ", " << config.messages << " messages over each protocol";
      else if (config.mode == Mode::window || config.mode == Mode::window_verdicts)
        out << ": the window over a long path";
      else if (config.mode == Mode::probes_capture)
        out << ": zero-window probes in " << config.pcap;
      else if (config.mode == Mode::congestion)
        out << ": flows of " << config.congestion.seconds << " s through a "
            << static_cast<double>(config.congestion.bottleneck_kbit) / 1000 << " Mbit/s bottleneck";
      else
        out << ": port " << observed.semantics->dead_port << " (nothing there) and port " << options.port
            << " (the server)";
      out << "\n";
      print_summary(out, observed, result);
    });
  });
}
