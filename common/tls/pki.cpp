#include "tls/pki.hpp"

#include "tls/openssl.hpp"

#include <openssl/pem.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace netlab::tls {

namespace fs = std::filesystem;

namespace {

void add_extension(X509* cert, X509V3_CTX& ctx, int nid, const char* value) {
  Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) fail(std::string("certificate extension ") + OBJ_nid2sn(nid));
}

struct CertSpec {
  const char* common_name;
  long valid_from_seconds;  // relative to now
  long valid_to_seconds;
  bool is_ca;
  std::string alt_names;  // subjectAltName of a server certificate
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
    add_extension(cert.get(), ctx, NID_subject_alt_name, spec.alt_names.c_str());
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
  bool complete = fs::exists(pki.ca_cert()) && fs::exists(pki.server_cert()) && fs::exists(pki.server_key()) &&
                  fs::exists(pki.expired_cert());
  for (const auto name : sni_names) complete = complete && fs::exists(pki.name_cert(name));
  if (complete) return false;

  constexpr long hour = 3600, day = 24 * hour;
  const std::string localhost = "DNS:localhost,IP:127.0.0.1";
  Owned<EVP_PKEY> ca_key(EVP_EC_gen("P-256"));
  Owned<EVP_PKEY> server_key(EVP_RSA_gen(2048));
  if (!ca_key || !server_key) fail("generating keys");
  auto ca = make_certificate({"netlab https lab CA", -hour, 365 * day, true, ""}, ca_key.get(), nullptr, ca_key.get());
  auto server =
      make_certificate({"localhost", -hour, 30 * day, false, localhost}, server_key.get(), ca.get(), ca_key.get());
  auto expired =
      make_certificate({"localhost", -2 * day, -day, false, localhost}, server_key.get(), ca.get(), ca_key.get());
  // The CA's key is not written anywhere: nobody can sign anything else with it.
  write_private_file(pki.server_key(), pem_of(server_key.get()), 0600);
  write_private_file(pki.server_cert(), pem_of(server.get()), 0644);
  write_private_file(pki.expired_cert(), pem_of(expired.get()), 0644);
  for (const auto name : sni_names) {
    const std::string cn(name);
    auto named =
        make_certificate({cn.c_str(), -hour, 30 * day, false, "DNS:" + cn}, server_key.get(), ca.get(), ca_key.get());
    write_private_file(pki.name_cert(name), pem_of(named.get()), 0644);
  }
  write_private_file(pki.ca_cert(), pem_of(ca.get()), 0644);
  return true;
}

}  // namespace netlab::tls
