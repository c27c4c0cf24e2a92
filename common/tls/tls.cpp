#include "tls/tls.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <system_error>

namespace netlab::tls {

namespace fs = std::filesystem;

// ---- modes -----------------------------------------------------------------------

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::tls13: return "1.3";
    case Mode::tls12_ecdhe: return "1.2-ecdhe";
    case Mode::tls12_rsa: return "1.2-rsa";
  }
  return "?";
}

std::vector<std::pair<std::string, Mode>> mode_names() {
  return {{"1.3", Mode::tls13}, {"1.2-ecdhe", Mode::tls12_ecdhe}, {"1.2-rsa", Mode::tls12_rsa}};
}

std::string last_error_text() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    const std::string part = reason ? reason : "error " + std::to_string(code);
    if (text.find(part) == std::string::npos) text += (text.empty() ? "" : "; ") + part;
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + last_error_text()); }

// Owners for OpenSSL objects, so that every path frees them (LeakSanitizer watches).
struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  void operator()(SSL* p) const { SSL_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

// ---- certificates ------------------------------------------------------------------

void add_extension(X509* cert, X509V3_CTX& ctx, int nid, const char* value) {
  Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) fail(std::string("certificate extension ") + OBJ_nid2sn(nid));
}

struct CertSpec {
  const char* common_name;
  long valid_from_seconds;  // relative to now
  long valid_to_seconds;
  bool is_ca;
};

Owned<X509> make_certificate(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer, EVP_PKEY* issuer_key) {
  Owned<X509> cert(X509_new());
  Owned<BIGNUM> serial(BN_new());
  if (!cert || !serial || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      BN_rand(serial.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.valid_from_seconds) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.valid_to_seconds) ||
      X509_set_pubkey(cert.get(), subject_key) != 1)
    fail("certificate fields");
  X509_NAME* name = X509_get_subject_name(cert.get());
  const auto text = [](const char* s) { return reinterpret_cast<const unsigned char*>(s); };
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, text("netlab https lab"), -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, text(spec.common_name), -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name) != 1)
    fail("certificate names");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  add_extension(cert.get(), ctx, NID_subject_key_identifier, "hash");
  if (spec.is_ca) {
    add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_extension(cert.get(), ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), ctx, NID_authority_key_identifier, "keyid:always");
    add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:FALSE");
    // keyEncipherment: TLS 1.2 RSA key transport encrypts the pre-master secret with this key.
    add_extension(cert.get(), ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_extension(cert.get(), ctx, NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), ctx, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) fail("signing the certificate");
  return cert;
}

std::string pem_of(X509* cert) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) fail("PEM of a certificate");
  return bio_text(bio.get());
}

std::string pem_of(EVP_PKEY* key) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail("PEM of a key");
  return bio_text(bio.get());
}

// Temporary file, then rename: a reader sees the old file or the whole new one.
void write_private_file(const fs::path& path, const std::string& text, mode_t mode) {
  const fs::path temporary = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "create " + temporary.string());
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      throw std::system_error(error, std::generic_category(), "write " + temporary.string());
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  fs::rename(temporary, path);
}

class FileLock {
 public:
  explicit FileLock(const fs::path& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string());
    // Held only while another process writes four small files.
    while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

}  // namespace

bool ensure_pki(const fs::path& dir) {
  const Pki pki{dir};
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cert dir " + dir.string() + ": " + ec.message());
  FileLock lock(dir / ".lock");
  const bool complete = fs::exists(pki.ca_cert()) && fs::exists(pki.server_cert()) &&
                        fs::exists(pki.server_key()) && fs::exists(pki.expired_cert());
  if (complete) return false;

  constexpr long hour = 3600, day = 24 * hour;
  Owned<EVP_PKEY> ca_key(EVP_EC_gen("P-256"));
  Owned<EVP_PKEY> server_key(EVP_RSA_gen(2048));
  if (!ca_key || !server_key) fail("generating keys");
  auto ca = make_certificate({"netlab https lab CA", -hour, 365 * day, true}, ca_key.get(), nullptr, ca_key.get());
  auto server = make_certificate({"localhost", -hour, 30 * day, false}, server_key.get(), ca.get(), ca_key.get());
  auto expired = make_certificate({"localhost", -2 * day, -day, false}, server_key.get(), ca.get(), ca_key.get());
  // The CA's key is not written anywhere: nobody can sign anything else with it.
  write_private_file(pki.server_key(), pem_of(server_key.get()), 0600);
  write_private_file(pki.server_cert(), pem_of(server.get()), 0644);
  write_private_file(pki.expired_cert(), pem_of(expired.get()), 0644);
  write_private_file(pki.ca_cert(), pem_of(ca.get()), 0644);
  return true;
}

// ---- contexts --------------------------------------------------------------------------

namespace {

void set_versions(SSL_CTX* ctx, int min, int max) {
  if (SSL_CTX_set_min_proto_version(ctx, min) != 1 || SSL_CTX_set_max_proto_version(ctx, max) != 1)
    fail("protocol versions");
}

// TLS 1.2 suites by key exchange: ECDHE (forward secret) or RSA key transport.
constexpr const char* ecdhe_suites = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";
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

// ---- key log -----------------------------------------------------------------------------

namespace {

struct KeyLogFile {
  std::FILE* file = nullptr;
};

void free_keylog(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  auto* keylog = static_cast<KeyLogFile*>(ptr);
  if (!keylog) return;
  if (keylog->file) std::fclose(keylog->file);
  delete keylog;
}

int keylog_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_keylog);
  return index;
}

void write_keylog_line(const SSL* ssl, const char* line) {
  auto* keylog = static_cast<KeyLogFile*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keylog_index()));
  if (!keylog || !keylog->file) return;
  std::fprintf(keylog->file, "%s\n", line);
  std::fflush(keylog->file);
}

}  // namespace

std::string enable_keylog(boost::asio::ssl::context& context, std::string path) {
  if (path.empty()) {
    const char* variable = std::getenv("SSLKEYLOGFILE");
    if (!variable || !*variable) return "";
    path = variable;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "key log " + path);
  std::FILE* file = ::fdopen(fd, "a");
  if (!file) {
    ::close(fd);
    throw std::system_error(errno, std::generic_category(), "key log " + path);
  }
  auto* keylog = new KeyLogFile{file};
  if (SSL_CTX_set_ex_data(context.native_handle(), keylog_index(), keylog) != 1) {
    free_keylog(nullptr, keylog, nullptr, 0, 0, nullptr);
    fail("key log");
  }
  SSL_CTX_set_keylog_callback(context.native_handle(), write_keylog_line);
  return path;
}

// ---- exporter ------------------------------------------------------------------------------

std::string exporter_digest(SSL* ssl) {
  std::array<unsigned char, 32> material{};
  if (SSL_export_keying_material(ssl, material.data(), material.size(), exporter_label.data(),
                                 exporter_label.size(), nullptr, 0, 0) != 1)
    fail("exporting keying material");
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(material.data(), material.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1)
    fail("SHA-256");
  static constexpr char hex[] = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < length; ++i) {
    text += hex[digest[i] >> 4];
    text += hex[digest[i] & 15];
  }
  return text;
}

// ---- names ------------------------------------------------------------------------------------

namespace {

std::string hex16(std::uint16_t value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%04x", value);
  return text;
}

std::string hex_bytes(std::span<const std::uint8_t> bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string text;
  for (auto b : bytes) {
    text += hex[b >> 4];
    text += hex[b & 15];
  }
  return text;
}

}  // namespace

std::string handshake_type_name(std::uint8_t type) {
  switch (type) {
    case 0: return "HelloRequest";
    case 1: return "ClientHello";
    case 2: return "ServerHello";
    case 4: return "NewSessionTicket";
    case 5: return "EndOfEarlyData";
    case 8: return "EncryptedExtensions";
    case 11: return "Certificate";
    case 12: return "ServerKeyExchange";
    case 13: return "CertificateRequest";
    case 14: return "ServerHelloDone";
    case 15: return "CertificateVerify";
    case 16: return "ClientKeyExchange";
    case 20: return "Finished";
    case 22: return "CertificateStatus";
    case 24: return "KeyUpdate";
    case 254: return "MessageHash";
    default: return "handshake type " + std::to_string(type);
  }
}

std::string group_name(std::uint16_t group) {
  switch (group) {
    case 0x0017: return "secp256r1";
    case 0x0018: return "secp384r1";
    case 0x0019: return "secp521r1";
    case 0x001d: return "x25519";
    case 0x001e: return "x448";
    case 0x0100: return "ffdhe2048";
    case 0x0101: return "ffdhe3072";
    case 0x0102: return "ffdhe4096";
    default: return hex16(group);
  }
}

std::string version_name(std::uint16_t version) {
  switch (version) {
    case 0x0300: return "SSLv3";
    case 0x0301: return "TLSv1.0";
    case 0x0302: return "TLSv1.1";
    case 0x0303: return "TLSv1.2";
    case 0x0304: return "TLSv1.3";
    default: return hex16(version);
  }
}

std::string signature_scheme_name(std::uint16_t scheme) {
  switch (scheme) {
    case 0x0401: return "rsa_pkcs1_sha256";
    case 0x0501: return "rsa_pkcs1_sha384";
    case 0x0601: return "rsa_pkcs1_sha512";
    case 0x0403: return "ecdsa_secp256r1_sha256";
    case 0x0503: return "ecdsa_secp384r1_sha384";
    case 0x0603: return "ecdsa_secp521r1_sha512";
    case 0x0804: return "rsa_pss_rsae_sha256";
    case 0x0805: return "rsa_pss_rsae_sha384";
    case 0x0806: return "rsa_pss_rsae_sha512";
    case 0x0807: return "ed25519";
    case 0x0808: return "ed448";
    case 0x0809: return "rsa_pss_pss_sha256";
    case 0x080a: return "rsa_pss_pss_sha384";
    case 0x080b: return "rsa_pss_pss_sha512";
    default: return hex16(scheme);
  }
}

std::string cipher_suite_name(std::uint16_t suite) {
  // SSL_CIPHER_find needs a connection object; one is kept for the whole run.
  struct Finder {
    Owned<SSL_CTX> ctx{SSL_CTX_new(TLS_method())};
    Owned<SSL> ssl{ctx ? SSL_new(ctx.get()) : nullptr};
  };
  static Finder finder;
  if (finder.ssl) {
    const unsigned char bytes[2] = {static_cast<unsigned char>(suite >> 8), static_cast<unsigned char>(suite & 0xff)};
    if (const SSL_CIPHER* cipher = SSL_CIPHER_find(finder.ssl.get(), bytes)) return SSL_CIPHER_get_name(cipher);
  }
  if (suite == 0x00ff) return "TLS_EMPTY_RENEGOTIATION_INFO_SCSV";
  return hex16(suite);
}

std::string alert_name(std::uint8_t description) {
  return SSL_alert_desc_string_long(description);
}

// ---- decoding ------------------------------------------------------------------------------------

namespace {

// Reads big-endian fields; after the first short read every later read yields
// zero / empty and `ok` stays false, so decoding can go on without checks per field.
// A list read with vector() fails its parent too: a length inside an extension
// that runs past the extension makes the whole message malformed, not a field
// silently dropped.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes, Reader* parent = nullptr) : bytes_(bytes), parent_(parent) {}
  bool ok() const { return ok_; }
  std::size_t left() const { return bytes_.size() - pos_; }
  std::span<const std::uint8_t> take(std::size_t n) {
    if (!ok_ || n > left()) {
      fail();
      return {};
    }
    auto part = bytes_.subspan(pos_, n);
    pos_ += n;
    return part;
  }
  std::uint32_t number(std::size_t width) {
    std::uint32_t value = 0;
    for (auto b : take(width)) value = (value << 8) | b;
    return value;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(number(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(number(2)); }
  std::uint32_t u24() { return number(3); }
  Reader vector(std::size_t length_width) {
    const auto bytes = take(number(length_width));
    return Reader(bytes, this);  // used while this reader lives
  }
  // A list of fixed-size items (cipher suites, versions) must end on an item.
  void expect_end() {
    if (left() > 0) fail();
  }

 private:
  void fail() {
    ok_ = false;
    if (parent_) parent_->fail();
  }

  std::span<const std::uint8_t> bytes_;
  Reader* parent_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

constexpr std::array<std::uint8_t, 32> hello_retry_random = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

enum : std::uint16_t { ext_server_name = 0, ext_supported_groups = 10, ext_supported_versions = 43, ext_key_share = 51 };

void decode_extensions(Reader extensions, Step& step, bool client_hello, bool hello_retry) {
  while (extensions.ok() && extensions.left() > 0) {
    const std::uint16_t type = extensions.u16();
    Reader data = extensions.vector(2);
    if (!extensions.ok()) break;
    switch (type) {
      case ext_server_name:
        if (client_hello) {
          Reader names = data.vector(2);
          while (names.ok() && names.left() > 0) {
            const std::uint8_t name_type = names.u8();
            auto name = names.take(names.u16());
            if (name_type == 0 && names.ok()) step.server_name.assign(name.begin(), name.end());
          }
          data.expect_end();
        }
        break;
      case ext_supported_versions:
        if (client_hello) {
          Reader versions = data.vector(1);
          while (versions.ok() && versions.left() >= 2) step.supported_versions.push_back(versions.u16());
          versions.expect_end();
        } else {
          const std::uint16_t version = data.u16();
          if (data.ok()) step.supported_versions.push_back(version);
        }
        data.expect_end();
        break;
      case ext_key_share:
        if (client_hello) {
          Reader shares = data.vector(2);
          while (shares.ok() && shares.left() > 0) {
            const std::uint16_t group = shares.u16();
            shares.take(shares.u16());
            if (shares.ok()) step.key_share_groups.push_back(group);
          }
        } else {
          const std::uint16_t group = data.u16();  // the HRR names the group it wants, with no key
          if (data.ok()) step.key_share_groups.push_back(group);
          if (!hello_retry) step.public_key_length = data.take(data.u16()).size();
        }
        data.expect_end();
        break;
      default:
        break;
    }
  }
}

std::string join_names(const std::vector<std::uint16_t>& values, std::string (*name)(std::uint16_t),
                       std::size_t limit) {
  std::string text;
  for (std::size_t i = 0; i < values.size() && i < limit; ++i) text += (i ? ", " : "") + name(values[i]);
  if (values.size() > limit) text += ", ...";
  return text;
}

void decode_hello(Reader& r, Step& step, bool client_hello) {
  step.legacy_version = r.u16();
  const auto random = r.take(32);
  step.random_hex = hex_bytes(random);
  r.take(r.u8());  // legacy session id
  if (client_hello) {
    Reader suites = r.vector(2);
    while (suites.ok() && suites.left() >= 2) step.cipher_suites.push_back(suites.u16());
    suites.expect_end();
    r.take(r.u8());  // compression methods
  } else {
    step.cipher_suites.push_back(r.u16());
    r.u8();  // compression method
  }
  const bool hello_retry = !client_hello && is_hello_retry_random(random);
  if (hello_retry) step.message = "HelloRetryRequest";
  if (r.ok() && r.left() > 0) decode_extensions(r.vector(2), step, client_hello, hello_retry);
  if (!r.ok()) return;
  if (client_hello) {
    step.detail = "random " + step.random_hex.substr(0, 16) + "... (32 B); " + std::to_string(step.cipher_suites.size()) +
                  " suites offered: " + join_names(step.cipher_suites, cipher_suite_name, 3);
    if (!step.supported_versions.empty())
      step.detail += "; versions " + join_names(step.supported_versions, version_name, 4);
    if (!step.key_share_groups.empty())
      step.detail += "; key share " + join_names(step.key_share_groups, group_name, 4);
    if (!step.server_name.empty()) step.detail += "; SNI " + step.server_name;
  } else if (hello_retry) {
    step.detail = "no key share for a group I take: send one for " + join_names(step.key_share_groups, group_name, 1);
  } else {
    const std::uint16_t version = step.supported_versions.empty() ? step.legacy_version : step.supported_versions[0];
    step.detail = "random " + step.random_hex.substr(0, 16) + "... (32 B); chose " + version_name(version) + " " +
                  cipher_suite_name(step.cipher_suites[0]);
    if (!step.key_share_groups.empty())
      step.detail += "; key share " + group_name(step.key_share_groups[0]) + " (" +
                     std::to_string(step.public_key_length) + " B)";
  }
}

void decode_certificate(Reader& r, Step& step, bool tls13) {
  if (tls13) r.take(r.u8());  // certificate request context
  Reader list = r.vector(3);
  while (list.ok() && list.left() > 0) {
    const auto der = list.take(list.u24());
    if (tls13) list.take(list.u16());  // per-certificate extensions
    if (!list.ok()) return;  // and the message is bad
    if (step.certificate_count++ == 0) step.leaf_certificate_der.assign(der.begin(), der.end());
  }
  if (!r.ok()) return;
  step.detail = std::to_string(step.certificate_count) + " certificate(s)";
  if (auto leaf = summarize_certificate(step.leaf_certificate_der))
    step.detail += ": " + leaf->subject + ", issued by " + leaf->issuer + ", " + leaf->key_type + "-" +
                   std::to_string(leaf->key_bits) + ", valid " + leaf->not_before + " .. " + leaf->not_after +
                   (leaf->expired ? " (EXPIRED)" : "");
}

}  // namespace

bool is_hello_retry_random(std::span<const std::uint8_t> random) {
  return random.size() == hello_retry_random.size() &&
         std::equal(random.begin(), random.end(), hello_retry_random.begin());
}

Step decode_handshake(Direction direction, std::span<const std::uint8_t> bytes, bool tls13) {
  Step step;
  step.direction = direction;
  Reader header(bytes);
  step.handshake_type = header.u8();
  const std::uint32_t declared = header.u24();
  step.message = handshake_type_name(step.handshake_type);
  if (!header.ok()) {
    step.message = bytes.empty() ? "empty message" : step.message;
    step.error = "shorter than the 4-byte handshake header";
    return step;
  }
  auto body = header.take(header.left());
  step.length = body.size();
  if (declared != body.size()) {
    step.error = "the header says " + std::to_string(declared) + " bytes, the message has " +
                 std::to_string(body.size());
    return step;
  }
  Reader r(body);
  switch (step.handshake_type) {
    case 1:
    case 2:
      decode_hello(r, step, step.handshake_type == 1);
      break;
    case 11:
      decode_certificate(r, step, tls13);
      break;
    case 12: {  // ServerKeyExchange: ECDHE parameters, signed with the certificate's key
      const std::uint8_t curve_type = r.u8();
      step.named_group = r.u16();
      step.public_key_length = r.take(r.u8()).size();
      step.signature_scheme = r.u16();
      const std::size_t signature = r.take(r.u16()).size();
      if (r.ok() && curve_type != 3) step.error = "not a named-curve ECDHE ServerKeyExchange";
      step.detail = "ECDHE group " + group_name(step.named_group) + ", server public key " +
                    std::to_string(step.public_key_length) + " B, signed " +
                    signature_scheme_name(step.signature_scheme) + " (" + std::to_string(signature) + " B)";
      break;
    }
    case 14:
      step.detail = "the server has said everything";
      break;
    case 15: {
      step.signature_scheme = r.u16();
      const std::size_t signature = r.take(r.u16()).size();
      step.detail = "signature over the handshake so far, " + signature_scheme_name(step.signature_scheme) + " (" +
                    std::to_string(signature) + " B)";
      break;
    }
    case 16: {
      // RSA key transport: a 2-byte length and the encrypted pre-master secret;
      // ECDHE: a 1-byte length and the client's public key.
      const std::size_t size = body.size();
      if (size >= 2 && static_cast<std::size_t>((body[0] << 8) | body[1]) + 2 == size) {
        step.encrypted_premaster_length = size - 2;
        step.detail = "pre-master secret (48 B: version + 46 random bytes) encrypted with the server's RSA key: " +
                      std::to_string(step.encrypted_premaster_length) + " B";
      } else if (size >= 1 && static_cast<std::size_t>(body[0]) + 1 == size) {
        step.public_key_length = size - 1;
        step.detail = "client's ECDHE public key, " + std::to_string(step.public_key_length) +
                      " B — no secret is sent";
      } else {
        step.error = "neither an RSA nor an ECDHE ClientKeyExchange";
      }
      r.take(size);
      break;
    }
    case 20:
      step.detail = "verify_data " + std::to_string(body.size()) + " B: MAC of the whole handshake";
      break;
    case 4: {
      const std::uint32_t lifetime = r.number(4);
      if (tls13) {
        r.number(4);        // ticket_age_add
        r.take(r.u8());     // nonce
      }
      const std::size_t ticket = r.take(r.u16()).size();
      step.detail = "session ticket " + std::to_string(ticket) + " B, lifetime " + std::to_string(lifetime) + " s";
      break;
    }
    case 8: {
      Reader extensions = r.vector(2);
      std::size_t count = 0;
      while (extensions.ok() && extensions.left() > 0) {
        extensions.u16();
        extensions.take(extensions.u16());
        if (extensions.ok()) ++count;
      }
      step.detail = std::to_string(count) + " extension(s), the first message under the handshake keys";
      break;
    }
    default:
      r.take(body.size());
      break;
  }
  if (!r.ok() && step.error.empty()) step.error = step.message + ": a length runs past the bytes it counts";
  const bool structured = step.handshake_type == 1 || step.handshake_type == 2 || step.handshake_type == 11 ||
                          step.handshake_type == 12 || step.handshake_type == 15;
  if (r.ok() && structured && r.left() > 0 && step.error.empty())
    step.error = std::to_string(r.left()) + " bytes after the end of the " + step.message;
  return step;
}

Step decode_alert(Direction direction, std::span<const std::uint8_t> bytes) {
  Step step;
  step.direction = direction;
  step.message = "Alert";
  step.length = bytes.size();
  if (bytes.size() != 2) {
    step.error = "an alert is 2 bytes, this one " + std::to_string(bytes.size());
    return step;
  }
  step.alert = std::string(bytes[0] == 2 ? "fatal " : "warning ") + alert_name(bytes[1]);
  step.detail = step.alert;
  return step;
}

std::optional<CertificateSummary> summarize_certificate(std::span<const std::uint8_t> der) {
  if (der.empty()) return std::nullopt;
  const unsigned char* p = der.data();
  Owned<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) {
    ERR_clear_error();
    return std::nullopt;
  }
  CertificateSummary summary;
  const auto name_text = [](const X509_NAME* name) {
    Owned<BIO> bio(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
    return bio_text(bio.get());
  };
  const auto time_text = [](const ASN1_TIME* time) {
    Owned<BIO> bio(BIO_new(BIO_s_mem()));
    ASN1_TIME_print(bio.get(), time);
    return bio_text(bio.get());
  };
  summary.subject = name_text(X509_get_subject_name(cert.get()));
  summary.issuer = name_text(X509_get_issuer_name(cert.get()));
  if (EVP_PKEY* key = X509_get0_pubkey(cert.get())) {
    const int id = EVP_PKEY_get_base_id(key);
    summary.key_type = id == EVP_PKEY_RSA ? "RSA" : id == EVP_PKEY_EC ? "EC" : OBJ_nid2sn(id);
    summary.key_bits = EVP_PKEY_get_bits(key);
  }
  summary.not_before = time_text(X509_get0_notBefore(cert.get()));
  summary.not_after = time_text(X509_get0_notAfter(cert.get()));
  summary.expired = X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0;
  ERR_clear_error();
  return summary;
}

// ---- the trace --------------------------------------------------------------------------------------

void Trace::attach(SSL* ssl) {
  SSL_set_msg_callback(ssl, &Trace::on_message);
  SSL_set_msg_callback_arg(ssl, this);
}

void Trace::on_message(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*, void* arg) {
  auto* trace = static_cast<Trace*>(arg);
  if (trace->steps_.size() >= max_steps) return;
  const std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(buf), len);
  const Direction direction = write_p ? Direction::sent : Direction::received;
  const int side = write_p ? 1 : 0;
  switch (content_type) {
    case SSL3_RT_HEADER:
      // The 5-byte record header as it is on the wire: its type is 23
      // (application_data) for every encrypted TLS 1.3 record, whatever is inside.
      if (!bytes.empty()) trace->last_record_type_[side] = bytes[0];
      return;
    case SSL3_RT_HANDSHAKE: {
      Step step = decode_handshake(direction, bytes, trace->tls13_);
      step.encrypted_record = trace->last_record_type_[side] == SSL3_RT_APPLICATION_DATA;
      if (step.handshake_type == 2 && !step.supported_versions.empty() && step.supported_versions[0] == 0x0304)
        trace->tls13_ = true;
      trace->steps_.push_back(std::move(step));
      return;
    }
    case SSL3_RT_CHANGE_CIPHER_SPEC: {
      Step step;
      step.direction = direction;
      step.message = "ChangeCipherSpec";
      step.length = len;
      step.detail = trace->tls13_ ? "middlebox compatibility only: changes nothing in TLS 1.3"
                                  : "from the next record on, this side encrypts with the session keys";
      trace->steps_.push_back(std::move(step));
      return;
    }
    case SSL3_RT_ALERT: {
      Step step = decode_alert(direction, bytes);
      step.encrypted_record = trace->last_record_type_[side] == SSL3_RT_APPLICATION_DATA;
      trace->steps_.push_back(std::move(step));
      return;
    }
    default:
      return;
  }
}

}  // namespace netlab::tls
