#pragma once
// HTTP/2 (RFC 9113) on netlab's servers: an nghttp2 server session that turns
// each stream into one Beast request for the same route dispatch HTTP/1.1
// uses, and each Beast response into HEADERS (+ DATA). nghttp2 parses the
// frames and the HPACK blocks (RFC 7541); this file only feeds it bytes and
// takes its bytes back, so it runs over any byte stream: plain TCP (h2c with
// prior knowledge, RFC 9113 §3.3) and TLS (h2 chosen by ALPN, §3.2).
// The Upgrade: h2c dance of RFC 7540 §3.2 is not offered: RFC 9113 §3.1
// deprecated it, and curl and h2load speak prior knowledge.
//
// H2Connection holds no socket (the fuzz target feeds it bytes directly);
// serve_h2 drives it over a stream, one read and one write at a time, with
// the idle timeout as a deadline on each read. nghttp2's header stays in h2.cpp.
#include "io/coro.hpp"
#include "io/net.hpp"
#include "proto/http_routes.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/describe/class.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace netlab::h2 {

using http_routes::Request;
using http_routes::Response;

// The 24 bytes an HTTP/2 client sends first (RFC 9113 §3.4): a request line no
// HTTP/1.1 server would accept, so that a server that does not speak HTTP/2 fails fast.
inline constexpr std::string_view client_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// What the bytes seen so far say: the preface whole, not it, or too few bytes to tell.
enum class Preface { yes, no, undecided };
Preface match_preface(std::string_view first_bytes);

struct Limits {
  std::uint32_t max_concurrent_streams = 100;  // SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §6.5.2)
  std::size_t max_header_bytes = 8 * 1024;     // decoded name + value + 32 per field (RFC 7541 §4.1)
  std::size_t max_body_bytes = 64 * 1024;      // per stream; more: 413 and the stream ends
};

// Counted across all of a server's HTTP/2 connections.
struct Counts {
  std::size_t connections = 0;
  std::size_t streams = 0;                      // requests that arrived whole and were answered
  std::size_t refused_streams = 0;              // RST_STREAM REFUSED_STREAM sent: over SETTINGS_MAX_CONCURRENT_STREAMS
  std::size_t reset_streams = 0;                // any other RST_STREAM sent (a request cut by the idle timeout)
  std::size_t too_large = 0;                    // requests answered 431 or 413 early: over the header or body cap
  std::size_t header_block_bytes_received = 0;  // HEADERS + CONTINUATION payloads: HPACK on the wire
  std::size_t header_bytes_decoded = 0;         // the same fields decoded: name + value (+ ": " + CRLF)
  std::size_t header_block_bytes_sent = 0;      // our HEADERS payloads
  std::size_t goaways_sent = 0;                 // with an error code: the connection was the peer's fault
  std::size_t protocol_errors = 0;              // connections ended for bad frames or HPACK
};
BOOST_DESCRIBE_STRUCT(Counts, (),
                      (connections, streams, refused_streams, reset_streams, too_large, header_block_bytes_received,
                       header_bytes_decoded, header_block_bytes_sent, goaways_sent, protocol_errors))

class H2Connection {
 public:
  // Answers one request; it runs inside receive(), so it must not block.
  using Handler = std::function<Response(Request&)>;

  // Queues the server's SETTINGS (the server's preface, RFC 9113 §3.4).
  H2Connection(Handler handler, Limits limits, Counts& counts);
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // Feeds bytes from the peer; requests that end here are answered (queued).
  // Returns "" or why the connection failed (a GOAWAY may then be queued).
  std::string receive(std::span<const std::uint8_t> bytes);
  // Why the connection failed ("" while it has not): set by receive(), or by
  // output() when nghttp2 sends GOAWAY with an error code.
  const std::string& failure() const;
  // The bytes to send now: SETTINGS, ACKs, responses, GOAWAY (empty: nothing).
  std::span<const std::uint8_t> output();
  // False once nghttp2 is done: GOAWAY sent or received and every stream finished.
  bool alive() const;
  std::size_t open_streams() const;
  // Resets (CANCEL) each stream whose request has not arrived whole within `seconds`.
  void expire_streams(double seconds);
  // Ends the connection politely: GOAWAY with `error_code` (0: NO_ERROR).
  void go_away(std::uint32_t error_code);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Drives `h2` over `stream`: write what it has, read what comes, until
// nghttp2 is done, the peer leaves, or nothing arrives for `idle_seconds`.
// `first` holds bytes already read (the preface). Returns why it ended.
template <class Stream>
boost::asio::awaitable<std::string> serve_h2(Stream& stream, H2Connection& h2, std::span<const std::uint8_t> first,
                                             double idle_seconds) {
  h2.receive(first);
  std::array<std::uint8_t, 16 * 1024> buffer;
  boost::system::error_code ec;
  std::size_t n = 0;
  // What nghttp2 has to send, each write within the idle deadline too: a peer
  // that stops reading cannot hold the connection open.
  auto flush = [&]() -> boost::asio::awaitable<void> {
    for (auto out = h2.output(); !ec && !out.empty(); out = h2.output())
      std::tie(ec, n) =
          co_await boost::asio::async_write(stream, boost::asio::buffer(out.data(), out.size()), use_tuple);
  };
  auto read_some = [&]() -> boost::asio::awaitable<void> {
    std::tie(ec, n) = co_await stream.async_read_some(boost::asio::buffer(buffer), use_tuple);
  };
  // Bounded: each turn reads at least one byte or ends, within the idle deadline.
  for (;;) {
    if (!co_await finish_within(flush(), idle_seconds))
      co_return "write: not done within " + std::to_string(idle_seconds) + " s (the peer is not reading)";
    if (ec) co_return "write: " + ec.message();
    if (!h2.failure().empty()) co_return h2.failure();
    if (!h2.alive()) co_return "HTTP/2 session done (GOAWAY)";
    if (!co_await finish_within(read_some(), idle_seconds)) {
      h2.go_away(0);
      ec = {};  // (the cancelled read's operation_aborted)
      co_await finish_within(flush(), idle_seconds);
      co_return "idle timeout: nothing for " + std::to_string(idle_seconds) + " s (GOAWAY sent)";
    }
    if (ec) co_return is_normal_ending(ec) ? "peer closed" : "read: " + ec.message();
    h2.receive(std::span<const std::uint8_t>(buffer.data(), n));
    h2.expire_streams(idle_seconds);
  }
}

}  // namespace netlab::h2
