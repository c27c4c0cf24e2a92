// netlab-http-client — the http lab's client (http code / http header).
//
//   --tour       walk every route on one keep-alive connection and print the
//                request line, the status line and the headers that matter, with
//                one line on why (401 = "who are you?", 403 = "I know you, and no");
//                then one malformed request on a connection of its own (400, closed).
//   --auth-flow  /private, /admin and /old as a browser asks them: credentials
//                only after a 401 with WWW-Authenticate, a 403 not retried, a 301
//                followed; the server (--auth-flow-checks) grades what it saw.
//   --keepalive  N requests over one persistent connection;
//   --close      N requests, each with Connection: close (a connection each).
//                Both report connections opened, requests/s and the TIME_WAIT
//                left behind, counted by the socket census on our own ports —
//                with close the server closes first, so the TIME_WAIT is the
//                server's: the timewait lab, seen from HTTP.
// Without any of them, --tour, --keepalive and --close run. Verdicts come from this run's counts.
#include "http/hol.hpp"
#include "http/http.hpp"
#include "io/coro.hpp"
#include "io/net.hpp"
#include "kernel/census.hpp"
#include "program/client.hpp"
#include "program/logging.hpp"
#include "program/options.hpp"
#include "program/result.hpp"
#include "proto/http_basics.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>

#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

namespace {

using namespace netlab;
using namespace netlab::http_lab;
using asio::awaitable;

const ProgramInfo program_info{
    "http", "The http lab's client: a tour of status codes and headers, keep-alive against close.", 7080, 60};

// The run's parameters (the result's "params").
struct Params {
  bool tour = false, auth_flow = false, keepalive = false, close = false;
  std::size_t requests = 0;
  std::string host;
};
BOOST_DESCRIBE_STRUCT(Params, (), (tour, auth_flow, keepalive, close, requests, host))

// ---- keep-alive against Connection: close ---------------------------------------

struct Phase {
  std::size_t requests = 0;
  std::size_t connections = 0;
  std::set<std::string> server_connection_ids;  // X-Netlab-Connection values seen
  std::set<std::uint16_t> local_ports;          // our ephemeral ports: the census counts only these
  double seconds = 0;
  std::size_t time_wait_server = 0;  // TIME_WAIT held by the server's side of our connections
  std::size_t time_wait_client = 0;  // ... and by ours
  std::optional<bool> so_keepalive_ours, keepalive_timer_server;  // TCP keep-alive, on the reused connection
  double rate() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
};

// Our connections' sockets, both ends, once every close has run its course:
// bounded polling, since the last FIN may still be crossing loopback.
awaitable<void> count_time_wait(std::uint16_t server_port, Phase& phase) {
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (int attempt = 0; attempt < 200; ++attempt) {
    std::size_t server_tw = 0, client_tw = 0, unsettled = 0;
    for (const auto& s : both_ends(server_port)) {
      const bool server_end = s.local_port == server_port;
      if (!phase.local_ports.count(server_end ? s.remote_port : s.local_port)) continue;
      (s.state != TcpState::time_wait ? unsettled : server_end ? server_tw : client_tw)++;
    }
    phase.time_wait_server = server_tw;
    phase.time_wait_client = client_tw;
    if (unsettled == 0) co_return;
    pause.expires_after(std::chrono::milliseconds(10));
    co_await pause.async_wait(use_tuple);
  }
}

// HTTP keep-alive is not TCP keep-alive: on the idle reused connection, is
// SO_KEEPALIVE on on our socket, and is the server's end's keep-alive timer
// armed (the census shows it once no retransmission timer hides it)?
awaitable<void> read_tcp_keepalive(tcp::socket& socket, std::uint16_t server_port, Phase& phase) {
  int on = 0;
  socklen_t length = sizeof on;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_KEEPALIVE, &on, &length) == 0) phase.so_keepalive_ours = on;
  const auto ours = socket.local_endpoint().port();
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (int attempt = 0; attempt < 50; ++attempt) {
    for (const auto& s : both_ends(server_port))
      if (s.local_port == server_port && s.remote_port == ours && s.timer != SocketTimer::retransmit)
        phase.keepalive_timer_server = s.timer == SocketTimer::keepalive;
    if (phase.keepalive_timer_server) co_return;
    pause.expires_after(std::chrono::milliseconds(10));
    co_await pause.async_wait(use_tuple);
  }
}

awaitable<void> run_phase(const CommonOptions& options, std::size_t requests, bool keep_alive, Phase& phase) {
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  const auto started = Clock::now();
  for (std::size_t i = 0; i < requests; ++i) {
    if (!stream) {
      stream.emplace(co_await open_connection(options));
      ++phase.connections;
      phase.local_ports.insert(stream->socket().local_endpoint().port());
      buffer.clear();
    }
    auto req = make_request(http::verb::get, "/", options, std::nullopt, keep_alive);
    const auto res = co_await exchange(*stream, buffer, req);
    if (res.result() != http::status::ok) throw std::runtime_error("GET / answered " + status_line(res));
    ++phase.requests;
    if (auto id = res.find("X-Netlab-Connection"); id != res.end())
      phase.server_connection_ids.insert(std::string(id->value()));
    if (!res.keep_alive()) {
      co_await drain_until_eof(*stream);
      stream.reset();  // closed second: no TIME_WAIT on our side
    }
  }
  // The look at TCP keep-alive (census samples, up to 0.5 s) is not part of the timed requests.
  Clock::duration looking{};
  if (stream) {
    const auto look_started = Clock::now();
    co_await read_tcp_keepalive(stream->socket(), options.port, phase);
    looking = Clock::now() - look_started;
  }
  // Keep-alive: we are done, so we close first — one TIME_WAIT, ours.
  stream.reset();
  phase.seconds = std::chrono::duration<double>(Clock::now() - started - looking).count();
  co_await count_time_wait(options.port, phase);
}

PhaseRow row(const Phase& p) {
  return {.requests = p.requests,
          .connections = p.connections,
          .server_connection_ids = p.server_connection_ids.size(),
          .seconds = p.seconds,
          .requests_per_s = p.rate(),
          .time_wait_server_side = p.time_wait_server,
          .time_wait_client_side = p.time_wait_client,
          .so_keepalive_ours = p.so_keepalive_ours,
          .keepalive_timer_server = p.keepalive_timer_server};
}

void add_phase_checks(const Config& config, const Phase& ka, const Phase& cl, Observed& o, Result& result) {
  const std::size_t n = config.requests;
  const auto describe_phase = [](const Phase& p) {
    return std::to_string(p.requests) + " requests over " + std::to_string(p.connections) + " connection(s) (" +
           std::to_string(p.server_connection_ids.size()) + " seen by the server)";
  };
  if (config.keepalive) {
    bool reused = ka.connections == 1 && ka.server_connection_ids.size() == 1 && ka.requests == n;
    std::string observed = "keep-alive: " + describe_phase(ka);
    if (config.close) {
      reused = reused && cl.connections == n && cl.server_connection_ids.size() == n;
      observed += "; Connection: close: " + describe_phase(cl);
    }
    result.add_check({.id = "keepalive-reuses-connection",
                      .claim = "keep-alive reuses one connection for many requests",
                      .expected = "1 connection for " + std::to_string(n) + " requests" +
                                  (config.close ? ", " + std::to_string(n) + " with Connection: close" : ""),
                      .observed = observed,
                      .verdict = reused ? Verdict::confirmed : Verdict::refuted,
                      .evidence = "connections opened by the client; X-Netlab-Connection ids answered by the server"});
    const bool measured = ka.so_keepalive_ours && ka.keepalive_timer_server, one = ka.connections == 1;
    const auto on_off = [](const std::optional<bool>& b) { return b ? (*b ? "on" : "off") : "?"; };
    result.add_check(
        {.id = "http-keep-alive-is-not-tcp-keepalive",
         .claim = "asked next: HTTP keep-alive (reusing the connection) is not TCP keep-alive (probes on an idle one)",
         .expected = "one connection for every request, with TCP keep-alive off on both ends",
         .observed = describe_phase(ka) + "; on it, idle: SO_KEEPALIVE " + on_off(ka.so_keepalive_ours) +
                     " on ours, the server's keep-alive timer " + on_off(ka.keepalive_timer_server),
         .verdict = !measured || !one                                       ? Verdict::skipped
                    : !*ka.so_keepalive_ours && !*ka.keepalive_timer_server ? Verdict::confirmed
                                                                            : Verdict::nuanced,
         .evidence = "getsockopt(SO_KEEPALIVE) on our socket; the server's end in the socket census (sock_diag "
                     "timer: keepalive when SO_KEEPALIVE is set); connections opened by the client"});
  }
  if (config.close) {
    const bool per_request = cl.time_wait_server == cl.connections && cl.time_wait_client == 0;
    std::string observed = "Connection: close left " + std::to_string(cl.time_wait_server) +
                           " TIME_WAIT on the server's side and " + std::to_string(cl.time_wait_client) + " on ours";
    if (config.keepalive)
      observed +=
          "; keep-alive left " + std::to_string(ka.time_wait_server) + " and " + std::to_string(ka.time_wait_client);
    result.add_check(
        {.id = "close-leaves-server-time-wait",
         .claim =
             "short connections pile up TIME_WAIT on the side that closes first — with Connection: close, the server",
         .expected = "one server-side TIME_WAIT per request with close" +
                     std::string(config.keepalive ? ", at most one (ours) with keep-alive" : ""),
         .observed = observed,
         .verdict = per_request                                           ? Verdict::confirmed
                    : cl.time_wait_server == 0 && cl.time_wait_client > 0 ? Verdict::refuted
                                                                          : Verdict::nuanced,
         .evidence = per_request
                         ? "socket census (sock_diag) of our own ephemeral ports, both ends"
                         : "fewer than one per request: see net.ipv4.tcp_max_tw_buckets, or a close raced the census"});
  }
  if (config.keepalive && config.close && cl.rate() > 0) {
    const double ratio = ka.rate() / cl.rate();
    std::ostringstream observed;
    observed.precision(3);
    observed << "keep-alive " << ka.rate() << " requests/s, close " << cl.rate() << " requests/s (x" << ratio << ")";
    o.keepalive_rate_ratio = ratio;
    result.set_observed(o);
    result.add_check({.id = "keepalive-faster",
                      .claim = "keep-alive saves a handshake and a teardown per request",
                      .expected = "keep-alive at least 1.2x the request rate of Connection: close",
                      .observed = observed.str(),
                      .verdict = ratio >= 1.2   ? Verdict::confirmed
                                 : ratio >= 0.8 ? Verdict::nuanced
                                                : Verdict::refuted,
                      .evidence = ratio >= 1.2
                                      ? "requests/s measured on loopback in this run"
                                      : "on loopback a handshake costs microseconds; over a real RTT the gap widens"});
  }
}

awaitable<void> run_lab(const CommonOptions& options, const Config& config, std::string& printed, Observed& observed,
                        Result& result) {
  if (!config.curl_observed.empty()) {
    grade_curl(config.curl_observed, observed, result);
    co_return;
  }
  if (!config.hol_observed.empty()) {
    observed.hol.emplace();
    result.add_check(hol::grade_manifest(config.hol_observed, printed, *observed.hol).check);
    result.set_observed(observed);
    co_return;
  }
  if (!config.h2load_observed.empty()) {
    grade_h2load(config.h2load_observed, result);
    co_return;
  }
  if (config.tour) co_await run_tour(options, config, printed, observed);
  if (config.auth_flow) co_await run_auth_flow(options, config, printed, observed);
  result.set_observed(observed);
  Phase ka, cl;
  if (config.keepalive) {
    co_await run_phase(options, config.requests, true, ka);
    observed.keepalive = row(ka);
    result.set_observed(observed);
  }
  if (config.close) {
    co_await run_phase(options, config.requests, false, cl);
    observed.close = row(cl);
    result.set_observed(observed);
  }
  add_phase_checks(config, ka, cl, observed, result);
}

void print_summary(std::ostream& out, const Config& config, const std::string& tour, const Observed& o) {
  out << "netlab-http-client" << (config.tour ? " --tour" : "") << (config.auth_flow ? " --auth-flow" : "")
      << (config.keepalive ? " --keepalive" : "") << (config.close ? " --close" : "")
      << (config.curl_observed.empty() ? "" : " --curl-observed " + config.curl_observed)
      << (config.hol_observed.empty() ? "" : " --hol-observed " + config.hol_observed)
      << (config.h2load_observed.empty() ? "" : " --h2load-observed " + config.h2load_observed) << "\n";
  out << tour;
  if (o.curl)
    for (const auto& [condition, seen] : *o.curl) out << "  curl " << condition << ": " << seen << "\n";
  for (const auto& [mode, phase] : {std::pair{"keepalive", &o.keepalive}, std::pair{"close", &o.close}}) {
    if (!*phase) continue;
    const auto& p = **phase;
    out << "  " << mode << ": " << p.requests << " requests, " << p.connections << " connection(s), "
        << static_cast<long>(p.requests_per_s) << " requests/s, TIME_WAIT left: " << p.time_wait_server_side
        << " server side, " << p.time_wait_client_side << " client side\n";
  }
}

std::optional<Credentials> parse_credentials(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  return Credentials{text.substr(0, colon), text.substr(colon + 1)};
}

}  // namespace

int http_client(ClientProgram& program, CLI::App& app, Config& config) {
  std::string reader = "alice:wonderland", admin = "admin:secret";
  app.add_flag("--tour", config.tour, "walk every route and explain each status code");
  app.add_flag("--auth-flow", config.auth_flow,
               "ask /private, /admin and /old as a browser does: credentials (--reader) only after a 401 with "
               "WWW-Authenticate, no retry of a 403, a 301 followed (graded by a server run with --auth-flow-checks)");
  app.add_option("--curl-observed", config.curl_observed,
                 "grade the status classes as curl met them (a file scripts/labs/http.sh writes); nothing else runs");
  app.add_option("--hol-observed", config.hol_observed,
                 "grade head-of-line blocking from h2load's runs across the lossy wire (hol.tsv, which "
                 "scripts/labs/http.sh writes); nothing else runs");
  app.add_option("--h2load-observed", config.h2load_observed,
                 "grade HTTP/2 as h2load and curl met it (a file scripts/labs/http.sh writes); nothing else runs");
  app.add_flag("--keepalive", config.keepalive, "--requests over one persistent connection");
  app.add_flag("--close", config.close, "--requests each with Connection: close");
  add_bounded_option(app, "--requests", config.requests, "requests for --keepalive and --close", std::size_t{1},
                     std::size_t{10'000});
  app.add_option("--reader", reader, "USER:PASSWORD of a known user who is not admin")->capture_default_str();
  app.add_option("--admin", admin, "USER:PASSWORD of the admin")->capture_default_str();
  program.check_usage([&] {
    const auto reader_credentials = parse_credentials(reader), admin_credentials = parse_credentials(admin);
    if (!reader_credentials || !admin_credentials)
      throw UsageError("--reader and --admin take USER:PASSWORD (see --help)");
    config.reader = *reader_credentials;
    config.admin = *admin_credentials;
    if (!config.tour && !config.auth_flow && !config.keepalive && !config.close && config.curl_observed.empty() &&
        config.hol_observed.empty() && config.h2load_observed.empty())
      config.tour = config.keepalive = config.close = true;
  });
  Observed observed;  // kept here: the summary reads it after the body has returned
  return program.run([&](ClientRun& run) {
    Result& result = run.result();
    result.set_params(Params{.tour = config.tour,
                             .auth_flow = config.auth_flow,
                             .keepalive = config.keepalive,
                             .close = config.close,
                             .requests = config.requests,
                             .host = run.options().host});
    std::string tour;
    run.within(run_lab(run.options(), config, tour, observed, result));
    run.summary([&, tour](std::ostream& out) { print_summary(out, config, tour, observed); });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, http_client); }
