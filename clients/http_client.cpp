// netlab-http-client — the http lab's client (http code / http header).
//
//   --tour       walk every route on one keep-alive connection and print the
//                request line, the status line and the headers that matter, with
//                one line on why (401 = "who are you?", 403 = "I know you, and no");
//                then one malformed request on a connection of its own (400, closed).
//   --keepalive  N requests over one persistent connection;
//   --close      N requests, each with Connection: close (a connection each).
//                Both report connections opened, requests/s and the TIME_WAIT
//                left behind, counted by the socket census on our own ports —
//                with close the server closes first, so the TIME_WAIT is the
//                server's: the timewait lab, seen from HTTP.
// Without any of the three, all three run. Verdicts come from this run's counts.
#include "kernel/census.hpp"
#include "proto/http_basics.hpp"
#include "program/client.hpp"
#include "program/logging.hpp"
#include "io/net.hpp"
#include "program/options.hpp"
#include "program/result.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

#include <iostream>
#include <set>
#include <sstream>

namespace {

using namespace netlab;
using asio::awaitable;
namespace beast = boost::beast;
namespace http = beast::http;
using http_basics::Credentials;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct Config {
  bool tour = false;
  bool keepalive = false;
  bool close = false;
  std::size_t requests = 200;
  Credentials reader{"alice", "wonderland"};
  Credentials admin{"admin", "secret"};
};

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

constexpr auto io_timeout = std::chrono::seconds(10);

awaitable<beast::tcp_stream> open_connection(const CommonOptions& options) {
  co_return beast::tcp_stream(co_await connect_to(options.host, options.port, "netlab-http-server"));
}

Request make_request(http::verb method, std::string target, const CommonOptions& options,
                     const std::optional<Credentials>& credentials, bool keep_alive) {
  Request req{method, target, 11};
  req.set(http::field::host, options.host + ":" + std::to_string(options.port));
  req.set(http::field::user_agent, "netlab-http-client/0.1");
  if (credentials) req.set(http::field::authorization, http_basics::basic_authorization(*credentials));
  req.keep_alive(keep_alive);
  req.prepare_payload();
  return req;
}

awaitable<Response> exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer, Request& req) {
  stream.expires_after(io_timeout);
  if (auto [ec, n] = co_await http::async_write(stream, req, use_tuple); ec) throw failure("write request", ec);
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  if (auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple); ec) throw failure("read response", ec);
  co_return parser.release();
}

// After Connection: close the server's FIN follows the response; wait for it,
// so the server is the side that closed first.
awaitable<void> drain_until_eof(beast::tcp_stream& stream) {
  std::array<char, 512> scratch;
  stream.expires_after(io_timeout);
  for (int reads = 0; reads < 1000; ++reads) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), use_tuple);
    if (ec == asio::error::eof) co_return;
    if (ec) throw failure("wait for the server's FIN", ec);
  }
}

std::string status_line(const Response& res) {
  return "HTTP/1.1 " + std::to_string(res.result_int()) + " " + std::string(res.reason());
}

// ---- the tour ----------------------------------------------------------------

// The tour's requests, by name: the checks look their statuses up by these.
enum class Ask {
  root, old, missing, post_root, private_anonymous, private_wrong_password, private_reader,
  admin_anonymous, admin_reader, admin_admin, headers
};

struct Step {
  Ask ask;
  http::verb method;
  std::string target;
  std::optional<Credentials> credentials;
  std::string who;  // how the credentials are described
  unsigned expected;
  std::string why;
};

std::string headers_that_matter(const Response& res) {
  std::string out;
  for (auto field : {http::field::location, http::field::www_authenticate, http::field::allow,
                     http::field::content_type, http::field::content_length, http::field::transfer_encoding,
                     http::field::connection})
    if (auto it = res.find(field); it != res.end())
      out += "    " + std::string(it->name_string()) + ": " + std::string(it->value()) + "\n";
  return out;
}

awaitable<void> run_tour(const CommonOptions& options, const Config& config, std::string& printed, Result& result) {
  const Credentials wrong{config.reader.user, config.reader.password + "-wrong"};
  const std::vector<Step> steps{
      {Ask::root, http::verb::get, "/", {}, "", 200, "200 = here it is"},
      {Ask::old, http::verb::get, "/old", {}, "", 301, "301 = moved for good; the client follows Location"},
      {Ask::missing, http::verb::get, "/missing", {}, "", 404, "404 = no such resource"},
      {Ask::post_root, http::verb::post, "/", {}, "", 405, "405 = the resource exists, not for this method; Allow lists the ones that work"},
      {Ask::private_anonymous, http::verb::get, "/private", {}, "no credentials", 401, "401 = \"who are you?\": WWW-Authenticate says how to log in"},
      {Ask::private_wrong_password, http::verb::get, "/private", wrong, wrong.user + " with a wrong password", 401, "401 again: wrong credentials are no credentials"},
      {Ask::private_reader, http::verb::get, "/private", config.reader, config.reader.user, 200, "200: known user"},
      {Ask::admin_anonymous, http::verb::get, "/admin", {}, "no credentials", 401, "401 = \"who are you?\""},
      {Ask::admin_reader, http::verb::get, "/admin", config.reader, config.reader.user, 403, "403 = \"I know you, and no\": logging in again cannot help"},
      {Ask::admin_admin, http::verb::get, "/admin", config.admin, config.admin.user, 200, "200: the admin may"},
      {Ask::headers, http::verb::get, "/headers", {}, "", 200, "200, the server echoes the request headers it received"},
  };
  auto stream = co_await open_connection(options);
  spdlog::info("UP   {} (tour)", describe_connection(stream.socket()));
  beast::flat_buffer buffer;
  boost::json::array tour;
  std::ostringstream out;
  std::set<std::string> connection_ids;
  std::size_t matched = 0;
  std::map<Ask, unsigned> got;  // the status each request was answered with
  for (const auto& step : steps) {
    auto req = make_request(step.method, step.target, options, step.credentials, true);
    const auto res = co_await exchange(stream, buffer, req);
    const unsigned status = res.result_int();
    matched += status == step.expected;
    got[step.ask] = status;
    if (auto id = res.find("X-Netlab-Connection"); id != res.end()) connection_ids.insert(std::string(id->value()));
    out << req.method_string() << " " << step.target << " HTTP/1.1" << (step.who.empty() ? "" : "   (" + step.who + ")")
        << "\n  " << status_line(res) << (status == step.expected ? "" : "   <- expected " + std::to_string(step.expected))
        << "\n" << headers_that_matter(res) << "    why: " << step.why << "\n";
    boost::json::object headers;
    for (const auto& field : res) headers[std::string(field.name_string())] = std::string(field.value());
    tour.push_back({{"request", std::string(req.method_string()) + " " + step.target},
                    {"credentials", step.who},
                    {"status", status},
                    {"expected", step.expected},
                    {"headers", std::move(headers)}});
  }
  spdlog::info("DOWN {} (tour)", describe_connection(stream.socket()));
  stream.socket().shutdown(tcp::socket::shutdown_send);

  // A request line with no version and a header line with no colon: 400, and the server closes.
  auto bad = co_await open_connection(options);
  const std::string malformed = "GET /\r\nHost localhost\r\n\r\n";
  bad.expires_after(io_timeout);
  if (auto [ec, n] = co_await asio::async_write(bad, asio::buffer(malformed), use_tuple); ec) throw failure("write", ec);
  http::response_parser<http::string_body> parser;
  if (auto [ec, n] = co_await http::async_read(bad, buffer, parser, use_tuple); ec) throw failure("read 400", ec);
  const auto res400 = parser.release();
  co_await drain_until_eof(bad);
  out << "GET /\\r\\nHost localhost   (malformed: no version, no colon)\n  " << status_line(res400) << "\n"
      << headers_that_matter(res400) << "    why: 400 = the request does not parse; the server closes the connection\n";
  tour.push_back({{"request", "malformed"}, {"status", res400.result_int()}, {"expected", 400}});
  matched += res400.result_int() == 400;
  printed = out.str();

  const std::size_t total = steps.size() + 1;
  result.observed()["tour"] = std::move(tour);
  result.observed()["tour_connections"] = connection_ids.size();
  result.add_check({.id = "status-codes", .claim = "asked next (http code names only 401 and 403): each route answers with the code it was built to give",
                    .expected = "200 301 404 405 401 401 200 401 403 200 200, and 400 for a malformed request",
                    .observed = std::to_string(matched) + " of " + std::to_string(total) + " answered as expected",
                    .verdict = matched == total ? Verdict::confirmed : Verdict::refuted, .evidence = "status lines read back by Beast"});
  const bool unauthenticated = got[Ask::private_anonymous] == 401 &&
                               got[Ask::private_wrong_password] == 401 &&
                               got[Ask::admin_anonymous] == 401 && got[Ask::private_reader] == 200;
  result.add_check({.id = "401-unauthenticated", .claim = "401 means unauthenticated: no or wrong credentials",
                    .expected = "401 with no credentials and with a wrong password; 200 once the same user logs in",
                    .observed = "no credentials " + std::to_string(got[Ask::private_anonymous]) + ", wrong password " +
                        std::to_string(got[Ask::private_wrong_password]) + ", " +
                        config.reader.user + " " + std::to_string(got[Ask::private_reader]),
                    .verdict = unauthenticated ? Verdict::confirmed : Verdict::refuted, .evidence = "GET /private three ways"});
  const unsigned as_reader = got[Ask::admin_reader];
  const unsigned as_admin = got[Ask::admin_admin];
  const bool forbidden = as_reader == 403 && as_admin == 200 && got[Ask::private_reader] == 200;
  result.add_check({.id = "403-forbidden", .claim = "403 means authenticated but forbidden",
                    .expected = "/admin: 403 for " + config.reader.user + " (whose credentials work on /private), 200 for " +
                        config.admin.user,
                    .observed = "/admin as " + config.reader.user + " " + std::to_string(as_reader) + ", as " + config.admin.user +
                        " " + std::to_string(as_admin),
                    .verdict = forbidden ? Verdict::confirmed : Verdict::refuted, .evidence = "GET /admin with each user's credentials"});
}

// ---- keep-alive against Connection: close ---------------------------------------

struct Phase {
  std::size_t requests = 0;
  std::size_t connections = 0;
  std::set<std::string> server_connection_ids;  // X-Netlab-Connection values seen
  std::set<std::uint16_t> local_ports;          // our ephemeral ports: the census counts only these
  double seconds = 0;
  std::size_t time_wait_server = 0;  // TIME_WAIT held by the server's side of our connections
  std::size_t time_wait_client = 0;  // ... and by ours
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
    if (auto id = res.find("X-Netlab-Connection"); id != res.end()) phase.server_connection_ids.insert(std::string(id->value()));
    if (!res.keep_alive()) {
      co_await drain_until_eof(*stream);
      stream.reset();  // closed second: no TIME_WAIT on our side
    }
  }
  // Keep-alive: we are done, so we close first — one TIME_WAIT, ours.
  stream.reset();
  phase.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  co_await count_time_wait(options.port, phase);
}

boost::json::object to_json(const Phase& p) {
  return {{"requests", p.requests}, {"connections", p.connections},
          {"server_connection_ids", p.server_connection_ids.size()}, {"seconds", p.seconds},
          {"requests_per_s", p.rate()}, {"time_wait_server_side", p.time_wait_server},
          {"time_wait_client_side", p.time_wait_client}};
}

void add_phase_checks(const Config& config, const Phase& ka, const Phase& cl, Result& result) {
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
    result.add_check({.id = "keepalive-reuses-connection", .claim = "keep-alive reuses one connection for many requests",
                      .expected = "1 connection for " + std::to_string(n) + " requests" +
                          (config.close ? ", " + std::to_string(n) + " with Connection: close" : ""),
                      .observed = observed, .verdict = reused ? Verdict::confirmed : Verdict::refuted,
                      .evidence = "connections opened by the client; X-Netlab-Connection ids answered by the server"});
  }
  if (config.close) {
    const bool per_request = cl.time_wait_server == cl.connections && cl.time_wait_client == 0;
    std::string observed = "Connection: close left " + std::to_string(cl.time_wait_server) +
                           " TIME_WAIT on the server's side and " + std::to_string(cl.time_wait_client) + " on ours";
    if (config.keepalive)
      observed += "; keep-alive left " + std::to_string(ka.time_wait_server) + " and " + std::to_string(ka.time_wait_client);
    result.add_check({.id = "close-leaves-server-time-wait",
                      .claim = "short connections pile up TIME_WAIT on the side that closes first — with Connection: close, the server",
                      .expected = "one server-side TIME_WAIT per request with close" +
                          std::string(config.keepalive ? ", at most one (ours) with keep-alive" : ""),
                      .observed = observed,
                      .verdict = per_request                                              ? Verdict::confirmed
                      : cl.time_wait_server == 0 && cl.time_wait_client > 0 ? Verdict::refuted
                                                                              : Verdict::nuanced,
                      .evidence = per_request ? "socket census (sock_diag) of our own ephemeral ports, both ends"
                                  : "fewer than one per request: see net.ipv4.tcp_max_tw_buckets, or a close raced the census"});
  }
  if (config.keepalive && config.close && cl.rate() > 0) {
    const double ratio = ka.rate() / cl.rate();
    std::ostringstream observed;
    observed.precision(3);
    observed << "keep-alive " << ka.rate() << " requests/s, close " << cl.rate() << " requests/s (x" << ratio << ")";
    result.observed()["keepalive_rate_ratio"] = ratio;
    result.add_check({.id = "keepalive-faster", .claim = "keep-alive saves a handshake and a teardown per request",
                      .expected = "keep-alive at least 1.2x the request rate of Connection: close", .observed = observed.str(),
                      .verdict = ratio >= 1.2 ? Verdict::confirmed : ratio >= 0.8 ? Verdict::nuanced : Verdict::refuted,
                      .evidence = ratio >= 1.2 ? "requests/s measured on loopback in this run"
                                   : "on loopback a handshake costs microseconds; over a real RTT the gap widens"});
  }
}

awaitable<void> run_lab(const CommonOptions& options, const Config& config, std::string& printed, Result& result) {
  if (config.tour) co_await run_tour(options, config, printed, result);
  Phase ka, cl;
  if (config.keepalive) {
    co_await run_phase(options, config.requests, true, ka);
    result.observed()["keepalive"] = to_json(ka);
  }
  if (config.close) {
    co_await run_phase(options, config.requests, false, cl);
    result.observed()["close"] = to_json(cl);
  }
  add_phase_checks(config, ka, cl, result);
}

void print_summary(std::ostream& out, const Config& config, const std::string& tour, const Result& result) {
  out << "netlab-http-client" << (config.tour ? " --tour" : "") << (config.keepalive ? " --keepalive" : "")
            << (config.close ? " --close" : "") << "\n";
  if (config.tour) out << tour;
  for (const char* mode : {"keepalive", "close"}) {
    const auto* phase = result.observed().if_contains(mode);
    if (!phase) continue;
    const auto& p = phase->as_object();
    out << "  " << mode << ": " << p.at("requests") << " requests, " << p.at("connections")
              << " connection(s), " << static_cast<long>(p.at("requests_per_s").as_double()) << " requests/s, TIME_WAIT left: "
              << p.at("time_wait_server_side") << " server side, " << p.at("time_wait_client_side") << " client side\n";
  }
  out << render_checks(result.checks());
}

std::optional<Credentials> parse_credentials(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  return Credentials{text.substr(0, colon), text.substr(colon + 1)};
}

}  // namespace

int main(int argc, char** argv) {
  ClientProgram program("http", "The http lab's client: a tour of status codes and headers, keep-alive against close.",
                        7080, 60);
  auto& app = program.app();
  Config config;
  std::string reader = "alice:wonderland", admin = "admin:secret";
  app.add_flag("--tour", config.tour, "walk every route and explain each status code");
  app.add_flag("--keepalive", config.keepalive, "--requests over one persistent connection");
  app.add_flag("--close", config.close, "--requests each with Connection: close");
  app.add_option("--requests", config.requests, "requests for --keepalive and --close")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000}));
  app.add_option("--reader", reader, "USER:PASSWORD of a known user who is not admin")->capture_default_str();
  app.add_option("--admin", admin, "USER:PASSWORD of the admin")->capture_default_str();
  program.check_usage([&] {
    const auto reader_credentials = parse_credentials(reader), admin_credentials = parse_credentials(admin);
    if (!reader_credentials || !admin_credentials) throw UsageError("--reader and --admin take USER:PASSWORD (see --help)");
    config.reader = *reader_credentials;
    config.admin = *admin_credentials;
    if (!config.tour && !config.keepalive && !config.close) config.tour = config.keepalive = config.close = true;
  });
  return program.run(argc, argv, [&](ClientRun& run) {
    Result& result = run.result();
    result.set_params(boost::json::object{{"tour", config.tour},
                                          {"keepalive", config.keepalive},
                                          {"close", config.close},
                                          {"requests", config.requests},
                                          {"host", run.options().host}});
    std::string tour;
    run.within(run_lab(run.options(), config, tour, result));
    run.summary([&, tour](std::ostream& out) { print_summary(out, config, tour, result); });
  });
}
