// netlab-https-client — the https 过程 lab's client.
//
// Connects, runs the TLS handshake with the certificate checked against the
// lab's own CA and the server's name, fetches the page, and prints the
// handshake as OpenSSL's message callback saw it, each message next to the
// note's step:
//   client random 1 + its algorithms      -> ClientHello
//   server random 2 + its choice + cert   -> ServerHello, Certificate
//   random 3 encrypted with the public key -> ClientKeyExchange (1.2-rsa only)
//   both derive the session key            -> Finished; checked by comparing the
//                                             exporter digests of both ends
// The verdicts come from that trace and that comparison, in this run.
#include "program/logging.hpp"
#include "io/net.hpp"
#include "program/options.hpp"
#include "program/result.hpp"
#include "tls/tls.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <iostream>

namespace {

using namespace netlab;
using asio::awaitable;
namespace ssl = asio::ssl;
using tls::Direction;
using tls::Step;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct Config {
  std::optional<tls::Mode> mode;  // none = offer 1.2 and 1.3
  std::string cert_dir = "state/https";
  std::string ca;                 // "" = <cert-dir>/ca.pem
  std::string server_name = "localhost";
  std::string keylog;
  std::string path = "/";
  bool verify = true;
  bool force_hrr = false;
};

// The handshake failed: the message is the one line for stderr; the trace and
// the verification result are still reported.
struct HandshakeFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

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
  if (step.message == "ChangeCipherSpec") return tls13 ? "(1.3) no meaning, for middleboxes" : "switch to the session keys";
  if (step.message == "Finished")
    return sent ? "client proves it derived the session keys" : "server proves it derived the session keys";
  if (step.message == "NewSessionTicket") return "(not in the note) a ticket to resume later";
  if (step.message == "Alert")
    return step.alert.find("close notify") != std::string::npos ? "end of the connection, authenticated"
                                                                 : "the handshake is refused";
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

const Step* find(const std::vector<Step>& steps, Direction direction, std::string_view message) {
  const auto it = std::find_if(steps.begin(), steps.end(),
                               [&](const Step& s) { return s.direction == direction && s.message == message; });
  return it == steps.end() ? nullptr : &*it;
}

// ---- the checks, from the trace and the exporter comparison -----------------------------

struct Session {
  std::string version, suite, group;
  bool tls13 = false;
  long verify_result = 0;
  int server_key_bits = 0;
  std::string client_digest, server_digest;
};

void add_checks(const std::vector<Step>& steps, const Session& s, bool verify, const std::string& ca, Result& result) {
  const Step* hello = find(steps, Direction::sent, "ClientHello");
  const bool hello_ok = hello && hello->random_hex.size() == 64 && !hello->cipher_suites.empty();
  result.add_check({.id = "client-random-and-algorithms", .claim = "the client sends random 1 and the algorithms it supports",
                    .expected = "a ClientHello with a 32-byte random and a list of cipher suites",
                    .observed = hello ? "ClientHello: " + hello->detail : "no ClientHello in the trace",
                    .verdict = hello_ok ? Verdict::confirmed : Verdict::refuted, .evidence = "OpenSSL message callback, decoded ClientHello"});

  const Step* server_hello = find(steps, Direction::received, "ServerHello");
  const Step* certificate = find(steps, Direction::received, "Certificate");
  const bool server_ok = server_hello && server_hello->random_hex.size() == 64 && certificate &&
                         certificate->certificate_count > 0;
  result.add_check({.id = "server-random-choice-certificate", .claim = "the server sends random 2, its choice and its certificate",
                    .expected = "a ServerHello with a 32-byte random and one chosen suite, then a Certificate",
                    .observed = (server_hello ? "ServerHello: " + server_hello->detail : "no ServerHello") + "; " +
                        (certificate ? "Certificate: " + certificate->detail : "no Certificate"),
                    .verdict = server_ok ? Verdict::confirmed : Verdict::refuted, .evidence = "decoded ServerHello and Certificate"});

  const Step* key_exchange = find(steps, Direction::sent, "ClientKeyExchange");
  const Step* server_share = find(steps, Direction::received, "ServerKeyExchange");
  const Step* signature = find(steps, Direction::received, "CertificateVerify");
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
                    .expected = "a ClientKeyExchange carrying an RSA-encrypted pre-master secret", .observed = observed, .verdict = random3,
                    .evidence = "decoded ClientKeyExchange / ServerKeyExchange / key_share extensions"});

  Verdict same = Verdict::skipped;
  std::string digests = "the server sent no exporter digest (not a netlab-https-server?)";
  if (!s.server_digest.empty()) {
    same = s.server_digest == s.client_digest ? Verdict::confirmed : Verdict::refuted;
    digests = "exporter SHA-256 client " + s.client_digest.substr(0, 16) + "... " +
              (same == Verdict::confirmed ? "==" : "!=") + " server " + s.server_digest.substr(0, 16) + "...";
  }
  result.add_check({.id = "same-session-key", .claim = "both sides derive the same session key",
                    .expected = "equal digests of keying material exported on each side", .observed = digests, .verdict = same,
                    .evidence = std::string("SSL_export_keying_material(\"") + std::string(tls::exporter_label) +
                        "\", 32 B), SHA-256, compared with the server's X-Netlab-Exporter-SHA256"});

  if (certificate) {
    result.add_check({.id = "certificate-in-clear", .claim = "the certificate travels in the clear",
                      .expected = "the Certificate message in a plaintext handshake record (type 22)",
                      .observed = certificate->encrypted_record
                          ? "the Certificate came inside an encrypted record (outer type 23): in " + s.version +
                                " everything after ServerHello is encrypted"
                          : "the Certificate came in a plaintext handshake record (type 22): " + s.version,
                      .verdict = certificate->encrypted_record ? Verdict::refuted : Verdict::confirmed,
                      .evidence = "record headers seen by the message callback (SSL3_RT_HEADER); scripts/lab https also "
                      "looks for the certificate's bytes in the capture"});
  }

  const std::string verdict_text = X509_verify_cert_error_string(s.verify_result);
  if (verify) {
    result.add_check({.id = "client-checks-certificate", .claim = "the client checks the certificate",
                      .expected = "the chain verifies against the lab's CA and the name matches",
                      .observed = "verify result " + std::to_string(s.verify_result) + " (" + verdict_text + ") against " + ca,
                      .verdict = s.verify_result == X509_V_OK ? Verdict::confirmed : Verdict::refuted,
                      .evidence = "SSL_get_verify_result with SSL_VERIFY_PEER and SSL_set1_host"});
  } else {
    result.add_check({.id = "client-checks-certificate", .claim = "the client checks the certificate",
                      .expected = "the chain verifies against the lab's CA and the name matches",
                      .observed = "--no-verify-demo: verification OFF; OpenSSL's verdict was " +
                          std::to_string(s.verify_result) + " (" + verdict_text + ") and the client went on",
                      .verdict = s.verify_result == X509_V_OK ? Verdict::nuanced : Verdict::refuted,
                      .evidence = "SSL_VERIFY_NONE: a man in the middle with any certificate would have been accepted"});
  }
}

// ---- the run -------------------------------------------------------------------------------

std::string verify_failure_hint(long code, const Config& config, const std::string& ca) {
  switch (code) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return " — the server's certificate is not signed by a CA in " +
             (ca == "system" ? std::string("the system's trust store") : ca) + " (the lab's CA is " +
             config.cert_dir + "/ca.pem)";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return " — the certificate is for localhost and 127.0.0.1, not '" + config.server_name + "'";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return " — its validity ended before now (the server runs --cert expired?)";
    default:
      return "";
  }
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

awaitable<void> run_lab(const CommonOptions& options, const Config& config, const std::string& ca,
                        tls::Trace& trace, Result& result) {
  // 1. TCP first: TLS runs over an established connection.
  tcp::socket socket = co_await connect_to(options.host, options.port, "netlab-https-server");
  const std::string who = describe_connection(socket);
  spdlog::info("UP   {}", who);
  // The client's port picks this connection out of a capture: tcpdump 'tcp port N'.
  result.observed()["client_port"] = socket.local_endpoint().port();

  ssl::context context(ssl::context::tls_client);
  tls::configure_client(context, config.mode, ca, config.verify, config.force_hrr);
  const std::string keylog = tls::enable_keylog(context, config.keylog);
  if (!keylog.empty()) spdlog::warn("key log: session secrets are appended to {} (NSS format)", keylog);
  result.params()["keylog"] = keylog;

  ssl::stream<tcp::socket> stream(std::move(socket), context);
  SSL* ssl = stream.native_handle();
  tls::set_expected_server_name(ssl, config.server_name);
  trace.attach(ssl);

  // 2. The handshake: hellos, certificate, key exchange, Finished.
  const auto started = Clock::now();
  auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
  const double handshake_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  Session s;
  s.verify_result = SSL_get_verify_result(ssl);
  auto& observed = result.observed();
  observed["verify_result"] = s.verify_result;
  observed["verify_error"] = X509_verify_cert_error_string(s.verify_result);
  if (handshake_ec) {
    observed["handshake_ok"] = false;
    std::string message = "TLS handshake with " + to_string(stream.next_layer().remote_endpoint()) + " failed: ";
    if (s.verify_result != X509_V_OK) {
      message += std::string("certificate verify failed: ") + X509_verify_cert_error_string(s.verify_result) +
                 verify_failure_hint(s.verify_result, config, ca);
      // The refusal itself is the evidence that the client checks the certificate.
      result.add_check({.id = "client-checks-certificate", .claim = "the client checks the certificate",
                        .expected = "a certificate that does not verify is refused",
                        .observed = std::string("refused: verify result ") + std::to_string(s.verify_result) + " (" +
                            X509_verify_cert_error_string(s.verify_result) + "), handshake aborted",
                        .verdict = Verdict::confirmed, .evidence = "SSL_get_verify_result with SSL_VERIFY_PEER and SSL_set1_host"});
    } else {
      message += handshake_ec.message();
    }
    observed["handshake_error"] = message;
    throw HandshakeFailed(message);
  }
  s.version = SSL_get_version(ssl);
  s.suite = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
  s.tls13 = SSL_version(ssl) == TLS1_3_VERSION;
  const int group_nid = SSL_get_negotiated_group(ssl);
  s.group = group_nid ? OBJ_nid2sn(group_nid) : "none";
  if (X509* cert = SSL_get0_peer_certificate(ssl)) s.server_key_bits = EVP_PKEY_get_bits(X509_get0_pubkey(cert));
  s.client_digest = tls::exporter_digest(ssl);

  // 3. One request, the page back, until the server's close_notify.
  const std::string request = "GET " + config.path + " HTTP/1.1\r\nHost: " + config.server_name +
                              "\r\nUser-Agent: netlab-https-client\r\nConnection: close\r\n\r\n";
  if (auto [ec, n] = co_await asio::async_write(stream, asio::buffer(request), use_tuple); ec)
    throw std::runtime_error("write request: " + ec.message());
  std::string response;
  std::vector<char> buffer(16384);
  for (;;) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(buffer), use_tuple);
    response.append(buffer.data(), n);
    if (ec == asio::error::eof) break;  // close_notify: the page is complete
    if (ec == ssl::error::stream_truncated) {
      spdlog::warn("the server closed TCP without close_notify: the page could have been cut short");
      break;
    }
    if (ec) throw std::runtime_error("read page: " + ec.message());
    if (response.size() > (1u << 20)) throw std::runtime_error("page over 1 MiB — not a netlab server?");
  }
  auto [shutdown_ec] = co_await stream.async_shutdown(use_tuple);
  (void)shutdown_ec;  // the server has closed already; our close_notify is a courtesy
  spdlog::info("DOWN {}", who);

  const auto [head, body] = split_response(response);
  s.server_digest = header_value(head, "x-netlab-exporter-sha256");
  const auto& steps = trace.steps();
  observed["handshake_ok"] = true;
  observed["handshake_ms"] = handshake_ms;
  observed["version"] = s.version;
  observed["cipher_suite"] = s.suite;
  observed["group"] = s.group;
  observed["key_exchange"] = s.tls13 ? "key shares (TLS 1.3)"
                             : find(steps, Direction::received, "ServerKeyExchange") ? "ECDHE"
                                                                                     : "RSA key transport";
  observed["hello_retry_request"] = find(steps, Direction::received, "HelloRetryRequest") != nullptr;
  observed["exporter_digest_client"] = s.client_digest;
  observed["exporter_digest_server"] = s.server_digest;
  observed["status_line"] = head.substr(0, head.find("\r\n"));
  observed["page_bytes"] = body.size();
  observed["page_marker_found"] = body.find("netlab-https-page") != std::string::npos;
  if (const Step* cert = find(steps, Direction::received, "Certificate")) {
    if (auto summary = tls::summarize_certificate(cert->leaf_certificate_der))
      observed["certificate"] = {{"subject", summary->subject}, {"issuer", summary->issuer},
                                 {"key", summary->key_type + "-" + std::to_string(summary->key_bits)},
                                 {"not_after", summary->not_after}, {"expired", summary->expired}};
  }
  add_checks(steps, s, config.verify, ca, result);
}

void print_trace(const std::vector<Step>& steps, bool tls13) {
  std::cout << "  handshake trace (OpenSSL message callback), each message next to the note's step:\n";
  for (const auto& step : steps) {
    std::string line = std::string("   ") + (step.direction == Direction::sent ? "-> " : "<- ") + step.message;
    line.resize(std::max<std::size_t>(line.size(), 26), ' ');
    line += std::to_string(step.length) + " B";
    if (step.encrypted_record) line += " [encrypted]";
    std::cout << line << "  " << (step.error.empty() ? step.detail : "undecodable: " + step.error) << "\n";
    if (const auto note = note_step(step, tls13); !note.empty()) std::cout << "        note: " << note << "\n";
  }
}

void print_summary(const Config& config, const CommonOptions& options, const tls::Trace& trace, const Result& result) {
  const auto& o = result.observed();
  std::cout << "netlab-https-client --tls " << (config.mode ? std::string(tls::mode_name(*config.mode)) : "any")
            << " -> " << options.host << ":" << options.port << " (server name " << config.server_name << ")\n";
  const bool tls13 = o.contains("version") && o.at("version") == "TLSv1.3";
  print_trace(trace.steps(), tls13);
  const auto text = [&](std::string_view key) { return std::string(o.at(key).as_string()); };
  if (o.contains("version")) {
    std::cout << "  session keys derived: " << text("version") << " " << text("cipher_suite") << ", key exchange "
              << text("key_exchange") << " (group " << text("group") << ")\n"
              << "  exporter SHA-256: client " << text("exporter_digest_client") << "\n"
              << "                    server " << text("exporter_digest_server") << "\n"
              << "  page: " << text("status_line") << ", " << o.at("page_bytes") << " bytes\n";
  } else if (o.contains("handshake_error")) {
    std::cout << "  no session keys: " << text("handshake_error") << "\n";
  }
  std::cout << render_checks(result.checks());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("The https 过程 lab's client: the TLS handshake traced step by step, the page fetched.",
               "netlab-https-client");
  CommonOptions options;
  add_common_options(app, options, 7443, Role::client, 20);
  Config config;
  app.add_option("--tls", config.mode, "1.3 | 1.2-ecdhe | 1.2-rsa (default: offer TLS 1.2 and 1.3, the server picks)")
      ->transform(CLI::CheckedTransformer(tls::mode_names()));
  app.add_option("--cert-dir", config.cert_dir, "where the server keeps the lab's CA")->capture_default_str();
  app.add_option("--ca", config.ca, "CA file to verify the server with (default <cert-dir>/ca.pem; 'system' = the "
                                    "system's trust store, which does not know the lab's CA)");
  app.add_option("--server-name", config.server_name, "the name sent in SNI and checked in the certificate")
      ->capture_default_str();
  app.add_flag("--no-verify-demo", [&](std::int64_t) { config.verify = false; },
               "DEMO ONLY: do not verify the server (shows what verification would have refused)");
  app.add_option("--keylog", config.keylog,
                 "append the session secrets in NSS key log format (default: $SSLKEYLOGFILE when set)");
  app.add_flag("--force-hrr", config.force_hrr,
               "offer a first key share for P-384, which the server does not take (TLS 1.3: HelloRetryRequest)");
  app.add_option("--path", config.path, "the path to GET")->capture_default_str();
  if (auto code = parse_options(app, argc, argv)) return *code;
  if (config.path.empty() || config.path[0] != '/' ||
      config.path.find_first_of("\r\n ") != std::string::npos) {
    std::cerr << "netlab-https-client: --path must start with / and hold no spaces or line breaks\n";
    return 2;
  }
  init_logging("https-client", options.log_level);
  const std::string ca = config.ca.empty() ? config.cert_dir + "/ca.pem" : config.ca;
  if (!config.verify)
    spdlog::warn("--no-verify-demo: the server's certificate is NOT checked; never do this outside the demo");

  Result result("https", "client");
  result.params() = {{"mode", config.mode ? tls::mode_name(*config.mode) : "any"},
                     {"ca", ca},
                     {"server_name", config.server_name},
                     {"verify", config.verify},
                     {"force_hrr", config.force_hrr}};
  tls::Trace trace;
  int status = 0;
  try {
    resolve_client_port(options);
    result.params()["port"] = options.port;
    asio::io_context io;
    if (!run_client(io, run_lab(options, config, ca, trace, result), options.max_seconds))
      throw std::runtime_error("gave up after " + std::to_string(options.max_seconds) + " s (--max-seconds)");
  } catch (const HandshakeFailed& e) {
    std::cerr << "netlab-https-client: " << e.what() << "\n";
    status = 1;
  } catch (const std::exception& e) {
    std::cerr << "netlab-https-client: " << e.what() << "\n";
    return 1;
  }
  const bool tls13 = result.observed().contains("version") && result.observed().at("version") == "TLSv1.3";
  result.observed()["trace"] = trace_json(trace.steps(), tls13);
  if (options.json != "-") print_summary(config, options, trace, result);
  result.write(options.json);
  return status;
}
