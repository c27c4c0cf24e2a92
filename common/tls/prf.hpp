#pragma once
// The note's "random 1 + random 2 + random 3 -> session key", recomputed by the
// lab: the TLS 1.2 PRF (RFC 5246 §5) and the master secret made with it from the
// pre-master secret and the two hello randoms (RFC 5246 §8.1), or from the
// session hash when Extended Master Secret is on (RFC 7627 §4). On the server of
// a TLS 1.2 RSA key-transport handshake, the pre-master secret is the traced
// ClientKeyExchange decrypted with the server's private key.
#include "tls/trace.hpp"

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace netlab::tls {

using Bytes = std::vector<std::uint8_t>;

// P_<digest>(secret, label + seed), `length` bytes (OpenSSL 3 EVP_KDF "TLS1-PRF").
// `digest` is OpenSSL's name, "SHA256" or "SHA384". Throws on an OpenSSL failure.
Bytes tls12_prf(std::string_view digest, std::span<const std::uint8_t> secret, std::string_view label,
                std::span<const std::uint8_t> seed, std::size_t length);

// RFC 5246 §8.1: PRF(pre_master, "master secret", client_random + server_random)[0..47].
Bytes master_secret(std::string_view digest, std::span<const std::uint8_t> pre_master,
                    std::span<const std::uint8_t> client_random, std::span<const std::uint8_t> server_random);

// RFC 7627 §4: PRF(pre_master, "extended master secret", session_hash)[0..47], the
// session hash being the hash of the handshake messages up to ClientKeyExchange.
Bytes extended_master_secret(std::string_view digest, std::span<const std::uint8_t> pre_master,
                             std::span<const std::uint8_t> session_hash);

// SHA-256 of `bytes`, in hex: what crosses between the ends instead of a secret.
std::string sha256_hex(std::span<const std::uint8_t> bytes);

// The master secret of this side's session as OpenSSL holds it (SSL_SESSION_get_master_key).
Bytes session_master_key(SSL* ssl);

// The server's recomputation of one TLS 1.2 RSA key-transport handshake.
struct MasterSecretRecomputation {
  std::string error;             // non-empty: it could not be recomputed, and why
  Bytes master;                  // the master secret the lab computed
  bool matches_openssl = false;  // equal to the server's own session master key
  std::string inputs;            // which inputs went in, in one line
};

// From the server's trace (`steps`: the ClientHello's random 1, the ServerHello's
// random 2, the ClientKeyExchange's encrypted pre-master secret and, with EMS,
// the handshake messages up to it), the server's private key, and the suite's
// PRF hash. Never throws: a failure is in `error`.
MasterSecretRecomputation recompute_master_secret(SSL* ssl, const std::vector<Step>& steps);

}  // namespace netlab::tls
