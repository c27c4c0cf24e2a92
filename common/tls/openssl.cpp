#include "tls/openssl.hpp"

#include "tls/contexts.hpp"

#include <openssl/err.h>

#include <stdexcept>

namespace netlab::tls {

std::string last_error_text() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    const std::string part = reason ? reason : "error " + std::to_string(code);
    if (text.find(part) == std::string::npos) text += (text.empty() ? "" : "; ") + part;
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

void fail(const std::string& what) { throw std::runtime_error(what + ": " + last_error_text()); }

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace netlab::tls
