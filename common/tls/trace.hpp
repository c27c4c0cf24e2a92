#pragma once
// The handshake trace: OpenSSL's message callback, decoded message by message
// (ClientHello's random and offers, the server's choices, the certificate, the
// key exchange), each noted with whether its record was encrypted on the wire.
// The decoders never read past the bytes they are given (fuzzed: tests/fuzz).
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace netlab::tls {

enum class Direction { sent, received };

// One decoded handshake-layer message (or ChangeCipherSpec, or alert).
struct Step {
  Direction direction = Direction::sent;
  std::string message;              // "ClientHello", "ServerHello", "HelloRetryRequest", "ChangeCipherSpec", ...
  std::uint8_t handshake_type = 0;  // 0 for ChangeCipherSpec and alerts
  std::size_t length = 0;           // bytes of the message body
  bool encrypted_record = false;    // carried in an encrypted record (outer type application_data)
  std::string detail;               // what the message says, in a line
  std::string error;                // why it could not be decoded, if it could not

  // Decoded fields (those that apply).
  std::string random_hex;                         // Client/ServerHello
  std::vector<std::uint16_t> cipher_suites;       // ClientHello: offered; ServerHello: [chosen]
  std::vector<std::uint16_t> key_share_groups;    // key_share (ClientHello: offered; ServerHello/HRR: chosen)
  std::vector<std::uint16_t> supported_versions;  // ClientHello: offered; ServerHello: [chosen]
  std::string server_name;                        // SNI
  std::vector<std::string> alpn_protocols;        // ALPN: offered (ClientHello); chosen (ServerHello 1.2,
                                                  // EncryptedExtensions 1.3)
  std::size_t session_id_length = 0;              // Client/ServerHello legacy_session_id (1.2: resumption by id)
  bool session_ticket_extension = false;          // RFC 5077 session_ticket extension present
  std::size_t session_ticket_length = 0;          // ... and the ticket it carries (ClientHello)
  bool pre_shared_key = false;                    // RFC 8446 pre_shared_key: offered (ClientHello) / accepted
  std::vector<std::uint8_t> psk_identity;         // ClientHello: the first PSK identity offered (the ticket)
  bool early_data = false;                        // ClientHello: the early_data extension (0-RTT data follows)
  std::uint16_t legacy_version = 0;
  std::uint16_t named_group = 0;                  // ServerKeyExchange
  std::size_t public_key_length = 0;              // ServerKeyExchange / ClientKeyExchange (ECDHE)
  std::size_t encrypted_premaster_length = 0;     // ClientKeyExchange (RSA key transport)
  std::vector<std::uint8_t> encrypted_premaster;  // its bytes, for the server to decrypt (tls/prf.hpp)
  std::uint16_t signature_scheme = 0;             // ServerKeyExchange / CertificateVerify
  std::size_t certificate_count = 0;
  std::vector<std::uint8_t> leaf_certificate_der;
  std::string alert;                        // "fatal unknown_ca"
  std::vector<std::uint8_t> message_bytes;  // Trace: the handshake message as sent (header + body),
                                            // for the session hash of Extended Master Secret
};

// Decodes one handshake message as OpenSSL's message callback hands it over:
// type (1 byte), length (3 bytes), body. `tls13` tells the Certificate layout
// apart (1.3 adds a request context and per-certificate extensions). Never reads
// past `bytes`; a message that does not parse has `error` set.
Step decode_handshake(Direction direction, std::span<const std::uint8_t> bytes, bool tls13);
Step decode_alert(Direction direction, std::span<const std::uint8_t> bytes);

// The HelloRetryRequest's fixed "random" (RFC 8446 4.1.3).
bool is_hello_retry_random(std::span<const std::uint8_t> random);

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

}  // namespace netlab::tls
