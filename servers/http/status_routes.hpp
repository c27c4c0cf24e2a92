#pragma once
// netlab-http-server's routes for the status classes a client meets next
// (docs/labs/http.md, "Asked next"): what arrived (/method), redirects
// (/redirect/301 … /redirect/308 → Location: /method), a route that fails
// (/fail → 500), and reading a request the way RFC 9112 asks: Host required
// on HTTP/1.1, Expect: 100-continue answered before the body is read.
#include "proto/http_routes.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include <chrono>
#include <cstddef>
#include <optional>

namespace netlab::httpd {

using http_routes::Request;
using http_routes::Response;

// What the session saw of a request besides the message itself.
struct Arrival {
  bool expect_continue = false;  // it carried Expect: 100-continue
  bool continue_sent = false;    // ... and the server answered 100 Continue
  // Body bytes that had arrived when the server was about to send 100
  // Continue, after giving them continue_wait to come: 0 when the client waited.
  std::size_t body_bytes_before_continue = 0;
};

// How long the server lets a body show up before it sends 100 Continue: long
// enough that a client that does not wait is seen not waiting.
inline constexpr auto continue_wait = std::chrono::milliseconds(100);

// Reads one request: the header, then (Expect: 100-continue, a body the
// server will take) 100 Continue, then the body. A declared body over the
// parser's limit is refused before it is sent (body_limit: 413), which is
// what Expect is for (RFC 9110 §10.1.1).
boost::asio::awaitable<boost::system::error_code> read_request(
    boost::beast::tcp_stream& stream, boost::beast::flat_buffer& buffer,
    boost::beast::http::request_parser<boost::beast::http::string_body>& parser, std::size_t max_body_bytes,
    Arrival& arrival);

// 400 for an HTTP/1.1 request without exactly one Host (RFC 9112 §3.2), else nullopt.
std::optional<Response> host_rule(const Request& req);

// /method, /redirect/<code>, /fail; nullopt for any other path. /fail throws
// std::runtime_error, as a handler with a bug does: the session answers 500.
std::optional<Response> status_route(const Request& req, const Arrival& arrival);

}  // namespace netlab::httpd
