// One HTTP/1.1 request and its response over Beast, bounded in time.
#include "http.hpp"

#include "io/coro.hpp"
#include "program/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>

namespace netlab::http_lab {

namespace {
using asio::awaitable;
}  // namespace

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
  if (auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple); ec)
    throw failure("read response", ec);
  co_return parser.release();
}

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

}  // namespace netlab::http_lab
