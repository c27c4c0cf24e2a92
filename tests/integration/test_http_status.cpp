// The http lab's status classes on real sockets: the real server on an
// ephemeral port, asked with hand-written requests over a plain socket (no
// Beast on this side): redirects to /method and what arrives there, a route
// that fails (500), the Host rule, Content-Length with Transfer-Encoding
// (refused), chunked bodies, Expect: 100-continue; and the client grading
// what curl met (--curl-observed), both ways.
#include "http_rpc_support.hpp"
#include "lab.hpp"
#include "process.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <fstream>

using namespace netlab::test;
namespace json = boost::json;

namespace {

std::string request(const std::string& method, const std::string& target, const std::string& headers,
                    const std::string& body = "") {
  return method + " " + target + " HTTP/1.1\r\n" + headers + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

json::object arrived(const HttpResponse& res) {
  INFO(res.status_line << " " << res.body);
  REQUIRE(res.status == 200);
  return json::parse(res.body).as_object();
}

}  // namespace

TEST_CASE("redirects point at /method, /method says what arrived, /fail is a 500 that keeps the connection",
          "[status]") {
  Server server("netlab-http-server", {});
  Connection connection(server.port(), no_delay);
  for (const unsigned code : {301u, 302u, 303u, 307u, 308u}) {
    REQUIRE(connection.send(request("POST", "/redirect/" + std::to_string(code), "Host: h\r\n", "hello")));
    const auto res = read_response(connection);
    CHECK(res.status == code);
    CHECK(res.header("location") == "/method");
  }
  REQUIRE(connection.send(request("GET", "/redirect/304", "Host: h\r\n")));
  CHECK(read_response(connection).status == 404);
  REQUIRE(connection.send(request("PUT", "/method", "Host: h\r\n", "twelve bytes")));
  const auto seen = arrived(read_response(connection));
  CHECK(seen.at("method") == "PUT");
  CHECK(number(seen.at("body_bytes")) == 12);
  CHECK(seen.at("expect_continue") == false);
  // A handler that throws: 500, and the same connection answers the next request.
  REQUIRE(connection.send(request("GET", "/fail", "Host: h\r\n")));
  CHECK(read_response(connection).status == 500);
  REQUIRE(connection.send(request("GET", "/method", "Host: h\r\n")));
  CHECK(arrived(read_response(connection)).at("method") == "GET");
  CHECK(server.stop() == 0);
}

TEST_CASE("Host is required on HTTP/1.1 only, once, and Content-Length with Transfer-Encoding is refused and closed",
          "[status][bad-input]") {
  Server server("netlab-http-server", {});
  const auto ask = [&](const std::string& bytes) {
    Connection connection(server.port(), no_delay);
    REQUIRE(connection.send(bytes));
    return read_response(connection);
  };
  CHECK(ask("GET /method HTTP/1.1\r\n\r\n").status == 400);
  CHECK(ask("GET /method HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").status == 400);
  {
    // HTTP/1.0 predates the rule: served, and answered in HTTP/1.0.
    Connection connection(server.port(), no_delay);
    REQUIRE(connection.send("GET /method HTTP/1.0\r\n\r\n"));
    CHECK(connection.receive_all().rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
  }
  CHECK(ask("GET /method HTTP/1.1\r\nHost: a\r\n\r\n").status == 200);
  // Chunked alone: the body is put back together whole.
  const auto chunked =
      ask("POST /method HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n");
  CHECK(number(arrived(chunked).at("body_bytes")) == 5);
  CHECK(arrived(chunked).at("chunked") == true);
  // Both framings, in either order: 400, and the connection closed (its bytes cannot be trusted).
  for (const std::string both :
       {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"}) {
    Connection connection(server.port(), no_delay);
    REQUIRE(connection.send("POST /method HTTP/1.1\r\nHost: a\r\n" + both + "\r\n5\r\nhello\r\n0\r\n\r\n"));
    const auto text = connection.receive_all();
    INFO(text);
    CHECK(parse_head(text).status == 400);
    CHECK(text.find("HTTP/1.1 200") == std::string::npos);  // the smuggled remainder was not served
  }
  // The server survived all of it.
  CHECK(ask("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == 200);
  CHECK(server.stop() == 0);
}

TEST_CASE("Expect: 100-continue: 100 before the body is read, the body counted if it came early, 413 before it is sent",
          "[status]") {
  Server server("netlab-http-server", {"--max-body-bytes", "1000"});
  const std::string head = "POST /method HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
  {
    // A client that waits: the interim response comes first, then the body goes.
    Connection connection(server.port(), no_delay);
    REQUIRE(connection.send(head));
    CHECK(connection.receive_until("\r\n\r\n") == "HTTP/1.1 100 Continue\r\n\r\n");
    REQUIRE(connection.send("hello"));
    const auto seen = arrived(read_response(connection));
    CHECK(seen.at("continue_sent") == true);
    CHECK(number(seen.at("body_bytes_before_continue")) == 0);
    CHECK(number(seen.at("body_bytes")) == 5);
  }
  {
    // A client that does not wait: the server sees the body there before its 100.
    Connection connection(server.port(), no_delay);
    REQUIRE(connection.send(head + "hello"));
    CHECK(connection.receive_until("\r\n\r\n") == "HTTP/1.1 100 Continue\r\n\r\n");
    CHECK(number(arrived(read_response(connection)).at("body_bytes_before_continue")) == 5);
  }
  {
    // Too large: refused at once, no 100, so the client never sends the body.
    Connection connection(server.port(), no_delay);
    REQUIRE(
        connection.send("POST /method HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n"));
    CHECK(parse_head(connection.receive_all()).status == 413);
  }
  CHECK(server.stop() == 0);
}

TEST_CASE(
    "the client grades what curl met (--curl-observed), and the verdicts come out the other way when curl did "
    "otherwise",
    "[status][client]") {
  TempDir dir;
  const auto grade = [&](const std::string& rows) {
    std::ofstream(dir.file("curl.tsv")) << rows;
    return run_client_json("netlab-http-client", 1, {"--curl-observed", dir.file("curl.tsv")});
  };
  const std::string expect_ok =
      "expect\t5\t200\t5\t{\"method\":\"POST\",\"body_bytes\":5,\"body_bytes_before_continue\":0}\n"
      "expect-large\t2000000\t413\t0\tno\n";
  const std::string as_rfc =
      "redirect-303\t5\t200\t5\t{\"method\":\"GET\",\"body_bytes\":0}\n"
      "redirect-307\t5\t200\t5\t{\"method\":\"POST\",\"body_bytes\":5}\n"
      "redirect-308\t5\t200\t5\t{\"method\":\"POST\",\"body_bytes\":5}\n"
      "host\t0\t200\t0\t{}\nno-host\t0\t400\t0\tno\n"
      "chunked\t5\t200\t5\t{\"method\":\"POST\",\"body_bytes\":5}\ncl-te\t5\t400\t5\tno\n" +
      expect_ok;
  auto result = grade(as_rfc);
  for (const char* id : {"redirect-303-becomes-get", "redirect-307-keeps-post", "expect-100-continue"})
    CHECK(verdict(result, id) == "confirmed");
  // What the lab's own server decides: facts when it did, refuted below when not.
  for (const char* id : {"host-required-400", "cl-te-conflict-400"}) CHECK(verdict(result, id) == "fact");
  const std::string otherwise =
      "redirect-303\t5\t200\t5\t{\"method\":\"POST\",\"body_bytes\":5}\n"
      "redirect-307\t5\t200\t5\t{\"method\":\"GET\",\"body_bytes\":0}\n"
      "redirect-308\t5\t200\t5\t{\"method\":\"POST\",\"body_bytes\":5}\n"
      "host\t0\t200\t0\t{}\nno-host\t0\t200\t0\t{}\n"
      "chunked\t5\t200\t5\t{\"method\":\"POST\",\"body_bytes\":5}\ncl-te\t5\t200\t5\t{}\n"
      "expect\t5\t200\t5\t{\"method\":\"POST\",\"body_bytes\":5,\"body_bytes_before_continue\":5}\n";
  result = grade(otherwise);
  for (const char* id : {"redirect-303-becomes-get", "redirect-307-keeps-post", "host-required-400",
                         "cl-te-conflict-400", "expect-100-continue"})
    CHECK(verdict(result, id) == "refuted");
  // 303 turned into GET but the body came along; the small Expect waited but
  // the large body was sent whole before its 413: both refuted too.
  result = grade(
      "redirect-303\t5\t200\t5\t{\"method\":\"GET\",\"body_bytes\":5}\n"
      "expect\t5\t200\t5\t{\"method\":\"POST\",\"body_bytes\":5,\"body_bytes_before_continue\":0}\n"
      "expect-large\t2000000\t413\t2000000\tno\n");
  CHECK(verdict(result, "redirect-303-becomes-get") == "refuted");
  CHECK(verdict(result, "expect-100-continue") == "refuted");
  // A malformed line is a runtime failure with its cause, not a verdict.
  std::ofstream(dir.file("bad.tsv")) << "redirect-303\tfive\t200\t5\t{}\n";
  const auto bad = run({bin("netlab-http-client"), "--curl-observed", dir.file("bad.tsv")}, 30s);
  CHECK(bad.exit_code == 1);
}

TEST_CASE(
    "a gateway forwards with Via, answers 502 for garbage or a refused upstream, 504 for a slow one, 503 at its limit",
    "[status][gateway]") {
  Server upstream("netlab-http-server", {});
  Server gateway("netlab-http-server", {"--upstream", "127.0.0.1:" + upstream.port_text(), "--upstream-timeout", "200",
                                        "--max-connections", "2"});
  // Connection: close, so that the gateway's session (and its slot) has ended when the answer is read.
  const auto ask = [](std::uint16_t port, const std::string& target) {
    Connection connection(port, no_delay);
    REQUIRE(connection.send("GET " + target + " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    return read_response(connection);
  };
  const auto upstream_saw = [&](const char* key) {
    return number(json::parse(ask(upstream.port(), "/seen").body).at(key));
  };
  // Forwarded without the prefix: the upstream's /headers shows the Via the gateway added; the answer has it too.
  const auto forwarded = ask(gateway.port(), "/via-upstream/headers");
  INFO(forwarded.status_line << " " << forwarded.body);
  REQUIRE(forwarded.status == 200);
  CHECK(forwarded.header("via") == "1.1 netlab");
  CHECK(json::parse(forwarded.body).at("headers").at("Via") == "1.1 netlab");
  // Bytes that are not HTTP, and an answer too late: the upstream saw each request.
  CHECK(ask(gateway.port(), "/via-upstream/garbage").status == 502);
  CHECK(upstream_saw("garbage") == 1);
  CHECK(ask(gateway.port(), "/via-upstream/slow?ms=400").status == 504);
  CHECK(upstream_saw("slow") == 1);
  // The upstream gone: nothing listens on its port, the gateway answers 502 and keeps serving.
  CHECK(upstream.stop() == 0);
  const auto down = ask(gateway.port(), "/via-upstream/");
  CHECK(down.status == 502);
  CHECK(down.body.find("connection refused") != std::string::npos);
  // Two connections served and held open (--max-connections 2): the third gets 503 with Retry-After.
  Connection first(gateway.port(), no_delay), second(gateway.port(), no_delay);
  for (auto* held : {&first, &second}) {
    REQUIRE(held->send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    CHECK(read_response(*held).status == 200);
  }
  Connection third(gateway.port(), no_delay);
  const auto refused = parse_head(third.receive_all());
  CHECK(refused.status == 503);
  CHECK(refused.header("retry-after") == "1");
  REQUIRE(first.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  CHECK(read_response(first).status == 200);
  CHECK(gateway.stop() == 0);
}

TEST_CASE("the client grades the gateway's codes from curl-gateway.tsv, both ways", "[status][gateway][client]") {
  TempDir dir;
  const auto grade = [&](const std::string& rows) {
    std::ofstream(dir.file("gateway.tsv")) << "#gateway\tupstream_timeout_ms\t300\tmax_connections\t2\n" << rows;
    return run_client_json("netlab-http-client", 1, {"--curl-observed", dir.file("gateway.tsv")});
  };
  const char* ids[] = {"gateway-502-upstream-down", "gateway-502-garbage", "gateway-504-slow",
                       "gateway-503-retry-after"};
  auto result = grade(
      "down\t502\t-\t0.002\t7\t127.0.0.1:9\ngarbage\t502\t-\t0.004\t1\t/via-upstream/garbage\n"
      "slow\t504\t-\t0.301\t1\tms=1000\nlimit\t503\t1\t0.001\t2\t2 held\n");
  for (const char* id : ids) CHECK(verdict(result, id) == "confirmed");
  // The codes right, the conditions not: the upstream listening, garbage never arriving, a 504 sooner than the
  // timeout, a held connection not served afterwards.
  result = grade(
      "down\t502\t-\t0.002\t0\t127.0.0.1:9\ngarbage\t502\t-\t0.004\t0\t/via-upstream/garbage\n"
      "slow\t504\t-\t0.101\t1\tms=1000\nlimit\t503\t1\t0.001\t1\t2 held\n");
  for (const char* id : ids) CHECK(verdict(result, id) == "refuted");
  result = grade("limit\t503\t-\t0.001\t2\t2 held\n");
  CHECK(verdict(result, "gateway-503-retry-after") == "refuted");
  CHECK(verdict(result, "gateway-504-slow") == "skipped");
}
