#include "proto/tls_names.hpp"

#include <algorithm>

namespace netlab::tls_numbers {

namespace {

constexpr Named handshake_types[] = {
    {0, "HelloRequest"},        {1, "ClientHello"},         {2, "ServerHello"},        {4, "NewSessionTicket"},
    {5, "EndOfEarlyData"},      {8, "EncryptedExtensions"}, {11, "Certificate"},       {12, "ServerKeyExchange"},
    {13, "CertificateRequest"}, {14, "ServerHelloDone"},    {15, "CertificateVerify"}, {16, "ClientKeyExchange"},
    {20, "Finished"},           {22, "CertificateStatus"},  {24, "KeyUpdate"},         {254, "MessageHash"},
};

constexpr Named groups[] = {
    {0x0017, "secp256r1"}, {0x0018, "secp384r1"}, {0x0019, "secp521r1"}, {0x001d, "x25519"},
    {0x001e, "x448"},      {0x0100, "ffdhe2048"}, {0x0101, "ffdhe3072"}, {0x0102, "ffdhe4096"},
};

constexpr Named versions[] = {
    {0x0300, "SSLv3"}, {0x0301, "TLSv1.0"}, {0x0302, "TLSv1.1"}, {0x0303, "TLSv1.2"}, {0x0304, "TLSv1.3"},
};

constexpr Named signature_schemes[] = {
    {0x0401, "rsa_pkcs1_sha256"},
    {0x0501, "rsa_pkcs1_sha384"},
    {0x0601, "rsa_pkcs1_sha512"},
    {0x0403, "ecdsa_secp256r1_sha256"},
    {0x0503, "ecdsa_secp384r1_sha384"},
    {0x0603, "ecdsa_secp521r1_sha512"},
    {0x0804, "rsa_pss_rsae_sha256"},
    {0x0805, "rsa_pss_rsae_sha384"},
    {0x0806, "rsa_pss_rsae_sha512"},
    {0x0807, "ed25519"},
    {0x0808, "ed448"},
    {0x0809, "rsa_pss_pss_sha256"},
    {0x080a, "rsa_pss_pss_sha384"},
    {0x080b, "rsa_pss_pss_sha512"},
};

}  // namespace

std::optional<std::string_view> find(std::span<const Named> table, std::uint16_t number) {
  const auto it = std::find_if(table.begin(), table.end(), [&](const Named& n) { return n.number == number; });
  return it == table.end() ? std::nullopt : std::optional(it->name);
}

std::optional<std::string_view> handshake_type(std::uint8_t type) { return find(handshake_types, type); }
std::optional<std::string_view> group(std::uint16_t group) { return find(groups, group); }
std::optional<std::string_view> version(std::uint16_t version) { return find(versions, version); }
std::optional<std::string_view> signature_scheme(std::uint16_t scheme) { return find(signature_schemes, scheme); }

}  // namespace netlab::tls_numbers
