#pragma once
// The names of TLS's numbers (RFC 8446's and IANA's registries) as tables,
// without OpenSSL: the https lab's trace (tls/names.hpp) and the ladder
// diagrams of a capture (capture/ladder.cpp) name handshake messages alike.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace netlab::tls_numbers {

struct Named {
  std::uint16_t number;
  std::string_view name;
};

// The name of `number` in `table`, or nullopt.
std::optional<std::string_view> find(std::span<const Named> table, std::uint16_t number);

// HandshakeType: ClientHello, ServerHello, ...
std::optional<std::string_view> handshake_type(std::uint8_t type);
// NamedGroup: x25519, secp256r1, ...
std::optional<std::string_view> group(std::uint16_t group);
// ProtocolVersion: TLSv1.2, TLSv1.3, ...
std::optional<std::string_view> version(std::uint16_t version);
// SignatureScheme: rsa_pss_rsae_sha256, ecdsa_secp256r1_sha256, ...
std::optional<std::string_view> signature_scheme(std::uint16_t scheme);

}  // namespace netlab::tls_numbers
