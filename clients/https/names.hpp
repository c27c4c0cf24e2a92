#pragma once
// SNI and ALPN (docs/labs/https.md, "SNI and ALPN"): short connections that each
// ask for something else — a server name in the ClientHello (RFC 6066 section 3)
// or a list of application protocols (RFC 7301) — and what the server chose for
// each: the certificate it presented, the protocol it agreed to, or its alert.
#include "io/net.hpp"
#include "program/result.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/describe/class.hpp>

#include <ostream>
#include <string>
#include <vector>

namespace netlab::https {

struct NameProbe {
  std::string server_name;   // sent as SNI ("" = no server_name extension)
  std::string alpn_offered;  // comma list, in the client's order ("" = no ALPN extension)
  bool handshake_ok = false;
  std::string error;  // why the handshake failed
  std::string alert;  // the alert the server sent ("fatal no application protocol")
  std::string certificate_subject;
  bool certificate_names_server_name = false;  // X509_check_host(certificate, server_name)
  std::string certificate_sha256;
  std::string alpn_chosen;          // "" = none
  std::string server_alpn;          // the server's ALPN list as its page says (X-Netlab-ALPN-Server), "" = not said
  std::string status_line;          // the page fetched after the handshake
  std::string client_hello;         // the traced ClientHello, in a line
  std::string server_alpn_message;  // the traced ServerHello (1.2) / EncryptedExtensions (1.3) carrying ALPN
};
BOOST_DESCRIBE_STRUCT(NameProbe, (),
                      (server_name, alpn_offered, handshake_ok, error, alert, certificate_subject,
                       certificate_names_server_name, certificate_sha256, alpn_chosen, server_alpn, status_line,
                       client_hello, server_alpn_message))

struct Names {
  std::vector<NameProbe> sni;   // a.netlab.test, b.netlab.test, a name the server has no certificate for, no name
  std::vector<NameProbe> alpn;  // offers h2,http/1.1, h2, http/1.1, spdy/3.1 (with SNI `server_name`)
};
BOOST_DESCRIBE_STRUCT(Names, (), (sni, alpn))

// The connections, one after the other; `context` verifies the chain against the
// lab's CA, the names are checked here (a certificate for another name is a
// verdict, not an abort).
boost::asio::awaitable<void> probe_names(const std::string& host, std::uint16_t port,
                                         boost::asio::ssl::context& context, const std::string& server_name,
                                         Names& names);

void print_names(std::ostream& out, const Names& names);

// sni-selects-certificate: the two names got two different certificates, each
// naming it. The server's own rule decides: a fact when it holds, refuted otherwise.
Check sni_check(const Names& names);
// alpn-negotiated: what was chosen is in both lists and the server's first choice;
// an offer with nothing in common got the no_application_protocol alert. The
// server's preference decides: a fact when it holds, refuted when broken,
// nuanced when nothing was negotiated.
Check alpn_check(const Names& names);

}  // namespace netlab::https
