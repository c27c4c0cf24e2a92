// The https lab on real sockets: the real server and client on ephemeral ports,
// each with certificates generated into a temporary folder; asserted on their
// JSON (the decoded trace, the exporter digests of both ends), their errors,
// and interop with openssl s_client and curl (when installed).
#include "lab.hpp"
#include "loopback.hpp"
#include "process.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

using namespace netlab::test;
namespace json = boost::json;

namespace {

// The server with its own certificates in a temporary folder.
struct Lab {
  TempDir dir;
  std::string certs = dir.file("certs");
  std::string server_json = dir.file("server.json");
  Server server;
  Lab(const std::string& mode, std::vector<std::string> extra = {})
      : server("netlab-https-server", [&] {
          std::vector<std::string> args{"--tls",           mode,     "--cert-dir",
                                        dir.file("certs"), "--json", dir.file("server.json")};
          args.insert(args.end(), extra.begin(), extra.end());
          return args;
        }()) {}
  std::string ca() const { return certs + "/ca.pem"; }

  RunResult client(std::vector<std::string> args, const std::string& json_path) const {
    std::vector<std::string> argv{bin("netlab-https-client"),
                                  "--port",
                                  server.port_text(),
                                  "--cert-dir",
                                  certs,
                                  "--json",
                                  json_path,
                                  "--log-level",
                                  "warn"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  // A client run that must succeed; its JSON.
  json::object good_client(std::vector<std::string> args = {}) const {
    TempDir out;
    const auto result = client(std::move(args), out.file("client.json"));
    INFO("client stderr: " << result.err);
    REQUIRE(result.exit_code == 0);
    return read_json(out.file("client.json")).as_object();
  }
  json::object stop_and_report() {
    REQUIRE(server.stop() == 0);
    return read_json(server_json).at("observed").as_object();
  }
};

std::vector<std::string> messages(const json::object& client, const std::string& direction) {
  std::vector<std::string> names;
  for (const auto& step : client.at("observed").at("trace").as_array())
    if (step.at("direction") == direction.c_str()) names.emplace_back(step.at("message").as_string());
  return names;
}

// `expected` appears in `names` in this order (other messages may come between).
bool in_order(const std::vector<std::string>& names, const std::vector<std::string>& expected) {
  std::size_t at = 0;
  for (const auto& name : names)
    if (at < expected.size() && name == expected[at]) ++at;
  return at == expected.size();
}

bool contains(const json::array& values, const std::string& wanted) {
  for (const auto& v : values)
    if (v.is_string() && v.as_string() == wanted.c_str()) return true;
  return false;
}

}  // namespace

TEST_CASE("each mode: the trace has the note's messages in order and both ends derive the same keys", "[pair]") {
  const std::string mode = GENERATE(as<std::string>{}, "1.3", "1.2-ecdhe", "1.2-rsa");
  Lab lab(mode);
  const auto client = lab.good_client({"--tls", mode});
  const auto& observed = client.at("observed").as_object();
  INFO("mode " << mode << ": " << json::serialize(observed.at("trace")));
  const auto sent = messages(client, "sent");
  const auto received = messages(client, "received");
  CHECK(sent.front() == "ClientHello");
  CHECK(received.front() == "ServerHello");
  if (mode == "1.3") {
    CHECK(text(observed.at("version")) == "TLSv1.3");
    CHECK(in_order(received, {"ServerHello", "EncryptedExtensions", "Certificate", "CertificateVerify", "Finished",
                              "NewSessionTicket"}));
    CHECK(in_order(sent, {"ClientHello", "Finished"}));
    CHECK(!in_order(sent, {"ClientKeyExchange"}));
  } else {
    CHECK(text(observed.at("version")) == "TLSv1.2");
    CHECK(in_order(sent, {"ClientHello", "ClientKeyExchange", "ChangeCipherSpec", "Finished"}));
    if (mode == "1.2-ecdhe")
      CHECK(in_order(received, {"ServerHello", "Certificate", "ServerKeyExchange", "ServerHelloDone", "Finished"}));
    else
      CHECK(in_order(received, {"ServerHello", "Certificate", "ServerHelloDone", "Finished"}));
    if (mode == "1.2-rsa") CHECK(!in_order(received, {"ServerKeyExchange"}));
  }
  // The trace decoded every message.
  for (const auto& step : observed.at("trace").as_array()) CHECK(text(step.at("error")).empty());

  // Both ends exported the same keying material: the client compared it with the
  // server's header, and the server's own record holds the same digest.
  const std::string digest = text(observed.at("exporter_digest_client"));
  CHECK(digest.size() == 64);
  CHECK(text(observed.at("exporter_digest_server")) == digest);
  // 1.2-rsa: graded by the recomputed master secret (next test case); the others
  // have only the exporter comparison, which a finished handshake implies.
  CHECK(verdict(client, "same-session-key") == (mode == "1.2-rsa" ? "confirmed" : "fact"));
  CHECK(observed.at("page_marker_found").as_bool());

  CHECK(verdict(client, "client-random-and-algorithms") == "confirmed");
  CHECK(verdict(client, "server-random-choice-certificate") == "confirmed");
  CHECK(verdict(client, "random-3-encrypted-with-public-key") == (mode == "1.2-rsa" ? "confirmed" : "refuted"));
  CHECK(verdict(client, "certificate-in-clear") == (mode == "1.3" ? "refuted" : "confirmed"));
  CHECK(verdict(client, "client-checks-certificate") == "confirmed");
  CHECK(text(observed.at("key_exchange")) == (mode == "1.3"         ? "key shares (TLS 1.3)"
                                              : mode == "1.2-ecdhe" ? "ECDHE"
                                                                    : "RSA key transport"));

  const auto server = lab.stop_and_report();
  CHECK(server.at("handshakes").to_number<int>() == 1);
  CHECK(server.at("pages_served").to_number<int>() == 1);
  CHECK(contains(server.at("exporter_digests").as_array(), digest));
}

TEST_CASE("1.2-rsa: the server recomputes the master secret from the decrypted pre-master, with and without EMS",
          "[pair]") {
  const bool ems = GENERATE(false, true);
  Lab lab("1.2-rsa", ems ? std::vector<std::string>{"--extended-master-secret"} : std::vector<std::string>{});
  const auto client = lab.good_client({"--tls", "1.2-rsa"});
  const auto& observed = client.at("observed").as_object();
  INFO(json::serialize(observed.at("master_secret_inputs")));
  // The server's recomputation equals the client's OpenSSL master secret (compared as SHA-256).
  CHECK(text(observed.at("master_secret_sha256_client")).size() == 64);
  CHECK(text(observed.at("master_secret_sha256_recomputed_by_server")) ==
        text(observed.at("master_secret_sha256_client")));
  CHECK(verdict(client, "same-session-key") == "confirmed");
  const std::string inputs = text(observed.at("master_secret_inputs"));
  CHECK(inputs.find(ems ? "session hash" : "client random") != std::string::npos);
  CHECK(inputs.find(ems ? "RFC 7627" : "RFC 5246") != std::string::npos);
  const auto server = lab.stop_and_report();
  CHECK(server.at("master_secret_recomputed").to_number<int>() == 1);
  CHECK(server.at("master_secret_different").to_number<int>() == 0);
}

TEST_CASE("a client offering 1.2 and 1.3 gets what the server's mode allows", "[pair]") {
  Lab lab("1.2-rsa");
  const auto client = lab.good_client();
  CHECK(text(client.at("observed").at("version")) == "TLSv1.2");
  CHECK(text(client.at("observed").at("key_exchange")) == "RSA key transport");
  CHECK(lab.server.stop() == 0);
}

TEST_CASE("TLS 1.3: a first key share for a group the server does not take brings a HelloRetryRequest", "[pair]") {
  Lab lab("1.3");
  const auto plain = lab.good_client({"--tls", "1.3"});
  CHECK_FALSE(plain.at("observed").at("hello_retry_request").as_bool());
  const auto retried = lab.good_client({"--tls", "1.3", "--force-hrr"});
  CHECK(retried.at("observed").at("hello_retry_request").as_bool());
  const auto sent = messages(retried, "sent");
  CHECK(std::count(sent.begin(), sent.end(), "ClientHello") == 2);
  CHECK(in_order(messages(retried, "received"), {"HelloRetryRequest", "ServerHello", "Finished"}));
  // Equal exporter digests after the retry (nuanced: TLS 1.3 has no random 3 to recompute from).
  CHECK(verdict(retried, "same-session-key") == "fact");
  CHECK(text(retried.at("observed").at("exporter_digest_server")) ==
        text(retried.at("observed").at("exporter_digest_client")));
  CHECK(lab.server.stop() == 0);
}

TEST_CASE("verification failures: no CA, wrong name, expired certificate - the server keeps serving", "[failures]") {
  Lab lab("1.3");
  TempDir out;
  expect_failure(lab.client({"--ca", "system"}, out.file("no-ca.json")), 1, {"unable to get local issuer certificate"});
  const auto no_ca = read_json(out.file("no-ca.json")).as_object();
  CHECK(no_ca.at("observed").at("verify_result").to_number<int>() == 20);
  CHECK(in_order(messages(no_ca, "sent"), {"ClientHello", "Alert"}));

  expect_failure(lab.client({"--server-name", "wrong.example"}, out.file("wrong-name.json")), 1, {"hostname mismatch"});

  expect_failure(lab.client({"--server-name", "127.0.0.2"}, out.file("wrong-ip.json")), 1, {"IP address mismatch"});

  // The address the certificate names (IP SAN) verifies.
  CHECK(lab.good_client({"--server-name", "127.0.0.1"}).at("observed").at("handshake_ok").as_bool());
  const auto server = lab.stop_and_report();
  CHECK(server.at("refused_by_client").to_number<int>() == 3);
  CHECK(server.at("handshakes").to_number<int>() == 1);

  Lab expired("1.2-ecdhe", {"--cert", "expired"});
  expect_failure(expired.client({}, out.file("expired.json")), 1, {"certificate has expired"});
  // The refusal is recorded as the evidence that the client checks certificates.
  CHECK(verdict(read_json(out.file("expired.json")).as_object(), "client-checks-certificate") == "confirmed");
  // --no-verify-demo goes on regardless, and says what verification would have refused.
  const auto demo = expired.good_client({"--no-verify-demo"});
  CHECK(demo.at("observed").at("verify_result").to_number<int>() == 10);
  CHECK(verdict(demo, "client-checks-certificate") == "refuted");
  CHECK(expired.server.log().find("alert \"certificate expired\"") != std::string::npos);
  CHECK(expired.server.stop() == 0);
}

TEST_CASE("non-TLS bytes, an aborted handshake and silence: one log line each, the server keeps serving",
          "[bad-input]") {
  // 3 s: the good client's whole handshake must fit in it under ASan on a
  // busy 2-core machine (0.5 s was tight); the silent peers still time out
  // well within the 10 s our reads wait.
  Lab lab("1.3", {"--step-timeout", "3"});
  Connection bystander(lab.server.port());  // opened first, served last
  {
    Connection http(lab.server.port());
    REQUIRE(http.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    CHECK(http.closed_by_peer());
  }
  {
    Connection half(lab.server.port());
    // A handshake record header announcing 512 bytes, then only 10 of them.
    REQUIRE(half.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03", 10)));
    half.close();
  }
  {
    Connection silent(lab.server.port());
    CHECK(silent.closed_by_peer());  // the server gives up on it (--step-timeout) and closes
  }
  CHECK(lab.good_client().at("observed").at("handshake_ok").as_bool());
  CHECK(bystander.closed_by_peer());  // the bystander, silent too, timed out like any other
  const auto server = lab.stop_and_report();
  CHECK(server.at("not_tls").to_number<int>() == 1);
  CHECK(server.at("left_mid_handshake").to_number<int>() == 1);
  CHECK(server.at("timed_out").to_number<int>() == 2);
  CHECK(server.at("handshakes").to_number<int>() == 1);
  const std::string log = lab.server.log();
  CHECK(log.find("not TLS") != std::string::npos);
  CHECK(log.find("the client left mid-handshake") != std::string::npos);
  CHECK(log.find("no complete handshake within 3 s") != std::string::npos);
}

TEST_CASE("key log: NSS lines whose client random is the ClientHello's, from --keylog and SSLKEYLOGFILE", "[keylog]") {
  const std::string mode = GENERATE(as<std::string>{}, "1.3", "1.2-rsa");
  Lab lab(mode);
  TempDir out;
  const std::string keylog = out.file("keys.log");
  const auto client = lab.good_client({"--keylog", keylog});
  std::string client_random;
  for (const auto& step : client.at("observed").at("trace").as_array())
    if (step.at("message") == "ClientHello") client_random = text(step.at("random"));
  REQUIRE(client_random.size() == 64);
  const std::string lines = read_text(keylog);
  const std::string label = mode == "1.3" ? "CLIENT_HANDSHAKE_TRAFFIC_SECRET " : "CLIENT_RANDOM ";
  CHECK(lines.find(label + client_random + " ") != std::string::npos);
  std::istringstream each(lines);
  // "RSA <first 8 bytes of the encrypted pre-master secret> <pre-master secret>" in 1.2-rsa.
  const std::regex nss_line("[A-Z_0-9]+ ([0-9a-f]{64}|[0-9a-f]{16}) [0-9a-f]{64,96}");
  std::size_t count = 0;
  for (std::string line; std::getline(each, line); ++count) {
    INFO("key log line: " << line);
    CHECK(std::regex_match(line, nss_line));
  }
  CHECK(count >= (mode == "1.3" ? 5u : 1u));

  const std::string from_env = out.file("env.log");
  const auto result = run({"/usr/bin/env", "SSLKEYLOGFILE=" + from_env, bin("netlab-https-client"), "--port",
                           lab.server.port_text(), "--cert-dir", lab.certs, "--log-level", "warn"});
  CHECK(result.exit_code == 0);
  CHECK(read_text(from_env).find(label) != std::string::npos);
  CHECK(lab.server.stop() == 0);
}

TEST_CASE("interop: openssl s_client verifies against the lab's CA and 1.2-rsa takes AES128-GCM-SHA256", "[interop]") {
  const std::string openssl = require_tool("openssl");
  Lab lab("1.2-rsa");
  const std::string target = "127.0.0.1:" + lab.server.port_text();
  auto result =
      run({openssl, "s_client", "-connect", target, "-CAfile", lab.ca(), "-servername", "localhost", "-verify_hostname",
           "localhost", "-verify_return_error", "-tls1_2", "-cipher", "AES128-GCM-SHA256"});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("Verify return code: 0 (ok)") != std::string::npos);
  CHECK(result.out.find("Cipher is AES128-GCM-SHA256") != std::string::npos);
  // Without the CA, s_client refuses too.
  result = run({openssl, "s_client", "-connect", target, "-verify_return_error", "-tls1_2"});
  CHECK(result.exit_code != 0);
  CHECK(lab.server.stop() == 0);

  Lab v13("1.3");
  result = run({openssl, "s_client", "-connect", "127.0.0.1:" + v13.server.port_text(), "-CAfile", v13.ca(),
                "-servername", "localhost", "-verify_return_error"});
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("Verify return code: 0 (ok)") != std::string::npos);
  CHECK(result.out.find("TLSv1.3") != std::string::npos);
  const auto server = v13.stop_and_report();
  CHECK(server.at("handshakes").to_number<int>() == 1);
}

TEST_CASE("interop: curl fetches the page with the lab's CA (h2 through ALPN, and HTTP/1.1), refuses without it",
          "[interop]") {
  const std::string curl = require_tool("curl");
  Lab lab("1.3");
  const std::string url = "https://localhost:" + lab.server.port_text() + "/";
  auto result = run({curl, "-sS", "--noproxy", "*", "--http2", "--cacert", lab.ca(), "-w", "\n%{http_version}", url});
  INFO(result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("netlab-https-page") != std::string::npos);
  CHECK(result.out.ends_with("\n2"));  // the page came over HTTP/2 streams
  result = run({curl, "-sS", "--noproxy", "*", "--http1.1", "--cacert", lab.ca(), "-w", "\n%{http_version}", url});
  CHECK(result.out.ends_with("\n1.1"));
  result = run({curl, "-sS", "--noproxy", "*", url});
  CHECK(result.exit_code == 60);  // CURLE_PEER_FAILED_VERIFICATION
  const auto server = lab.stop_and_report();
  CHECK(server.at("pages_served").to_number<int>() == 2);
  CHECK(server.at("h2").at("streams").to_number<int>() == 1);
  CHECK(server.at("alpn").at("offered h2,http/1.1 -> h2").to_number<int>() == 1);
}

TEST_CASE("errors: server not running, port in use, bad usage, missing CA", "[errors]") {
  std::uint16_t port = 0;
  {
    Lab lab("1.3");
    port = lab.server.port();
    REQUIRE(lab.server.stop() == 0);
  }
  expect_failure(run({bin("netlab-https-client"), "--port", std::to_string(port)}), 1,
                 {"connection refused", "is netlab-https-server running?"});

  Lab lab("1.3");
  expect_failure(run_on_taken_port(lab.server, "netlab-https-server", {"--cert-dir", lab.certs}), 1,
                 {"address already in use"});

  expect_failure(run({bin("netlab-https-client"), "--port", lab.server.port_text(), "--ca", "/nonexistent/ca.pem"}), 1,
                 {"load CA /nonexistent/ca.pem"});
  CHECK(lab.server.stop() == 0);

  expect_usage_errors("netlab-https-client", {{"--tls", "1.1"}, {"--path", "no-slash"}});
  expect_usage_errors(
      "netlab-https-server",
      {{"--cert", "stolen"}, {"--step-timeout", "0"}, {"--tls", "1.3", "--extended-master-secret"}, {"--alpn", "h2"}});
}

namespace {

// The resumed handshake's messages received from the server.
std::vector<std::string> resumed_received(const json::object& client) {
  std::vector<std::string> names;
  for (const auto& step : client.at("observed").at("resumption").at("trace").as_array())
    if (step.at("direction") == "received") names.emplace_back(step.at("message").as_string());
  return names;
}

const json::object& check_named(const json::object& client, const std::string& id) {
  for (const auto& check : client.at("checks").as_array())
    if (check.at("id") == id.c_str()) return check.as_object();
  FAIL("no check " << id);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("resumption: the second handshake has no Certificate (1.3 PSK, 1.2 ticket, 1.2 session id)", "[resume]") {
  struct Case {
    std::string mode, server_flag, offered, in_client_hello;
    int full_round_trips, resumed_round_trips;
  };
  const auto c = GENERATE(Case{"1.3", "", "PSK (NewSessionTicket)", "offers a PSK", 1, 1},
                          Case{"1.2-ecdhe", "", "session ticket", "; session ticket ", 2, 1},
                          Case{"1.2-ecdhe", "--no-tickets", "session id", "; session id 32 B", 2, 1});
  Lab lab(c.mode, c.server_flag.empty() ? std::vector<std::string>{} : std::vector<std::string>{c.server_flag});
  const auto client = lab.good_client({"--tls", c.mode, "--resume"});
  const auto& r = client.at("observed").at("resumption").as_object();
  INFO(c.mode << " " << c.server_flag << ": " << json::serialize(r));
  CHECK(text(r.at("offered")) == c.offered);
  CHECK(r.at("reused").as_bool());
  CHECK(r.at("full").at("certificate").as_bool());
  CHECK(!r.at("resumed").at("certificate").as_bool());
  // The second ClientHello carries what it resumes with (decoded by the trace).
  const auto& hello = r.at("trace").as_array().at(0).as_object();
  CHECK(text(hello.at("message")) == "ClientHello");
  CHECK(text(hello.at("detail")).find(c.in_client_hello) != std::string::npos);
  const auto received = resumed_received(client);
  CHECK(std::find(received.begin(), received.end(), "Certificate") == received.end());
  CHECK(std::find(received.begin(), received.end(), "CertificateVerify") == received.end());
  CHECK(std::find(received.begin(), received.end(), "ServerKeyExchange") == received.end());
  // The round trips and bytes come from the two traces: the certificate was the bulk of what the server sent.
  CHECK(r.at("full").at("round_trips").to_number<int>() == c.full_round_trips);
  CHECK(r.at("resumed").at("round_trips").to_number<int>() == c.resumed_round_trips);
  CHECK(r.at("resumed").at("bytes_received").to_number<int>() < r.at("full").at("bytes_received").to_number<int>());
  CHECK(text(check_named(client, "tls-resumption-skips-certificate").at("verdict")) == "confirmed");
  const auto server = lab.stop_and_report();
  CHECK(server.at("handshakes").to_number<int>() == 2);
  CHECK(server.at("resumed").to_number<int>() == 1);
}

TEST_CASE("resumption: openssl s_client -sess_out / -sess_in is Reused by the server", "[resume][interop]") {
  const std::string openssl = require_tool("openssl");
  const std::string mode = GENERATE(as<std::string>{}, "1.3", "1.2-ecdhe");
  Lab lab(mode);
  const std::string session = lab.dir.file("session.pem");
  // -ign_eof with a request: s_client reads until the server's close_notify, so the
  // TLS 1.3 NewSessionTicket (sent after the handshake) reaches the session file.
  const auto s_client = [&](const std::string& sess_flag) {
    return run({"/bin/sh", "-c",
                "printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | " + openssl +
                    " s_client -ign_eof -connect 127.0.0.1:" + lab.server.port_text() + " -CAfile " + lab.ca() +
                    " -servername localhost -verify_return_error " + sess_flag + " " + session});
  };
  auto first = s_client("-sess_out");
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(first.out.find("\nNew, ") != std::string::npos);
  const auto second = s_client("-sess_in");
  INFO(second.out << second.err);
  CHECK(second.exit_code == 0);
  CHECK(second.out.find("\nReused, ") != std::string::npos);
  const auto server = lab.stop_and_report();
  CHECK(server.at("resumed").to_number<int>() == 1);
}

namespace {

const json::object& probe(const json::object& client, const std::string& kind, std::size_t i) {
  return client.at("observed").at("names").at(kind).as_array().at(i).as_object();
}

}  // namespace

TEST_CASE("SNI picks the certificate, ALPN the protocol (h2 first): spdy/3.1 gets the alert, the server keeps serving",
          "[names]") {
  const std::string mode = GENERATE(as<std::string>{}, "1.3", "1.2-ecdhe");
  Lab lab(mode);
  const auto client = lab.good_client({"--tls", mode, "--names"});
  INFO(mode << ": " << json::serialize(client.at("observed").at("names")));
  // SNI: a.netlab.test and b.netlab.test each get their own certificate; another name, or none, localhost's.
  const std::vector<std::string> subjects{"CN = a.netlab.test", "CN = b.netlab.test", "CN = localhost",
                                          "CN = localhost"};
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    const auto& p = probe(client, "sni", i);
    CHECK(p.at("handshake_ok").as_bool());
    CHECK(text(p.at("certificate_subject")).find(subjects[i]) != std::string::npos);
    CHECK(p.at("certificate_names_server_name").as_bool() == (i < 2));
  }
  CHECK(text(probe(client, "sni", 2).at("server_name")) == "unknown.netlab.test");
  CHECK(text(probe(client, "sni", 0).at("client_hello")).find("SNI a.netlab.test") != std::string::npos);
  CHECK(text(probe(client, "sni", 0).at("certificate_sha256")) !=
        text(probe(client, "sni", 1).at("certificate_sha256")));
  CHECK(text(check_named(client, "sni-selects-certificate").at("verdict")) == "fact");
  // ALPN, the server's list h2,http/1.1: h2,http/1.1 -> h2 (in the ServerHello in 1.2, in
  // EncryptedExtensions in 1.3); h2 -> h2; http/1.1 -> http/1.1; spdy/3.1 -> the alert.
  const auto& both = probe(client, "alpn", 0);
  CHECK(text(both.at("alpn_chosen")) == "h2");
  CHECK(text(both.at("client_hello")).find("ALPN h2,http/1.1") != std::string::npos);
  CHECK(text(both.at("server_alpn_message")).rfind(mode == "1.3" ? "EncryptedExtensions" : "ServerHello", 0) == 0);
  const auto& h2 = probe(client, "alpn", 1);
  CHECK(text(h2.at("alpn_offered")) == "h2");
  CHECK(text(h2.at("alpn_chosen")) == "h2");
  CHECK(text(probe(client, "alpn", 2).at("alpn_chosen")) == "http/1.1");
  const auto& none = probe(client, "alpn", 3);
  CHECK(!none.at("handshake_ok").as_bool());
  CHECK(text(none.at("alert")) == "fatal no application protocol");
  CHECK(text(check_named(client, "alpn-negotiated").at("verdict")) == "fact");
  lab.good_client();  // served after the alert
  const auto server = lab.stop_and_report();
  CHECK(server.at("no_application_protocol").to_number<int>() == 1);
  CHECK(server.at("h2").at("connections").to_number<int>() == 2);  // the two that chose h2
  CHECK(server.at("pages_served").to_number<int>() == 7);  // 1 + 4 SNI + 1 ALPN (http/1.1), then the good client
  CHECK(server.at("certificates").at("server_name a.netlab.test -> O = netlab https lab, CN = a.netlab.test") == 1);
  CHECK(server.at("certificates").at("no server_name -> default certificate O = netlab https lab, CN = localhost") ==
        1);
}

TEST_CASE("ALPN off: the server ignores the extension, h2 alone is served with no protocol: nuanced", "[names]") {
  Lab lab("1.3", {"--alpn", "off"});
  const auto client = lab.good_client({"--names"});
  INFO(json::serialize(client.at("observed").at("names").at("alpn")));
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(probe(client, "alpn", i).at("handshake_ok").as_bool());
    CHECK(text(probe(client, "alpn", i).at("alpn_chosen")).empty());
  }
  CHECK(text(check_named(client, "alpn-negotiated").at("verdict")) == "nuanced");
  CHECK(lab.stop_and_report().at("no_application_protocol").to_number<int>() == 0);
}

TEST_CASE("against openssl s_server (one certificate for every name, no ALPN): SNI refuted, ALPN nuanced",
          "[names][interop]") {
  const std::string openssl = require_tool("openssl");
  Lab lab("1.3");  // only for the lab's certificates
  REQUIRE(lab.server.stop() == 0);
  Process s_server({openssl, "s_server", "-accept", "127.0.0.1:0", "-cert", lab.certs + "/server.pem", "-key",
                    lab.certs + "/server.key", "-www"},
                   lab.dir.file("s_server.out"), lab.dir.file("s_server.err"));
  // s_server says its port once listening: "ACCEPT 127.0.0.1:PORT" (polled, at most 10 s).
  std::string port;
  const std::regex accept_line("ACCEPT 127\\.0\\.0\\.1:([0-9]+)");
  for (int i = 0; i < 100 && port.empty(); ++i) {
    std::smatch m;
    const std::string out = read_text(lab.dir.file("s_server.out"));
    if (std::regex_search(out, m, accept_line))
      port = m[1];
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(!port.empty());
  TempDir out;
  const auto result = run({bin("netlab-https-client"), "--port", port, "--cert-dir", lab.certs, "--names", "--json",
                           out.file("client.json"), "--log-level", "warn"});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const auto client = read_json(out.file("client.json")).as_object();
  INFO(json::serialize(client.at("observed").at("names")));
  CHECK(text(probe(client, "sni", 0).at("certificate_subject")).find("CN = localhost") != std::string::npos);
  CHECK(text(check_named(client, "sni-selects-certificate").at("verdict")) == "refuted");
  CHECK(probe(client, "alpn", 1).at("handshake_ok").as_bool());  // h2 alone: ignored, not refused
  CHECK(text(check_named(client, "alpn-negotiated").at("verdict")) == "nuanced");
}

TEST_CASE("0-RTT: the GET goes as early data on resumption, its replay is refused (served again without anti-replay)",
          "[zero-rtt]") {
  const bool anti_replay = GENERATE(true, false);
  Lab lab("1.3", anti_replay ? std::vector<std::string>{} : std::vector<std::string>{"--no-anti-replay"});
  const auto client = lab.good_client({"--tls", "1.3", "--zero-rtt"});
  const auto& z = client.at("observed").at("zero_rtt").as_object();
  INFO("anti-replay " << anti_replay << ": " << json::serialize(z));
  const auto& early = z.at("early").as_object();
  CHECK(z.at("max_early_data").to_number<int>() == 16384);
  CHECK(early.at("resumed").as_bool());
  CHECK(early.at("early_data_sent").as_bool());
  CHECK(text(early.at("early_data_status")) == "accepted");
  CHECK(text(early.at("server_says")) == "accepted");
  CHECK(text(early.at("status_line")) == "HTTP/1.1 200 OK");
  // The request rode in the first flight: its answer needs one round trip; full and resumed need two.
  CHECK(early.at("round_trips_to_answer").to_number<int>() == 1);
  CHECK(z.at("full").at("round_trips_to_answer").to_number<int>() == 2);
  CHECK(z.at("resumed").at("round_trips_to_answer").to_number<int>() == 2);
  CHECK(z.at("resumed").at("resumed").as_bool());
  const auto& hello = z.at("trace").as_array().at(0).as_object();
  CHECK(text(hello.at("detail")).find("early data (0-RTT)") != std::string::npos);
  // The replay: the server answers a full handshake (anti-replay) or takes the ticket again.
  const auto& replay = z.at("replay").as_object();
  CHECK(text(replay.at("server_answer")).find(anti_replay ? "without pre_shared_key" : "accepting the PSK") !=
        std::string::npos);
  CHECK(text(check_named(client, "zero-rtt-replay-refused").at("verdict")) == (anti_replay ? "confirmed" : "refuted"));
  const auto server = lab.stop_and_report();
  const auto& counted = server.at("early_data").as_object();
  INFO(json::serialize(counted));
  CHECK(counted.at("offered").to_number<int>() == 2);
  CHECK(counted.at("requests_served").to_number<int>() == (anti_replay ? 1 : 2));
  CHECK(counted.at("rejected").as_object().contains("ticket already used") == anti_replay);
}

TEST_CASE("0-RTT: early data over max_early_data is refused with one log line, the next client is served",
          "[zero-rtt][bad-input]") {
  Lab lab("1.3", {"--max-early-data", "1024"});
  const auto client = lab.good_client({"--tls", "1.3", "--zero-rtt", "--early-data-pad", "2000"});
  const auto& early = client.at("observed").at("zero_rtt").at("early").as_object();
  INFO(json::serialize(early));
  CHECK(!text(early.at("error")).empty());
  CHECK(text(check_named(client, "zero-rtt-replay-refused").at("verdict")) == "nuanced");
  lab.good_client();
  const std::string log = lab.server.log();
  INFO(log);
  std::size_t lines = 0;
  for (std::size_t at = log.find("more early data than the 1024 B"); at != std::string::npos;
       at = log.find("more early data than the 1024 B", at + 1))
    ++lines;
  CHECK(lines == 1);
  const auto server = lab.stop_and_report();
  CHECK(server.at("early_data").at("rejected").at("too much data").to_number<int>() == 1);
  // The client's own first page, the 0-RTT step's full and resumed ones, the next client's.
  CHECK(server.at("pages_served").to_number<int>() == 4);
}
