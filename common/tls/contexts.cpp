#include "tls/contexts.hpp"

#include "tls/openssl.hpp"

#include <openssl/pem.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>
#include <vector>

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

SniCertificates::SniCertificates(boost::asio::ssl::context& context, const Pki& pki) {
  const auto read = [](const fs::path& path, auto reader) {
    std::FILE* file = std::fopen(path.c_str(), "r");
    if (!file) fail("open " + path.string());
    auto* object = reader(file, nullptr, nullptr, nullptr);
    std::fclose(file);
    if (!object) fail("load " + path.string());
    return object;
  };
  // Owned until all are loaded: a file that does not load leaks nothing.
  Owned<EVP_PKEY> key(read(pki.server_key(), PEM_read_PrivateKey));
  std::vector<std::pair<std::string_view, Owned<X509>>> certificates;
  for (const auto name : sni_names) certificates.emplace_back(name, read(pki.name_cert(name), PEM_read_X509));
  key_ = key.release();
  for (auto& [name, cert] : certificates) certificates_.emplace(name, cert.release());
  SSL_CTX* ctx = context.native_handle();
  // SSL_CTX_set_tlsext_servername_callback/_arg are macros with C casts; the calls they stand for:
  SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB, reinterpret_cast<void (*)()>(&on_server_name));
  SSL_CTX_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, this);
}

SniCertificates::~SniCertificates() {
  for (auto& [name, cert] : certificates_) X509_free(cert);
  EVP_PKEY_free(key_);
}

// Called while the ClientHello is processed, before the certificate is chosen.
int SniCertificates::on_server_name(SSL* ssl, int* /*alert*/, void* arg) {
  const auto* self = static_cast<const SniCertificates*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const auto found = name ? self->certificates_.find(std::string_view(name)) : self->certificates_.end();
  // A name we have no certificate of our own for: go on with the default one, and
  // say nothing (no empty server_name in our hello: RFC 6066 section 3).
  if (found == self->certificates_.end()) return SSL_TLSEXT_ERR_NOACK;
  if (SSL_use_certificate(ssl, found->second) != 1 || SSL_use_PrivateKey(ssl, self->key_) != 1)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  return SSL_TLSEXT_ERR_OK;
}

std::string subject_of(X509* cert) {
  if (!cert) return "";
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_ONELINE) < 0) return "";
  return bio_text(bio.get());
}

namespace {

// The ex_data slot marking a connection whose ALPN choice skips h2 (skip_h2).
int skip_h2_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// RFC 7301 3.2: the server picks by its own preference among what the client offered.
int select_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                unsigned int in_length, void* arg) {
  const std::string_view served = *static_cast<const std::string*>(arg);
  // Bounded: each turn moves past one name of our list (comma-separated).
  for (std::size_t from = 0; from < served.size();) {
    const std::size_t comma = std::min(served.find(',', from), served.size());
    const std::string_view ours = served.substr(from, comma - from);
    from = comma + 1;
    if (ours == "h2" && SSL_get_ex_data(ssl, skip_h2_index()) != nullptr) continue;
    for (std::size_t at = 0; at < in_length;) {
      const std::size_t length = in[at];
      if (length == 0 || at + 1 + length > in_length) break;  // OpenSSL has checked the list; never read past it
      if (std::string_view(reinterpret_cast<const char*>(in + at + 1), length) == ours) {
        *out = in + at + 1;
        *out_length = static_cast<unsigned char>(length);
        return SSL_TLSEXT_ERR_OK;
      }
      at += 1 + length;
    }
  }
  // OpenSSL answers this with the fatal no_application_protocol alert.
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

}  // namespace

void skip_h2(SSL* ssl) {
  static int marker = 1;
  SSL_set_ex_data(ssl, skip_h2_index(), &marker);
}

void configure_alpn(boost::asio::ssl::context& context, const std::string& served) {
  SSL_CTX_set_alpn_select_cb(context.native_handle(), select_alpn, const_cast<std::string*>(&served));
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
  set_sni(ssl, name);
  if (SSL_set1_host(ssl, name.c_str()) != 1) fail("expected host name " + name);
}

void set_sni(SSL* ssl, const std::string& name) {
  // SSL_set_tlsext_host_name() is a macro with a C cast; the call it stands for:
  if (SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str())) != 1)
    fail("SNI " + name);
}

}  // namespace netlab::tls
