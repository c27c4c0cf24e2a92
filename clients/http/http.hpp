#pragma once
// What the http lab's client is made of (docs/labs/http.md): one request and
// its response over Beast (session.cpp), the tour of status codes and headers
// (tour.cpp), and keep-alive against Connection: close (http_client.cpp).
#include "io/net.hpp"
#include "observed.hpp"
#include "program/options.hpp"
#include "program/result.hpp"
#include "proto/http_basics.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/describe/class.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace netlab::http_lab {

namespace beast = boost::beast;
namespace http = beast::http;
using http_basics::Credentials;

struct Config {
  bool tour = false;
  bool keepalive = false;
  bool close = false;
  bool auth_flow = false;
  std::string curl_observed;  // --curl-observed FILE: grade what curl met, nothing else
  std::string hol_observed;   // --hol-observed FILE: grade h2load's runs across the lossy wire (hol.hpp), nothing else
  std::string h2load_observed;  // --h2load-observed FILE: grade what h2load and curl met over HTTP/2
  std::size_t requests = 200;
  Credentials reader{"alice", "wonderland"};
  Credentials admin{"admin", "secret"};
};

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

inline constexpr auto io_timeout = std::chrono::seconds(10);

// One request of the tour as the result shows it (the malformed one has no credentials or headers).
struct TourRow {
  std::string request;
  std::optional<std::string> credentials{};
  unsigned status = 0, expected = 0;
  std::optional<boost::json::object> headers{};

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const TourRow& r) {
    v = present_members(r);
  }
};
BOOST_DESCRIBE_STRUCT(TourRow, (), (request, credentials, status, expected, headers))

// One phase (keep-alive or close) as the result shows it.
struct PhaseRow {
  std::size_t requests = 0, connections = 0, server_connection_ids = 0;
  double seconds = 0, requests_per_s = 0;
  std::size_t time_wait_server_side = 0, time_wait_client_side = 0;
  // keep-alive, its connection idle after the last answer: TCP keep-alive on either end?
  std::optional<bool> so_keepalive_ours{}, keepalive_timer_server{};
};
BOOST_DESCRIBE_STRUCT(PhaseRow, (),
                      (requests, connections, server_connection_ids, seconds, requests_per_s, time_wait_server_side,
                       time_wait_client_side, so_keepalive_ours, keepalive_timer_server))

// What the run observed (the result's "observed"): the parts this run measured.
struct Observed {
  std::optional<std::vector<TourRow>> tour{};
  std::optional<std::size_t> tour_connections{};
  std::optional<PhaseRow> keepalive{}, close{};
  std::optional<double> keepalive_rate_ratio{};
  std::optional<std::vector<std::string>> auth_flow{};       // --auth-flow: each request and its answer
  std::optional<std::map<std::string, std::string>> curl{};  // --curl-observed: condition -> code and what arrived
  std::optional<boost::json::object> hol{};                  // --hol-observed: the four runs' distributions

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Observed& o) {
    v = present_members(o);
  }
};
BOOST_DESCRIBE_STRUCT(Observed, (),
                      (tour, tour_connections, keepalive, close, keepalive_rate_ratio, auth_flow, curl, hol))

// ---- session.cpp
boost::asio::awaitable<beast::tcp_stream> open_connection(const CommonOptions& options);
Request make_request(http::verb method, std::string target, const CommonOptions& options,
                     const std::optional<Credentials>& credentials, bool keep_alive);
// Writes `req` and reads the response, each bounded by io_timeout.
boost::asio::awaitable<Response> exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer, Request& req);
// After Connection: close the server's FIN follows the response; wait for it,
// so the server is the side that closed first.
boost::asio::awaitable<void> drain_until_eof(beast::tcp_stream& stream);
std::string status_line(const Response& res);

// ---- tour.cpp
// Every route on one keep-alive connection, then a malformed request; `printed`
// gets the human walk-through, `observed` the tour, `result` its checks.
boost::asio::awaitable<void> run_tour(const CommonOptions& options, const Config& config, std::string& printed,
                                      Observed& observed);

// --auth-flow: /private, /admin and /old on one connection as a browser asks
// them: no credentials until a 401 with WWW-Authenticate asks for them, no
// second try after a 403, a 301 followed to its Location. The server run with
// --auth-flow-checks grades what it saw; `printed` gets the exchanges.
boost::asio::awaitable<void> run_auth_flow(const CommonOptions& options, const Config& config, std::string& printed,
                                           Observed& observed);

// ---- h2_grades.cpp
// --h2load-observed FILE (scripts/labs/http.sh, step "HTTP/2"): hpack-shrinks-headers and
// h2-one-connection-many-streams, from h2load's figures, the server's log and curl's.
void grade_h2load(const std::string& path, Result& result);

// ---- curl_grades.cpp
// --curl-observed FILE: the status classes as curl met them (scripts/labs/http.sh writes FILE), graded:
// redirect-303-becomes-get, redirect-307-keeps-post, host-required-400, cl-te-conflict-400, expect-100-continue.
// A file of curl's caching rows (7 fields, curl-cache.tsv) goes to grade_cache instead, and a
// file that begins "#gateway" (the gateway step's) to grade_gateway.
void grade_curl(const std::string& path, Observed& observed, Result& result);
// The lines of a --curl-observed FILE (at most 256), each cut at its tabs.
std::vector<std::vector<std::string>> read_tsv(const std::string& path);
// A field of digits as a number, else a runtime error naming `what`.
std::size_t number(const std::string& text, const std::string& what);
// skipped when not asked, confirmed when it holds, refuted when the opposite was seen, nuanced otherwise.
Verdict verdict_of(bool asked, bool holds, bool opposite);

// ---- cache_grades.cpp
// --curl-observed FILE when FILE is curl's caching table (scripts/labs/http.sh,
// step "caching": curl-cache.tsv, 7 fields a row): etag-304-saves-bytes,
// range-206, gzip-smaller-on-wire, graded from curl's own figures; false (and
// nothing graded) when FILE holds other rows.
bool grade_cache(const std::string& path, Observed& observed, Result& result);

// ---- gateway_grades.cpp
// The gateway step's curl-gateway.tsv (scripts/labs/http.sh, gateway_step), graded:
// gateway-502-upstream-down, gateway-502-garbage, gateway-504-slow, gateway-503-retry-after.
void grade_gateway(const std::string& path, Observed& observed, Result& result);

}  // namespace netlab::http_lab
