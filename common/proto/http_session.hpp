#pragma once
// What the two Beast servers (netlab-http-server, netlab-rpc-server) do the
// same way at the edges of an HTTP/1.1 session: the deadline a request must
// arrive within, the status for a request that does not parse, closing after
// an error without destroying the error response, and writing a response as
// one piece. Header-only, so only the files that already include Beast pay for it.
#include "io/net.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/system/system_error.hpp>

#include <array>
#include <chrono>
#include <string>

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
    auto [ec, n] =
        co_await stream.async_read_some(boost::asio::buffer(sink), boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) break;
  }
  stream.socket().close(ignored);
}

// The whole message as one string, rendered by Beast's serializer in one pass;
// `header_only` stops after the header (the answer to HEAD, Content-Length
// included). http::async_write walks the serializer's buffer sequences through
// several layers for every write: about a fifth of netlab-http-server's time
// under wrk went there (docs/performance.md, keep-alive row).
template <bool isRequest, class Body, class Fields>
std::string render(beast::http::message<isRequest, Body, Fields>& message, bool header_only = false) {
  beast::http::serializer<isRequest, Body, Fields> serializer{message};
  serializer.split(header_only);
  std::string out;
  out.reserve(512);
  boost::system::error_code ec;
  // Every pass consumes what it was handed: the loop ends with the message.
  while (!(header_only ? serializer.is_header_done() : serializer.is_done())) {
    serializer.next(ec, [&](boost::system::error_code&, const auto& buffers) {
      for (const auto buffer : beast::buffers_range_ref(buffers))
        out.append(static_cast<const char*>(buffer.data()), buffer.size());
      serializer.consume(beast::buffer_bytes(buffers));
    });
    if (ec) throw boost::system::system_error(ec, "render an HTTP message");
  }
  return out;
}

// Writes `bytes` whole, under the stream's deadline: one send in the calling
// handler for what the socket takes now (netlab::send_now), async_write for
// the rest. An error comes back; it is not thrown.
inline boost::asio::awaitable<boost::system::error_code> write_all(beast::tcp_stream& stream,
                                                                   boost::asio::const_buffer bytes) {
  boost::system::error_code ec;
  bytes += send_now(stream.socket(), bytes, ec);
  if (ec || bytes.size() == 0) co_return ec;
  auto [write_ec, written] =
      co_await boost::asio::async_write(stream, bytes, boost::asio::as_tuple(boost::asio::use_awaitable));
  co_return write_ec;
}

// A response (or request) rendered as one string and written with write_all.
template <bool isRequest, class Body, class Fields>
boost::asio::awaitable<boost::system::error_code> write_message(beast::tcp_stream& stream,
                                                                beast::http::message<isRequest, Body, Fields>& message,
                                                                bool header_only = false) {
  const std::string bytes = render(message, header_only);
  co_return co_await write_all(stream, boost::asio::buffer(bytes));
}

}  // namespace netlab::http_session
