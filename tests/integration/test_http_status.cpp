// The http lab's status classes on real sockets: the real server on an
// ephemeral port, asked with hand-written requests over a plain socket (no
// Beast on this side): redirects to /method and what arrives there, a route
// that fails (500), the Host rule, Content-Length with Transfer-Encoding
// (refused), chunked bodies, Expect: 100-continue; caching (/etag: 304),
// ranges (/range: 206, 416) and gzip (inflated here with zlib); and the client
// grading what curl met (--curl-observed), both ways.
#include "http_rpc_support.hpp"
#include "lab.hpp"
#include "process.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <zlib.h>

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

// One request with Host on a keep-alive connection, its response read whole.
HttpResponse ask_on(Connection& connection, const std::string& method, const std::string& target,
                    const std::string& headers) {
  REQUIRE(connection.send(request(method, target, "Host: h\r\n" + headers)));
  return read_response(connection);
}

// netlab-http-client --curl-observed on `rows` (written to a file in `dir`): its result.
json::object grade_curl_rows(const TempDir& dir, const std::string& rows) {
  std::ofstream(dir.file("curl.tsv")) << rows;
  return run_client_json("netlab-http-client", 1, {"--curl-observed", dir.file("curl.tsv")});
}

// A gzip body inflated with zlib, independently of the server's deflate (at most 1 MiB).
std::string gunzip(const std::string& gzipped) {
  z_stream stream{};
  REQUIRE(inflateInit2(&stream, 15 + 16) == Z_OK);
  std::string out(1 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gzipped.data()));
  stream.avail_in = static_cast<uInt>(gzipped.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = inflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  CHECK(status == Z_STREAM_END);
  return out;
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
  const auto grade = [&](const std::string& rows) { return grade_curl_rows(dir, rows); };
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

TEST_CASE("/etag: 304 without a body for a matching If-None-Match or If-Modified-Since, 200 with it otherwise",
          "[cache]") {
  Server server("netlab-http-server", {});
  Connection connection(server.port(), no_delay);
  const auto ask = [&](const std::string& method, const std::string& headers) {
    return ask_on(connection, method, "/etag", headers);
  };
  const auto full = ask("GET", "");
  REQUIRE(full.status == 200);
  CHECK(full.body.size() > 2000);
  CHECK(full.header("cache-control") == "max-age=60");
  CHECK(!full.has("content-encoding"));
  const std::string etag = full.header("etag"), modified = full.header("last-modified");
  REQUIRE(etag.size() > 2);
  CHECK(etag.front() == '"');  // strong: no W/
  for (const std::string& matching : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    INFO("If-None-Match: " << matching);
    const auto res = ask("GET", "If-None-Match: " + matching + "\r\n");
    CHECK(res.status == 304);
    CHECK(res.body.empty());
    CHECK(!res.has("content-length"));  // 0 would say the resource is empty (RFC 9110 §8.6)
    CHECK(res.header("etag") == etag);
    CHECK(res.header("cache-control") == "max-age=60");
    CHECK(res.header("last-modified") == modified);
  }
  CHECK(ask("GET", "If-None-Match: \"other\"\r\n").body == full.body);
  CHECK(ask("GET", "If-Modified-Since: " + modified + "\r\n").status == 304);
  CHECK(ask("GET", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n").status == 200);
  CHECK(ask("GET", "If-Modified-Since: yesterday\r\n").status == 200);  // not an HTTP-date: ignored
  // If-None-Match decides when both are there (RFC 9110 §13.1.3).
  CHECK(ask("GET", "If-None-Match: \"other\"\r\nIf-Modified-Since: " + modified + "\r\n").status == 200);
  // HEAD: the 200's header with its Content-Length, and no body: the next answer follows at once.
  REQUIRE(connection.send(request("HEAD", "/etag", "Host: h\r\n")));
  const auto head = parse_head(connection.receive_until("\r\n\r\n"));
  CHECK(head.header("content-length") == std::to_string(full.body.size()));
  CHECK(ask("HEAD", "If-None-Match: " + etag + "\r\n").status == 304);
  CHECK(ask("POST", "").status == 405);
  CHECK(server.stop() == 0);
}

TEST_CASE("/range: one range gets 206 with those bytes, past the end 416, a malformed Range the whole 200",
          "[cache][bad-input]") {
  Server server("netlab-http-server", {});
  Connection connection(server.port(), no_delay);
  const auto ask = [&](const std::string& range) {
    return ask_on(connection, "GET", "/range", range.empty() ? "" : "Range: " + range + "\r\n");
  };
  const auto whole = ask("");
  REQUIRE(whole.status == 200);
  REQUIRE(whole.body.size() == 10000);
  CHECK(whole.header("accept-ranges") == "bytes");
  const struct {
    std::string range, content_range;
    std::size_t first, size;
  } slices[] = {{"bytes=0-99", "bytes 0-99/10000", 0, 100},
                {"bytes=9990-", "bytes 9990-9999/10000", 9990, 10},
                {"bytes=-5", "bytes 9995-9999/10000", 9995, 5},
                {"bytes=9000-123456789012345678901234567890", "bytes 9000-9999/10000", 9000, 1000}};
  for (const auto& slice : slices) {
    INFO("Range: " << slice.range);
    const auto res = ask(slice.range);
    CHECK(res.status == 206);
    CHECK(res.header("content-range") == slice.content_range);
    CHECK(res.body == whole.body.substr(slice.first, slice.size));
  }
  for (const std::string past : {"bytes=10000-", "bytes=-0", "bytes=123456789012345678901234567890-"}) {
    INFO("Range: " << past);
    const auto res = ask(past);
    CHECK(res.status == 416);
    CHECK(res.header("content-range") == "bytes */10000");
  }
  // Not a range this server serves: ignored, the whole body (RFC 9110 §14.2).
  for (const std::string ignored : {"bytes=5-2", "bytes=abc", "items=0-5", "bytes=0-1,5-6", "bytes=--", "bytes="}) {
    INFO("Range: " << ignored);
    const auto res = ask(ignored);
    CHECK(res.status == 200);
    CHECK(res.body == whole.body);
  }
  CHECK(server.stop() == 0);
}

TEST_CASE("gzip: sent when Accept-Encoding takes it, inflating to the plain body, never on 206 or 304", "[cache]") {
  Server server("netlab-http-server", {});
  Connection connection(server.port(), no_delay);
  const auto ask = [&](const std::string& target, const std::string& headers) {
    return ask_on(connection, "GET", target, headers);
  };
  for (const std::string target : {"/etag", "/range"}) {
    INFO(target);
    const auto plain = ask(target, "");
    CHECK(!plain.has("content-encoding"));
    CHECK(plain.header("vary") == "Accept-Encoding");
    for (const std::string accepted : {"gzip", "deflate, gzip, br, zstd", "gzip;q=0.5", "*"}) {
      INFO("Accept-Encoding: " << accepted);
      const auto gzipped = ask(target, "Accept-Encoding: " + accepted + "\r\n");
      CHECK(gzipped.header("content-encoding") == "gzip");
      CHECK(gzipped.header("vary") == "Accept-Encoding");
      CHECK(gzipped.body.size() < plain.body.size());
      CHECK(gunzip(gzipped.body) == plain.body);
    }
    for (const std::string refused : {"gzip;q=0", "identity", "br, *;q=0", "gzip;q=0.000, *"}) {
      INFO("Accept-Encoding: " << refused);
      const auto res = ask(target, "Accept-Encoding: " + refused + "\r\n");
      CHECK(!res.has("content-encoding"));
      CHECK(res.body == plain.body);
    }
  }
  // A range counts the identity body's bytes; a 304 has no body to encode.
  const auto slice = ask("/range", "Accept-Encoding: gzip\r\nRange: bytes=0-9\r\n");
  CHECK(slice.status == 206);
  CHECK(!slice.has("content-encoding"));
  CHECK(slice.body == "000000000\n");
  const auto gzipped = ask("/etag", "Accept-Encoding: gzip\r\n");
  CHECK(gzipped.header("etag") != ask("/etag", "").header("etag"));  // another representation, another ETag
  const auto not_modified = ask("/etag", "Accept-Encoding: gzip\r\nIf-None-Match: " + gzipped.header("etag") + "\r\n");
  CHECK(not_modified.status == 304);
  CHECK(!not_modified.has("content-encoding"));
  CHECK(server.stop() == 0);
}

TEST_CASE("the client grades curl's caching rows (curl-cache.tsv) from curl's figures, both ways", "[cache][client]") {
  TempDir dir;
  const auto grade = [&](const std::string& rows) { return grade_curl_rows(dir, rows); };
  // name, code, size_download, size_header, Content-Range, Content-Encoding, SHA-256 of the body.
  const std::string as_measured =
      "etag\t200\t5568\t316\t\t\taaaa\netag-if-none-match\t304\t0\t263\t\t\te3b0\n"
      "etag-if-modified-since\t304\t0\t263\t\t\te3b0\n"
      "range-full\t200\t10000\t243\t\t\tbbbb\nrange-0-99\t206\t100\t287\tbytes 0-99/10000\t\tcccc\n"
      "range-past-end\t416\t53\t267\tbytes */10000\t\tdddd\n"
      "gzip-plain\t200\t5568\t316\t\t\taaaa\ngzip-compressed\t200\t271\t344\t\tgzip\taaaa\n";
  auto result = grade(as_measured);
  for (const char* id : {"etag-304-saves-bytes", "range-206", "gzip-smaller-on-wire"})
    CHECK(verdict(result, id) == "confirmed");
  CHECK(verdict(result, "redirect-303-becomes-get") == "no such check");  // a caching table grades caching only
  // The body sent again, the range ignored, gzip that decodes to other bytes: each refuted.
  result = grade(
      "etag\t200\t5568\t316\t\t\taaaa\netag-if-none-match\t200\t5568\t316\t\t\taaaa\n"
      "range-full\t200\t10000\t243\t\t\tbbbb\nrange-0-99\t200\t10000\t243\t\t\tbbbb\n"
      "range-past-end\t416\t53\t267\tbytes */10000\t\tdddd\n"
      "gzip-plain\t200\t5568\t316\t\t\taaaa\ngzip-compressed\t200\t271\t344\t\tgzip\teeee\n");
  for (const char* id : {"etag-304-saves-bytes", "range-206", "gzip-smaller-on-wire"})
    CHECK(verdict(result, id) == "refuted");
  // No gzip: as many bytes on the wire, and more header.
  result = grade("gzip-plain\t200\t5568\t316\t\t\taaaa\ngzip-compressed\t200\t5568\t320\t\t\taaaa\n");
  CHECK(verdict(result, "gzip-smaller-on-wire") == "refuted");
  CHECK(verdict(result, "range-206") == "skipped");
  std::ofstream(dir.file("bad.tsv")) << "etag\t200\tmany\t316\t\t\taaaa\n";
  CHECK(run({bin("netlab-http-client"), "--curl-observed", dir.file("bad.tsv")}, 30s).exit_code == 1);
}

TEST_CASE(
    "a gateway forwards with Via, answers 502 for garbage or a refused upstream, 504 for a slow one, 503 at its "
    "limit",
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
  for (const char* id : ids) CHECK(verdict(result, id) == "fact");  // our gateway's rule: printed, not graded
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
