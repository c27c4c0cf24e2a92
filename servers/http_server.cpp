// netlab-http-server — the http lab's server (http code / http header).
//
// HTTP/1.1 on Boost.Beast, one coroutine per connection, keep-alive by default.
// Every status code the note lists has a route that produces it:
//   GET /          200 (with --chunked: Transfer-Encoding: chunked, three chunks)
//   GET /old       301 Location: /
//   GET /private   401 + WWW-Authenticate without valid credentials, 200 for any known user
//   GET /admin     401 without valid credentials, 403 for a known user who is not admin, 200 for admin
//   GET /headers   200, the request's headers echoed as JSON
//   POST /         405 Allow: GET, HEAD          any other path: 404
//   ANY /method    200, the method and body length that arrived (servers/http/status_routes.cpp)
//   /redirect/301 … /redirect/308  that code, Location: /method;   GET /fail  500
//   ANY /via-upstream/...  forwarded to --upstream (502, 504 when it fails: servers/http/gateway.cpp);
//   /slow?ms=N, /garbage, /seen: the upstream the lab controls (a slow answer, bytes that are not HTTP)
//   HTTP/1.1 without Host: 400; Expect: 100-continue: 100 Continue before the body is read
//   a request that does not parse: 400 (431 headers too large, 413 body too large),
//   then the connection is closed — after a parse error the byte stream cannot be trusted.
// HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3): a connection that opens
// with the HTTP/2 preface is served by an nghttp2 session (servers/http/h2.cpp),
// each stream a request for the same routes, at most --h2-max-streams at once.
// Each request must arrive whole within --idle-timeout, so a client that sends
// its headers one byte at a time (slowloris) is cut off, not waited for.
// Every response says which connection and which request on it it answers
// (X-Netlab-Connection, X-Netlab-Request): keep-alive made visible.
// The server counts the requests it saw per route, with and without
// credentials; with --auth-flow-checks it also keeps each connection's requests
// in order and grades what the clients did (RFC 9110 §11.6.1, §15.5.2,
// §15.5.4): credentials sent only after a 401 with WWW-Authenticate, a 403 not
// retried with the same credentials, a 301 followed to its Location.
#include "http/auth_flow.hpp"
#include "http/cache_routes.hpp"
#include "http/gateway.hpp"
#include "http/h2.hpp"
#include "http/status_routes.hpp"
#include "io/coro.hpp"
#include "program/server.hpp"
#include "proto/http_basics.hpp"
#include "proto/http_routes.hpp"
#include "proto/http_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/serialize.hpp>

#include <iostream>
#include <map>

namespace {

using namespace netlab;
using asio::awaitable;
namespace beast = boost::beast;
namespace http = beast::http;
using http_basics::User;
using httpd::describe;
using httpd::max_seen_connections;
using httpd::max_seen_requests;
using httpd::SeenConnection;

const ProgramInfo program_info{"http", "The http lab's server: status codes, headers, Basic auth, keep-alive.", 7080};

struct Config {
  std::vector<User> users;
  double idle_timeout = 10;
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_body_bytes = 64 * 1024;
  bool chunked = false;
  bool auth_flow_checks = false;
  httpd::GatewayConfig gateway;
  h2::Limits h2;
};

// Requests per route: with and without an Authorization header.
struct RouteRequests {
  std::size_t without_credentials = 0;
  std::size_t with_credentials = 0;
};
BOOST_DESCRIBE_STRUCT(RouteRequests, (), (without_credentials, with_credentials))

struct Counters {
  std::size_t connections = 0;
  std::size_t requests = 0;
  std::map<unsigned, std::size_t> responses;  // by status code
  std::size_t idle_timeouts = 0;
  std::size_t parse_errors = 0;
  std::map<std::string, RouteRequests> requests_by_route;  // known routes, and "other"
  std::vector<SeenConnection> seen;                        // --auth-flow-checks
  httpd::GatewayCounts gateway;
  h2::Counts h2;  // h2c connections and their streams (their requests count in `requests` too)
};

// The result's "observed", besides the skeleton's: responses by status code ("404": 2).
struct Observed {
  std::size_t connections = 0;
  std::size_t requests = 0;
  std::map<std::string, std::size_t> responses;
  std::size_t idle_timeouts = 0;
  std::size_t parse_errors = 0;
  std::map<std::string, RouteRequests> requests_by_route;
  std::vector<std::string> connections_seen;  // --auth-flow-checks: each connection's requests in order
  httpd::GatewayCounts gateway;               // as a gateway (--upstream) and as the lab's upstream
  h2::Counts h2;
};
BOOST_DESCRIBE_STRUCT(Observed, (),
                      (connections, requests, responses, idle_timeouts, parse_errors, requests_by_route,
                       connections_seen, gateway, h2))

using http_routes::Request;
using http_routes::Response;

using http_routes::make_response;

awaitable<boost::system::error_code> write_response(beast::tcp_stream& stream, Response& res, bool head, bool chunked) {
  if (head || !chunked) {
    // HEAD: the same header, Content-Length included, and no body.
    co_return co_await http_session::write_message(stream, res, head);
  }
  // Chunked: no Content-Length; each chunk carries its own size, a zero-size chunk ends the body.
  http::response<http::empty_body> header{res.result(), res.version()};
  header.base() = res.base();
  header.erase(http::field::content_length);
  header.chunked(true);
  http::response_serializer<http::empty_body> serializer{header};
  auto [ec, n] = co_await http::async_write_header(stream, serializer, use_tuple);
  const std::string& body = res.body();
  for (std::size_t at = 0, piece = (body.size() + 2) / 3; !ec && at < body.size(); at += piece) {
    std::tie(ec, n) = co_await asio::async_write(
        stream, http::make_chunk(asio::buffer(body.data() + at, std::min(piece, body.size() - at))), use_tuple);
  }
  if (!ec) std::tie(ec, n) = co_await asio::async_write(stream, http::make_chunk_last(), use_tuple);
  co_return ec;
}

// The rules every request meets first (Host), the status classes' routes, then the note's routes.
Response answer(const Request& req, const httpd::Arrival& arrival, const Config& config, const std::string& who) {
  if (auto refused = httpd::host_rule(req)) return *std::move(refused);
  try {
    if (auto res = httpd::status_route(req, arrival)) return *std::move(res);
    if (auto res = httpd::cache_route(req)) return *std::move(res);
  } catch (const std::exception& e) {
    // A handler that fails is the server's fault, not the client's: 5xx, and the connection stays usable.
    spdlog::warn("{}: {} {} failed: {} — answering 500", who, req.method_string(), req.target(), e.what());
    return make_response(http::status::internal_server_error, req.version(), req.keep_alive(),
                         "text/plain; charset=utf-8", "500 Internal Server Error: " + std::string(e.what()) + "\n");
  }
  return http_routes::route(req, config.users);
}

// Per route, with or without credentials; with --auth-flow-checks, the request in its connection's order.
// `seen` indexes this connection's entry in counters.seen (none yet: npos), so
// the record is whole whenever the server reports, even mid-connection.
void count_request(const Request& req, const Response& res, const Config& config, Counters& counters,
                   std::size_t& seen) {
  std::string path(req.target().substr(0, req.target().find('?')));
  if (path != "/" && path != "/old" && path != "/private" && path != "/admin" && path != "/headers") path = "other";
  const auto authorization = req.find(http::field::authorization);
  auto& route = counters.requests_by_route[path];
  ++(authorization == req.end() ? route.without_credentials : route.with_credentials);
  if (!config.auth_flow_checks) return;
  if (seen == std::string::npos) {
    if (counters.seen.size() >= max_seen_connections) return;
    seen = counters.seen.size();
    counters.seen.push_back({.agent = std::string(req[http::field::user_agent]).substr(0, 64), .requests = {}});
  }
  auto& requests = counters.seen[seen].requests;
  if (requests.size() >= max_seen_requests) return;
  std::string user;
  if (authorization != req.end()) {
    const auto credentials = http_basics::parse_basic_authorization(authorization->value());
    user = credentials ? credentials->user.substr(0, 32) : "(not Basic)";
  }
  requests.push_back({.path = path,
                      .user = user,
                      .status = res.result_int(),
                      .challenge = res.find(http::field::www_authenticate) != res.end(),
                      .location = std::string(res[http::field::location])});
}

// HTTP/2 with prior knowledge (RFC 9113 §3.3): a client that knows the server
// speaks HTTP/2 starts with the 24-byte preface instead of a request line, so
// the first bytes tell the two apart. They stay in `buffer` for either parser.
awaitable<std::pair<bool, boost::system::error_code>> starts_with_h2_preface(beast::tcp_stream& stream,
                                                                             beast::flat_buffer& buffer) {
  // Bounded: each read adds at least one byte, and 24 bytes always decide.
  for (;;) {
    const auto seen = std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size());
    const auto preface = h2::match_preface(seen);
    if (preface != h2::Preface::undecided)
      co_return std::pair{preface == h2::Preface::yes, boost::system::error_code{}};
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
    if (ec) co_return std::pair{false, ec};
    buffer.commit(n);
  }
}

// One h2c connection: each stream is a request for the same routes as
// HTTP/1.1 (answer()); the gateway's /via-upstream/ is not forwarded over HTTP/2.
awaitable<std::string> serve_h2c(beast::tcp_stream& stream, beast::flat_buffer& buffer, std::size_t connection_id,
                                 const std::string& who, const Config& config, Counters& counters) {
  std::size_t seen = std::string::npos;
  std::size_t number = 0;
  h2::H2Connection h2(
      [&](Request& req) {
        ++counters.requests;
        Response res = answer(req, httpd::Arrival{}, config, who);
        count_request(req, res, config, counters, seen);
        res.set("X-Netlab-Connection", std::to_string(connection_id));
        res.set("X-Netlab-Request", std::to_string(++number));
        ++counters.responses[res.result_int()];
        return res;
      },
      config.h2, counters.h2);
  stream.expires_never();  // serve_h2 bounds each read itself
  const auto first = buffer.data();
  const std::string ending = co_await h2::serve_h2(
      stream.socket(), h2, std::span(static_cast<const std::uint8_t*>(first.data()), first.size()),
      config.idle_timeout);
  if (!h2.failure().empty()) spdlog::warn("{}: {} — closing", who, h2.failure());
  co_return "h2c, " + std::to_string(number) + " streams: " + ending;
}

awaitable<void> session(beast::tcp_stream stream, std::size_t connection_id, const Config& config, Counters& counters,
                        ConnectionRegistry& registry) {
  ServedConnection served(stream.socket(), registry, 0, spdlog::level::info,
                          "connection " + std::to_string(connection_id));
  std::size_t seen = std::string::npos;  // this connection in counters.seen
  const std::string& who = served.who();
  // Answers are small and often several per round trip (pipelining): without
  // TCP_NODELAY, Nagle's algorithm holds the second one back until the first is
  // ACKed, and the peer's delayed ACK can make that 40 ms. nginx does the same.
  boost::system::error_code nodelay_ec;
  stream.socket().set_option(tcp::no_delay(true), nodelay_ec);
  beast::flat_buffer buffer;
  std::string ending;
  http_session::expire_after_seconds(stream, config.idle_timeout);
  auto [h2c, first_ec] = co_await starts_with_h2_preface(stream, buffer);
  if (h2c) ending = co_await serve_h2c(stream, buffer, connection_id, who, config, counters);
  if (first_ec == asio::error::eof) first_ec = http::error::end_of_stream;  // as the parser reports it
  for (std::size_t number = 1; !h2c; ++number) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
    parser.body_limit(config.max_body_bytes);
    // One deadline for the whole request, not per byte: trickling bytes cannot keep a connection alive.
    http_session::expire_after_seconds(stream, config.idle_timeout);
    httpd::Arrival arrival;
    auto ec = std::exchange(first_ec, {});  // the preface read's ending, if it had one
    if (!ec) ec = co_await httpd::read_request(stream, buffer, parser, config.max_body_bytes, arrival);
    if (ec == http::error::end_of_stream) {
      ending = "peer closed";
      break;
    }
    if (ec == beast::error::timeout) {
      ++counters.idle_timeouts;
      ending = "idle timeout: no complete request within " + std::to_string(config.idle_timeout) + " s";
      spdlog::warn("{}: {}", who, ending);
      break;
    }
    if (ec == http::error::partial_message || is_normal_ending(ec)) {
      ending = ec.message();
      break;
    }
    if (ec) {
      ++counters.parse_errors;
      const auto status = http_session::status_for_parse_error(ec);
      spdlog::warn("{}: bad request ({}) — answering {} and closing", who, ec.message(), static_cast<unsigned>(status));
      auto res = make_response(status, 11, false, "text/plain; charset=utf-8",
                               std::to_string(static_cast<unsigned>(status)) + " " +
                                   std::string(http::obsolete_reason(status)) + ": " + ec.message() + "\n");
      ++counters.responses[res.result_int()];
      stream.expires_after(std::chrono::seconds(5));
      if (!co_await write_response(stream, res, false, false)) co_await http_session::linger_then_close(stream);
      ending = "bad request";
      break;
    }
    ++counters.requests;
    Request req = parser.release();
    httpd::Routed routed;  // (GCC 12 cannot compile co_await inside ?:)
    if (!httpd::host_rule(req)) routed = co_await httpd::gateway_route(stream, req, config.gateway, counters.gateway);
    if (routed.closed) {
      ending = std::string(req.target()) + ": closed without an answer";
      break;
    }
    Response res = routed.response ? *std::move(routed.response) : answer(req, arrival, config, who);
    count_request(req, res, config, counters, seen);
    res.set("X-Netlab-Connection", std::to_string(connection_id));
    res.set("X-Netlab-Request", std::to_string(number));
    ++counters.responses[res.result_int()];
    spdlog::debug("{}: {} {} -> {}", who, req.method_string(), req.target(), res.result_int());
    const bool chunked = config.chunked && req.target() == "/" && res.result() == http::status::ok;
    const bool keep_alive = res.keep_alive();
    if (auto write_ec = co_await write_response(stream, res, req.method() == http::verb::head, chunked)) {
      ending = "write: " + write_ec.message();
      break;
    }
    if (!keep_alive) {
      // Connection: close — we close first, so this side will hold the TIME_WAIT.
      ending = "Connection: close";
      break;
    }
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  served.down(ending);
}

}  // namespace

int http_server(ServerProgram& program, CLI::App& app, Config& config) {
  std::vector<std::string> user_specs{"alice:wonderland:reader", "admin:secret:admin"};
  app.add_option("--user", user_specs, "NAME:PASSWORD:ROLE, repeatable; role admin may see /admin")
      ->capture_default_str();
  add_bounded_option(app, "--idle-timeout", config.idle_timeout,
                     "seconds a connection may take to send one whole request", 0.01, 3600.0);
  add_bounded_option(app, "--max-header-bytes", config.max_header_bytes, "largest request header accepted (else 431)",
                     std::size_t{64}, std::size_t{1} << 20);
  add_bounded_option(app, "--max-body-bytes", config.max_body_bytes, "largest request body accepted (else 413)",
                     std::size_t{0}, std::size_t{16} << 20);
  app.add_flag("--chunked", config.chunked, "serve / with Transfer-Encoding: chunked");
  app.add_flag("--auth-flow-checks", config.auth_flow_checks,
               "keep each connection's requests in order and grade what the clients did: credentials only after a "
               "401 with WWW-Authenticate, no retry of a 403, a 301 followed (for clients asked to log in when "
               "challenged: curl --anyauth, netlab-http-client --auth-flow)");
  std::string upstream;
  std::size_t upstream_timeout_ms = 1000;
  app.add_option("--upstream", upstream, "HOST:PORT: forward /via-upstream/... there (502, 504 when it fails)");
  add_bounded_option(app, "--upstream-timeout", upstream_timeout_ms,
                     "milliseconds the upstream has to answer a forwarded request whole (else 504)", std::size_t{1},
                     std::size_t{60'000});
  add_bounded_option(app, "--h2-max-streams", config.h2.max_concurrent_streams,
                     "HTTP/2 (h2c): SETTINGS_MAX_CONCURRENT_STREAMS advertised and enforced; a stream over it is "
                     "refused with RST_STREAM REFUSED_STREAM",
                     std::uint32_t{1}, std::uint32_t{1000});
  // One over the limit reads "503 Service Unavailable" (Connection: close), as from nginx or curl.
  program.add_max_connections(Refusal::http_503);
  program.check_usage([&] {
    for (const auto& spec : user_specs) {
      auto user = http_basics::parse_user(spec);
      if (!user) throw UsageError("--user " + spec + ": expected NAME:PASSWORD:ROLE (see --help)");
      config.users.push_back(*user);
    }
    config.gateway.upstream_timeout = std::chrono::milliseconds(upstream_timeout_ms);
    config.h2.max_header_bytes = config.max_header_bytes;
    config.h2.max_body_bytes = config.max_body_bytes;
    try {
      if (!upstream.empty()) config.gateway.upstream = httpd::parse_upstream(upstream);
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());
    }
  });
  Counters counters;
  return program.run([&](ServerRun& run) {
    run.serve([&](tcp::socket socket) {
      const std::size_t id = ++counters.connections;
      return session(beast::tcp_stream(std::move(socket)), id, config, counters, run.registry());
    });
    run.listening(fmt::format("users: {}; idle timeout {} s", config.users.size(), config.idle_timeout));
    run.report([&](Result& result, std::ostream& out) {
      result.set_params(boost::json::object{{"idle_timeout", config.idle_timeout},
                                            {"max_header_bytes", config.max_header_bytes},
                                            {"max_body_bytes", config.max_body_bytes},
                                            {"chunked", config.chunked},
                                            {"users", config.users.size()},
                                            {"auth_flow_checks", config.auth_flow_checks},
                                            {"upstream", upstream},
                                            {"upstream_timeout_ms", upstream_timeout_ms},
                                            {"h2_max_streams", config.h2.max_concurrent_streams}});
      Observed observed{.connections = counters.connections,
                        .requests = counters.requests,
                        .responses = {},
                        .idle_timeouts = counters.idle_timeouts,
                        .parse_errors = counters.parse_errors,
                        .requests_by_route = counters.requests_by_route,
                        .connections_seen = {},
                        .gateway = counters.gateway,
                        .h2 = counters.h2};
      for (const auto& c : counters.seen) observed.connections_seen.push_back(describe(c));
      if (config.auth_flow_checks) add_client_checks(counters.seen, result);
      std::string status_line;
      for (const auto& [code, count] : counters.responses) {
        observed.responses[std::to_string(code)] = count;
        status_line += " " + std::to_string(code) + "×" + std::to_string(count);
      }
      result.set_observed(observed);
      out << "netlab-http-server on " << to_string(run.bound()) << " stopped by " << run.stop_reason() << " after "
          << run.seconds() << " s\n"
          << "  connections " << counters.connections << ", requests " << counters.requests << ", responses"
          << (status_line.empty() ? " none" : status_line) << "\n"
          << "  bad requests " << counters.parse_errors << ", idle timeouts " << counters.idle_timeouts
          << ", refused (--max-connections " << run.limit().max() << ") " << run.limit().refused() << "\n";
      const auto& h = counters.h2;
      if (h.connections > 0)
        out << "  HTTP/2 (h2c): connections " << h.connections << ", streams " << h.streams << ", refused streams "
            << h.refused_streams << " (SETTINGS_MAX_CONCURRENT_STREAMS " << config.h2.max_concurrent_streams
            << "), reset " << h.reset_streams << ", 413/431 " << h.too_large << ", header blocks received "
            << h.header_block_bytes_received << " bytes (HPACK) for " << h.header_bytes_decoded
            << " bytes of fields, GOAWAY with an error " << h.goaways_sent << "\n";
      const auto& g = counters.gateway;
      if (config.gateway.upstream || g.slow + g.garbage + g.via > 0)
        out << "  gateway" << (upstream.empty() ? "" : " to " + upstream) << ": forwarded " << g.forwarded << ", 502 "
            << g.bad_gateway << ", 504 " << g.gateway_timeout << "; as upstream: /slow " << g.slow << ", /garbage "
            << g.garbage << ", with Via " << g.via << "\n";
    });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, http_server); }
