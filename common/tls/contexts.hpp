#pragma once
// The three handshakes of the https lab as settings of an OpenSSL context
// (1.3, 1.2-ecdhe, 1.2-rsa), the server's certificate, the client's
// verification and the name it expects.
#include "tls/pki.hpp"

#include <boost/asio/ssl/context.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace netlab::tls {

enum class Mode { tls13, tls12_ecdhe, tls12_rsa };

std::string_view mode_name(Mode mode);                   // "1.3", "1.2-ecdhe", "1.2-rsa"
std::vector<std::pair<std::string, Mode>> mode_names();  // for CLI11's CheckedTransformer

// The server takes these key-exchange groups and no others, so that a client
// whose first key share is for another group (--force-hrr) gets a HelloRetryRequest.
inline constexpr std::string_view server_groups = "X25519:P-256";
inline constexpr std::string_view hrr_client_groups = "P-384:X25519:P-256";

enum class CertChoice { valid, expired };

// Server: the versions and key exchanges of `mode`, the lab's certificate and key.
void configure_server(boost::asio::ssl::context& context, Mode mode, const Pki& pki, CertChoice cert);

// Server: SNI (RFC 6066 section 3). Holds the certificate of each of sni_names
// (pki.hpp; same key as server.pem) and, through the servername callback, puts the
// one the ClientHello's server_name names on that connection before the server
// picks its certificate. Another name, or none, keeps the context's certificate
// (server.pem, localhost) and the server does not acknowledge the name. Must
// outlive the context.
class SniCertificates {
 public:
  SniCertificates(boost::asio::ssl::context& context, const Pki& pki);
  ~SniCertificates();
  SniCertificates(const SniCertificates&) = delete;
  SniCertificates& operator=(const SniCertificates&) = delete;

 private:
  static int on_server_name(SSL* ssl, int* alert, void* arg);
  std::map<std::string, X509*, std::less<>> certificates_;
  EVP_PKEY* key_ = nullptr;
};

// A certificate's subject in a line ("O = netlab https lab, CN = localhost"; "" for none).
std::string subject_of(X509* cert);

// Server: ALPN (RFC 7301). The server agrees, by its own preference, to the
// first protocol of `served` ("h2,http/1.1": HTTP/2, else HTTP/1.1) that the
// client offered: a client offering h2 and http/1.1 gets h2; a client offering
// nothing the server has gets the fatal no_application_protocol alert (RFC 7301
// section 3.2). A client without the ALPN extension gets no protocol. `served`
// is read at each handshake: it must outlive the context.
inline constexpr std::string_view served_alpn = "h2,http/1.1";
void configure_alpn(boost::asio::ssl::context& context, const std::string& served);
// This connection's ALPN choice passes over h2: the https server's 0-RTT path
// (driven by hand through memory BIOs, servers/https/early_data.hpp) reads an
// HTTP/1.1 request from the early data and cannot hand the stream to the h2 session.
void skip_h2(SSL* ssl);

// Server: session resumption. OpenSSL's server session cache is on by default;
// this names the sessions of this server (session id context) and, with
// `no_tickets`, sends no TLS 1.2 session tickets (RFC 5077), so a 1.2 client can
// only resume by session id (RFC 5246 7.4.1.2); 1.3 tickets become stateful.
void configure_resumption(boost::asio::ssl::context& context, bool no_tickets);

// Client: the versions of `mode` (none = offer TLS 1.2 and 1.3 and let the server
// choose), verification against `ca_file` ("system" = the system's trust store,
// which does not know the lab's CA), or no verification at all when `verify` is
// false (the --no-verify-demo). `force_hrr` offers a first key share for a group
// the server does not take.
void configure_client(boost::asio::ssl::context& context, std::optional<Mode> mode, const std::string& ca_file,
                      bool verify, bool force_hrr);

// Client, per connection: SNI (for a DNS name) and the name the certificate must carry.
void set_expected_server_name(SSL* ssl, const std::string& name);
// Client, per connection: SNI only; the certificate's name is left to the caller.
void set_sni(SSL* ssl, const std::string& name);

// The OpenSSL error queue and a verification result, as one line.
std::string last_error_text();

}  // namespace netlab::tls
