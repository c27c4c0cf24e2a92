#pragma once
// The https lab's TLS machinery (OpenSSL 3 under Asio SSL), kept out of the
// other common headers:
//   - the lab's own small PKI, generated at first run (never stored in the repo)
//   - the three handshakes of the lab as context settings (1.3, 1.2-ecdhe, 1.2-rsa)
//   - the handshake trace: OpenSSL's message callback, decoded message by message
//   - the NSS key log (--keylog, SSLKEYLOGFILE) and the exporter digest
#include <boost/asio/ssl/context.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace netlab::tls {

// ---- the lab's modes -----------------------------------------------------------

enum class Mode { tls13, tls12_ecdhe, tls12_rsa };

std::string_view mode_name(Mode mode);  // "1.3", "1.2-ecdhe", "1.2-rsa"
std::vector<std::pair<std::string, Mode>> mode_names();  // for CLI11's CheckedTransformer

// The server takes these key-exchange groups and no others, so that a client
// whose first key share is for another group (--force-hrr) gets a HelloRetryRequest.
inline constexpr std::string_view server_groups = "X25519:P-256";
inline constexpr std::string_view hrr_client_groups = "P-384:X25519:P-256";

// ---- the lab's PKI ---------------------------------------------------------------

struct Pki {
  std::filesystem::path dir;
  std::filesystem::path ca_cert() const { return dir / "ca.pem"; }
  std::filesystem::path server_cert() const { return dir / "server.pem"; }
  std::filesystem::path server_key() const { return dir / "server.key"; }
  std::filesystem::path expired_cert() const { return dir / "expired.pem"; }  // same key, validity in the past
};

// Creates in `dir` (when any file is missing) a CA (EC P-256), a server key
// (RSA-2048: the 1.2-rsa mode needs an RSA key to encrypt the pre-master secret
// with), a certificate for localhost and 127.0.0.1 valid for 30 days and one that
// expired yesterday. Keys are written 0600. Serialised with a lock file, so two
// servers starting together do not mix two CAs. Returns true if it generated.
// Throws std::runtime_error with one line on failure.
bool ensure_pki(const std::filesystem::path& dir);

// ---- contexts ---------------------------------------------------------------------

enum class CertChoice { valid, expired };

// Server: the versions and key exchanges of `mode`, the lab's certificate and key.
void configure_server(boost::asio::ssl::context& context, Mode mode, const Pki& pki, CertChoice cert);

// Client: the versions of `mode` (none = offer TLS 1.2 and 1.3 and let the server
// choose), verification against `ca_file` ("system" = the system's trust store,
// which does not know the lab's CA), or no verification at all when `verify` is
// false (the --no-verify-demo). `force_hrr` offers a first key share for a group
// the server does not take.
void configure_client(boost::asio::ssl::context& context, std::optional<Mode> mode, const std::string& ca_file,
                      bool verify, bool force_hrr);

// Client, per connection: SNI (for a DNS name) and the name the certificate must carry.
void set_expected_server_name(SSL* ssl, const std::string& name);

// ---- key log and exporter -----------------------------------------------------------

// Appends NSS key log lines ("CLIENT_RANDOM ...", "CLIENT_HANDSHAKE_TRAFFIC_SECRET ...")
// of every connection of `context` to `path` (created 0600). Throws on an unwritable path.
// `path` empty = the SSLKEYLOGFILE variable when set, else nothing. Returns the path used.
std::string enable_keylog(boost::asio::ssl::context& context, std::string path);

// RFC 5705 §4: a label not registered with IANA begins with "EXPERIMENTAL".
inline constexpr std::string_view exporter_label = "EXPERIMENTAL-netlab-https";

// SHA-256 of 32 bytes of keying material exported from the session (RFC 5705 / 8446
// 7.5) under exporter_label, in hex: both ends print it; equal digests prove equal
// session keys without showing any secret.
std::string exporter_digest(SSL* ssl);

// ---- the handshake trace -------------------------------------------------------------

enum class Direction { sent, received };

// One decoded handshake-layer message (or ChangeCipherSpec, or alert).
struct Step {
  Direction direction = Direction::sent;
  std::string message;          // "ClientHello", "ServerHello", "HelloRetryRequest", "ChangeCipherSpec", ...
  std::uint8_t handshake_type = 0;  // 0 for ChangeCipherSpec and alerts
  std::size_t length = 0;       // bytes of the message body
  bool encrypted_record = false;  // carried in an encrypted record (outer type application_data)
  std::string detail;           // what the message says, in a line
  std::string error;            // why it could not be decoded, if it could not

  // Decoded fields (those that apply).
  std::string random_hex;                  // Client/ServerHello
  std::vector<std::uint16_t> cipher_suites;  // ClientHello: offered; ServerHello: [chosen]
  std::vector<std::uint16_t> key_share_groups;  // key_share (ClientHello: offered; ServerHello/HRR: chosen)
  std::vector<std::uint16_t> supported_versions;  // ClientHello: offered; ServerHello: [chosen]
  std::string server_name;                 // SNI
  std::uint16_t legacy_version = 0;
  std::uint16_t named_group = 0;           // ServerKeyExchange
  std::size_t public_key_length = 0;       // ServerKeyExchange / ClientKeyExchange (ECDHE)
  std::size_t encrypted_premaster_length = 0;  // ClientKeyExchange (RSA key transport)
  std::uint16_t signature_scheme = 0;      // ServerKeyExchange / CertificateVerify
  std::size_t certificate_count = 0;
  std::vector<std::uint8_t> leaf_certificate_der;
  std::string alert;                       // "fatal unknown_ca"
};

// Decodes one handshake message as OpenSSL's message callback hands it over:
// type (1 byte), length (3 bytes), body. `tls13` tells the Certificate layout
// apart (1.3 adds a request context and per-certificate extensions). Never reads
// past `bytes`; a message that does not parse has `error` set.
Step decode_handshake(Direction direction, std::span<const std::uint8_t> bytes, bool tls13);
Step decode_alert(Direction direction, std::span<const std::uint8_t> bytes);

// The HelloRetryRequest's fixed "random" (RFC 8446 4.1.3).
bool is_hello_retry_random(std::span<const std::uint8_t> random);

std::string handshake_type_name(std::uint8_t type);
std::string group_name(std::uint16_t group);          // "x25519", "secp256r1", ...
std::string version_name(std::uint16_t version);      // "TLSv1.3"
std::string signature_scheme_name(std::uint16_t scheme);
std::string cipher_suite_name(std::uint16_t suite);   // OpenSSL's name, or "0x1301"
std::string alert_name(std::uint8_t description);

// Subject, issuer, key, validity of a DER certificate, as a person reads them.
struct CertificateSummary {
  std::string subject;
  std::string issuer;
  std::string key_type;  // "RSA", "EC"
  int key_bits = 0;
  std::string not_before;
  std::string not_after;
  bool expired = false;
};
std::optional<CertificateSummary> summarize_certificate(std::span<const std::uint8_t> der);

// Records the trace of one SSL connection through SSL_set_msg_callback: every
// handshake message, ChangeCipherSpec and alert, in order, each noted with
// whether its record was encrypted on the wire.
class Trace {
 public:
  void attach(SSL* ssl);  // the Trace must outlive the SSL's handshake
  const std::vector<Step>& steps() const { return steps_; }
  // A handshake has about a dozen messages; a peer cannot grow the trace past this.
  static constexpr std::size_t max_steps = 64;

 private:
  static void on_message(int write_p, int version, int content_type, const void* buf, std::size_t len, SSL* ssl,
                         void* arg);
  std::vector<Step> steps_;
  bool tls13_ = false;
  int last_record_type_[2] = {0, 0};  // [received, sent]: outer content type of the last record header
};

// The OpenSSL error queue and a verification result, as one line.
std::string last_error_text();

}  // namespace netlab::tls
