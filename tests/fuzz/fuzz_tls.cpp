// libFuzzer target: the https lab's handshake trace decoders, fed what OpenSSL's
// message callback hands over (the bytes a possibly hostile peer sent). First
// byte: bit 0 the direction (received), bit 1 TLS 1.3 (the Certificate and
// NewSessionTicket layouts), bit 2 an alert instead of a handshake message; the
// rest is the message. decode_handshake / decode_alert must never read past it,
// and what they decode must come out of it; the message also goes to
// summarize_certificate as a DER certificate (OpenSSL's d2i_X509).
#include "tls/tls.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

namespace {

namespace tls = netlab::tls;

void check(bool ok) {
  if (!ok) std::abort();
}

// Written here again, not taken from tls/names.cpp: the check must not compare the decoder with itself.
std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  for (auto b : bytes) {
    text += digits[b >> 4];
    text += digits[b & 15];
  }
  return text;
}

// Every field a person reads is named, never an empty string.
void check_names(const tls::Step& step) {
  check(!tls::handshake_type_name(step.handshake_type).empty());
  for (auto suite : step.cipher_suites) check(!tls::cipher_suite_name(suite).empty());
  for (auto group : step.key_share_groups) check(!tls::group_name(group).empty());
  for (auto version : step.supported_versions) check(!tls::version_name(version).empty());
  check(!tls::version_name(step.legacy_version).empty());
  check(!tls::group_name(step.named_group).empty());
  check(!tls::signature_scheme_name(step.signature_scheme).empty());
}

void check_handshake(const tls::Step& step, tls::Direction direction, std::span<const std::uint8_t> message,
                     bool tls13) {
  check(step.direction == direction);
  check(!step.message.empty());
  check(step.alert.empty() && !step.encrypted_record);
  check_names(step);
  const std::size_t size = message.size();
  if (size < 4) {  // no room for the type and the 3-byte length
    check(!step.error.empty() && step.length == 0);
    return;
  }
  const std::uint8_t type = message[0];
  const std::size_t declared = (std::size_t{message[1]} << 16) | (std::size_t{message[2]} << 8) | message[3];
  const bool header_matches = declared == size - 4;
  check(step.handshake_type == type);
  check(step.length == size - 4);
  if (!header_matches) check(!step.error.empty());

  // What was decoded came out of the body: nothing is bigger than it.
  const std::size_t body = step.length;
  check(step.supported_versions.size() * 2 <= body);
  check(step.key_share_groups.size() * 2 <= body);
  check(step.server_name.size() <= body);
  check(step.public_key_length <= body);
  check(step.encrypted_premaster_length <= body);
  check(step.leaf_certificate_der.size() <= body);
  check(step.random_hex.empty() || step.random_hex.size() == 64);
  // The PSK identity (a ClientHello's ticket, kept to recognise a replay) is bytes of the message.
  if (type != 1) check(step.psk_identity.empty() && !step.early_data);
  if (!step.psk_identity.empty())
    check(std::search(message.begin(), message.end(), step.psk_identity.begin(), step.psk_identity.end()) !=
          message.end());

  const bool hello = type == 1 || type == 2;
  if (!hello)
    check(step.random_hex.empty() && step.cipher_suites.empty() && step.supported_versions.empty() &&
          step.key_share_groups.empty() && step.server_name.empty());
  if (type == 1) check(step.cipher_suites.size() * 2 <= body);
  if (type == 2 && header_matches) check(step.cipher_suites.size() == 1);  // the chosen one
  // The random is the 32 bytes after the 2-byte legacy version.
  if (!step.random_hex.empty()) check(hello && size >= 38 && step.random_hex == hex(message.subspan(6, 32)));
  // A ServerHello whose random is RFC 8446's fixed value is a HelloRetryRequest.
  const bool hello_retry =
      type == 2 && header_matches && size >= 38 && tls::is_hello_retry_random(message.subspan(6, 32));
  check(step.message == (hello_retry ? std::string("HelloRetryRequest") : tls::handshake_type_name(type)));

  // Certificates: each takes at least its 3-byte length; the leaf is the first,
  // after the list's length (and in TLS 1.3 the request context before it).
  check(step.certificate_count * 3 <= body);
  if (type != 11) check(step.certificate_count == 0);
  if (step.certificate_count == 0) {
    check(step.leaf_certificate_der.empty());
  } else {
    const std::size_t at = 4 + (tls13 ? 1 + std::size_t{message[4]} : 0) + 3 + 3;
    check(at + step.leaf_certificate_der.size() <= size);
    const auto leaf = message.subspan(at, step.leaf_certificate_der.size());
    check(std::equal(leaf.begin(), leaf.end(), step.leaf_certificate_der.begin()));
  }
  if (!step.leaf_certificate_der.empty()) {
    const auto summary = tls::summarize_certificate(step.leaf_certificate_der);
    // A decoded Certificate message describes its leaf in the detail line.
    if (summary && step.error.empty()) check(step.detail.find(summary->subject) != std::string::npos);
  }

  if (step.error.empty()) {
    check(header_matches);
    const bool described = hello || type == 4 || type == 8 || type == 11 || type == 12 || type == 14 || type == 15 ||
                           type == 16 || type == 20;
    if (described) check(!step.detail.empty());
  }
}

void check_alert(const tls::Step& step, tls::Direction direction, std::span<const std::uint8_t> message) {
  check(step.direction == direction && step.message == "Alert" && step.handshake_type == 0);
  check(step.length == message.size());
  if (message.size() != 2) {
    check(!step.error.empty() && step.alert.empty());
    return;
  }
  const std::string name = tls::alert_name(message[1]);
  check(!name.empty());
  check(step.error.empty());
  check(step.alert == (message[0] == 2 ? "fatal " : "warning ") + name && step.detail == step.alert);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const auto direction = (mode & 1) ? tls::Direction::received : tls::Direction::sent;
  const bool tls13 = (mode & 2) != 0;
  const std::span<const std::uint8_t> message(data + 1, size - 1);
  if (mode & 4)
    check_alert(tls::decode_alert(direction, message), direction, message);
  else
    check_handshake(tls::decode_handshake(direction, message, tls13), direction, message, tls13);
  // The same bytes as a certificate, as a Certificate message's leaf is read.
  const auto summary = tls::summarize_certificate(message);
  if (message.empty()) check(!summary);
  return 0;
}
