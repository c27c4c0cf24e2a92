#pragma once
// netlab-http-server as a gateway (RFC 9110 §3.7): requests under
// /via-upstream/ are forwarded to --upstream HOST:PORT over a new TCP
// connection each, and the upstream's answer passed back — or, when the
// upstream fails, the gateway's own 5xx: 502 Bad Gateway when it refuses the
// connection, resets it or answers something that is not HTTP (§15.6.3), 504
// Gateway Timeout when no whole answer came within --upstream-timeout
// (§15.6.5). Without --upstream, /via-upstream/ is 404.
//
// The same server is the upstream the lab controls: /slow?ms=N answers after N
// ms, /garbage writes bytes that are not HTTP and closes, /seen counts what
// arrived of these (and how many requests came through a gateway, with Via),
// so that a 504 or a 502 can be traced to the request that caused it.
#include "proto/http_routes.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/describe/class.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace netlab::httpd {

using http_routes::Request;
using http_routes::Response;

struct GatewayConfig {
  std::optional<boost::asio::ip::tcp::endpoint> upstream;  // --upstream HOST:PORT; none: no gateway
  std::chrono::milliseconds upstream_timeout{1000};
};

// What this server saw and did as a gateway and as an upstream.
struct GatewayCounts {
  std::size_t forwarded = 0;  // answers passed back from the upstream
  std::size_t bad_gateway = 0;
  std::size_t gateway_timeout = 0;
  std::size_t slow = 0;     // /slow requests that arrived
  std::size_t garbage = 0;  // /garbage requests that arrived
  std::size_t via = 0;      // requests that arrived through a gateway (with Via)
};
BOOST_DESCRIBE_STRUCT(GatewayCounts, (), (forwarded, bad_gateway, gateway_timeout, slow, garbage, via))

// An answer, or closed: the route closed the connection without one (/garbage).
struct Routed {
  std::optional<Response> response;
  bool closed = false;
};

// /via-upstream/..., /slow, /garbage, /seen; nothing (no response, not closed) for any other path.
boost::asio::awaitable<Routed> gateway_route(boost::beast::tcp_stream& stream, const Request& req,
                                             const GatewayConfig& config, GatewayCounts& counts);

// --upstream's HOST:PORT (an IP address or localhost, a port 1..65535);
// std::invalid_argument with a one-line reason otherwise.
boost::asio::ip::tcp::endpoint parse_upstream(const std::string& text);

}  // namespace netlab::httpd
