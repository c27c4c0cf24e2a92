// The handshake trace decoder on bytes crafted here, field by field as RFC 8446
// and RFC 5246 lay them out; every prefix of a message must decode without
// reading past it. And the lab's PKI, generated into a temporary folder.
#include "process.hpp"

#include "tls/tls.hpp"

#include <catch2/catch.hpp>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

using netlab::tls::Direction;
using netlab::tls::Step;
using Bytes = std::vector<std::uint8_t>;

namespace {

void put(Bytes& out, std::uint32_t value, int width) {
  for (int shift = 8 * (width - 1); shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

// A vector with its length prefix of `width` bytes.
Bytes with_length(const Bytes& body, int width) {
  Bytes out;
  put(out, static_cast<std::uint32_t>(body.size()), width);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes extension(std::uint16_t type, const Bytes& data) {
  Bytes out;
  put(out, type, 2);
  const Bytes body = with_length(data, 2);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes handshake(std::uint8_t type, const Bytes& body) {
  Bytes out{type};
  const Bytes rest = with_length(body, 3);
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

void append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

// An ALPN extension's data (RFC 7301 3.1): a 2-byte list of 1-byte-prefixed names.
Bytes alpn(const std::vector<std::string>& names) {
  Bytes list;
  for (const auto& name : names) append(list, with_length(Bytes(name.begin(), name.end()), 1));
  return with_length(list, 2);
}

// `more`: extensions after the others (pre_shared_key must be the last one, RFC 8446 4.2.11).
Bytes client_hello(const Bytes& more = {}) {
  Bytes body;
  put(body, 0x0303, 2);
  body.insert(body.end(), 32, 0x11);              // random
  append(body, with_length(Bytes(32, 0x22), 1));  // legacy session id
  append(body, with_length({0x13, 0x01, 0x13, 0x02, 0x00, 0x9c}, 2));
  append(body, with_length({0x00}, 1));
  Bytes extensions;
  const std::string name = "localhost";
  Bytes sni{0x00};
  append(sni, with_length(Bytes(name.begin(), name.end()), 2));
  append(extensions, extension(0, with_length(sni, 2)));
  append(extensions, extension(43, with_length({0x03, 0x04, 0x03, 0x03}, 1)));
  Bytes share;
  put(share, 0x001d, 2);
  append(share, with_length(Bytes(32, 0x33), 2));
  append(extensions, extension(51, with_length(share, 2)));
  append(extensions, extension(16, alpn({"h2", "http/1.1"})));
  append(extensions, more);
  append(body, with_length(extensions, 2));
  return handshake(1, body);
}

Bytes server_hello(const Bytes& random, bool hello_retry) {
  Bytes body;
  put(body, 0x0303, 2);
  append(body, random);
  append(body, with_length(Bytes(32, 0x22), 1));
  put(body, 0x1302, 2);
  body.push_back(0);
  Bytes extensions;
  append(extensions, extension(43, {0x03, 0x04}));
  Bytes share;
  put(share, 0x0017, 2);
  if (!hello_retry) append(share, with_length(Bytes(65, 0x04), 2));
  append(extensions, extension(51, share));
  append(body, with_length(extensions, 2));
  return handshake(2, body);
}

Bytes hello_retry_random() {
  return {0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
          0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};
}

}  // namespace

TEST_CASE("ClientHello: random, offered suites, versions, key share, SNI, ALPN", "[decode]") {
  const Step step = netlab::tls::decode_handshake(Direction::sent, client_hello(), false);
  CHECK(step.error.empty());
  CHECK(step.message == "ClientHello");
  CHECK(step.handshake_type == 1);
  CHECK(step.random_hex == std::string(64, '1'));
  CHECK(step.cipher_suites == std::vector<std::uint16_t>{0x1301, 0x1302, 0x009c});
  CHECK(step.supported_versions == std::vector<std::uint16_t>{0x0304, 0x0303});
  CHECK(step.key_share_groups == std::vector<std::uint16_t>{0x001d});
  CHECK(step.server_name == "localhost");
  CHECK(step.alpn_protocols == std::vector<std::string>{"h2", "http/1.1"});
  CHECK(step.detail.find("; SNI localhost; ALPN h2,http/1.1") != std::string::npos);
  CHECK(step.detail.find("3 suites offered: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, AES128-GCM-SHA256") !=
        std::string::npos);
}

TEST_CASE("ClientHello with early_data and pre_shared_key: 0-RTT offered, the first identity kept", "[decode]") {
  // pre_shared_key (RFC 8446 4.2.11): identities (2-byte list of a 2-byte identity + 4-byte obfuscated age),
  // then binders.
  Bytes identity = with_length({0xAA, 0xBB, 0xCC}, 2);
  put(identity, 0x01020304, 4);
  Bytes psk = with_length(identity, 2);
  append(psk, with_length(with_length(Bytes(32, 0x44), 1), 2));
  Bytes more = extension(42, {});
  append(more, extension(41, psk));
  const Step step = netlab::tls::decode_handshake(Direction::sent, client_hello(more), false);
  CHECK(step.error.empty());
  CHECK(step.early_data);
  CHECK(step.pre_shared_key);
  CHECK(step.psk_identity == Bytes{0xAA, 0xBB, 0xCC});
  CHECK(step.detail.find("offers a PSK (resumption) and early data (0-RTT)") != std::string::npos);
  // Without them: neither.
  const Step plain = netlab::tls::decode_handshake(Direction::sent, client_hello(), false);
  CHECK(!plain.early_data);
  CHECK(plain.psk_identity.empty());
}

TEST_CASE("ServerHello: chosen version from supported_versions, chosen suite and key share", "[decode]") {
  const Step step = netlab::tls::decode_handshake(Direction::received, server_hello(Bytes(32, 0x44), false), false);
  CHECK(step.error.empty());
  CHECK(step.message == "ServerHello");
  CHECK(step.random_hex == std::string(64, '4'));
  CHECK(step.cipher_suites == std::vector<std::uint16_t>{0x1302});
  CHECK(step.supported_versions == std::vector<std::uint16_t>{0x0304});
  CHECK(step.key_share_groups == std::vector<std::uint16_t>{0x0017});
  CHECK(step.public_key_length == 65);
  CHECK(step.detail.find("chose TLSv1.3 TLS_AES_256_GCM_SHA384") != std::string::npos);
}

TEST_CASE("EncryptedExtensions: the protocol ALPN chose (TLS 1.3), and a name running past its list refused",
          "[decode]") {
  const Step step = netlab::tls::decode_handshake(
      Direction::received, handshake(8, with_length(extension(16, alpn({"http/1.1"})), 2)), true);
  CHECK(step.error.empty());
  CHECK(step.message == "EncryptedExtensions");
  CHECK(step.alpn_protocols == std::vector<std::string>{"http/1.1"});
  CHECK(step.detail.find("1 extension(s)") == 0);
  CHECK(step.detail.find("; ALPN http/1.1") != std::string::npos);
  Bytes cut = alpn({"http/1.1"});
  cut[2] = 9;  // the name claims one byte more than the list holds
  CHECK_FALSE(netlab::tls::decode_handshake(Direction::received, handshake(8, with_length(extension(16, cut), 2)), true)
                  .error.empty());
}

TEST_CASE("a ServerHello with the special random is a HelloRetryRequest naming a group", "[decode]") {
  const Step step = netlab::tls::decode_handshake(Direction::received, server_hello(hello_retry_random(), true), false);
  CHECK(step.error.empty());
  CHECK(step.message == "HelloRetryRequest");
  CHECK(step.key_share_groups == std::vector<std::uint16_t>{0x0017});
  CHECK(step.public_key_length == 0);
  CHECK(netlab::tls::is_hello_retry_random(hello_retry_random()));
  CHECK_FALSE(netlab::tls::is_hello_retry_random(Bytes(32, 0)));
}

TEST_CASE("ClientKeyExchange: RSA-encrypted pre-master secret versus an ECDHE public key", "[decode]") {
  Bytes rsa;
  put(rsa, 256, 2);
  rsa.insert(rsa.end(), 256, 0xab);
  const Step transport = netlab::tls::decode_handshake(Direction::sent, handshake(16, rsa), false);
  CHECK(transport.error.empty());
  CHECK(transport.encrypted_premaster_length == 256);
  CHECK(transport.public_key_length == 0);

  const Step ecdhe = netlab::tls::decode_handshake(Direction::sent, handshake(16, with_length(Bytes(32, 9), 1)), false);
  CHECK(ecdhe.error.empty());
  CHECK(ecdhe.encrypted_premaster_length == 0);
  CHECK(ecdhe.public_key_length == 32);

  const Step neither = netlab::tls::decode_handshake(Direction::sent, handshake(16, Bytes(7, 0xff)), false);
  CHECK_FALSE(neither.error.empty());
}

TEST_CASE("ServerKeyExchange: named curve, public key, signature scheme", "[decode]") {
  Bytes body{3};
  put(body, 0x001d, 2);
  append(body, with_length(Bytes(32, 5), 1));
  put(body, 0x0804, 2);
  append(body, with_length(Bytes(256, 6), 2));
  const Step step = netlab::tls::decode_handshake(Direction::received, handshake(12, body), false);
  CHECK(step.error.empty());
  CHECK(step.named_group == 0x001d);
  CHECK(step.public_key_length == 32);
  CHECK(step.signature_scheme == 0x0804);
  CHECK(step.detail.find("x25519") != std::string::npos);
  CHECK(step.detail.find("rsa_pss_rsae_sha256") != std::string::npos);
}

TEST_CASE("Certificate: the TLS 1.2 and the TLS 1.3 layouts", "[decode]") {
  const Bytes der{0x30, 0x03, 0x01, 0x01, 0xff};  // not a certificate: counted, not summarised
  Bytes entry12 = with_length(der, 3);
  const Step v12 = netlab::tls::decode_handshake(Direction::received, handshake(11, with_length(entry12, 3)), false);
  CHECK(v12.error.empty());
  CHECK(v12.certificate_count == 1);
  CHECK(v12.leaf_certificate_der == der);

  Bytes entry13 = with_length(der, 3);
  append(entry13, with_length({}, 2));  // no extensions
  Bytes body13 = with_length({}, 1);    // empty request context
  append(body13, with_length(entry13, 3));
  const Step v13 = netlab::tls::decode_handshake(Direction::received, handshake(11, body13), true);
  CHECK(v13.error.empty());
  CHECK(v13.certificate_count == 1);
  CHECK(v13.leaf_certificate_der == der);

  // The 1.3 bytes read with the 1.2 layout do not parse: the layout matters.
  const Step wrong = netlab::tls::decode_handshake(Direction::received, handshake(11, body13), false);
  CHECK_FALSE(wrong.error.empty());
}

TEST_CASE("every prefix of a message is refused without reading past it", "[decode]") {
  const Bytes hello = client_hello();
  for (std::size_t n = 0; n < hello.size(); ++n) {
    const Bytes prefix(hello.begin(), hello.begin() + static_cast<std::ptrdiff_t>(n));
    const Step step = netlab::tls::decode_handshake(Direction::sent, prefix, false);
    INFO("prefix of " << n << " bytes");
    CHECK_FALSE(step.error.empty());
  }
  // A header that claims more than the message holds: refused, not trusted.
  Bytes lying = client_hello();
  lying[3] = static_cast<std::uint8_t>(lying[3] + 1);
  CHECK(netlab::tls::decode_handshake(Direction::sent, lying, false).error.find("the header says") == 0);
}

TEST_CASE("a length inside a list that runs past the list makes the message malformed", "[decode]") {
  // Each list keeps its own length; a bad one inside must not be dropped silently.
  const auto server_hello_with = [](const Bytes& extensions) {
    Bytes body;
    put(body, 0x0303, 2);
    body.insert(body.end(), 32, 0x44);
    append(body, with_length({}, 1));
    put(body, 0x1301, 2);
    body.push_back(0);
    append(body, with_length(extensions, 2));
    return handshake(2, body);
  };
  // supported_versions with no version in it: not "chose 0x0000".
  const Step empty_version =
      netlab::tls::decode_handshake(Direction::received, server_hello_with(extension(43, {})), false);
  CHECK_FALSE(empty_version.error.empty());
  CHECK(empty_version.supported_versions.empty());
  // A key share whose key is longer than the extension.
  Bytes share;
  put(share, 0x001d, 2);
  append(share, with_length(Bytes(32, 0x33), 2));
  share.pop_back();
  CHECK_FALSE(
      netlab::tls::decode_handshake(Direction::received, server_hello_with(extension(51, share)), false).error.empty());
  // An extension longer than the extension block.
  Bytes cut = extension(43, {0x03, 0x04});
  cut.pop_back();
  CHECK_FALSE(netlab::tls::decode_handshake(Direction::received, server_hello_with(cut), false).error.empty());

  // A ClientHello offering an odd number of bytes of cipher suites.
  Bytes hello = client_hello();
  const std::size_t suites_length = 4 + 2 + 32 + 1 + 32;  // header, version, random, session id
  REQUIRE(hello[suites_length + 1] == 6);
  hello[suites_length + 1] = 5;  // the list now ends inside a suite; the rest shifts by one
  CHECK_FALSE(netlab::tls::decode_handshake(Direction::sent, hello, false).error.empty());
  // And the good messages still decode cleanly.
  CHECK(netlab::tls::decode_handshake(Direction::received, server_hello_with(extension(43, {0x03, 0x04})), false)
            .error.empty());
}

TEST_CASE("alerts and names", "[decode]") {
  const Bytes unknown_ca{2, 48};
  CHECK(netlab::tls::decode_alert(Direction::received, unknown_ca).alert == "fatal unknown CA");
  CHECK_FALSE(netlab::tls::decode_alert(Direction::received, Bytes{2}).error.empty());
  CHECK(netlab::tls::handshake_type_name(15) == "CertificateVerify");
  CHECK(netlab::tls::group_name(0x001d) == "x25519");
  CHECK(netlab::tls::group_name(0x4242) == "0x4242");
  CHECK(netlab::tls::version_name(0x0303) == "TLSv1.2");
  CHECK(netlab::tls::cipher_suite_name(0x1301) == "TLS_AES_128_GCM_SHA256");
}

namespace {

Bytes der_of_pem(const std::filesystem::path& path) {
  std::FILE* file = std::fopen(path.c_str(), "r");
  REQUIRE(file);
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  REQUIRE(cert);
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert, &der);
  X509_free(cert);
  REQUIRE(length > 0);
  Bytes bytes(der, der + length);
  OPENSSL_free(der);
  return bytes;
}

}  // namespace

TEST_CASE("the lab's PKI: generated once, server key private, one valid and one expired certificate, SNI names",
          "[pki]") {
  netlab::test::TempDir dir;
  const netlab::tls::Pki pki{dir.path() / "certs"};
  CHECK(netlab::tls::ensure_pki(pki.dir));
  CHECK_FALSE(netlab::tls::ensure_pki(pki.dir));             // already there: kept
  CHECK_FALSE(std::filesystem::exists(pki.dir / "ca.key"));  // the CA's key is never written
  struct stat info {};
  REQUIRE(::stat(pki.server_key().c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);

  const auto valid = netlab::tls::summarize_certificate(der_of_pem(pki.server_cert()));
  REQUIRE(valid);
  CHECK(valid->subject.find("CN=localhost") != std::string::npos);
  CHECK(valid->issuer.find("CN=netlab https lab CA") != std::string::npos);
  CHECK(valid->key_type == "RSA");
  CHECK(valid->key_bits == 2048);
  CHECK_FALSE(valid->expired);

  for (const auto name : netlab::tls::sni_names) {  // SNI: one certificate per name, same key
    const auto named = netlab::tls::summarize_certificate(der_of_pem(pki.name_cert(name)));
    REQUIRE(named);
    CHECK(named->subject.find("CN=" + std::string(name)) != std::string::npos);
    CHECK(named->key_bits == 2048);
  }

  const auto expired = netlab::tls::summarize_certificate(der_of_pem(pki.expired_cert()));
  REQUIRE(expired);
  CHECK(expired->expired);

  const auto ca = netlab::tls::summarize_certificate(der_of_pem(pki.ca_cert()));
  REQUIRE(ca);
  CHECK(ca->key_type == "EC");
  CHECK(ca->subject == ca->issuer);
}
