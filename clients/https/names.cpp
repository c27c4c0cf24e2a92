#include "names.hpp"

#include "https/notes.hpp"
#include "https/resume.hpp"
#include "io/coro.hpp"
#include "program/client.hpp"
#include "program/logging.hpp"
#include "tls/tls.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/x509v3.h>

#include <algorithm>
#include <array>

namespace netlab::https {

namespace ssl = boost::asio::ssl;
using tls::Direction;

namespace {

// A name the server has no certificate of its own for (RFC 2606 reserves .test).
constexpr std::string_view unknown_name = "unknown.netlab.test";

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= list.size() && !list.empty()) {
    const auto end = std::min(list.find(',', start), list.size());
    items.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

// RFC 7301 3.1: each protocol name prefixed by its length in one byte.
std::string alpn_wire(const std::string& list) {
  std::string wire;
  for (const auto& name : split_list(list)) wire += static_cast<char>(name.size()) + name;
  return wire;
}

std::string certificate_sha256(X509* cert) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), digest.data(), &length) != 1) return "";
  return tls::hex_bytes(std::span<const std::uint8_t>(digest.data(), length));
}

// What the trace saw: the ClientHello, the protocol the server named, its alert.
void read_trace(const std::vector<tls::Step>& steps, NameProbe& p) {
  for (const auto& step : steps) {
    if (step.direction == Direction::sent && step.message == "ClientHello" && p.client_hello.empty())
      p.client_hello = step.detail;
    if (step.direction == Direction::received && !step.alpn_protocols.empty())
      p.server_alpn_message = step.message + ": " + step.detail;
    if (step.direction == Direction::received && step.message == "Alert") p.alert = step.alert;
  }
}

boost::asio::awaitable<void> probe(const std::string& host, std::uint16_t port, ssl::context& context, NameProbe& p) {
  tcp::socket socket = co_await connect_to(host, port, "netlab-https-server");
  const std::string who = describe_connection(socket);
  ssl_stream stream(std::move(socket), context);
  SSL* ssl = stream.native_handle();
  if (!p.server_name.empty()) tls::set_sni(ssl, p.server_name);
  const std::string wire = alpn_wire(p.alpn_offered);
  // SSL_set_alpn_protos returns 0 on success, unlike most of OpenSSL.
  if (!wire.empty() && SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                                           static_cast<unsigned int>(wire.size())) != 0)
    throw std::runtime_error("ALPN list " + p.alpn_offered);
  tls::Trace trace;
  trace.attach(ssl);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
  read_trace(trace.steps(), p);
  if (ec) {
    p.error = ec.message();
    spdlog::info("NAME {}: SNI '{}', ALPN '{}': handshake failed: {}", who, p.server_name, p.alpn_offered, p.error);
    co_return;
  }
  p.handshake_ok = true;
  if (X509* cert = SSL_get0_peer_certificate(ssl)) {
    p.certificate_subject = tls::subject_of(cert);
    p.certificate_sha256 = certificate_sha256(cert);
    p.certificate_names_server_name =
        !p.server_name.empty() && X509_check_host(cert, p.server_name.c_str(), p.server_name.size(), 0, nullptr) == 1;
  }
  const unsigned char* chosen = nullptr;
  unsigned int chosen_length = 0;
  SSL_get0_alpn_selected(ssl, &chosen, &chosen_length);
  p.alpn_chosen.assign(reinterpret_cast<const char*>(chosen), chosen_length);
  if (p.alpn_chosen == "h2") {
    // This client speaks HTTP/1.1 only: told h2, it must not send an HTTP/1.1 request (curl --http2 fetches it).
    p.status_line = "(h2 chosen: no HTTP/1.1 request sent)";
    co_return;
  }
  const std::string host_header = p.server_name.empty() ? "localhost" : p.server_name;
  const std::string response = co_await fetch_page(stream, "/", host_header);
  const auto [head, body] = split_response(response);
  p.status_line = head.substr(0, head.find("\r\n"));
  p.server_alpn = header_value(head, "x-netlab-alpn-server");
  spdlog::info("NAME {}: SNI '{}' -> {}; ALPN '{}' -> '{}'", who, p.server_name, p.certificate_subject, p.alpn_offered,
               p.alpn_chosen);
}

NameProbe asking(std::string server_name, std::string alpn_offered) {
  NameProbe p;
  p.server_name = std::move(server_name);
  p.alpn_offered = std::move(alpn_offered);
  return p;
}

std::string shown(const std::string& text) { return text.empty() ? "none" : text; }

// The server's ALPN list as a page said it (a connection that fetched one).
std::string server_list(const Names& names) {
  for (const auto& p : names.alpn)
    if (!p.server_alpn.empty()) return p.server_alpn;
  return "";
}

}  // namespace

boost::asio::awaitable<void> probe_names(const std::string& host, std::uint16_t port, ssl::context& context,
                                         const std::string& server_name, Names& names) {
  for (const auto name : tls::sni_names) names.sni.push_back(asking(std::string(name), ""));
  names.sni.push_back(asking(std::string(unknown_name), ""));
  names.sni.push_back(asking("", ""));  // no server_name at all
  // h2 first, as a browser offers it; then h2 alone (nothing in common with an
  // HTTP/1.1-only server); then http/1.1 alone, which also shows the server
  // still serves; then a protocol nobody here speaks (spdy/3.1: the alert).
  for (const auto* offer : {"h2,http/1.1", "h2", "http/1.1", "spdy/3.1"})
    names.alpn.push_back(asking(server_name, offer));
  for (auto& p : names.sni) co_await probe(host, port, context, p);
  for (auto& p : names.alpn) co_await probe(host, port, context, p);
}

void print_names(std::ostream& out, const Names& names) {
  out << "  SNI (--names): the certificate the server presented for each server_name\n";
  for (const auto& p : names.sni)
    out << "    " << (p.server_name.empty() ? "(no server_name)" : p.server_name) << " -> "
        << (p.handshake_ok ? p.certificate_subject + (p.certificate_names_server_name ? " (names it)" : "")
                           : "handshake failed: " + p.error)
        << "\n";
  out << "  ALPN (--names): offered -> chosen (server's list: " << shown(server_list(names)) << ")\n";
  for (const auto& p : names.alpn)
    out << "    " << p.alpn_offered << " -> "
        << (p.handshake_ok ? shown(p.alpn_chosen) : "handshake failed: " + (p.alert.empty() ? p.error : p.alert))
        << "\n";
}

Check sni_check(const Names& names) {
  Check check{.id = "sni-selects-certificate",
              .claim = "the server chooses its certificate by the name in the ClientHello (SNI)",
              .expected = "a.netlab.test and b.netlab.test each get a certificate naming them, two different ones",
              .observed = "",
              .verdict = Verdict::refuted,
              .evidence =
                  "SNI set per connection (SSL_set_tlsext_host_name); the certificate received: subject, "
                  "X509_check_host, SHA-256. Which certificate a name gets is the server's own rule (ours: its "
                  "servername callback): a fact, printed not graded; refuted when the certificates say otherwise"};
  for (const auto& p : names.sni)
    check.observed += (check.observed.empty() ? "" : "; ") +
                      (p.server_name.empty() ? std::string("no server_name") : p.server_name) + " -> " +
                      (p.handshake_ok ? p.certificate_subject + (p.certificate_names_server_name ? " (names it)" : "") +
                                            " sha256 " + p.certificate_sha256.substr(0, 12)
                                      : "handshake failed: " + p.error);
  if (names.sni.size() < 2) return check;
  const auto& a = names.sni[0];
  const auto& b = names.sni[1];
  if (a.handshake_ok && b.handshake_ok && a.certificate_names_server_name && b.certificate_names_server_name &&
      a.certificate_sha256 != b.certificate_sha256)
    check.verdict = Verdict::fact;
  return check;
}

Check alpn_check(const Names& names) {
  Check check{.id = "alpn-negotiated",
              .claim = "ALPN: the server picks, by its own preference, a protocol both sides have",
              .expected =
                  "the protocol chosen is in the client's offer and the server's list, the server's first; "
                  "an offer with none of the server's gets the no_application_protocol alert",
              .observed = "",
              .verdict = Verdict::fact,
              .evidence =
                  "SSL_set_alpn_protos, SSL_get0_alpn_selected, the traced alert; the server's list from "
                  "its X-Netlab-ALPN-Server header. The choice is the server's own preference (ours: --alpn): "
                  "a fact, printed not graded; refuted when the choice breaks RFC 7301 or that list"};
  const std::string server_list = https::server_list(names);
  const auto servers = split_list(server_list == "off" ? "" : server_list);
  bool wrong = names.alpn.empty(), ignored = server_list.empty() || server_list == "off";
  for (const auto& p : names.alpn) {
    const auto offered = split_list(p.alpn_offered);
    const auto common = std::find_first_of(servers.begin(), servers.end(), offered.begin(), offered.end());
    std::string expected = common == servers.end() ? "" : *common;
    if (!p.handshake_ok) {
      // Only an offer with nothing in common may end the handshake, and with this alert.
      wrong = wrong || !expected.empty() || p.alert.find("no application protocol") == std::string::npos;
    } else if (p.alpn_chosen.empty()) {
      ignored = true;  // RFC 7301 3.1: a server MAY answer the extension; this one did not
      wrong = wrong || !expected.empty();
    } else {
      const bool in_offer = std::find(offered.begin(), offered.end(), p.alpn_chosen) != offered.end();
      wrong = wrong || !in_offer || (!servers.empty() && p.alpn_chosen != expected);
    }
    check.observed += (check.observed.empty() ? "" : "; ") + std::string("offered ") + p.alpn_offered + " -> " +
                      (p.handshake_ok ? shown(p.alpn_chosen) : "failed: " + (p.alert.empty() ? p.error : p.alert));
  }
  check.observed += "; server's list " + shown(server_list);
  if (wrong)
    check.verdict = Verdict::refuted;
  else if (ignored)
    check.verdict = Verdict::nuanced;  // nothing was negotiated: the claim was not put to the test in full
  return check;
}

}  // namespace netlab::https
