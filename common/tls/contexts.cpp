#include "tls/contexts.hpp"

#include "tls/openssl.hpp"

#include <arpa/inet.h>

#include <array>

namespace netlab::tls {

namespace fs = std::filesystem;

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::tls13:
      return "1.3";
    case Mode::tls12_ecdhe:
      return "1.2-ecdhe";
    case Mode::tls12_rsa:
      return "1.2-rsa";
  }
  return "?";
}

std::vector<std::pair<std::string, Mode>> mode_names() {
  return {{"1.3", Mode::tls13}, {"1.2-ecdhe", Mode::tls12_ecdhe}, {"1.2-rsa", Mode::tls12_rsa}};
}

namespace {

void set_versions(SSL_CTX* ctx, int min, int max) {
  if (SSL_CTX_set_min_proto_version(ctx, min) != 1 || SSL_CTX_set_max_proto_version(ctx, max) != 1)
    fail("protocol versions");
}

// TLS 1.2 suites by key exchange: ECDHE (forward secret) or RSA key transport.
constexpr const char* ecdhe_suites =
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* rsa_suites = "AES128-GCM-SHA256:AES256-GCM-SHA384";

void set_mode(SSL_CTX* ctx, Mode mode) {
  switch (mode) {
    case Mode::tls13:
      set_versions(ctx, TLS1_3_VERSION, TLS1_3_VERSION);
      break;
    case Mode::tls12_ecdhe:
      set_versions(ctx, TLS1_2_VERSION, TLS1_2_VERSION);
      if (SSL_CTX_set_cipher_list(ctx, ecdhe_suites) != 1) fail("ECDHE cipher suites");
      break;
    case Mode::tls12_rsa:
      set_versions(ctx, TLS1_2_VERSION, TLS1_2_VERSION);
      // OpenSSL 3.0 still allows these at the default security level (checked:
      // the level is reported by the server), so the level is left alone.
      if (SSL_CTX_set_cipher_list(ctx, rsa_suites) != 1) fail("RSA key transport cipher suites");
      break;
  }
}

}  // namespace

void configure_server(boost::asio::ssl::context& context, Mode mode, const Pki& pki, CertChoice cert) {
  SSL_CTX* ctx = context.native_handle();
  set_mode(ctx, mode);
  // TLS 1.2: the server picks from the client's offer in its own order (the
  // lists above), not the client's — testssl.sh flags a server without one.
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set1_groups_list(ctx, std::string(server_groups).c_str()) != 1) fail("key exchange groups");
  const fs::path cert_file = cert == CertChoice::expired ? pki.expired_cert() : pki.server_cert();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) fail("load " + cert_file.string());
  if (SSL_CTX_use_PrivateKey_file(ctx, pki.server_key().c_str(), SSL_FILETYPE_PEM) != 1)
    fail("load " + pki.server_key().string());
  if (SSL_CTX_check_private_key(ctx) != 1) fail("the key does not match " + cert_file.string());
}

void configure_resumption(boost::asio::ssl::context& context, bool no_tickets) {
  SSL_CTX* ctx = context.native_handle();
  static constexpr unsigned char id_context[] = "netlab-https";
  if (SSL_CTX_set_session_id_context(ctx, id_context, sizeof id_context - 1) != 1) fail("session id context");
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  if (no_tickets) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
}

void configure_client(boost::asio::ssl::context& context, std::optional<Mode> mode, const std::string& ca_file,
                      bool verify, bool force_hrr) {
  SSL_CTX* ctx = context.native_handle();
  if (mode)
    set_mode(ctx, *mode);
  else
    set_versions(ctx, TLS1_2_VERSION, TLS1_3_VERSION);  // offer both, as a browser does; the server picks
  if (force_hrr && SSL_CTX_set1_groups_list(ctx, std::string(hrr_client_groups).c_str()) != 1)
    fail("key exchange groups");
  if (ca_file == "system") {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) fail("the system's trust store");
  } else if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    fail("load CA " + ca_file);
  }
  // Without --no-verify-demo a certificate that does not chain to the CA, has
  // expired or names another host ends the handshake. With it OpenSSL still
  // computes the verdict (SSL_get_verify_result) but goes on regardless.
  SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
}

void set_expected_server_name(SSL* ssl, const std::string& name) {
  std::array<unsigned char, 16> address{};
  const bool is_ip = ::inet_pton(AF_INET, name.c_str(), address.data()) == 1 ||
                     ::inet_pton(AF_INET6, name.c_str(), address.data()) == 1;
  if (is_ip) {
    // SNI carries host names only; an address is matched against the IP SANs.
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) != 1) fail("expected address " + name);
    return;
  }
  // SSL_set_tlsext_host_name() is a macro with a C cast; the call it stands for:
  if (SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str())) != 1)
    fail("SNI " + name);
  if (SSL_set1_host(ssl, name.c_str()) != 1) fail("expected host name " + name);
}

}  // namespace netlab::tls
