#pragma once
// TLS 1.3 0-RTT and its replay (docs/labs/https.md, "0-RTT"). A full handshake
// gets a ticket; a resumed one (no early data) gets a fresh ticket that allows
// early data (max_early_data); the next connection sends its GET as early data
// in its first flight, beside the resumption ClientHello (SSL_write_early_data,
// RFC 8446 section 4.2.10). Then an attacker's replay: the exact bytes of that
// first flight (from the lab's capture with --replay-capture, else as the
// client wrote them), sent again on a new TCP connection (RFC 8446 section 8). The
// server's own counts, read back from its X-Netlab-Early-Data-Counts header,
// say whether the replayed request was served again.
#include "io/net.hpp"
#include "program/result.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/describe/class.hpp>
#include <boost/json/array.hpp>

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>

namespace netlab::https {

// One connection of the 0-RTT step, driven through memory BIOs (tls/memory_bio.hpp).
struct EarlyConnection {
  unsigned short client_port = 0;    // picks the connection out of a capture
  bool resumed = false;              // SSL_session_reused
  bool early_data_sent = false;      // the GET went as early data (SSL_write_early_data)
  std::size_t early_data_bytes = 0;  // ... that many bytes of it
  std::string early_data_status;     // SSL_get_early_data_status: accepted / rejected / not sent
  std::string server_says;           // the server's X-Netlab-Early-Data header
  std::string server_counts;         // its X-Netlab-Early-Data-Counts header
  // Round trips until the first byte of the answer: the client flight that
  // carried the request (1 = the ClientHello's; 2 = the one with Finished),
  // from the client's record of its writes and reads, not timed.
  std::size_t round_trips_to_answer = 0;
  std::string status_line;
  std::string error;
};
BOOST_DESCRIBE_STRUCT(EarlyConnection, (),
                      (client_port, resumed, early_data_sent, early_data_bytes, early_data_status, server_says,
                       server_counts, round_trips_to_answer, status_line, error))

struct Replay {
  std::string source;          // where the replayed bytes came from
  std::size_t bytes = 0;       // ClientHello + early data, as first sent
  std::size_t bytes_back = 0;  // what the server answered before we left
  std::string server_answer;   // its first record, decoded
  std::string counts_after;    // the server's counts, read on a later connection
  std::string error;
};
BOOST_DESCRIBE_STRUCT(Replay, (), (source, bytes, bytes_back, server_answer, counts_after, error))

struct ZeroRtt {
  std::size_t max_early_data = 0;  // what the ticket allows (SSL_SESSION_get_max_early_data)
  std::size_t pad = 0;             // --early-data-pad: bytes added to the early request
  std::string capture;             // --replay-capture: the lab's capture, to take the replayed bytes from
  EarlyConnection full, resumed, early;
  std::optional<Replay> replay;  // only when the early data was accepted: else nothing to replay
  boost::json::array trace;      // the 0-RTT handshake, message by message
};
BOOST_DESCRIBE_STRUCT(ZeroRtt, (), (max_early_data, pad, capture, full, resumed, early, replay, trace))

// The step: full, resumed, 0-RTT, replay, and the server's counts after it.
boost::asio::awaitable<void> zero_rtt(const std::string& host, std::uint16_t port, boost::asio::ssl::context& context,
                                      const std::string& server_name, const std::string& path, ZeroRtt& z);

void print_zero_rtt(std::ostream& out, const ZeroRtt& z);

// A counter out of "offered=2; accepted=1; served=1; ticket already used=1" (nullopt: absent).
std::optional<std::size_t> early_data_count(const std::string& counts, const std::string& name);

// zero-rtt-replay-refused: from the 0-RTT connection and the server's counts before and after the replay.
Check replay_check(const ZeroRtt& z);

}  // namespace netlab::https
