#pragma once
// OpenSSL driven by hand over a TCP socket, through two memory BIOs, for the
// calls Asio's ssl::stream has no operation for: TLS 1.3 early data
// (SSL_write_early_data on the client, SSL_read_early_data on the server, RFC
// 8446 section 4.2.10). Each call is repeated until OpenSSL finishes or fails;
// what it wrote goes to the socket, and when it wants the peer's bytes, one
// read's worth is handed to it. The callers bound each call in time
// (finish_within); a call reads at most max_reads times.
#include "io/net.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace netlab::tls {

class MemoryBioPump {
 public:
  // Gives `ssl` two fresh memory BIOs (its old ones are freed): from now on
  // this connection's TLS bytes pass only through this pump.
  explicit MemoryBioPump(SSL* ssl);
  MemoryBioPump(const MemoryBioPump&) = delete;
  MemoryBioPump& operator=(const MemoryBioPump&) = delete;

  // One OpenSSL call (`op` returns what the call returned: > 0 done, <= 0 look
  // at SSL_get_error), repeated while it wants to read. `ec` as Asio's
  // ssl::stream would set it: the SSL category with OpenSSL's error (so
  // ERR_GET_REASON names it), eof on close_notify, ssl::error::stream_truncated
  // when TCP closed without one. Returns the call's last return value.
  boost::asio::awaitable<int> call(tcp::socket& socket, const std::function<int(SSL*)>& op,
                                   boost::system::error_code& ec);

  // The bytes written before the first byte was read: the client's first flight
  // (ClientHello, and early data when there is some).
  const std::vector<std::uint8_t>& first_flight() const { return first_flight_; }
  // Flights so far: a flight is what one side wrote before the other answered.
  std::size_t flights_sent() const { return flights_sent_; }
  std::size_t flights_received() const { return flights_received_; }

  static constexpr std::size_t max_reads = 64;               // per call
  static constexpr std::size_t max_first_flight = 1u << 17;  // recorded, not more

 private:
  boost::asio::awaitable<void> flush(tcp::socket& socket, boost::system::error_code& ec);
  SSL* ssl_;
  BIO* in_;   // the peer's bytes, for OpenSSL to read
  BIO* out_;  // what OpenSSL wrote, for the socket
  std::vector<std::uint8_t> first_flight_;
  std::size_t flights_sent_ = 0, flights_received_ = 0;
  bool last_was_send_ = false;
};

}  // namespace netlab::tls
