#include "tls/prf.hpp"

#include "tls/names.hpp"
#include "tls/openssl.hpp"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <memory>
#include <stdexcept>

namespace netlab::tls {
namespace {

constexpr std::size_t master_secret_length = 48;  // RFC 5246 §8.1
constexpr std::size_t pre_master_length = 48;     // RFC 5246 §7.4.7.1: version + 46 random bytes

struct FreeKdf {
  void operator()(EVP_KDF* p) const { EVP_KDF_free(p); }
  void operator()(EVP_KDF_CTX* p) const { EVP_KDF_CTX_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};

Bytes concat(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// "0a1b..." -> bytes ("" for text that is not hex).
Bytes from_hex(std::string_view hex) {
  if (hex.size() % 2) return {};
  Bytes out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const long value = OPENSSL_hexchar2int(static_cast<unsigned char>(hex[i])) * 16 +
                       OPENSSL_hexchar2int(static_cast<unsigned char>(hex[i + 1]));
    if (value < 0) return {};
    out.push_back(static_cast<std::uint8_t>(value));
  }
  return out;
}

const Step* find(const std::vector<Step>& steps, Direction direction, std::string_view message) {
  const auto it = std::find_if(steps.begin(), steps.end(),
                               [&](const Step& s) { return s.direction == direction && s.message == message; });
  return it == steps.end() ? nullptr : &*it;
}

// RSAES-PKCS1-v1_5 decryption with the server's key (RFC 5246 §7.4.7.1).
Bytes decrypt_pre_master(EVP_PKEY* key, std::span<const std::uint8_t> encrypted) {
  std::unique_ptr<EVP_PKEY_CTX, FreeKdf> ctx(EVP_PKEY_CTX_new(key, nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)
    fail("RSA decryption setup");
  std::size_t length = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &length, encrypted.data(), encrypted.size()) != 1)
    fail("RSA decryption of the pre-master secret");
  Bytes out(length);
  if (EVP_PKEY_decrypt(ctx.get(), out.data(), &length, encrypted.data(), encrypted.size()) != 1)
    fail("RSA decryption of the pre-master secret");
  out.resize(length);
  return out;
}

Bytes digest_of(std::string_view digest, std::span<const std::uint8_t> bytes) {
  const std::string name(digest);
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &length, EVP_get_digestbyname(name.c_str()), nullptr) != 1)
    fail(name);
  return Bytes(out.begin(), out.begin() + length);
}

}  // namespace

Bytes tls12_prf(std::string_view digest, std::span<const std::uint8_t> secret, std::string_view label,
                std::span<const std::uint8_t> seed, std::size_t length) {
  std::unique_ptr<EVP_KDF, FreeKdf> kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_TLS1_PRF, nullptr));
  if (!kdf) fail("EVP_KDF TLS1-PRF");
  std::unique_ptr<EVP_KDF_CTX, FreeKdf> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) fail("EVP_KDF_CTX TLS1-PRF");
  std::string digest_name(digest);
  // The PRF's seed is the label followed by the seed (RFC 5246 §5).
  Bytes label_and_seed(label.begin(), label.end());
  label_and_seed.insert(label_and_seed.end(), seed.begin(), seed.end());
  Bytes secret_copy(secret.begin(), secret.end());  // OSSL_PARAM wants non-const pointers
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest_name.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, secret_copy.data(), secret_copy.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, label_and_seed.data(), label_and_seed.size()),
      OSSL_PARAM_construct_end()};
  Bytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) fail("TLS1-PRF with " + digest_name);
  return out;
}

Bytes master_secret(std::string_view digest, std::span<const std::uint8_t> pre_master,
                    std::span<const std::uint8_t> client_random, std::span<const std::uint8_t> server_random) {
  return tls12_prf(digest, pre_master, "master secret", concat(client_random, server_random), master_secret_length);
}

Bytes extended_master_secret(std::string_view digest, std::span<const std::uint8_t> pre_master,
                             std::span<const std::uint8_t> session_hash) {
  return tls12_prf(digest, pre_master, "extended master secret", session_hash, master_secret_length);
}

std::string sha256_hex(std::span<const std::uint8_t> bytes) { return hex_bytes(digest_of("SHA256", bytes)); }

Bytes session_master_key(SSL* ssl) {
  Bytes out(master_secret_length);
  const SSL_SESSION* session = SSL_get_session(ssl);
  out.resize(session ? SSL_SESSION_get_master_key(session, out.data(), out.size()) : 0);
  return out;
}

MasterSecretRecomputation recompute_master_secret(SSL* ssl, const std::vector<Step>& steps) {
  MasterSecretRecomputation r;
  try {
    const Step* hello = find(steps, Direction::received, "ClientHello");
    const Step* server_hello = find(steps, Direction::sent, "ServerHello");
    const Step* key_exchange = find(steps, Direction::received, "ClientKeyExchange");
    if (!hello || !server_hello || !key_exchange || key_exchange->encrypted_premaster.empty())
      throw std::runtime_error("no RSA ClientKeyExchange between the hellos in the trace");
    const Bytes client_random = from_hex(hello->random_hex);
    const Bytes server_random = from_hex(server_hello->random_hex);
    EVP_PKEY* key = SSL_get_privatekey(ssl);
    if (!key) throw std::runtime_error("the server has no private key");
    const Bytes pre_master = decrypt_pre_master(key, key_exchange->encrypted_premaster);
    if (pre_master.size() != pre_master_length)
      throw std::runtime_error("the decrypted pre-master secret is " + std::to_string(pre_master.size()) +
                               " B, not 48");
    const EVP_MD* md = SSL_CIPHER_get_handshake_digest(SSL_get_current_cipher(ssl));
    if (!md) throw std::runtime_error("the suite has no handshake digest");
    const std::string digest = EVP_MD_get0_name(md);
    const std::string from = "pre-master 48 B (version " + hex_bytes(std::span(pre_master).first(2)) +
                             ") RSA-decrypted from the ClientKeyExchange's " +
                             std::to_string(key_exchange->encrypted_premaster.size()) + " B";
    if (SSL_get_extms_support(ssl) == 1) {
      // The session hash: every handshake message up to and including ClientKeyExchange.
      Bytes transcript;
      for (const auto& step : steps) {
        transcript.insert(transcript.end(), step.message_bytes.begin(), step.message_bytes.end());
        if (&step == key_exchange) break;
      }
      r.master = extended_master_secret(digest, pre_master, digest_of(digest, transcript));
      r.inputs = from + " + session hash (" + digest + " over " + std::to_string(transcript.size()) +
                 " B of handshake messages, ClientHello..ClientKeyExchange); Extended Master Secret on, PRF " + digest +
                 " (RFC 7627 §4)";
    } else {
      r.master = master_secret(digest, pre_master, client_random, server_random);
      r.inputs = from + " + client random " + hello->random_hex.substr(0, 8) + "... + server random " +
                 server_hello->random_hex.substr(0, 8) + "...; Extended Master Secret off, PRF " + digest +
                 " (RFC 5246 §8.1)";
    }
    r.matches_openssl = r.master == session_master_key(ssl);
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

}  // namespace netlab::tls
