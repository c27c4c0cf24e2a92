#pragma once
// The three handshakes of the https lab as settings of an OpenSSL context
// (1.3, 1.2-ecdhe, 1.2-rsa), the server's certificate, the client's
// verification and the name it expects.
#include "tls/pki.hpp"

#include <boost/asio/ssl/context.hpp>

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

// The OpenSSL error queue and a verification result, as one line.
std::string last_error_text();

}  // namespace netlab::tls
