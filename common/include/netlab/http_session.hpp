#pragma once
// What the two Beast servers (netlab-http-server, netlab-rpc-server) do the
// same way at the edges of an HTTP/1.1 session: the deadline a request must
// arrive within, the status for a request that does not parse, and closing
// after an error without destroying the error response. Header-only, so only
// the files that already include Beast pay for it.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>

#include <array>
#include <chrono>

namespace netlab::http_session {

namespace beast = boost::beast;

// One deadline for a whole request, not per byte: a client that trickles
// bytes (slowloris) cannot keep resetting it. On expiry Beast closes the socket.
inline void expire_after_seconds(beast::tcp_stream& stream, double seconds) {
  stream.expires_after(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds)));
}

// The answer to a request that does not parse: 431 and 413 for the limits, 400 otherwise.
inline beast::http::status status_for_parse_error(const boost::system::error_code& ec) {
  if (ec == beast::http::error::header_limit) return beast::http::status::request_header_fields_too_large;
  if (ec == beast::http::error::body_limit) return beast::http::status::payload_too_large;
  return beast::http::status::bad_request;
}

// Lingering close, as Apache and nginx do it: after answering a bad request,
// stop sending (FIN) and read and drop what the client is still sending, for
// at most a second. Closing a socket with unread bytes makes the kernel send
// RST instead of FIN, and an RST can destroy the error response before the
// client has read it.
inline boost::asio::awaitable<void> linger_then_close(beast::tcp_stream& stream) {
  boost::system::error_code ignored;
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  stream.expires_after(std::chrono::seconds(1));
  std::array<char, 4096> sink;
  for (int reads = 0; reads < 256; ++reads) {
    auto [ec, n] = co_await stream.async_read_some(boost::asio::buffer(sink),
                                                   boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) break;
  }
  stream.socket().close(ignored);
}

}  // namespace netlab::http_session
