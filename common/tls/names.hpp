#pragma once
// The names of TLS's numbers as a person reads them (RFC 8446's and IANA's),
// for the trace and the summaries; an unknown number prints as hex.
#include <cstdint>
#include <span>
#include <string>

namespace netlab::tls {

std::string handshake_type_name(std::uint8_t type);
std::string group_name(std::uint16_t group);      // "x25519", "secp256r1", ...
std::string version_name(std::uint16_t version);  // "TLSv1.3"
std::string signature_scheme_name(std::uint16_t scheme);
std::string cipher_suite_name(std::uint16_t suite);  // OpenSSL's name, or "0x1301"
std::string alert_name(std::uint8_t description);

// Bytes as lower-case hex, two digits each.
std::string hex_bytes(std::span<const std::uint8_t> bytes);

}  // namespace netlab::tls
