#include "tls/trace.hpp"

#include "tls/names.hpp"
#include "tls/openssl.hpp"

#include <openssl/err.h>

#include <cstring>

namespace netlab::tls {

namespace {

// Reads big-endian fields; after the first short read every later read yields
// zero / empty and `ok` stays false, so decoding can go on without checks per field.
// A list read with vector() fails its parent too: a length inside an extension
// that runs past the extension makes the whole message malformed, not a field
// silently dropped.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes, Reader* parent = nullptr) : bytes_(bytes), parent_(parent) {}
  bool ok() const { return ok_; }
  std::size_t left() const { return bytes_.size() - pos_; }
  std::span<const std::uint8_t> take(std::size_t n) {
    if (!ok_ || n > left()) {
      fail();
      return {};
    }
    auto part = bytes_.subspan(pos_, n);
    pos_ += n;
    return part;
  }
  std::uint32_t number(std::size_t width) {
    std::uint32_t value = 0;
    for (auto b : take(width)) value = (value << 8) | b;
    return value;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(number(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(number(2)); }
  std::uint32_t u24() { return number(3); }
  Reader vector(std::size_t length_width) {
    const auto bytes = take(number(length_width));
    return Reader(bytes, this);  // used while this reader lives
  }
  // A list of fixed-size items (cipher suites, versions) must end on an item.
  void expect_end() {
    if (left() > 0) fail();
  }

 private:
  void fail() {
    ok_ = false;
    if (parent_) parent_->fail();
  }

  std::span<const std::uint8_t> bytes_;
  Reader* parent_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

constexpr std::array<std::uint8_t, 32> hello_retry_random = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

enum : std::uint16_t {
  ext_server_name = 0,
  ext_supported_groups = 10,
  ext_alpn = 16,
  ext_session_ticket = 35,
  ext_pre_shared_key = 41,
  ext_early_data = 42,
  ext_supported_versions = 43,
  ext_key_share = 51
};

// RFC 7301 3.1: a list of protocol names, each 1..255 bytes (the server's answer is a list of one).
void decode_alpn(Reader& data, Step& step) {
  Reader names = data.vector(2);
  while (names.ok() && names.left() > 0) {
    auto name = names.take(names.u8());
    if (names.ok() && step.alpn_protocols.size() < 16) step.alpn_protocols.emplace_back(name.begin(), name.end());
  }
  data.expect_end();
}

std::string join_texts(const std::vector<std::string>& texts) {
  std::string text;
  for (const auto& t : texts) text += (text.empty() ? "" : ",") + t;
  return text;
}

void decode_extensions(Reader extensions, Step& step, bool client_hello, bool hello_retry) {
  while (extensions.ok() && extensions.left() > 0) {
    const std::uint16_t type = extensions.u16();
    Reader data = extensions.vector(2);
    if (!extensions.ok()) break;
    switch (type) {
      case ext_server_name:
        if (client_hello) {
          Reader names = data.vector(2);
          while (names.ok() && names.left() > 0) {
            const std::uint8_t name_type = names.u8();
            auto name = names.take(names.u16());
            if (name_type == 0 && names.ok()) step.server_name.assign(name.begin(), name.end());
          }
          data.expect_end();
        }
        break;
      case ext_alpn:
        decode_alpn(data, step);
        break;
      case ext_supported_versions:
        if (client_hello) {
          Reader versions = data.vector(1);
          while (versions.ok() && versions.left() >= 2) step.supported_versions.push_back(versions.u16());
          versions.expect_end();
        } else {
          const std::uint16_t version = data.u16();
          if (data.ok()) step.supported_versions.push_back(version);
        }
        data.expect_end();
        break;
      case ext_key_share:
        if (client_hello) {
          Reader shares = data.vector(2);
          while (shares.ok() && shares.left() > 0) {
            const std::uint16_t group = shares.u16();
            shares.take(shares.u16());
            if (shares.ok()) step.key_share_groups.push_back(group);
          }
        } else {
          const std::uint16_t group = data.u16();  // the HRR names the group it wants, with no key
          if (data.ok()) step.key_share_groups.push_back(group);
          if (!hello_retry) step.public_key_length = data.take(data.u16()).size();
        }
        data.expect_end();
        break;
      case ext_session_ticket:  // RFC 5077: a ClientHello carries its ticket; ServerHello's empty one promises a new
                                // one
        step.session_ticket_length = data.left();
        step.session_ticket_extension = true;
        break;
      case ext_pre_shared_key:  // RFC 8446 4.2.11: offered identities (ClientHello), the one chosen (ServerHello)
        step.pre_shared_key = true;
        if (client_hello) {  // the first identity: the ticket a replayed ClientHello offers again
          Reader identities = data.vector(2);
          const auto identity = identities.take(identities.u16());
          if (identities.ok()) step.psk_identity.assign(identity.begin(), identity.end());
        }
        break;
      case ext_early_data:  // RFC 8446 4.2.10: early data follows this ClientHello
        step.early_data = step.early_data || client_hello;
        break;
      default:
        break;
    }
  }
}

std::string join_names(const std::vector<std::uint16_t>& values, std::string (*name)(std::uint16_t),
                       std::size_t limit) {
  std::string text;
  for (std::size_t i = 0; i < values.size() && i < limit; ++i) text += (i ? ", " : "") + name(values[i]);
  if (values.size() > limit) text += ", ...";
  return text;
}

// What a ClientHello offers to resume with: a PSK identity (1.3), a ticket or a session id (1.2).
std::string resumption_offer(const Step& step) {
  if (step.pre_shared_key)
    return step.early_data ? "; offers a PSK (resumption) and early data (0-RTT)" : "; offers a PSK (resumption)";
  if (step.session_ticket_length) return "; session ticket " + std::to_string(step.session_ticket_length) + " B";
  // A 1.3 ClientHello always has a 32-byte legacy session id (middlebox compatibility, RFC 8446 D.4).
  if (step.session_id_length && step.supported_versions.empty())
    return "; session id " + std::to_string(step.session_id_length) + " B";
  return "";
}

void decode_hello(Reader& r, Step& step, bool client_hello) {
  step.legacy_version = r.u16();
  const auto random = r.take(32);
  step.random_hex = hex_bytes(random);
  step.session_id_length = r.take(r.u8()).size();  // TLS 1.2: the session to resume; 1.3: for middleboxes only
  if (client_hello) {
    Reader suites = r.vector(2);
    while (suites.ok() && suites.left() >= 2) step.cipher_suites.push_back(suites.u16());
    suites.expect_end();
    r.take(r.u8());  // compression methods
  } else {
    step.cipher_suites.push_back(r.u16());
    r.u8();  // compression method
  }
  const bool hello_retry = !client_hello && is_hello_retry_random(random);
  if (hello_retry) step.message = "HelloRetryRequest";
  if (r.ok() && r.left() > 0) decode_extensions(r.vector(2), step, client_hello, hello_retry);
  if (!r.ok()) return;
  if (client_hello) {
    step.detail = "random " + step.random_hex.substr(0, 16) + "... (32 B); " +
                  std::to_string(step.cipher_suites.size()) +
                  " suites offered: " + join_names(step.cipher_suites, cipher_suite_name, 3);
    if (!step.supported_versions.empty())
      step.detail += "; versions " + join_names(step.supported_versions, version_name, 4);
    if (!step.key_share_groups.empty())
      step.detail += "; key share " + join_names(step.key_share_groups, group_name, 4);
    if (!step.server_name.empty()) step.detail += "; SNI " + step.server_name;
    if (!step.alpn_protocols.empty()) step.detail += "; ALPN " + join_texts(step.alpn_protocols);
    step.detail += resumption_offer(step);
  } else if (hello_retry) {
    step.detail = "no key share for a group I take: send one for " + join_names(step.key_share_groups, group_name, 1);
  } else {
    const std::uint16_t version = step.supported_versions.empty() ? step.legacy_version : step.supported_versions[0];
    step.detail = "random " + step.random_hex.substr(0, 16) + "... (32 B); chose " + version_name(version) + " " +
                  cipher_suite_name(step.cipher_suites[0]);
    if (!step.key_share_groups.empty())
      step.detail +=
          "; key share " + group_name(step.key_share_groups[0]) + " (" + std::to_string(step.public_key_length) + " B)";
    if (step.pre_shared_key) step.detail += "; accepts the PSK (resumption)";
    if (!step.alpn_protocols.empty()) step.detail += "; ALPN " + join_texts(step.alpn_protocols);
    if (step.session_id_length && step.supported_versions.empty())  // 1.3 echoes the client's, meaning nothing
      step.detail += "; session id " + std::to_string(step.session_id_length) + " B";
  }
}

void decode_certificate(Reader& r, Step& step, bool tls13) {
  if (tls13) r.take(r.u8());  // certificate request context
  Reader list = r.vector(3);
  while (list.ok() && list.left() > 0) {
    const auto der = list.take(list.u24());
    if (tls13) list.take(list.u16());  // per-certificate extensions
    if (!list.ok()) return;            // and the message is bad
    if (step.certificate_count++ == 0) step.leaf_certificate_der.assign(der.begin(), der.end());
  }
  if (!r.ok()) return;
  step.detail = std::to_string(step.certificate_count) + " certificate(s)";
  if (auto leaf = summarize_certificate(step.leaf_certificate_der))
    step.detail += ": " + leaf->subject + ", issued by " + leaf->issuer + ", " + leaf->key_type + "-" +
                   std::to_string(leaf->key_bits) + ", valid " + leaf->not_before + " .. " + leaf->not_after +
                   (leaf->expired ? " (EXPIRED)" : "");
}

}  // namespace

bool is_hello_retry_random(std::span<const std::uint8_t> random) {
  return random.size() == hello_retry_random.size() &&
         std::equal(random.begin(), random.end(), hello_retry_random.begin());
}

Step decode_handshake(Direction direction, std::span<const std::uint8_t> bytes, bool tls13) {
  Step step;
  step.direction = direction;
  Reader header(bytes);
  step.handshake_type = header.u8();
  const std::uint32_t declared = header.u24();
  step.message = handshake_type_name(step.handshake_type);
  if (!header.ok()) {
    step.message = bytes.empty() ? "empty message" : step.message;
    step.error = "shorter than the 4-byte handshake header";
    return step;
  }
  auto body = header.take(header.left());
  step.length = body.size();
  if (declared != body.size()) {
    step.error =
        "the header says " + std::to_string(declared) + " bytes, the message has " + std::to_string(body.size());
    return step;
  }
  Reader r(body);
  switch (step.handshake_type) {
    case 1:
    case 2:
      decode_hello(r, step, step.handshake_type == 1);
      break;
    case 11:
      decode_certificate(r, step, tls13);
      break;
    case 12: {  // ServerKeyExchange: ECDHE parameters, signed with the certificate's key
      const std::uint8_t curve_type = r.u8();
      step.named_group = r.u16();
      step.public_key_length = r.take(r.u8()).size();
      step.signature_scheme = r.u16();
      const std::size_t signature = r.take(r.u16()).size();
      if (r.ok() && curve_type != 3) step.error = "not a named-curve ECDHE ServerKeyExchange";
      step.detail = "ECDHE group " + group_name(step.named_group) + ", server public key " +
                    std::to_string(step.public_key_length) + " B, signed " +
                    signature_scheme_name(step.signature_scheme) + " (" + std::to_string(signature) + " B)";
      break;
    }
    case 14:
      step.detail = "the server has said everything";
      break;
    case 15: {
      step.signature_scheme = r.u16();
      const std::size_t signature = r.take(r.u16()).size();
      step.detail = "signature over the handshake so far, " + signature_scheme_name(step.signature_scheme) + " (" +
                    std::to_string(signature) + " B)";
      break;
    }
    case 16: {
      // RSA key transport: a 2-byte length and the encrypted pre-master secret;
      // ECDHE: a 1-byte length and the client's public key.
      const std::size_t size = body.size();
      if (size >= 2 && static_cast<std::size_t>((body[0] << 8) | body[1]) + 2 == size) {
        step.encrypted_premaster_length = size - 2;
        step.encrypted_premaster.assign(body.begin() + 2, body.end());
        step.detail = "pre-master secret (48 B: version + 46 random bytes) encrypted with the server's RSA key: " +
                      std::to_string(step.encrypted_premaster_length) + " B";
      } else if (size >= 1 && static_cast<std::size_t>(body[0]) + 1 == size) {
        step.public_key_length = size - 1;
        step.detail = "client's ECDHE public key, " + std::to_string(step.public_key_length) + " B — no secret is sent";
      } else {
        step.error = "neither an RSA nor an ECDHE ClientKeyExchange";
      }
      r.take(size);
      break;
    }
    case 20:
      step.detail = "verify_data " + std::to_string(body.size()) + " B: MAC of the whole handshake";
      break;
    case 4: {
      const std::uint32_t lifetime = r.number(4);
      if (tls13) {
        r.number(4);     // ticket_age_add
        r.take(r.u8());  // nonce
      }
      const std::size_t ticket = r.take(r.u16()).size();
      step.detail = "session ticket " + std::to_string(ticket) + " B, lifetime " + std::to_string(lifetime) + " s";
      break;
    }
    case 8: {
      Reader extensions = r.vector(2);
      std::size_t count = 0;
      while (extensions.ok() && extensions.left() > 0) {
        const std::uint16_t type = extensions.u16();
        Reader data = extensions.vector(2);
        if (!extensions.ok()) break;
        ++count;
        if (type == ext_alpn) decode_alpn(data, step);  // TLS 1.3: the chosen protocol travels encrypted here
      }
      step.detail = std::to_string(count) + " extension(s), the first message under the handshake keys";
      if (!step.alpn_protocols.empty()) step.detail += "; ALPN " + join_texts(step.alpn_protocols);
      break;
    }
    default:
      r.take(body.size());
      break;
  }
  if (!r.ok() && step.error.empty()) step.error = step.message + ": a length runs past the bytes it counts";
  const bool structured = step.handshake_type == 1 || step.handshake_type == 2 || step.handshake_type == 11 ||
                          step.handshake_type == 12 || step.handshake_type == 15;
  if (r.ok() && structured && r.left() > 0 && step.error.empty())
    step.error = std::to_string(r.left()) + " bytes after the end of the " + step.message;
  return step;
}

Step decode_alert(Direction direction, std::span<const std::uint8_t> bytes) {
  Step step;
  step.direction = direction;
  step.message = "Alert";
  step.length = bytes.size();
  if (bytes.size() != 2) {
    step.error = "an alert is 2 bytes, this one " + std::to_string(bytes.size());
    return step;
  }
  step.alert = std::string(bytes[0] == 2 ? "fatal " : "warning ") + alert_name(bytes[1]);
  step.detail = step.alert;
  return step;
}

std::optional<CertificateSummary> summarize_certificate(std::span<const std::uint8_t> der) {
  if (der.empty()) return std::nullopt;
  const unsigned char* p = der.data();
  Owned<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) {
    ERR_clear_error();
    return std::nullopt;
  }
  CertificateSummary summary;
  const auto name_text = [](const X509_NAME* name) {
    Owned<BIO> bio(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
    return bio_text(bio.get());
  };
  const auto time_text = [](const ASN1_TIME* time) {
    Owned<BIO> bio(BIO_new(BIO_s_mem()));
    ASN1_TIME_print(bio.get(), time);
    return bio_text(bio.get());
  };
  summary.subject = name_text(X509_get_subject_name(cert.get()));
  summary.issuer = name_text(X509_get_issuer_name(cert.get()));
  if (EVP_PKEY* key = X509_get0_pubkey(cert.get())) {
    const int id = EVP_PKEY_get_base_id(key);
    summary.key_type = id == EVP_PKEY_RSA ? "RSA" : id == EVP_PKEY_EC ? "EC" : OBJ_nid2sn(id);
    summary.key_bits = EVP_PKEY_get_bits(key);
  }
  summary.not_before = time_text(X509_get0_notBefore(cert.get()));
  summary.not_after = time_text(X509_get0_notAfter(cert.get()));
  summary.expired = X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0;
  ERR_clear_error();
  return summary;
}

// ---- the trace --------------------------------------------------------------------------------------

void Trace::attach(SSL* ssl) {
  SSL_set_msg_callback(ssl, &Trace::on_message);
  SSL_set_msg_callback_arg(ssl, this);
}

void Trace::on_message(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*, void* arg) {
  auto* trace = static_cast<Trace*>(arg);
  if (trace->steps_.size() >= max_steps) return;
  const std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(buf), len);
  const Direction direction = write_p ? Direction::sent : Direction::received;
  const int side = write_p ? 1 : 0;
  switch (content_type) {
    case SSL3_RT_HEADER:
      // The 5-byte record header as it is on the wire: its type is 23
      // (application_data) for every encrypted TLS 1.3 record, whatever is inside.
      if (!bytes.empty()) trace->last_record_type_[side] = bytes[0];
      return;
    case SSL3_RT_HANDSHAKE: {
      Step step = decode_handshake(direction, bytes, trace->tls13_);
      step.encrypted_record = trace->last_record_type_[side] == SSL3_RT_APPLICATION_DATA;
      step.message_bytes.assign(bytes.begin(), bytes.end());
      if (step.handshake_type == 2 && !step.supported_versions.empty() && step.supported_versions[0] == 0x0304)
        trace->tls13_ = true;
      trace->steps_.push_back(std::move(step));
      return;
    }
    case SSL3_RT_CHANGE_CIPHER_SPEC: {
      Step step;
      step.direction = direction;
      step.message = "ChangeCipherSpec";
      step.length = len;
      step.detail = trace->tls13_ ? "middlebox compatibility only: changes nothing in TLS 1.3"
                                  : "from the next record on, this side encrypts with the session keys";
      trace->steps_.push_back(std::move(step));
      return;
    }
    case SSL3_RT_ALERT: {
      Step step = decode_alert(direction, bytes);
      step.encrypted_record = trace->last_record_type_[side] == SSL3_RT_APPLICATION_DATA;
      trace->steps_.push_back(std::move(step));
      return;
    }
    default:
      return;
  }
}

}  // namespace netlab::tls
