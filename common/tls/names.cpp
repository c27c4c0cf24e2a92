#include "tls/names.hpp"

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
  switch (type) {
    case 0:
      return "HelloRequest";
    case 1:
      return "ClientHello";
    case 2:
      return "ServerHello";
    case 4:
      return "NewSessionTicket";
    case 5:
      return "EndOfEarlyData";
    case 8:
      return "EncryptedExtensions";
    case 11:
      return "Certificate";
    case 12:
      return "ServerKeyExchange";
    case 13:
      return "CertificateRequest";
    case 14:
      return "ServerHelloDone";
    case 15:
      return "CertificateVerify";
    case 16:
      return "ClientKeyExchange";
    case 20:
      return "Finished";
    case 22:
      return "CertificateStatus";
    case 24:
      return "KeyUpdate";
    case 254:
      return "MessageHash";
    default:
      return "handshake type " + std::to_string(type);
  }
}

std::string group_name(std::uint16_t group) {
  switch (group) {
    case 0x0017:
      return "secp256r1";
    case 0x0018:
      return "secp384r1";
    case 0x0019:
      return "secp521r1";
    case 0x001d:
      return "x25519";
    case 0x001e:
      return "x448";
    case 0x0100:
      return "ffdhe2048";
    case 0x0101:
      return "ffdhe3072";
    case 0x0102:
      return "ffdhe4096";
    default:
      return hex16(group);
  }
}

std::string version_name(std::uint16_t version) {
  switch (version) {
    case 0x0300:
      return "SSLv3";
    case 0x0301:
      return "TLSv1.0";
    case 0x0302:
      return "TLSv1.1";
    case 0x0303:
      return "TLSv1.2";
    case 0x0304:
      return "TLSv1.3";
    default:
      return hex16(version);
  }
}

std::string signature_scheme_name(std::uint16_t scheme) {
  switch (scheme) {
    case 0x0401:
      return "rsa_pkcs1_sha256";
    case 0x0501:
      return "rsa_pkcs1_sha384";
    case 0x0601:
      return "rsa_pkcs1_sha512";
    case 0x0403:
      return "ecdsa_secp256r1_sha256";
    case 0x0503:
      return "ecdsa_secp384r1_sha384";
    case 0x0603:
      return "ecdsa_secp521r1_sha512";
    case 0x0804:
      return "rsa_pss_rsae_sha256";
    case 0x0805:
      return "rsa_pss_rsae_sha384";
    case 0x0806:
      return "rsa_pss_rsae_sha512";
    case 0x0807:
      return "ed25519";
    case 0x0808:
      return "ed448";
    case 0x0809:
      return "rsa_pss_pss_sha256";
    case 0x080a:
      return "rsa_pss_pss_sha384";
    case 0x080b:
      return "rsa_pss_pss_sha512";
    default:
      return hex16(scheme);
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

std::string alert_name(std::uint8_t description) { return SSL_alert_desc_string_long(description); }

}  // namespace netlab::tls
