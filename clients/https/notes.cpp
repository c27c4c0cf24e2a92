#include "notes.hpp"

#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <string_view>

namespace netlab::https {

using tls::Direction;
using tls::Step;

const Step* find_step(const std::vector<Step>& steps, Direction direction, std::string_view message) {
  const auto it = std::find_if(steps.begin(), steps.end(),
                               [&](const Step& s) { return s.direction == direction && s.message == message; });
  return it == steps.end() ? nullptr : &*it;
}

// ---- the note's step for each message ---------------------------------------------

std::string note_step(const Step& step, bool tls13) {
  const bool sent = step.direction == Direction::sent;
  if (step.message == "ClientHello") return "client random 1 + the algorithms it supports";
  if (step.message == "ServerHello") return "server random 2 + its choice";
  if (step.message == "HelloRetryRequest") return "(not in the note) 1.3: retry with a key share I take";
  if (step.message == "Certificate") return "the server's certificate (its public key)";
  if (step.message == "ServerKeyExchange") return "(not in the note) server's ECDHE key share, signed";
  if (step.message == "ServerHelloDone") return "(1.2) the server waits for the key exchange";
  if (step.message == "ClientKeyExchange")
    return step.encrypted_premaster_length ? "random 3, encrypted with the server's public key"
                                           : "(not in the note) client's ECDHE key share: no random 3 is sent";
  if (step.message == "EncryptedExtensions") return "(1.3) rest of the server's choices, already encrypted";
  if (step.message == "CertificateVerify") return "(not in the note) the server signs the handshake";
  if (step.message == "ChangeCipherSpec")
    return tls13 ? "(1.3) no meaning, for middleboxes" : "switch to the session keys";
  if (step.message == "Finished")
    return sent ? "client proves it derived the session keys" : "server proves it derived the session keys";
  if (step.message == "NewSessionTicket") return "(not in the note) a ticket to resume later";
  if (step.message == "Alert")
    return step.alert.find("close notify") != std::string::npos ? "end of the connection, authenticated"
                                                                : "the handshake is refused";
  return "";
}

std::pair<std::string, std::string> split_response(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  if (end == std::string::npos) return {response, ""};
  return {response.substr(0, end), response.substr(end + 4)};
}

std::string header_value(const std::string& head, std::string_view name) {
  std::string lower = head;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto at = lower.find("\r\n" + std::string(name) + ":");
  if (at == std::string::npos) return "";
  auto start = at + 3 + name.size();
  const auto end = head.find("\r\n", start);
  while (start < head.size() && head[start] == ' ') ++start;
  return head.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string client_hello_detail(const boost::json::array& trace) {
  for (const auto& step : trace)
    if (step.at("message") == "ClientHello") return std::string(step.at("detail").as_string());
  return "";
}

boost::json::array trace_json(const std::vector<Step>& steps, bool tls13) {
  boost::json::array trace;
  for (const auto& step : steps)
    trace.push_back(boost::json::object{{"direction", step.direction == Direction::sent ? "sent" : "received"},
                                        {"message", step.message},
                                        {"length", step.length},
                                        {"encrypted_record", step.encrypted_record},
                                        {"random", step.random_hex},
                                        {"detail", step.detail},
                                        {"error", step.error},
                                        {"note_step", note_step(step, tls13)}});
  return trace;
}

// ---- the checks, from the trace and the exporter comparison -----------------------------

Check same_session_key(const Session& s, bool rsa_key_transport) {
  Check check{.id = "same-session-key",
              .claim = "both sides derive the same session key",
              .expected = "",
              .observed = "",
              .verdict = Verdict::skipped,
              .evidence = ""};
  if (rsa_key_transport) {
    check.expected =
        "the master secret recomputed from random 1 + random 2 + the decrypted pre-master secret "
        "(\"random 3\") equals the client's OpenSSL master secret";
    check.evidence =
        "server: RSA-decrypts the traced ClientKeyExchange, TLS 1.2 PRF (EVP_KDF TLS1-PRF); client: "
        "SSL_SESSION_get_master_key; compared as SHA-256 (X-Netlab-Master-Secret-SHA256)";
    if (!s.server_recompute_error.empty()) {
      check.observed = "the server could not recompute the master secret: " + s.server_recompute_error;
      check.verdict = Verdict::refuted;
    } else if (s.server_recomputed_master_sha256.empty()) {
      check.observed = "the server sent no recomputed master secret (not a netlab-https-server --tls 1.2-rsa?)";
      check.verdict = Verdict::skipped;
    } else {
      const bool same = s.server_recomputed_master_sha256 == s.client_master_sha256;
      check.observed = "recomputed master secret SHA-256 " + s.server_recomputed_master_sha256.substr(0, 16) + "... " +
                       (same ? "==" : "!=") + " the client's OpenSSL master secret " +
                       s.client_master_sha256.substr(0, 16) + "...; inputs: " + s.server_recomputed_inputs;
      check.verdict = same ? Verdict::confirmed : Verdict::refuted;
    }
    return check;
  }
  // ECDHE and TLS 1.3: the key comes from a key exchange no one can replay from the
  // capture; equal exporter digests are what a finished handshake already implies.
  check.expected =
      "equal digests of keying material exported on each side (no pre-master secret to recompute "
      "from: the key comes from an ECDHE exchange)";
  check.evidence = std::string("SSL_export_keying_material(\"") + std::string(tls::exporter_label) +
                   "\", 32 B), SHA-256, compared with the server's X-Netlab-Exporter-SHA256";
  if (s.server_digest.empty()) {
    check.observed = "the server sent no exporter digest (not a netlab-https-server?)";
    check.verdict = Verdict::skipped;
  } else {
    const bool same = s.server_digest == s.client_digest;
    check.observed = "exporter SHA-256 client " + s.client_digest.substr(0, 16) + "... " + (same ? "==" : "!=") +
                     " server " + s.server_digest.substr(0, 16) + "... (" + s.version +
                     ": a finished handshake implies equal keys; random 3 is not part of this key exchange)";
    // Not a measurement that could have come out otherwise once the handshake
    // finished: a fact, printed and not graded (the note's random 3 does not
    // exist here); unequal digests would be a real finding.
    check.verdict = same ? Verdict::fact : Verdict::refuted;
  }
  return check;
}

void add_checks(const std::vector<Step>& steps, const Session& s, bool verify, const std::string& ca, Result& result) {
  const Step* hello = find_step(steps, Direction::sent, "ClientHello");
  const bool hello_ok = hello && hello->random_hex.size() == 64 && !hello->cipher_suites.empty();
  result.add_check({.id = "client-random-and-algorithms",
                    .claim = "the client sends random 1 and the algorithms it supports",
                    .expected = "a ClientHello with a 32-byte random and a list of cipher suites",
                    .observed = hello ? "ClientHello: " + hello->detail : "no ClientHello in the trace",
                    .verdict = hello_ok ? Verdict::confirmed : Verdict::refuted,
                    .evidence = "OpenSSL message callback, decoded ClientHello"});

  const Step* server_hello = find_step(steps, Direction::received, "ServerHello");
  const Step* certificate = find_step(steps, Direction::received, "Certificate");
  const bool server_ok =
      server_hello && server_hello->random_hex.size() == 64 && certificate && certificate->certificate_count > 0;
  result.add_check({.id = "server-random-choice-certificate",
                    .claim = "the server sends random 2, its choice and its certificate",
                    .expected = "a ServerHello with a 32-byte random and one chosen suite, then a Certificate",
                    .observed = (server_hello ? "ServerHello: " + server_hello->detail : "no ServerHello") + "; " +
                                (certificate ? "Certificate: " + certificate->detail : "no Certificate"),
                    .verdict = server_ok ? Verdict::confirmed : Verdict::refuted,
                    .evidence = "decoded ServerHello and Certificate"});

  const Step* key_exchange = find_step(steps, Direction::sent, "ClientKeyExchange");
  const Step* server_share = find_step(steps, Direction::received, "ServerKeyExchange");
  const Step* signature = find_step(steps, Direction::received, "CertificateVerify");
  Verdict random3 = Verdict::nuanced;
  std::string observed = "no key exchange recognised in the trace";
  if (key_exchange && key_exchange->encrypted_premaster_length > 0) {
    random3 = Verdict::confirmed;
    observed = "ClientKeyExchange: 48-byte pre-master secret encrypted with the server's RSA-" +
               std::to_string(s.server_key_bits) + " key to " +
               std::to_string(key_exchange->encrypted_premaster_length) + " B; no ServerKeyExchange";
  } else if (key_exchange && server_share) {
    random3 = Verdict::refuted;
    observed = "ECDHE: the server sent its key share (" + tls::group_name(server_share->named_group) + ", signed " +
               tls::signature_scheme_name(server_share->signature_scheme) + "), the client only its public key (" +
               std::to_string(key_exchange->public_key_length) + " B): no secret crosses the wire";
  } else if (s.tls13 && hello && server_hello) {
    random3 = Verdict::refuted;
    observed = "TLS 1.3: key shares in ClientHello and ServerHello (" + s.group + "), no ClientKeyExchange; " +
               (signature ? "the server signed the handshake (CertificateVerify, " +
                                tls::signature_scheme_name(signature->signature_scheme) + ")"
                          : "no CertificateVerify seen");
  }
  result.add_check({.id = "random-3-encrypted-with-public-key",
                    .claim = "the client generates random 3 and encrypts it with the server's public key",
                    .expected = "a ClientKeyExchange carrying an RSA-encrypted pre-master secret",
                    .observed = observed,
                    .verdict = random3,
                    .evidence = "decoded ClientKeyExchange / ServerKeyExchange / key_share extensions"});

  result.add_check(same_session_key(s, key_exchange && key_exchange->encrypted_premaster_length > 0));

  if (certificate) {
    result.add_check({.id = "certificate-in-clear",
                      .claim = "the certificate travels in the clear",
                      .expected = "the Certificate message in a plaintext handshake record (type 22)",
                      .observed = certificate->encrypted_record
                                      ? "the Certificate came inside an encrypted record (outer type 23): in " +
                                            s.version + " everything after ServerHello is encrypted"
                                      : "the Certificate came in a plaintext handshake record (type 22): " + s.version,
                      .verdict = certificate->encrypted_record ? Verdict::refuted : Verdict::confirmed,
                      .evidence =
                          "record headers seen by the message callback (SSL3_RT_HEADER); scripts/lab https also "
                          "looks for the certificate's bytes in the capture"});
  }

  const std::string verdict_text = X509_verify_cert_error_string(s.verify_result);
  if (verify) {
    result.add_check(
        {.id = "client-checks-certificate",
         .claim = "the client checks the certificate",
         .expected = "the chain verifies against the lab's CA and the name matches",
         .observed = "verify result " + std::to_string(s.verify_result) + " (" + verdict_text + ") against " + ca,
         .verdict = s.verify_result == X509_V_OK ? Verdict::confirmed : Verdict::refuted,
         .evidence = "SSL_get_verify_result with SSL_VERIFY_PEER and SSL_set1_host"});
  } else {
    result.add_check(
        {.id = "client-checks-certificate",
         .claim = "the client checks the certificate",
         .expected = "the chain verifies against the lab's CA and the name matches",
         .observed = "--no-verify-demo: verification OFF; OpenSSL's verdict was " + std::to_string(s.verify_result) +
                     " (" + verdict_text + ") and the client went on",
         .verdict = s.verify_result == X509_V_OK ? Verdict::nuanced : Verdict::refuted,
         .evidence = "SSL_VERIFY_NONE: a man in the middle with any certificate would have been accepted"});
  }
}

}  // namespace netlab::https
