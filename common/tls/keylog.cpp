#include "tls/keylog.hpp"

#include "tls/names.hpp"
#include "tls/openssl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace netlab::tls {

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

std::string exporter_digest(SSL* ssl) {
  std::array<unsigned char, 32> material{};
  if (SSL_export_keying_material(ssl, material.data(), material.size(), exporter_label.data(), exporter_label.size(),
                                 nullptr, 0, 0) != 1)
    fail("exporting keying material");
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(material.data(), material.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) fail("SHA-256");
  return hex_bytes({digest.data(), length});
}

}  // namespace netlab::tls
