#pragma once
// What the tls/ files share to talk to OpenSSL (not part of tls.hpp): owners
// that free OpenSSL's objects on every path (LeakSanitizer watches), the text
// of a memory BIO, and failing with OpenSSL's error queue as the cause.
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace netlab::tls {

// Throws std::runtime_error "<what>: <last_error_text()>".
[[noreturn]] void fail(const std::string& what);

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

// What a memory BIO holds.
std::string bio_text(BIO* bio);

}  // namespace netlab::tls
