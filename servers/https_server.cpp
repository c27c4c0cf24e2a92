// netlab-https-server — the https 过程 lab's server.
//
// Serves one small page over TLS, in one of three handshakes:
//   --tls 1.2-rsa    TLS 1.2 with RSA key transport: the client encrypts its
//                    "random 3" (the pre-master secret) with our certificate's key,
//                    the handshake the note tells
//   --tls 1.2-ecdhe  TLS 1.2 with ECDHE: both sides send a key share, we sign ours
//   --tls 1.3        TLS 1.3: key shares in the hellos, everything after ServerHello
//                    encrypted, the handshake signed in CertificateVerify
// The certificate and key come from the lab's own CA, generated at the first run
// into --cert-dir. SNI: a ClientHello naming a.netlab.test or b.netlab.test gets
// that name's own certificate; any other name, or none, gets localhost's. ALPN:
// the server prefers h2, then http/1.1 (--alpn http/1.1: that only; --alpn off:
// it ignores the extension); on an h2 connection every stream gets the page
// over HTTP/2 (servers/http/h2.cpp, the http server's nghttp2 session). Each response carries the SHA-256 of keying
// material exported from the session, so the client can prove both ends derived the same keys; in 1.2-rsa, the server
// also decrypts the traced ClientKeyExchange with its key and recomputes the master secret with the TLS 1.2 PRF
// (tls/prf.hpp), and the response carries that recomputation's SHA-256 for the client to compare. A peer that sends
// non-TLS bytes, leaves mid-handshake, sends nothing, or rejects our certificate gets one log line; everyone else keeps
// being served.
// TLS 1.3 0-RTT (https/early_data.hpp): a GET sent as early data with a
// resumption ClientHello is answered at once; tickets are single use, so a
// replay of that flight is refused; more early data than --max-early-data ends
// the connection.
#include "http/h2.hpp"
#include "https/early_data.hpp"
#include "io/coro.hpp"
#include "program/server.hpp"
#include "tls/tls.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <optional>

namespace {

using namespace netlab;
using asio::awaitable;
namespace ssl = asio::ssl;
using ssl_stream = ssl::stream<tcp::socket>;

const ProgramInfo program_info{
    "https", "The https 过程 lab's server: a small page over TLS 1.3, TLS 1.2 ECDHE or TLS 1.2 RSA key transport.",
    7443};

struct Config {
  tls::Mode mode = tls::Mode::tls13;
  tls::CertChoice cert = tls::CertChoice::valid;
  std::string cert_dir = "state/https";
  std::string keylog;
  double step_timeout = 5;
  bool extended_master_secret = false;  // 1.2-rsa: EMS off unless asked, so the randoms enter directly
  bool no_tickets = false;              // resume by session id from our cache (1.2), stateful tickets (1.3)
  std::string alpn{tls::served_alpn};   // "h2,http/1.1", "http/1.1" or "off"
  std::size_t max_early_data = 16384;   // TLS 1.3 0-RTT: bytes a ticket lets a client send early (0 = off)
  bool no_anti_replay = false;          // demo: reusable tickets, a replayed 0-RTT flight is accepted
};

struct Counters {
  std::size_t connections = 0;
  std::size_t handshakes = 0;
  std::size_t resumed = 0;  // handshakes that resumed an earlier session: no Certificate, no key transport
  std::size_t pages_served = 0;
  std::size_t not_tls = 0;
  std::size_t left_mid_handshake = 0;
  std::size_t timed_out = 0;
  std::size_t refused_by_client = 0;  // the client sent an alert: it did not accept us
  std::size_t other_failures = 0;
  std::size_t no_application_protocol = 0;   // ALPN: nothing offered that we speak, fatal alert sent
  std::size_t master_secret_recomputed = 0;  // 1.2-rsa: recomputed and equal to OpenSSL's
  std::size_t master_secret_different = 0;   // 1.2-rsa: recomputed and NOT equal to OpenSSL's
  std::size_t master_secret_not_recomputed = 0;
  std::map<std::string, std::size_t> negotiated;    // "TLSv1.3 TLS_AES_256_GCM_SHA384" -> count
  std::vector<std::string> exporter_digests;        // one per handshake, capped
  std::map<std::string, std::size_t> certificates;  // "server_name a.netlab.test -> CN = a.netlab.test" -> count
  std::map<std::string, std::size_t> alpn;          // "offered h2,http/1.1 -> h2" -> count
  h2::Counts h2;                                    // connections that chose h2, and their streams
  https::EarlyDataCounters early_data;              // 0-RTT: offered, accepted, rejected and why
};
BOOST_DESCRIBE_STRUCT(Counters, (),
                      (connections, handshakes, resumed, pages_served, not_tls, left_mid_handshake, timed_out,
                       refused_by_client, other_failures, no_application_protocol, master_secret_recomputed,
                       master_secret_different, master_secret_not_recomputed, negotiated, exporter_digests,
                       certificates, alpn, h2, early_data))
constexpr std::size_t max_recorded_digests = 1000;

constexpr std::string_view page_marker = "netlab-https-page";

// ---- the handshake ---------------------------------------------------------

// The client's offers, as the trace decoded its ClientHello.
const tls::Step* client_hello(const tls::Trace& trace) {
  for (const auto& step : trace.steps())
    if (step.direction == tls::Direction::received && step.message == "ClientHello") return &step;
  return nullptr;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ",") + name;
  return text.empty() ? "nothing" : text;
}

// One line saying what went wrong, in the lesson's terms; the counter it belongs to.
void report_handshake_failure(const std::string& who, const boost::system::error_code& ec, const tls::Trace& trace,
                              const Config& config, Counters& counters) {
  if (ec == ssl::error::stream_truncated || is_normal_ending(ec)) {
    ++counters.left_mid_handshake;
    spdlog::warn("handshake {}: the client left mid-handshake ({})", who, ec.message());
    return;
  }
  if (ec.category() == asio::error::get_ssl_category()) {
    const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST ||
        reason == SSL_R_UNKNOWN_PROTOCOL || reason == SSL_R_PACKET_LENGTH_TOO_LONG) {
      ++counters.not_tls;
      spdlog::warn("handshake {}: not TLS — the first bytes are not a TLS record ({})", who, ec.message());
      return;
    }
    if (reason == SSL_R_NO_APPLICATION_PROTOCOL) {
      const tls::Step* hello = client_hello(trace);
      const std::string offered = joined(hello ? hello->alpn_protocols : std::vector<std::string>{});
      ++counters.no_application_protocol;
      ++counters.alpn["offered " + offered + " -> no_application_protocol alert"];
      spdlog::warn(
          "handshake {}: ALPN: the client offered {}, none of this server's {}: fatal "
          "no_application_protocol alert (RFC 7301 3.2)",
          who, offered, config.alpn);
      return;
    }
    if (reason > SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) {
      ++counters.refused_by_client;
      spdlog::warn("handshake {}: the client refused the handshake, alert \"{}\" (did it verify our certificate?)", who,
                   tls::alert_name(static_cast<std::uint8_t>(reason - SSL_AD_REASON_OFFSET)));
      return;
    }
  }
  ++counters.other_failures;
  spdlog::warn("handshake {}: failed: {}", who, ec.message());
}

// ---- the page --------------------------------------------------------------

// Response headers telling the client what the server recomputed (1.2-rsa): the
// SHA-256 of the master secret, never the secret, and from which inputs.
std::string recomputation_headers(const tls::MasterSecretRecomputation& r) {
  if (!r.error.empty()) return "X-Netlab-Master-Secret-Error: " + r.error + "\r\n";
  return "X-Netlab-Master-Secret-SHA256: " + tls::sha256_hex(r.master) +
         "\r\nX-Netlab-Master-Secret-Inputs: " + r.inputs + "\r\n";
}

std::string page_body(const std::string& version, const std::string& suite) {
  return "<!doctype html>\n<title>netlab https</title>\n<p>" + std::string(page_marker) +
         ": this text travelled inside TLS application_data records (" + version + ", " + suite + ").</p>\n";
}

std::string page_response(const std::string& version, const std::string& suite, const std::string& digest,
                          const std::string& extra_headers) {
  const std::string body = page_body(version, suite);
  return "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\nX-Netlab-TLS: " + version + " " + suite + "\r\nX-Netlab-Exporter-SHA256: " + digest +
         "\r\n" + extra_headers + "\r\n" + body;
}

// h2 (chosen by ALPN): the same page, on every stream the client opens, until
// it leaves or sends nothing for --step-timeout. The headers are HPACK'd by nghttp2.
awaitable<std::string> serve_h2_pages(ssl_stream& stream, const std::string& version, const std::string& suite,
                                      const std::string& digest, const std::string& extra_headers, const Config& config,
                                      Counters& counters) {
  h2::H2Connection h2(
      [&](h2::Request&) {
        auto res = http_routes::make_response(boost::beast::http::status::ok, 20, true, "text/html; charset=utf-8",
                                              page_body(version, suite));
        res.set(boost::beast::http::field::server, "netlab-https-server");
        res.set("X-Netlab-TLS", version + " " + suite);
        res.set("X-Netlab-Exporter-SHA256", digest);
        // extra_headers: "Name: value\r\n" lines.
        for (std::size_t at = 0, end; (end = extra_headers.find("\r\n", at)) != std::string::npos; at = end + 2) {
          const auto line = std::string_view(extra_headers).substr(at, end - at);
          const auto colon = line.find(": ");
          if (colon != std::string_view::npos) res.set(line.substr(0, colon), line.substr(colon + 2));
        }
        ++counters.pages_served;
        return res;
      },
      h2::Limits{}, counters.h2);
  co_return "h2: " + co_await h2::serve_h2(stream, h2, {}, config.step_timeout);
}

// ---- one connection --------------------------------------------------------

// SNI and ALPN: what the ClientHello asked for, what this server chose; logged,
// counted, and told to the client in two headers (the server's ALPN list and choice).
std::string names_chosen(SSL* ssl, const tls::Trace& trace, const std::string& who, const Config& config,
                         Counters& counters) {
  const tls::Step* hello = client_hello(trace);
  const std::string asked = hello && !hello->server_name.empty() ? hello->server_name : "";
  const bool own = std::find(tls::sni_names.begin(), tls::sni_names.end(), asked) != tls::sni_names.end();
  const std::string subject = tls::subject_of(SSL_get_certificate(ssl));
  const std::string sni = (asked.empty() ? "no server_name" : "server_name " + asked) + " -> " +
                          (own ? "" : "default certificate ") + subject;
  ++counters.certificates[sni];
  spdlog::info("SNI  {}: {}", who, sni);
  const unsigned char* chosen_bytes = nullptr;
  unsigned int chosen_length = 0;
  SSL_get0_alpn_selected(ssl, &chosen_bytes, &chosen_length);
  const std::string chosen =
      chosen_length ? std::string(reinterpret_cast<const char*>(chosen_bytes), chosen_length) : std::string("none");
  const std::string alpn =
      "offered " + joined(hello ? hello->alpn_protocols : std::vector<std::string>{}) + " -> " + chosen;
  ++counters.alpn[alpn];
  spdlog::info("ALPN {}: {} (this server: {})", who, alpn, config.alpn);
  return "X-Netlab-ALPN-Server: " + config.alpn + "\r\nX-Netlab-ALPN-Chosen: " + chosen + "\r\n";
}

// 1.2-rsa: random 1 + random 2 + the pre-master secret ("random 3") -> master secret,
// recomputed from the trace and compared with the one OpenSSL derived.
std::string recompute_master_secret(SSL* ssl, const tls::Trace& trace, const std::string& who, Counters& counters) {
  const auto r = tls::recompute_master_secret(ssl, trace.steps());
  if (!r.error.empty()) {
    ++counters.master_secret_not_recomputed;
    spdlog::warn("KEY  {}: master secret not recomputed: {}", who, r.error);
  } else {
    ++(r.matches_openssl ? counters.master_secret_recomputed : counters.master_secret_different);
    spdlog::info("KEY  {}: recomputed master secret {} OpenSSL's ({})", who, r.matches_openssl ? "==" : "!=", r.inputs);
  }
  return recomputation_headers(r);
}

awaitable<std::string> serve(ssl_stream& stream, const std::string& who, const Config& config, Counters& counters,
                             https::EarlyData& early_data) {
  boost::system::error_code ec;
  tls::Trace trace;  // the ClientHello's server_name and ALPN; 1.2-rsa: the ClientKeyExchange to decrypt
  trace.attach(stream.native_handle());
  // A ClientHello offering early data (TLS 1.3 0-RTT) is driven by hand (https/early_data.hpp).
  https::Connection connection(stream, early_data, trace, who);
  // 1. The handshake, bounded: a peer that sends nothing, or half a ClientHello,
  //    cannot hold this connection open.
  if (!co_await finish_within(connection.handshake(ec), config.step_timeout)) {
    ++counters.timed_out;
    spdlog::warn("handshake {}: no complete handshake within {} s — closing", who, config.step_timeout);
    co_return "handshake timeout";
  }
  if (ec) {
    if (!connection.failure_reported()) report_handshake_failure(who, ec, trace, config, counters);
    co_return "handshake failed";
  }
  ++counters.handshakes;

  // 2. Both ends now hold the same session keys; the exporter proves it.
  SSL* ssl = stream.native_handle();
  // A resumed session skips the certificate and the key exchange: its keys come
  // from the session (1.2: the cached master secret; 1.3: the PSK of the ticket).
  const bool resumed = SSL_session_reused(ssl) == 1;
  counters.resumed += resumed ? 1 : 0;
  const std::string version = SSL_get_version(ssl);
  const std::string suite = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
  const std::string digest = tls::exporter_digest(ssl);
  ++counters.negotiated[version + " " + suite];
  if (counters.exporter_digests.size() < max_recorded_digests) counters.exporter_digests.push_back(digest);
  spdlog::info("TLS  {}: {} {}{}, exporter sha256 {}", who, version, suite, resumed ? ", resumed" : "", digest);
  std::string extra_headers =
      config.mode == tls::Mode::tls12_rsa && !resumed ? recompute_master_secret(ssl, trace, who, counters) : "";
  extra_headers += names_chosen(ssl, trace, who, config, counters);
  const unsigned char* alpn = nullptr;
  unsigned int alpn_length = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_length);
  if (std::string_view(reinterpret_cast<const char*>(alpn), alpn_length) == "h2")
    co_return co_await serve_h2_pages(stream, version, suite, digest, extra_headers, config, counters);

  // 3. One request, one page, close_notify.
  std::string request;
  if (!co_await finish_within(connection.read_request(request, ec), config.step_timeout)) co_return "request timeout";
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated)
    co_return "closed after the handshake, no request";  // openssl s_client < /dev/null does this
  if (ec) co_return "read request: " + ec.message();
  const std::string response = page_response(version, suite, digest, extra_headers + connection.headers());
  if (!co_await finish_within(connection.send_page(response, ec), config.step_timeout))
    co_return "page sent, close_notify not answered";
  if (ec && !is_normal_ending(ec) && ec != ssl::error::stream_truncated) co_return "send page: " + ec.message();
  ++counters.pages_served;
  co_return "page served";
}

awaitable<void> session(tcp::socket socket, ssl::context& context, const Config& config, Counters& counters,
                        https::EarlyData& early_data, ConnectionRegistry& registry) {
  ssl_stream stream(std::move(socket), context);
  ServedConnection served(stream.next_layer(), registry);
  served.down(co_await serve(stream, served.who(), config, counters, early_data));
}

void print_summary(std::ostream& out, const Config& config, const ServerRun& run, const Counters& c) {
  out << "netlab-https-server (--tls " << tls::mode_name(config.mode) << ") on " << to_string(run.bound())
      << " stopped by " << run.stop_reason() << " after " << run.seconds() << " s\n"
      << "  connections " << c.connections << ", handshakes " << c.handshakes << " (resumed " << c.resumed
      << "), pages served " << c.pages_served << "\n"
      << "  refused: not TLS " << c.not_tls << ", left mid-handshake " << c.left_mid_handshake << ", timed out "
      << c.timed_out << ", refused by the client " << c.refused_by_client << ", other " << c.other_failures << "\n";
  if (config.mode == tls::Mode::tls12_rsa)
    out << "  master secret recomputed from the decrypted pre-master: equal to OpenSSL's " << c.master_secret_recomputed
        << ", different " << c.master_secret_different << ", not recomputed " << c.master_secret_not_recomputed
        << " (Extended Master Secret " << (config.extended_master_secret ? "on" : "off") << ")\n";
  for (const auto& [negotiated, count] : c.negotiated) out << "  " << negotiated << ": " << count << "\n";
  for (const auto& [sni, count] : c.certificates) out << "  SNI " << sni << ": " << count << "\n";
  for (const auto& [alpn, count] : c.alpn) out << "  ALPN " << alpn << ": " << count << "\n";
  if (c.h2.connections > 0)
    out << "  HTTP/2 (h2): connections " << c.h2.connections << ", streams " << c.h2.streams << ", refused streams "
        << c.h2.refused_streams << ", GOAWAY with an error " << c.h2.goaways_sent << "\n";
  https::print_early_data(out, c.early_data);
}

}  // namespace

int https_server(ServerProgram& program, CLI::App& app, Config& config) {
  app.add_option("--tls", config.mode,
                 "1.3 | 1.2-ecdhe | 1.2-rsa (1.2-rsa: RSA key transport, no forward secrecy — the historical "
                 "handshake the note describes, for teaching only)")
      ->transform(CLI::CheckedTransformer(tls::mode_names()))
      ->default_str("1.3");
  app.add_option("--cert-dir", config.cert_dir,
                 "the lab's CA and server certificates; generated here at the first run (ca.pem, server.pem, "
                 "server.key, expired.pem, a.netlab.test.pem, b.netlab.test.pem). SNI: a client naming "
                 "a.netlab.test or b.netlab.test gets that name's certificate; any other name, or none, gets "
                 "server.pem (localhost, 127.0.0.1)")
      ->capture_default_str();
  app.add_option("--cert", config.cert, "valid | expired (a certificate whose validity ended yesterday)")
      ->transform(CLI::CheckedTransformer(std::map<std::string, tls::CertChoice>{
          {"valid", tls::CertChoice::valid}, {"expired", tls::CertChoice::expired}}))
      ->default_str("valid");
  app.add_option("--keylog", config.keylog,
                 "append the session secrets in NSS key log format (default: $SSLKEYLOGFILE when set)");
  app.add_flag("--extended-master-secret", config.extended_master_secret,
               "1.2-rsa: keep Extended Master Secret (RFC 7627) on, so the master secret comes from the session "
               "hash instead of the two randoms (default off in 1.2-rsa, the handshake as the note tells it)");
  app.add_option("--alpn", config.alpn,
                 "ALPN (RFC 7301): h2,http/1.1 = HTTP/2 first, else HTTP/1.1 (a client offering h2,http/1.1 gets "
                 "h2) | http/1.1 = agree to http/1.1 only (one offering only h2 gets the fatal "
                 "no_application_protocol alert) | off = ignore the extension, choose nothing")
      ->check(CLI::IsMember({std::string(tls::served_alpn), std::string("http/1.1"), std::string("off")}))
      ->capture_default_str();
  app.add_flag("--no-tickets", config.no_tickets,
               "no session tickets (SSL_OP_NO_TICKET): TLS 1.2 resumes by session id from this server's cache; "
               "TLS 1.3 still sends NewSessionTicket, its PSK then names an entry of that cache");
  add_bounded_option(app, "--max-early-data", config.max_early_data,
                     "TLS 1.3 0-RTT: bytes of early data a ticket lets a client send, and this server reads or skips "
                     "before refusing the connection (0 = early data off)",
                     std::size_t{0}, std::size_t{1} << 20);
  app.add_flag("--no-anti-replay", config.no_anti_replay,
               "DEMO ONLY: SSL_OP_NO_ANTI_REPLAY, tickets reusable: a replayed 0-RTT first flight is accepted and "
               "its request served again (what single-use tickets prevent)");
  add_bounded_option(app, "--step-timeout", config.step_timeout,
                     "seconds a client gets for the handshake and for its request", 0.05, 600.0);
  // One over the limit gets a TLS alert (fatal internal_error) in plaintext,
  // the only thing a TLS client understands before a handshake.
  program.add_max_connections(Refusal::tls_alert);
  program.check_usage([&] {
    if (config.extended_master_secret && config.mode != tls::Mode::tls12_rsa)
      throw UsageError("--extended-master-secret goes with --tls 1.2-rsa (the other modes always use it or TLS 1.3)");
  });
  Counters counters;
  std::optional<tls::SniCertificates> sni;  // outlives the context that calls it
  std::optional<ssl::context> context;
  std::optional<https::EarlyData> early_data;
  std::string keylog;
  int security_level = 0;
  return program.run([&](ServerRun& run) {
    const tls::Pki pki{config.cert_dir};
    if (tls::ensure_pki(pki.dir))
      spdlog::info("generated the lab's CA and server certificate in {} (CA: {})", pki.dir.string(),
                   pki.ca_cert().string());
    context.emplace(ssl::context::tls_server);
    tls::configure_server(*context, config.mode, pki, config.cert);
    if (config.mode == tls::Mode::tls12_rsa && !config.extended_master_secret)
      SSL_CTX_set_options(context->native_handle(), SSL_OP_NO_EXTENDED_MASTER_SECRET);
    tls::configure_resumption(*context, config.no_tickets);
    sni.emplace(*context, pki);
    early_data.emplace(*context, config.mode == tls::Mode::tls13 ? config.max_early_data : 0, !config.no_anti_replay);
    if (config.alpn != "off") tls::configure_alpn(*context, config.alpn);
    keylog = tls::enable_keylog(*context, config.keylog);
    if (!keylog.empty()) spdlog::warn("key log: session secrets are appended to {} (NSS format)", keylog);
    security_level = SSL_CTX_get_security_level(context->native_handle());
    run.serve([&](tcp::socket socket) {
      ++counters.connections;
      return session(std::move(socket), *context, config, counters, *early_data, run.registry());
    });
    run.listening(fmt::format("--tls {}, certificate {}, OpenSSL security level {}", tls::mode_name(config.mode),
                              config.cert == tls::CertChoice::valid ? "valid" : "expired", security_level));
    run.report([&](Result& result, std::ostream& out) {
      result.set_params(
          boost::json::object{{"mode", tls::mode_name(config.mode)},
                              {"cert", config.cert == tls::CertChoice::valid ? "valid" : "expired"},
                              {"cert_dir", config.cert_dir},
                              {"step_timeout", config.step_timeout},
                              {"extended_master_secret", config.extended_master_secret},
                              {"no_tickets", config.no_tickets},
                              {"alpn", config.alpn},
                              {"max_early_data", early_data->counters().max_early_data},
                              {"no_anti_replay", config.no_anti_replay},
                              {"sni_names", boost::json::array(tls::sni_names.begin(), tls::sni_names.end())},
                              {"security_level", security_level},
                              {"keylog", keylog}});
      counters.early_data = early_data->counters();
      result.set_observed(counters);
      print_summary(out, config, run, counters);
      out << "  refused (--max-connections " << run.limit().max() << ") " << run.limit().refused() << "\n";
    });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, https_server); }
