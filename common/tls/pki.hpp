#pragma once
// The https lab's own small PKI: a CA, a server certificate and an expired
// one, generated at the first run (keys are generated, never stored in the repo).
#include <array>
#include <filesystem>
#include <string>
#include <string_view>

namespace netlab::tls {

// SNI (RFC 6066 section 3): the names the server has a certificate of their own for,
// chosen by the ClientHello's server_name; any other name, or none, gets server.pem.
inline constexpr std::array<std::string_view, 2> sni_names = {"a.netlab.test", "b.netlab.test"};

struct Pki {
  std::filesystem::path dir;
  std::filesystem::path ca_cert() const { return dir / "ca.pem"; }
  std::filesystem::path server_cert() const { return dir / "server.pem"; }
  std::filesystem::path server_key() const { return dir / "server.key"; }
  std::filesystem::path expired_cert() const { return dir / "expired.pem"; }  // same key, validity in the past
  // The certificate for one of sni_names (same key, that name only): "a.netlab.test.pem".
  std::filesystem::path name_cert(std::string_view name) const { return dir / (std::string(name) + ".pem"); }
};

// Creates in `dir` (when any file is missing) a CA (EC P-256), a server key
// (RSA-2048: the 1.2-rsa mode needs an RSA key to encrypt the pre-master secret
// with), a certificate for localhost and 127.0.0.1 valid for 30 days, one that
// expired yesterday, and one for each of sni_names valid for 30 days. Keys are written 0600. Serialised with a lock
// file, so two servers starting together do not mix two CAs. Returns true if it generated. Throws std::runtime_error
// with one line on failure.
bool ensure_pki(const std::filesystem::path& dir);

}  // namespace netlab::tls
