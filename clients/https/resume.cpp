#include "resume.hpp"

#include "https/notes.hpp"
#include "io/coro.hpp"
#include "program/client.hpp"
#include "program/logging.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace netlab::https {

namespace ssl = boost::asio::ssl;
using tls::Direction;

boost::asio::awaitable<std::string> fetch_page(ssl_stream& stream, const std::string& path, const std::string& host) {
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: netlab-https-client\r\nConnection: close\r\n\r\n";
  if (auto [ec, n] = co_await boost::asio::async_write(stream, boost::asio::buffer(request), use_tuple); ec)
    throw failure("write request", ec);
  std::string response;
  std::vector<char> buffer(16384);
  for (;;) {
    auto [ec, n] = co_await stream.async_read_some(boost::asio::buffer(buffer), use_tuple);
    response.append(buffer.data(), n);
    if (ec == boost::asio::error::eof) break;  // close_notify: the page is complete
    if (ec == ssl::error::stream_truncated) {
      spdlog::warn("the server closed TCP without close_notify: the page could have been cut short");
      break;
    }
    if (ec) throw failure("read page", ec);
    if (response.size() > (1u << 20)) throw std::runtime_error("page over 1 MiB — not a netlab server?");
  }
  auto [shutdown_ec] = co_await stream.async_shutdown(use_tuple);
  (void)shutdown_ec;  // the server has closed already; our close_notify is a courtesy
  co_return response;
}

HandshakeShape shape_of(const std::vector<tls::Step>& steps, std::size_t completed) {
  HandshakeShape shape;
  Direction last = Direction::received;
  for (std::size_t i = 0; i < completed && i < steps.size(); ++i) {
    const auto& step = steps[i];
    if (step.message == "Alert") continue;
    const bool sent = step.direction == Direction::sent;
    // A round trip: the client spoke, then the server answered.
    if (!sent && last == Direction::sent) ++shape.round_trips;
    last = step.direction;
    // The handshake header (4 B) is part of each message on the wire; ChangeCipherSpec is 1 B.
    const std::size_t bytes = step.handshake_type ? step.length + 4 : step.length;
    (sent ? shape.bytes_sent : shape.bytes_received) += bytes;
    shape.certificate = shape.certificate || (!sent && step.message == "Certificate");
    shape.messages += (shape.messages.empty() ? "" : ", ") + std::string(sent ? "-> " : "<- ") + step.message;
  }
  return shape;
}

std::string resumable_as(const SSL_SESSION* session, bool tls13) {
  if (!session || SSL_SESSION_is_resumable(session) != 1) return "nothing resumable";
  if (tls13) return "PSK (NewSessionTicket)";
  if (SSL_SESSION_has_ticket(session)) return "session ticket";
  return "session id";
}

boost::asio::awaitable<void> resume(const std::string& host, std::uint16_t port, ssl::context& context,
                                    const std::string& server_name, const std::string& path, SSL_SESSION* session,
                                    Resumption& r) {
  tcp::socket socket = co_await connect_to(host, port, "netlab-https-server");
  const std::string who = describe_connection(socket);
  spdlog::info("UP   {} (resuming: {})", who, r.offered);
  ssl_stream stream(std::move(socket), context);
  SSL* ssl = stream.native_handle();
  tls::set_expected_server_name(ssl, server_name);
  if (SSL_set_session(ssl, session) != 1) throw std::runtime_error("SSL_set_session: " + tls::last_error_text());
  tls::Trace trace;
  trace.attach(ssl);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
  const std::size_t completed = trace.steps().size();
  if (ec) {
    r.error = "resumed handshake failed: " + ec.message();
  } else {
    r.reused = SSL_session_reused(ssl) == 1;
    const std::string response = co_await fetch_page(stream, path, server_name);
    r.status_line = response.substr(0, response.find("\r\n"));
  }
  r.resumed = shape_of(trace.steps(), completed);
  r.trace = trace_json(trace.steps(), SSL_version(ssl) == TLS1_3_VERSION);
  spdlog::info("DOWN {} (session reused: {})", who, r.reused ? "yes" : "no");
}

void print_resumption(std::ostream& out, const Resumption& r) {
  const auto line = [&](std::string_view name, const HandshakeShape& s) {
    out << "    " << name << s.round_trips << " round trip(s), " << s.bytes_sent << " B sent, " << s.bytes_received
        << " B received: " << s.messages << "\n";
  };
  out << "  resumption (--resume): offered " << r.offered << ", "
      << (r.reused ? "the server resumed it" : "NOT resumed") << (r.error.empty() ? "" : " — " + r.error) << "\n";
  line("full handshake:    ", r.full);
  line("second handshake:  ", r.resumed);
  if (const auto hello = client_hello_detail(r.trace); !hello.empty())
    out << "    second ClientHello: " << hello << "\n";
  if (!r.status_line.empty()) out << "    page on the second connection: " << r.status_line << "\n";
}

Check resumption_check(const Resumption& r) {
  Check check{.id = "tls-resumption-skips-certificate",
              .claim = "a resumed handshake skips the certificate and its key exchange",
              .expected =
                  "the second connection resumes the first one's session (SSL_session_reused) and its "
                  "handshake has no Certificate",
              .observed = "",
              .verdict = Verdict::skipped,
              .evidence =
                  "the two handshakes traced by the OpenSSL message callback; SSL_get1_session, "
                  "SSL_set_session, SSL_session_reused"};
  const auto count = [](const HandshakeShape& s) {
    return std::to_string(s.round_trips) + " round trip(s), " + std::to_string(s.bytes_sent) + " B sent + " +
           std::to_string(s.bytes_received) + " B received";
  };
  if (!r.error.empty()) {
    check.observed = r.error;
    check.verdict = Verdict::refuted;
    return check;
  }
  check.observed = "offered " + r.offered + "; " + (r.reused ? "resumed" : "NOT resumed (full handshake)") +
                   "; full: " + count(r.full) + (r.full.certificate ? ", Certificate" : ", no Certificate") +
                   "; second: " + count(r.resumed) + (r.resumed.certificate ? ", Certificate" : ", no Certificate") +
                   " [" + r.resumed.messages + "]";
  // Not resumed: the claim was not put to the test (a server without a cache or tickets does this).
  if (r.reused) check.verdict = r.resumed.certificate ? Verdict::refuted : Verdict::confirmed;
  return check;
}

}  // namespace netlab::https
