// The TLS 1.2 PRF and master secret the https lab recomputes (tls/prf.hpp), on
// published and independently computed vectors, and the same-session-key check
// built from them: a wrong pre-master secret must give "refuted".
#include "notes.hpp"
#include "tls/tls.hpp"

#include <catch2/catch.hpp>

#include <numeric>

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes from_hex(std::string_view hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

Bytes counting(std::uint8_t first, std::size_t n) {
  Bytes out(n);
  std::iota(out.begin(), out.end(), first);
  return out;
}

// A pre-master secret as RFC 5246 §7.4.7.1 lays it out: client_version 3,3 + 46 bytes.
Bytes pre_master(std::uint8_t first) {
  Bytes out{3, 3};
  const Bytes rest = counting(first, 46);
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

}  // namespace

TEST_CASE("TLS 1.2 PRF with SHA-256: the published test vector", "[prf]") {
  // The TLS 1.2 PRF vector posted to the IETF TLS list (secret, seed, label "test
  // label", 100 bytes), also reproduced with Python's hmac: P_SHA256 as RFC 5246 §5.
  const Bytes secret = from_hex("9bbe436ba940f017b17652849a71db35");
  const Bytes seed = from_hex("a0ba9f936cda311827a6f796ffd5198c");
  const std::string expected =
      "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f707"
      "7def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66";
  CHECK(netlab::tls::hex_bytes(netlab::tls::tls12_prf("SHA256", secret, "test label", seed, 100)) == expected);
}

TEST_CASE("master secret (RFC 5246 §8.1) and extended master secret (RFC 7627 §4)", "[prf]") {
  // Computed independently with Python's hmac and hashlib over the same inputs.
  const Bytes client_random = counting(0, 32), server_random = counting(32, 32);
  CHECK(netlab::tls::hex_bytes(netlab::tls::master_secret("SHA256", pre_master(0), client_random, server_random)) ==
        "d2c76cb7c4c86a909737874ceccddc57f2c211e2a4c6f44532306227ba5173089e3a96968874bb7e9ff14f3ed8c6a41a");
  const Bytes session_hash = from_hex("9b5ba5adcdb8e2ec5c5d2ea3dd9e1d9d2fa4c5fa2bfe5b6e7f54ae01c2a8c7a4");
  CHECK(netlab::tls::hex_bytes(netlab::tls::extended_master_secret("SHA256", pre_master(0), session_hash)) ==
        "5ad804f914b9836d7afe8f2e15588b8ba52dc62f701c435ca87a08ad44b3c96917db092ff5460039ebf4adbeb3358ea5");
  // The randoms matter: swapping them changes the secret.
  CHECK(netlab::tls::master_secret("SHA256", pre_master(0), server_random, client_random) !=
        netlab::tls::master_secret("SHA256", pre_master(0), client_random, server_random));
}

TEST_CASE("same-session-key: confirmed only when the recomputed master secret equals OpenSSL's", "[prf]") {
  using netlab::Verdict;
  const Bytes client_random = counting(0, 32), server_random = counting(32, 32);
  const auto master = [&](const Bytes& pm) {
    return netlab::tls::sha256_hex(netlab::tls::master_secret("SHA256", pm, client_random, server_random));
  };
  netlab::https::Session s;
  s.version = "TLSv1.2";
  s.client_master_sha256 = master(pre_master(0));  // what OpenSSL derived on the client
  s.server_recomputed_inputs = "test inputs";

  s.server_recomputed_master_sha256 = master(pre_master(0));
  CHECK(netlab::https::same_session_key(s, true).verdict == Verdict::confirmed);

  s.server_recomputed_master_sha256 = master(pre_master(1));  // one wrong byte sequence in the pre-master
  const auto wrong = netlab::https::same_session_key(s, true);
  CHECK(wrong.verdict == Verdict::refuted);
  CHECK(wrong.observed.find("!=") != std::string::npos);

  s.server_recomputed_master_sha256.clear();
  s.server_recompute_error = "RSA decryption of the pre-master secret: padding check failed";
  CHECK(netlab::https::same_session_key(s, true).verdict == Verdict::refuted);
}
