#pragma once
// Session resumption (docs/labs/https.md, "Resumption"): the client keeps the
// session of its first connection (TLS 1.3: the PSK a NewSessionTicket carried;
// TLS 1.2: a session ticket, RFC 5077, or the server's session id) and offers it
// on a second connection. Both handshakes are traced, and their shape (messages,
// round trips, bytes) is read from the traces.
#include "io/net.hpp"
#include "program/result.hpp"
#include "tls/tls.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/describe/class.hpp>
#include <boost/json/array.hpp>

#include <ostream>
#include <string>
#include <vector>

namespace netlab::https {

using ssl_stream = boost::asio::ssl::stream<tcp::socket>;

// One request for `path`, the response until the server's close_notify, our close_notify.
boost::asio::awaitable<std::string> fetch_page(ssl_stream& stream, const std::string& path, const std::string& host);

// A handshake as the trace saw it, up to the moment it completed on the client
// (a TLS 1.3 NewSessionTicket arrives after that and is not counted).
struct HandshakeShape {
  std::string messages;         // "-> ClientHello, <- ServerHello, ..."
  std::size_t round_trips = 0;  // client flights answered by the server before the handshake completed
  std::size_t bytes_sent = 0, bytes_received = 0;  // handshake message bytes (headers + bodies) each way
  bool certificate = false;                        // the server sent a Certificate
};
BOOST_DESCRIBE_STRUCT(HandshakeShape, (), (messages, round_trips, bytes_sent, bytes_received, certificate))

// `completed`: how many steps the trace held when the handshake returned.
HandshakeShape shape_of(const std::vector<tls::Step>& steps, std::size_t completed);

struct Resumption {
  std::string offered;  // "PSK (NewSessionTicket)", "session ticket", "session id", "nothing resumable"
  bool reused = false;  // SSL_session_reused on the second connection
  HandshakeShape full, resumed;
  std::string status_line;  // the page on the resumed connection
  std::string error;
  boost::json::array trace;  // the resumed handshake, message by message
};
BOOST_DESCRIBE_STRUCT(Resumption, (), (offered, reused, full, resumed, status_line, error, trace))

// What the first connection left to resume with (SSL_get1_session after its close_notify).
std::string resumable_as(const SSL_SESSION* session, bool tls13);

// The second connection: TCP, then a handshake offering `session`, then the page.
boost::asio::awaitable<void> resume(const std::string& host, std::uint16_t port, boost::asio::ssl::context& context,
                                    const std::string& server_name, const std::string& path, SSL_SESSION* session,
                                    Resumption& r);

// The two handshakes side by side, for the summary.
void print_resumption(std::ostream& out, const Resumption& r);

// tls-resumption-skips-certificate, from the two traces.
Check resumption_check(const Resumption& r);

}  // namespace netlab::https
