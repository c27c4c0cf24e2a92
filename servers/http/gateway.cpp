// The gateway and the upstream the lab controls (gateway.hpp).
#include "http/gateway.hpp"
#include "io/coro.hpp"
#include "io/net.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <stdexcept>

namespace netlab::httpd {

using http_routes::text;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr std::string_view prefix = "/via-upstream";
constexpr std::string_view via = "1.1 netlab";
// What the gateway reads of an upstream's answer: more is a 502, not a buffer without end.
constexpr std::uint32_t upstream_header_limit = 16 * 1024;
constexpr std::size_t upstream_body_limit = 1024 * 1024;
constexpr long max_slow_ms = 10'000;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Hop-by-hop fields belong to one connection, not to the message, so a
// gateway drops them, with every field the Connection header names (RFC 9110 §7.6.1).
template <bool isRequest>
void drop_hop_by_hop(http::header<isRequest>& header) {
  std::vector<std::string> named;
  const auto [first, last] = header.equal_range(http::field::connection);
  for (auto connection = first; connection != last; ++connection) {
    const std::string_view value = connection->value();
    for (std::size_t at = 0; at <= value.size() && named.size() < 32;) {
      const auto comma = std::min(value.find(',', at), value.size());
      auto token = value.substr(at, comma - at);
      while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
      while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
      if (!token.empty()) named.emplace_back(token);
      at = comma + 1;
    }
  }
  for (const auto& name : named) header.erase(name);
  for (const auto field : {http::field::connection, http::field::keep_alive, http::field::proxy_connection,
                           http::field::te, http::field::trailer, http::field::transfer_encoding, http::field::upgrade})
    header.erase(field);
}

// A gateway adds itself to Via in each message it forwards (RFC 9110 §7.6.3).
template <bool isRequest>
void add_via(http::header<isRequest>& header) {
  const std::string before(header[http::field::via]);
  header.set(http::field::via, before.empty() ? std::string(via) : before + ", " + std::string(via));
}

Response failed(const Request& req, const tcp::endpoint& upstream, std::string_view step,
                const boost::system::error_code& ec, GatewayCounts& counts) {
  const bool not_http = ec.category() == http::make_error_code(http::error::bad_version).category();
  const std::string cause = "upstream " + to_string(upstream) + ": " + std::string(step) + ": " + error_text(ec) +
                            (not_http ? " (not an HTTP response)" : "");
  if (ec == beast::error::timeout) {
    ++counts.gateway_timeout;
    spdlog::warn("{} {}: {} — answering 504", req.method_string(), req.target(), cause);
    return text(req, http::status::gateway_timeout, "504 Gateway Timeout: " + cause);
  }
  ++counts.bad_gateway;
  spdlog::warn("{} {}: {} — answering 502", req.method_string(), req.target(), cause);
  return text(req, http::status::bad_gateway, "502 Bad Gateway: " + cause);
}

// One request to the upstream over a new connection, with one deadline for
// all of it: connect, send, and the whole answer.
asio::awaitable<Response> forward(const Request& req, std::string target, const tcp::endpoint& upstream,
                                  std::chrono::milliseconds timeout, GatewayCounts& counts) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(timeout);
  auto [ec] = co_await stream.async_connect(upstream, use_tuple);
  if (ec) co_return failed(req, upstream, "connect", ec, counts);

  Request out = req;
  out.target(target.empty() || target.front() != '/' ? "/" + target : target);
  out.version(11);
  drop_hop_by_hop(out.base());
  out.erase(http::field::expect);  // the body is here already: no 100 Continue round trip
  out.set(http::field::host, to_string(upstream));
  add_via(out.base());
  out.keep_alive(false);  // one connection per request
  out.body() = req.body();
  out.prepare_payload();
  auto [write_ec, written] = co_await http::async_write(stream, out, use_tuple);
  if (write_ec) co_return failed(req, upstream, "send", write_ec, counts);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(upstream_header_limit);
  parser.body_limit(upstream_body_limit);
  parser.skip(req.method() == http::verb::head);
  auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
  if (read_ec) co_return failed(req, upstream, "answer", read_ec, counts);
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

  Response res = parser.release();
  drop_hop_by_hop(res.base());
  add_via(res.base());
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  if (req.method() != http::verb::head) res.prepare_payload();
  ++counts.forwarded;
  co_return res;
}

// /slow?ms=N: N milliseconds (0..10000), else nullopt.
std::optional<long> slow_ms(std::string_view target) {
  const auto query = target.find("?ms=");
  if (query == std::string_view::npos) return std::nullopt;
  const std::string digits(target.substr(query + 4));
  if (digits.empty() || digits.size() > 5 || !std::all_of(digits.begin(), digits.end(), is_digit)) return std::nullopt;
  const long ms = std::stol(digits);
  return ms <= max_slow_ms ? std::optional<long>(ms) : std::nullopt;
}

}  // namespace

tcp::endpoint parse_upstream(const std::string& text) {
  const auto colon = text.rfind(':');
  const std::string port = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit) || std::stoul(port) == 0 ||
      std::stoul(port) > 65535)
    throw std::invalid_argument("--upstream " + text + ": expected HOST:PORT, e.g. 127.0.0.1:7081");
  try {
    return {parse_host(text.substr(0, colon), "--upstream"), static_cast<std::uint16_t>(std::stoul(port))};
  } catch (const std::runtime_error& e) {
    throw std::invalid_argument(e.what());
  }
}

asio::awaitable<Routed> gateway_route(beast::tcp_stream& stream, const Request& req, const GatewayConfig& config,
                                      GatewayCounts& counts) {
  if (req.count(http::field::via) > 0) ++counts.via;
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == prefix || path.rfind(std::string(prefix) + "/", 0) == 0) {
    if (!config.upstream)
      co_return Routed{text(req, http::status::not_found,
                            "404 Not Found: this server has no --upstream, so /via-upstream/ forwards nowhere"),
                       false};
    // (GCC 12 miscompiles co_await inside a braced initializer: a named result first.)
    std::string upstream_target(target.substr(prefix.size()));
    Response res = co_await forward(req, std::move(upstream_target), *config.upstream, config.upstream_timeout, counts);
    co_return Routed{std::move(res), false};
  }
  if (path == "/slow") {
    const auto ms = slow_ms(target);
    if (!ms)
      co_return Routed{text(req, http::status::bad_request, "400 Bad Request: /slow?ms=N, N from 0 to 10000"), false};
    ++counts.slow;
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(*ms));
    co_await timer.async_wait(use_tuple);
    co_return Routed{text(req, http::status::ok, "slow: answered after " + std::to_string(*ms) + " ms"), false};
  }
  if (path == "/garbage") {
    // Bytes that are not an HTTP response, then the end of the connection:
    // what a crashed or misconfigured upstream sends a gateway.
    ++counts.garbage;
    static constexpr std::string_view junk = "this is not HTTP\r\n\x01\x02\x03\r\n";
    co_await asio::async_write(stream, asio::buffer(junk), use_tuple);
    co_return Routed{std::nullopt, true};
  }
  if (path == "/seen") {
    const boost::json::object seen{{"slow", counts.slow},
                                   {"garbage", counts.garbage},
                                   {"via", counts.via},
                                   {"forwarded", counts.forwarded},
                                   {"bad_gateway", counts.bad_gateway},
                                   {"gateway_timeout", counts.gateway_timeout}};
    co_return Routed{http_routes::make_response(http::status::ok, req.version(), req.keep_alive(), "application/json",
                                                boost::json::serialize(seen) + "\n"),
                     false};
  }
  co_return Routed{};
}

}  // namespace netlab::httpd
