#pragma once
// TLS 1.3 early data (0-RTT, RFC 8446 section 2.3 and 4.2.10) on the https
// server. A ClientHello that offers early data is driven by hand through memory
// BIOs (tls/memory_bio.hpp: Asio's ssl::stream has no SSL_read_early_data):
// the request that came as early data is answered at once, before the
// client's Finished (0.5-RTT data), with `X-Netlab-Early-Data: accepted`.
// Every other connection keeps Asio's stream. Replay (RFC 8446 section 8):
// with early data on, OpenSSL makes TLS 1.3 tickets single use (stateful,
// removed from the session cache when used; SSL_OP_NO_ANTI_REPLAY is not set),
// so a replayed ClientHello's PSK is unknown and its early data is skipped. The
// server counts each early-data offer: accepted, or rejected and why.
#include "io/net.hpp"
#include "tls/memory_bio.hpp"
#include "tls/trace.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/describe/class.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>

namespace netlab::https {

using ssl_stream = boost::asio::ssl::stream<tcp::socket>;

struct EarlyDataCounters {
  std::size_t max_early_data = 0;               // bytes a ticket lets a client send early (0 = early data off)
  bool anti_replay = true;                      // OpenSSL's single-use tickets (off: --no-anti-replay demo)
  std::size_t offered = 0;                      // ClientHellos with the early_data extension
  std::size_t not_offered = 0;                  // TLS 1.3 ClientHellos without it
  std::size_t accepted = 0;                     // SSL_get_early_data_status: accepted
  std::size_t requests_served = 0;              // requests answered from early data (0.5-RTT)
  std::map<std::string, std::size_t> rejected;  // "ticket already used" -> count
};
BOOST_DESCRIBE_STRUCT(EarlyDataCounters, (),
                      (max_early_data, anti_replay, offered, not_offered, accepted, requests_served, rejected))

// Why early data was not accepted, as the server names it.
inline constexpr const char* reason_no_ticket = "no ticket";
inline constexpr const char* reason_ticket_used = "ticket already used";
inline constexpr const char* reason_ticket_unknown = "ticket unknown";
inline constexpr const char* reason_too_much = "too much data";
inline constexpr const char* reason_other = "refused after resumption";
inline constexpr const char* reason_not_read = "ClientHello not in one read";  // went the Asio way, skipped

// The summary's lines about early data (none when it is off).
void print_early_data(std::ostream& out, const EarlyDataCounters& c);

// The server's early-data settings and counts (one per server).
class EarlyData {
 public:
  // max_bytes 0: early data off (the server never reads it; OpenSSL rejects it).
  // anti_replay false: SSL_OP_NO_ANTI_REPLAY, the demo of what single-use tickets prevent.
  EarlyData(boost::asio::ssl::context& context, std::size_t max_bytes, bool anti_replay);
  bool enabled() const { return counters_.max_early_data > 0; }
  EarlyDataCounters& counters() { return counters_; }
  const EarlyDataCounters& counters() const { return counters_; }
  // "offered=2; accepted=1; served=1; rejected ticket already used=1": the
  // X-Netlab-Early-Data-Counts header, for a client that replays to read back.
  std::string counts_header() const;
  // A ticket's PSK identity whose early data was accepted (a replay offers it again).
  void remember_used(const std::vector<std::uint8_t>& identity);
  bool used(const std::vector<std::uint8_t>& identity) const;

 private:
  EarlyDataCounters counters_;
  std::set<std::string> used_tickets_;  // SHA-256 of identities, capped
};

// One server connection's TLS: Asio's ssl::stream, or memory BIOs when the
// ClientHello offers early data.
class Connection {
 public:
  Connection(ssl_stream& stream, EarlyData& early, const tls::Trace& trace, std::string who);
  // The handshake, or with early data accepted: up to the early request (the
  // client's Finished comes after our answer).
  boost::asio::awaitable<void> handshake(boost::system::error_code& ec);
  // The request head (up to 8 KiB), from early data or read after the handshake.
  boost::asio::awaitable<void> read_request(std::string& request, boost::system::error_code& ec);
  // The page, the rest of the handshake if it is still open, close_notify.
  boost::asio::awaitable<void> send_page(const std::string& response, boost::system::error_code& ec);
  // Response headers about early data ("" when it is off).
  std::string headers() const;
  // The handshake failure was early data's and is logged and counted already.
  bool failure_reported() const { return failure_reported_; }

 private:
  boost::asio::awaitable<bool> offers_early_data(boost::system::error_code& wait_ec);
  boost::asio::awaitable<void> read_early_request(boost::system::error_code& ec);
  void classify();
  ssl_stream& stream_;
  EarlyData& early_;
  const tls::Trace& trace_;
  std::string who_;
  std::optional<tls::MemoryBioPump> pump_;  // set: this connection is driven by hand
  std::string early_request_;
  bool early_request_complete_ = false;
  std::string status_ = "not offered";  // "accepted", "rejected: <reason>", "not offered"
  bool failure_reported_ = false;
};

}  // namespace netlab::https
