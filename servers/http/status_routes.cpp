// The status classes' routes and the request rules of RFC 9112 (status_routes.hpp).
#include "http/status_routes.hpp"
#include "io/coro.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <stdexcept>
#include <string>

namespace netlab::httpd {

using http_routes::text;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace asio::experimental::awaitable_operators;

namespace {

bool expects_continue(const Request& req) {
  const auto expect = req.find(http::field::expect);
  return req.version() == 11 && expect != req.end() && beast::iequals(expect->value(), "100-continue");
}

// The body bytes here now: read past the header already, or waiting in the
// socket's receive queue after `continue_wait` (or sooner, when some come).
asio::awaitable<std::size_t> body_bytes_arrived(beast::tcp_stream& stream, const beast::flat_buffer& buffer) {
  asio::steady_timer timer(co_await asio::this_coro::executor, continue_wait);
  auto& socket = stream.socket();
  co_await (socket.async_wait(asio::ip::tcp::socket::wait_read, use_tuple) || timer.async_wait(use_tuple));
  boost::system::error_code ec;
  const std::size_t queued = socket.available(ec);
  co_return buffer.size() + (ec ? 0 : queued);
}

}  // namespace

asio::awaitable<boost::system::error_code> read_request(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                                        http::request_parser<http::string_body>& parser,
                                                        std::size_t max_body_bytes, Arrival& arrival) {
  auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
  if (ec || parser.is_done()) co_return ec;
  if (expects_continue(parser.get())) {
    arrival.expect_continue = true;
    // Refused before the client sends the body: what the Expect round trip buys it.
    const auto declared = parser.content_length();
    if (declared && *declared > max_body_bytes) co_return http::error::body_limit;
    arrival.body_bytes_before_continue = co_await body_bytes_arrived(stream, buffer);
    static constexpr std::string_view interim = "HTTP/1.1 100 Continue\r\n\r\n";
    auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(interim), use_tuple);
    if (write_ec) co_return write_ec;
    arrival.continue_sent = true;
  }
  std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, use_tuple);
  co_return ec;
}

std::optional<Response> host_rule(const Request& req) {
  if (req.version() != 11) return std::nullopt;  // HTTP/1.0 predates Host being required
  const auto hosts = req.count(http::field::host);
  if (hosts == 1) return std::nullopt;
  auto res = text(req, http::status::bad_request,
                  hosts == 0 ? "400 Bad Request: an HTTP/1.1 request must carry Host (RFC 9112 §3.2)"
                             : "400 Bad Request: more than one Host (RFC 9112 §3.2)");
  return res;
}

std::optional<Response> status_route(const Request& req, const Arrival& arrival) {
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  if (path == "/method") {
    // What arrived, so that the client can see what it sent after a redirect.
    boost::json::object body{{"method", std::string(req.method_string())},
                             {"body_bytes", req.body().size()},
                             {"chunked", req.chunked()},
                             {"expect_continue", arrival.expect_continue}};
    if (arrival.expect_continue) {
      body["continue_sent"] = arrival.continue_sent;
      body["body_bytes_before_continue"] = arrival.body_bytes_before_continue;
      body["continue_wait_ms"] = continue_wait.count();
    }
    return http_routes::make_response(http::status::ok, req.version(), req.keep_alive(), "application/json",
                                      boost::json::serialize(body) + "\n");
  }
  if (path.rfind("/redirect/", 0) == 0) {
    const std::string_view code = path.substr(10);
    if (code != "301" && code != "302" && code != "303" && code != "307" && code != "308") return std::nullopt;
    const auto status = static_cast<http::status>(std::stoi(std::string(code)));
    auto res =
        text(req, status, std::string(code) + " " + std::string(http::obsolete_reason(status)) + ": see /method");
    res.set(http::field::location, "/method");
    return res;
  }
  if (path == "/fail") throw std::runtime_error("/fail: this route always fails");
  return std::nullopt;
}

}  // namespace netlab::httpd
