// netlab-https-client — the https 过程 lab's client.
//
// Connects, runs the TLS handshake with the certificate checked against the
// lab's own CA and the server's name, fetches the page, and prints the
// handshake as OpenSSL's message callback saw it, each message next to the
// note's step:
//   client random 1 + its algorithms      -> ClientHello
//   server random 2 + its choice + cert   -> ServerHello, Certificate
//   random 3 encrypted with the public key -> ClientKeyExchange (1.2-rsa only)
//   both derive the session key            -> Finished; in 1.2-rsa checked by the
//                                             server's recomputation of the master
//                                             secret against the client's, else by
//                                             the exporter digests of both ends
// The verdicts come from that trace and that comparison, in this run.
#include "https/names.hpp"
#include "https/notes.hpp"
#include "https/resume.hpp"
#include "https/zero_rtt.hpp"
#include "io/coro.hpp"
#include "io/net.hpp"
#include "program/client.hpp"
#include "program/logging.hpp"
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

#include <boost/describe/class.hpp>

#include <algorithm>
#include <iostream>

namespace {

using namespace netlab;
using asio::awaitable;
namespace ssl = asio::ssl;
using https::find_step;
using https::header_value;
using https::note_step;
using https::Session;
using https::split_response;
using https::trace_json;
using tls::Direction;
using tls::Step;

const ProgramInfo program_info{
    "https", "The https 过程 lab's client: the TLS handshake traced step by step, the page fetched.", 7443, 20};

struct Config {
  std::optional<tls::Mode> mode;  // none = offer 1.2 and 1.3
  std::string cert_dir = "state/https";
  std::string ca;  // "" = <cert-dir>/ca.pem
  std::string server_name = "localhost";
  std::string keylog;
  std::string path = "/";
  bool verify = true;
  bool force_hrr = false;
  bool resume = false;
  bool names = false;
  bool zero_rtt = false;
  std::size_t early_data_pad = 0;
  std::string replay_capture;
};

// The run's parameters, typed (the result's "params").
struct Params {
  std::string mode, ca, server_name;
  bool verify = true;
  bool force_hrr = false;
  bool resume = false;
  bool names = false;
  std::string keylog;  // the key log file used ("" = none)
  bool zero_rtt = false;
  std::size_t early_data_pad = 0;
};
BOOST_DESCRIBE_STRUCT(Params, (),
                      (mode, ca, server_name, verify, force_hrr, resume, names, keylog, zero_rtt, early_data_pad))

// What this run saw, typed (the result's "observed"; the summary reads this, not the JSON).
struct CertificateSeen {
  std::string subject, issuer, key, not_after;
  bool expired = false;
};
BOOST_DESCRIBE_STRUCT(CertificateSeen, (), (subject, issuer, key, not_after, expired))

struct Observed {
  unsigned short client_port = 0;  // picks this connection out of a capture: tcpdump 'tcp port N'
  long verify_result = 0;
  std::string verify_error;
  bool handshake_ok = false;
  std::string handshake_error;
  double handshake_ms = 0;
  std::string version, cipher_suite, group, key_exchange;
  bool hello_retry_request = false;
  std::string exporter_digest_client, exporter_digest_server;
  std::string master_secret_sha256_client;                // TLS 1.2: SHA-256 of OpenSSL's master secret here
  std::string master_secret_sha256_recomputed_by_server;  // 1.2-rsa: the server's recomputation
  std::string master_secret_inputs;                       // ... and its inputs (or why it failed)
  std::string status_line;
  std::size_t page_bytes = 0;
  bool page_marker_found = false;
  CertificateSeen certificate;
  boost::json::array trace;
  std::optional<https::Resumption> resumption;  // --resume: the second connection
  std::optional<https::Names> names;            // --names: SNI and ALPN, one connection each
  std::optional<https::ZeroRtt> zero_rtt;       // --zero-rtt: early data and its replay
};
BOOST_DESCRIBE_STRUCT(Observed, (),
                      (client_port, verify_result, verify_error, handshake_ok, handshake_error, handshake_ms, version,
                       cipher_suite, group, key_exchange, hello_retry_request, exporter_digest_client,
                       exporter_digest_server, master_secret_sha256_client, master_secret_sha256_recomputed_by_server,
                       master_secret_inputs, status_line, page_bytes, page_marker_found, certificate, trace, resumption,
                       names, zero_rtt))

// The handshake failed: the message is the one line for stderr; the trace and
// the verification result are still reported.
struct HandshakeFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- the run -------------------------------------------------------------------------------

std::string verify_failure_hint(long code, const Config& config, const std::string& ca) {
  switch (code) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return " — the server's certificate is not signed by a CA in " +
             (ca == "system" ? std::string("the system's trust store") : ca) + " (the lab's CA is " + config.cert_dir +
             "/ca.pem)";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return " — the certificate is for localhost and 127.0.0.1, not '" + config.server_name + "'";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return " — its validity ended before now (the server runs --cert expired?)";
    default:
      return "";
  }
}

awaitable<void> run_lab(const CommonOptions& options, const Config& config, const std::string& ca, tls::Trace& trace,
                        Params& params, Observed& observed, Result& result) {
  // 1. TCP first: TLS runs over an established connection.
  tcp::socket socket = co_await connect_to(options.host, options.port, "netlab-https-server");
  const std::string who = describe_connection(socket);
  spdlog::info("UP   {}", who);
  // The client's port picks this connection out of a capture: tcpdump 'tcp port N'.
  observed.client_port = socket.local_endpoint().port();

  ssl::context context(ssl::context::tls_client);
  tls::configure_client(context, config.mode, ca, config.verify, config.force_hrr);
  const std::string keylog = tls::enable_keylog(context, config.keylog);
  if (!keylog.empty()) spdlog::warn("key log: session secrets are appended to {} (NSS format)", keylog);
  params.keylog = keylog;

  ssl::stream<tcp::socket> stream(std::move(socket), context);
  SSL* ssl = stream.native_handle();
  tls::set_expected_server_name(ssl, config.server_name);
  trace.attach(ssl);

  // 2. The handshake: hellos, certificate, key exchange, Finished.
  const auto started = Clock::now();
  auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
  const double handshake_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  const std::size_t handshake_steps = trace.steps().size();
  Session s;
  s.verify_result = SSL_get_verify_result(ssl);
  observed.verify_result = s.verify_result;
  observed.verify_error = X509_verify_cert_error_string(s.verify_result);
  if (handshake_ec) {
    std::string message = "TLS handshake with " + to_string(stream.next_layer().remote_endpoint()) + " failed: ";
    if (s.verify_result != X509_V_OK) {
      message += std::string("certificate verify failed: ") + X509_verify_cert_error_string(s.verify_result) +
                 verify_failure_hint(s.verify_result, config, ca);
      // The refusal itself is the evidence that the client checks the certificate.
      result.add_check({.id = "client-checks-certificate",
                        .claim = "the client checks the certificate",
                        .expected = "a certificate that does not verify is refused",
                        .observed = std::string("refused: verify result ") + std::to_string(s.verify_result) + " (" +
                                    X509_verify_cert_error_string(s.verify_result) + "), handshake aborted",
                        .verdict = Verdict::confirmed,
                        .evidence = "SSL_get_verify_result with SSL_VERIFY_PEER and SSL_set1_host"});
    } else {
      message += handshake_ec.message();
    }
    observed.handshake_error = message;
    throw HandshakeFailed(message);
  }
  s.version = SSL_get_version(ssl);
  s.suite = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
  s.tls13 = SSL_version(ssl) == TLS1_3_VERSION;
  const auto group_nid = static_cast<int>(SSL_get_negotiated_group(ssl));  // a macro over SSL_ctrl (long)
  s.group = group_nid ? OBJ_nid2sn(group_nid) : "none";
  if (X509* cert = SSL_get0_peer_certificate(ssl)) s.server_key_bits = EVP_PKEY_get_bits(X509_get0_pubkey(cert));
  s.client_digest = tls::exporter_digest(ssl);
  if (!s.tls13) s.client_master_sha256 = tls::sha256_hex(tls::session_master_key(ssl));

  // 3. One request, the page back, until the server's close_notify.
  const std::string response = co_await https::fetch_page(stream, config.path, config.server_name);
  spdlog::info("DOWN {}", who);

  const auto [head, body] = split_response(response);
  s.server_digest = header_value(head, "x-netlab-exporter-sha256");
  s.server_recomputed_master_sha256 = header_value(head, "x-netlab-master-secret-sha256");
  s.server_recomputed_inputs = header_value(head, "x-netlab-master-secret-inputs");
  s.server_recompute_error = header_value(head, "x-netlab-master-secret-error");
  const auto& steps = trace.steps();
  observed.handshake_ok = true;
  observed.handshake_ms = handshake_ms;
  observed.version = s.version;
  observed.cipher_suite = s.suite;
  observed.group = s.group;
  observed.key_exchange = s.tls13                                                      ? "key shares (TLS 1.3)"
                          : find_step(steps, Direction::received, "ServerKeyExchange") ? "ECDHE"
                                                                                       : "RSA key transport";
  observed.hello_retry_request = find_step(steps, Direction::received, "HelloRetryRequest") != nullptr;
  observed.exporter_digest_client = s.client_digest;
  observed.exporter_digest_server = s.server_digest;
  observed.master_secret_sha256_client = s.client_master_sha256;
  observed.master_secret_sha256_recomputed_by_server = s.server_recomputed_master_sha256;
  observed.master_secret_inputs =
      s.server_recompute_error.empty() ? s.server_recomputed_inputs : "not recomputed: " + s.server_recompute_error;
  observed.status_line = head.substr(0, head.find("\r\n"));
  observed.page_bytes = body.size();
  observed.page_marker_found = body.find("netlab-https-page") != std::string::npos;
  if (const Step* cert = find_step(steps, Direction::received, "Certificate")) {
    if (auto summary = tls::summarize_certificate(cert->leaf_certificate_der))
      observed.certificate = {.subject = summary->subject,
                              .issuer = summary->issuer,
                              .key = summary->key_type + "-" + std::to_string(summary->key_bits),
                              .not_after = summary->not_after,
                              .expired = summary->expired};
  }
  https::add_checks(steps, s, config.verify, ca, result);

  // 4. --resume: a second connection offering this session back (its ticket or its id).
  if (config.resume) {
    https::Resumption& r = observed.resumption.emplace();
    r.full = https::shape_of(steps, handshake_steps);
    const std::unique_ptr<SSL_SESSION, decltype(&SSL_SESSION_free)> session(SSL_get1_session(ssl), SSL_SESSION_free);
    r.offered = https::resumable_as(session.get(), s.tls13);
    if (session)
      co_await https::resume(options.host, options.port, context, config.server_name, config.path, session.get(), r);
    result.add_check(https::resumption_check(r));
  }

  // 5. --names: SNI picks the certificate, ALPN the protocol; one connection each.
  if (config.names) {
    https::Names& names = observed.names.emplace();
    co_await https::probe_names(options.host, options.port, context, config.server_name, names);
    result.add_check(https::sni_check(names));
    result.add_check(https::alpn_check(names));
  }

  // 6. --zero-rtt: a GET as early data on a resumed connection, then its replay.
  if (!config.zero_rtt) co_return;
  https::ZeroRtt& z = observed.zero_rtt.emplace();
  z.pad = config.early_data_pad;
  z.capture = config.replay_capture;
  co_await https::zero_rtt(options.host, options.port, context, config.server_name, config.path, z);
  result.add_check(https::replay_check(z));
}

void print_trace(std::ostream& out, const std::vector<Step>& steps, bool tls13) {
  out << "  handshake trace (OpenSSL message callback), each message next to the note's step:\n";
  for (const auto& step : steps) {
    std::string line = std::string("   ") + (step.direction == Direction::sent ? "-> " : "<- ") + step.message;
    line.resize(std::max<std::size_t>(line.size(), 26), ' ');
    line += std::to_string(step.length) + " B";
    if (step.encrypted_record) line += " [encrypted]";
    out << line << "  " << (step.error.empty() ? step.detail : "undecodable: " + step.error) << "\n";
    if (const auto note = note_step(step, tls13); !note.empty()) out << "        note: " << note << "\n";
  }
}

bool is_tls13(const Observed& o) { return o.version == "TLSv1.3"; }

void print_summary(std::ostream& out, const Config& config, const CommonOptions& options, const tls::Trace& trace,
                   const Observed& o) {
  out << "netlab-https-client --tls " << (config.mode ? std::string(tls::mode_name(*config.mode)) : "any") << " -> "
      << options.host << ":" << options.port << " (server name " << config.server_name << ")\n";
  print_trace(out, trace.steps(), is_tls13(o));
  if (o.handshake_ok) {
    out << "  session keys derived: " << o.version << " " << o.cipher_suite << ", key exchange " << o.key_exchange
        << " (group " << o.group << ")\n"
        << "  exporter SHA-256: client " << o.exporter_digest_client << "\n"
        << "                    server " << o.exporter_digest_server << "\n";
    if (!o.master_secret_inputs.empty())
      out << "  master secret SHA-256: client (OpenSSL)       " << o.master_secret_sha256_client << "\n"
          << "                         recomputed by server   " << o.master_secret_sha256_recomputed_by_server << "\n"
          << "                         from " << o.master_secret_inputs << "\n";
    out << "  page: " << o.status_line << ", " << o.page_bytes << " bytes\n";
    if (o.resumption) https::print_resumption(out, *o.resumption);
    if (o.names) https::print_names(out, *o.names);
    if (o.zero_rtt) https::print_zero_rtt(out, *o.zero_rtt);
  } else if (!o.handshake_error.empty()) {
    out << "  no session keys: " << o.handshake_error << "\n";
  }
}

}  // namespace

int https_client(ClientProgram& program, CLI::App& app, Config& config) {
  app.add_option("--tls", config.mode, "1.3 | 1.2-ecdhe | 1.2-rsa (default: offer TLS 1.2 and 1.3, the server picks)")
      ->transform(CLI::CheckedTransformer(tls::mode_names()));
  app.add_option("--cert-dir", config.cert_dir, "where the server keeps the lab's CA")->capture_default_str();
  app.add_option("--ca", config.ca,
                 "CA file to verify the server with (default <cert-dir>/ca.pem; 'system' = the "
                 "system's trust store, which does not know the lab's CA)");
  app.add_option("--server-name", config.server_name, "the name sent in SNI and checked in the certificate")
      ->capture_default_str();
  app.add_flag(
      "--no-verify-demo", [&](std::int64_t) { config.verify = false; },
      "DEMO ONLY: do not verify the server (shows what verification would have refused)");
  app.add_option("--keylog", config.keylog,
                 "append the session secrets in NSS key log format (default: $SSLKEYLOGFILE when set)");
  app.add_flag("--force-hrr", config.force_hrr,
               "offer a first key share for P-384, which the server does not take (TLS 1.3: HelloRetryRequest)");
  app.add_flag("--resume", config.resume,
               "then connect again offering the first connection's session (1.3: PSK from NewSessionTicket; 1.2: "
               "session ticket or session id) and trace the resumed handshake");
  app.add_flag("--names", config.names,
               "then one connection per server_name (a.netlab.test, b.netlab.test, unknown.netlab.test, none: "
               "which certificate each gets, SNI) and per ALPN offer (h2,http/1.1; h2; http/1.1: which protocol "
               "the server picks, or its alert)");
  app.add_flag("--zero-rtt", config.zero_rtt,
               "then TLS 1.3 0-RTT: a full and a resumed connection for a ticket, a GET sent as early data with the "
               "resumption ClientHello, and the replay of that first flight on a new connection "
               "(zero-rtt-replay-refused)");
  add_bounded_option(app, "--early-data-pad", config.early_data_pad,
                     "--zero-rtt: bytes of padding header in the early GET; past the ticket's max_early_data the "
                     "client sends it anyway (bad input: the server must refuse it)",
                     std::size_t{0}, std::size_t{1} << 20);
  app.add_option("--replay-capture", config.replay_capture,
                 "--zero-rtt: a capture being written (tcpdump -U -w) of this client's connections: the replay "
                 "takes the 0-RTT connection's first flight from it (default: from the client's own record)");
  app.add_option("--path", config.path, "the path to GET")->capture_default_str();
  program.check_usage([&] {
    if (config.path.empty() || config.path[0] != '/' || config.path.find_first_of("\r\n ") != std::string::npos)
      throw UsageError("--path must start with / and hold no spaces or line breaks");
    if (config.zero_rtt && config.mode && *config.mode != tls::Mode::tls13)
      throw UsageError("--zero-rtt is TLS 1.3 early data: use it with --tls 1.3 (or no --tls)");
  });
  tls::Trace trace;  // the summary prints it after the body has returned
  Observed observed;
  return program.run([&](ClientRun& run) {
    const auto& options = run.options();
    const std::string ca = config.ca.empty() ? config.cert_dir + "/ca.pem" : config.ca;
    if (!config.verify)
      spdlog::warn("--no-verify-demo: the server's certificate is NOT checked; never do this outside the demo");
    Result& result = run.result();
    Params params{.mode = std::string(config.mode ? tls::mode_name(*config.mode) : "any"),
                  .ca = ca,
                  .server_name = config.server_name,
                  .verify = config.verify,
                  .force_hrr = config.force_hrr,
                  .resume = config.resume,
                  .names = config.names,
                  .keylog = "",
                  .zero_rtt = config.zero_rtt,
                  .early_data_pad = config.early_data_pad};
    try {
      run.within(run_lab(options, config, ca, trace, params, observed, result));
    } catch (const HandshakeFailed& e) {
      run.fail(e.what());  // the refusal is this run's result: written, then exit 1
    }
    observed.trace = trace_json(trace.steps(), is_tls13(observed));
    result.set_params(params);
    result.set_observed(observed);
    run.summary([&](std::ostream& out) { print_summary(out, config, options, trace, observed); });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, https_client); }
