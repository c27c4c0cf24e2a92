#include "tls/names.hpp"

#include "proto/tls_names.hpp"
#include "tls/openssl.hpp"

#include <cstdio>

namespace netlab::tls {

namespace {

std::string hex16(std::uint16_t value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%04x", value);
  return text;
}

}  // namespace

std::string hex_bytes(std::span<const std::uint8_t> bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string text;
  for (auto b : bytes) {
    text += hex[b >> 4];
    text += hex[b & 15];
  }
  return text;
}

std::string handshake_type_name(std::uint8_t type) {
  const auto name = tls_numbers::handshake_type(type);
  return name ? std::string(*name) : "handshake type " + std::to_string(type);
}

std::string group_name(std::uint16_t group) {
  const auto name = tls_numbers::group(group);
  return name ? std::string(*name) : hex16(group);
}

std::string version_name(std::uint16_t version) {
  const auto name = tls_numbers::version(version);
  return name ? std::string(*name) : hex16(version);
}

std::string signature_scheme_name(std::uint16_t scheme) {
  const auto name = tls_numbers::signature_scheme(scheme);
  return name ? std::string(*name) : hex16(scheme);
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

std::string alert_name(std::uint8_t description) { return SSL_alert_desc_string_long(description); }

}  // namespace netlab::tls
