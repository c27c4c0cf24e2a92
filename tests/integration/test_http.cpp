// The http lab on real sockets: the real server on an ephemeral port, asked by
// the real client, by hand-written requests over a plain socket, and by curl
// when it is installed. Every status code, the headers that go with it,
// keep-alive against Connection: close (counted), bad input and a slow client.
#include "http_rpc_support.hpp"
#include "lab.hpp"
#include "lifecycle_capture.hpp"
#include "process.hpp"

#include "kernel/census.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <iostream>

using namespace netlab::test;
namespace json = boost::json;

namespace {

// One request on a connection of its own (Connection: close), the whole response back.
HttpResponse ask(std::uint16_t port, const std::string& method, const std::string& target,
                 const std::string& extra_headers = "") {
  Connection connection(port, no_delay);
  REQUIRE(connection.send(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                          extra_headers + "\r\n"));
  return parse_head(connection.receive_all());
}

// "alice:wonderland" -> "Authorization: Basic YWxpY2U6d29uZGVybGFuZA==\r\n", written out
// by hand so the test does not share the server's base64 code.
const std::string alice = "Authorization: Basic YWxpY2U6d29uZGVybGFuZA==\r\n";
const std::string alice_wrong = "Authorization: Basic YWxpY2U6d3Jvbmc=\r\n";  // alice:wrong
const std::string admin = "Authorization: Basic YWRtaW46c2VjcmV0\r\n";        // admin:secret

void expect_standard_headers(const HttpResponse& res) {
  INFO(res.status_line);
  CHECK(res.has("date"));
  CHECK(res.header("date").size() == 29);  // "Sun, 06 Nov 1994 08:49:37 GMT"
  CHECK(res.header("server").rfind("netlab-http-server", 0) == 0);
  CHECK(res.has("content-type"));
  REQUIRE(res.has("content-length"));
  CHECK(std::stoul(res.header("content-length")) == res.body.size());
}

json::object run_client(const Server& server, const std::vector<std::string>& args) {
  return run_client_json("netlab-http-client", server.port(), args);
}

}  // namespace

TEST_CASE("every route answers with its code and headers", "[routes]") {
  Server server("netlab-http-server", {});
  const auto port = server.port();

  auto res = ask(port, "GET", "/");
  CHECK(res.status == 200);
  CHECK(res.header("content-type").rfind("text/html", 0) == 0);
  expect_standard_headers(res);

  res = ask(port, "GET", "/old");
  CHECK(res.status == 301);
  CHECK(res.header("location") == "/");
  expect_standard_headers(res);

  res = ask(port, "GET", "/missing");
  CHECK(res.status == 404);
  expect_standard_headers(res);
  CHECK(ask(port, "GET", "/no/such/thing?x=1").status == 404);

  res = ask(port, "POST", "/");
  CHECK(res.status == 405);
  CHECK(res.header("allow").find("GET") != std::string::npos);
  expect_standard_headers(res);

  for (const std::string target : {"/private", "/admin"}) {
    for (const std::string& credentials : {std::string(), alice_wrong, std::string("Authorization: Bearer x\r\n")}) {
      res = ask(port, "GET", target, credentials);
      INFO(target << " with " << credentials);
      CHECK(res.status == 401);
      CHECK(res.header("www-authenticate") == "Basic realm=\"netlab\"");
      expect_standard_headers(res);
    }
  }
  res = ask(port, "GET", "/private", alice);
  CHECK(res.status == 200);
  CHECK(res.body.find("alice") != std::string::npos);
  res = ask(port, "GET", "/admin", alice);
  CHECK(res.status == 403);
  CHECK_FALSE(res.has("www-authenticate"));  // asking again would not help
  expect_standard_headers(res);
  CHECK(ask(port, "GET", "/admin", admin).status == 200);

  res = ask(port, "GET", "/headers", "X-Probe: seen-by-server\r\n");
  CHECK(res.status == 200);
  CHECK(res.header("content-type") == "application/json");
  const auto echoed = json::parse(res.body).as_object();
  CHECK(echoed.at("headers").at("X-Probe") == "seen-by-server");
  CHECK(echoed.at("method") == "GET");

  // Connection: close was asked for: the response says so.
  CHECK(lower(res.header("connection")) == "close");
  CHECK(server.stop() == 0);
}

TEST_CASE("HEAD gets the headers and Content-Length without a body, also under --chunked", "[routes]") {
  std::string page_length;  // the plain server's Content-Length for GET /
  for (const auto& args : {std::vector<std::string>{}, std::vector<std::string>{"--chunked"}}) {
    INFO((args.empty() ? "plain" : "--chunked"));
    Server server("netlab-http-server", args);
    const auto get = ask(server.port(), "GET", "/");
    const auto head = ask(server.port(), "HEAD", "/");
    CHECK(head.status == 200);
    CHECK(head.body.empty());
    CHECK_FALSE(head.has("transfer-encoding"));
    CHECK(head.header("content-type") == get.header("content-type"));
    if (args.empty()) {
      page_length = get.header("content-length");
      CHECK(std::stoul(page_length) == get.body.size());
    }
    // Under --chunked GET / carries no Content-Length; HEAD still gives the page's length.
    CHECK(head.header("content-length") == page_length);
    CHECK(server.stop() == 0);
  }
}

TEST_CASE("chunked: the server run with --chunked serves / in chunks, without Content-Length", "[routes]") {
  Server server("netlab-http-server", {"--chunked"});
  const auto res = ask(server.port(), "GET", "/");
  CHECK(res.status == 200);
  CHECK(lower(res.header("transfer-encoding")) == "chunked");
  CHECK_FALSE(res.has("content-length"));
  // Decode the chunks by hand: "<hex size>\r\n<bytes>\r\n" ... "0\r\n\r\n".
  std::string body;
  std::size_t at = 0, chunks = 0;
  for (; chunks < 100; ++chunks) {
    const auto line_end = res.body.find("\r\n", at);
    REQUIRE(line_end != std::string::npos);
    const std::size_t size = std::stoul(res.body.substr(at, line_end - at), nullptr, 16);
    at = line_end + 2;
    if (size == 0) break;
    body += res.body.substr(at, size);
    at += size + 2;
  }
  CHECK(chunks > 1);
  CHECK(body.rfind("<!doctype html>", 0) == 0);
  CHECK(body.size() > 50);
  CHECK(body.back() == '\n');
  CHECK(server.stop() == 0);
}

TEST_CASE("keep-alive: many requests, one connection, answered in order", "[keepalive]") {
  Server server("netlab-http-server", {});
  Connection connection(server.port(), no_delay);
  for (int i = 1; i <= 5; ++i) {
    REQUIRE(connection.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const auto res = read_response(connection);
    CHECK(res.status == 200);
    CHECK(res.header("x-netlab-connection") == "1");
    CHECK(res.header("x-netlab-request") == std::to_string(i));
  }
  // Two requests in one write (pipelining): two responses, in order.
  REQUIRE(connection.send("GET /missing HTTP/1.1\r\nHost: x\r\n\r\nGET /old HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(read_response(connection).status == 404);
  CHECK(read_response(connection).status == 301);
  CHECK(server.stop() == 0);
}

TEST_CASE("the client's tour: every route answers with the code it was built to give", "[client]") {
  Server server("netlab-http-server", {});
  const auto result = run_client(server, {"--tour"});
  const auto& tour = result.at("observed").at("tour").as_array();
  REQUIRE(tour.size() == 12);
  for (const auto& step : tour) {
    INFO(json::serialize(step));
    CHECK(step.at("status") == step.at("expected"));
  }
  // The routes are the lab's own: the tour shows them, the server grades clients (below).
  CHECK_FALSE(has_check(result, "status-codes"));
  // The tour is one keep-alive connection (the malformed request gets its own).
  CHECK(number(result.at("observed").at("tour_connections")) == 1);
  CHECK(server.stop() == 0);
}

TEST_CASE("auth flow: curl --anyauth and the client send credentials only after a 401 and do not retry a 403",
          "[client][curl]") {
  TempDir dir;
  Server server("netlab-http-server", {"--auth-flow-checks", "--json", dir.file("server.json")});
  const auto client = run_client(server, {"--auth-flow"});
  // The client's own record: /private and /admin asked twice (challenge, then credentials), /old followed.
  CHECK(client.at("observed").at("auth_flow").as_array().size() == 6);
  std::size_t askers = 1;
  if (const auto curl = on_path("curl"); !curl.empty()) {
    const std::string url = "http://127.0.0.1:" + server.port_text();
    using Args = std::vector<std::string>;
    for (const Args& args : {Args{"--anyauth", "-u", "alice:wonderland", url + "/private"},
                             Args{"--anyauth", "-u", "alice:wonderland", url + "/admin"}, Args{"-L", url + "/old"}}) {
      std::vector<std::string> argv{curl, "-s", "-o", "/dev/null", "--max-time", "10"};
      argv.insert(argv.end(), args.begin(), args.end());
      CHECK(run(argv, 30s).exit_code == 0);
    }
    ++askers;
  }
  REQUIRE(server.stop() == 0);
  const auto result = read_json(dir.file("server.json")).as_object();
  INFO(json::serialize(result.at("observed").at("connections_seen")));
  // What the server counted per route: each asker once without and once with credentials.
  const auto& routes = result.at("observed").at("requests_by_route").as_object();
  for (const char* route : {"/private", "/admin"}) {
    CHECK(number(routes.at(route).at("without_credentials")) == askers);
    CHECK(number(routes.at(route).at("with_credentials")) == askers);
  }
  CHECK(number(routes.at("/old").at("without_credentials")) == askers);
  for (const char* id : {"401-unauthenticated", "403-forbidden", "status-codes"}) {
    INFO(id << ": " << json::serialize(check(result, id)));
    CHECK(check(result, id).at("verdict") == "confirmed");
  }
}

TEST_CASE("auth flow: credentials sent before any challenge, or a 403 retried, are refuted by the server", "[client]") {
  TempDir dir;
  Server server("netlab-http-server", {"--auth-flow-checks", "--json", dir.file("server.json")});
  // Credentials sent unasked, then the same credentials again after the 403, on one connection.
  Connection connection(server.port(), no_delay);
  const std::string ask_admin = "GET /admin HTTP/1.1\r\nHost: x\r\n" + alice + "\r\n";
  REQUIRE(connection.send(ask_admin + ask_admin));
  CHECK(read_response(connection).status == 403);
  CHECK(read_response(connection).status == 403);
  connection.close();
  REQUIRE(server.stop() == 0);
  const auto result = read_json(dir.file("server.json")).as_object();
  CHECK(check(result, "401-unauthenticated").at("verdict") == "refuted");
  CHECK(check(result, "403-forbidden").at("verdict") == "refuted");
  CHECK(check(result, "status-codes").at("verdict") == "skipped");
}

TEST_CASE("keep-alive uses one connection, close one per request and leaves server TIME_WAIT", "[keepalive]") {
  TempDir dir;
  Server server("netlab-http-server", {"--json", dir.file("server.json")});
  const auto result = run_client(server, {"--keepalive", "--close", "--requests", "40"});
  const auto& ka = result.at("observed").at("keepalive").as_object();
  const auto& cl = result.at("observed").at("close").as_object();
  CHECK(number(ka.at("requests")) == 40);
  CHECK(number(ka.at("connections")) == 1);
  CHECK(number(ka.at("server_connection_ids")) == 1);
  CHECK(number(cl.at("requests")) == 40);
  CHECK(number(cl.at("connections")) == 40);
  CHECK(number(cl.at("server_connection_ids")) == 40);
  CHECK(check(result, "keepalive-reuses-connection").at("verdict") == "confirmed");
  // With Connection: close the server closes first: the TIME_WAIT is on its side.
  CHECK(number(cl.at("time_wait_client_side")) == 0);
  CHECK(number(cl.at("time_wait_server_side")) == 40);
  // Keep-alive: the client closed its one connection first; the TIME_WAIT is the client's.
  CHECK(number(ka.at("time_wait_server_side")) == 0);
  CHECK(number(ka.at("time_wait_client_side")) == 1);
  CHECK(check(result, "close-leaves-server-time-wait").at("verdict") == "confirmed");
  // Our own census agrees: at least the 40 server-side TIME_WAITs are there (TIME_WAIT lasts 60 s).
  const auto counts = netlab::count_tcp_states({.local_port = server.port()});
  CHECK(counts.of(netlab::TcpState::time_wait) >= 40);
  // The rate verdict, against the test's own timing: the capture test below.
  const auto served = stop_and_read(server, dir.file("server.json"));
  CHECK(number(served.at("connections")) == 41);
  CHECK(number(served.at("requests")) == 80);
}

TEST_CASE("capture: the keep-alive rate verdict follows the phases' durations on the wire", "[root][capture]") {
  require_capture();
  Server server("netlab-http-server", {});
  Capture capture(server.port());
  const auto result = run_client(server, {"--keepalive", "--close", "--requests", "200"});
  const auto flows = capture.stop();
  capture.require_complete();
  // The keep-alive phase is one connection carrying all 200 requests, the
  // close phase 200 connections of one request each.
  REQUIRE(flows.size() == 201);
  const auto most = std::max_element(flows.begin(), flows.end(), [](const netlab::Flow& a, const netlab::Flow& b) {
    return a.packets.size() < b.packets.size();
  });
  double close_first = 1e300, close_last = 0;
  for (auto f = flows.begin(); f != flows.end(); ++f) {
    if (f == most) continue;
    close_first = std::min(close_first, f->packets.front().time);
    close_last = std::max(close_last, f->packets.back().time);
  }
  // requests/s keep-alive over close, for the same 200 requests: the ratio of the phases' durations.
  // After its timed requests the client looks at TCP keep-alive on the idle connection (not timed,
  // up to 0.5 s): the keep-alive phase on the wire runs from its first payload byte to its last.
  const double wire_ratio = (close_last - close_first) / seconds_of_data(*most);
  const double client_ratio = result.at("observed").at("keepalive_rate_ratio").as_double();
  expect_verdict_follows_wire(result, "keepalive-faster", wire_ratio, client_ratio, 1.2, 0.8);
  CHECK(server.stop() == 0);
}

TEST_CASE("curl gets the same codes and headers", "[curl]") {
  require_tool("curl", "scripts/setup.sh installs it");
  Server server("netlab-http-server", {});
  const std::string url = "http://127.0.0.1:" + server.port_text();
  const auto curl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"/bin/sh", "-c", "exec curl -s -i --max-time 10 \"$@\"", "curl"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto result = run(argv, 30s);
    REQUIRE(result.exit_code == 0);
    return parse_head(result.out);
  };
  CHECK(curl({url + "/"}).status == 200);
  const auto moved = curl({url + "/old"});
  CHECK(moved.status == 301);
  CHECK(moved.header("location") == "/");
  // -L follows Location: one redirect, then 200.
  const auto followed = run(
      {"/bin/sh", "-c", "exec curl -s -L -o /dev/null -w '%{http_code} %{num_redirects}' \"$0\"", url + "/old"}, 30s);
  CHECK(followed.out == "200 1");
  CHECK(curl({url + "/missing"}).status == 404);
  const auto post = curl({"-X", "POST", url + "/"});
  CHECK(post.status == 405);
  CHECK(post.header("allow").find("GET") != std::string::npos);
  const auto challenge = curl({url + "/private"});
  CHECK(challenge.status == 401);
  CHECK(challenge.header("www-authenticate") == "Basic realm=\"netlab\"");
  CHECK(curl({"-u", "alice:wrong", url + "/private"}).status == 401);
  CHECK(curl({"-u", "alice:wonderland", url + "/private"}).status == 200);
  CHECK(curl({"-u", "alice:wonderland", url + "/admin"}).status == 403);
  CHECK(curl({"-u", "admin:secret", url + "/admin"}).status == 200);
  const auto head = curl({"-I", url + "/"});
  CHECK(head.status == 200);
  CHECK(head.has("content-length"));
  CHECK(server.stop() == 0);
}

TEST_CASE("bad requests get 400/431/413 and a closed connection, and others are still served", "[bad-input]") {
  TempDir dir;
  Server server("netlab-http-server",
                {"--max-body-bytes", "100", "--max-header-bytes", "1024", "--json", dir.file("server.json")});
  Connection bystander(server.port(), no_delay);  // opened before, used after every bad peer
  unsigned expected = 0;
  std::string bytes;
  SECTION("no version, no colon") {
    bytes = "GET /\r\nHost localhost\r\n\r\n";
    expected = 400;
  }
  SECTION("binary garbage") {
    bytes = std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + "\r\n\r\n";
    expected = 400;
  }
  SECTION("a header over --max-header-bytes") {
    bytes = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n";
    expected = 431;
  }
  SECTION("a body over --max-body-bytes") {
    bytes = "POST /headers HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'b');
    expected = 413;
  }
  {
    Connection bad(server.port(), no_delay);
    bad.send(bytes);
    const auto res = parse_head(bad.receive_all());  // receive_all returns at the server's close
    CHECK(res.status == expected);
    CHECK(lower(res.header("connection")) == "close");
  }
  REQUIRE(bystander.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(read_response(bystander).status == 200);
  CHECK(ask(server.port(), "GET", "/").status == 200);
  CHECK(number(stop_and_read(server, dir.file("server.json")).at("parse_errors")) == 1);
  CHECK(server.log().find("bad request") != std::string::npos);
}

TEST_CASE("a client sending its headers one byte at a time is cut off by the idle timeout", "[slow-client]") {
  TempDir dir;
  Server server("netlab-http-server", {"--idle-timeout", "0.3", "--json", dir.file("server.json")});
  Connection slow(server.port(), no_delay);
  // A header that never ends; one byte, then up to 100 ms for the server to hang up.
  const std::string trickle = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(400, 's');
  bool cut_off = false;
  std::size_t sent = 0;
  for (; sent < trickle.size() && !cut_off; ++sent) {
    if (!slow.send(trickle.substr(sent, 1)))
      cut_off = true;
    else
      cut_off = slow.closed_within(100);
  }
  CHECK(cut_off);
  CHECK(sent < trickle.size());
  // No response was sent to the slow client, and the server goes on serving others.
  CHECK(ask(server.port(), "GET", "/").status == 200);
  CHECK(number(stop_and_read(server, dir.file("server.json")).at("idle_timeouts")) == 1);
  CHECK(server.log().find("idle timeout") != std::string::npos);
}

TEST_CASE("http: no server, port in use and usage errors", "[errors]") {
  expect_clear_start_failures("http");
  expect_usage_errors("netlab-http-server", {{"--user", "nopassword"}, {"--idle-timeout", "0"}});
  expect_usage_errors("netlab-http-client", {{"--requests", "0"}, {"--reader", "nocolon"}});
}

TEST_CASE("http: SIGTERM closes idle keep-alive connections and the server exits 0", "[lifecycle]") {
  Server server("netlab-http-server", {});
  Connection idle(server.port(), no_delay);
  REQUIRE(idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(read_response(idle).status == 200);
  CHECK(server.stop() == 0);
  CHECK(idle.closed_by_peer());
  CHECK(server.out().find("stopped by SIGTERM") != std::string::npos);
}
