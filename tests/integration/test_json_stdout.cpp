// `--json -` prints only JSON on stdout, for every program of the lab (the
// program contract, common/program/server.hpp and client.hpp): each server is
// started with `--json -`, its own client is run against it with `--json -`
// and small counts, then the server is stopped with SIGTERM; the whole of each
// one's stdout must be one JSON document (no summary line before or after it),
// the result of that program's role. One test case per lab, so that ctest
// names the lab whose program broke the contract; each failure names the
// program and shows what it wrote.
// And the failing paths: a client whose run fails (an exception: exit 1)
// writes nothing on stdout and one line "netlab-<lab>-client: <cause>" on
// stderr; a usage error (exit 2) writes nothing on stdout either.
#include "lab.hpp"
#include "process.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

using namespace netlab::test;

namespace {

std::vector<std::string> joined(std::vector<std::string> first, const std::vector<std::string>& second) {
  first.insert(first.end(), second.begin(), second.end());
  return first;
}

// The whole of `out` parsed as one JSON document: the result of `program` in
// `role`. Fails, naming the program and showing its stdout, when it is not.
boost::json::object only_json(const std::string& program, const std::string& out, std::string_view role) {
  INFO(program << " --json - wrote on stdout (" << out.size() << " bytes):\n" << out.substr(0, 2000));
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(out, ec);
  if (ec) FAIL(program << ": stdout is not one JSON document (" << ec.message() << ")");
  if (!value.is_object()) FAIL(program << ": stdout is JSON, but not a result object");
  const auto& result = value.as_object();
  CHECK(result.contains("lab"));
  CHECK(result.contains("params"));
  CHECK(result.contains("observed"));
  CHECK(result.contains("checks"));
  if (const auto* r = result.if_contains("role"))
    CHECK(text(*r) == role);
  else
    FAIL(program << ": its result has no \"role\"");
  return result;
}

// `client --port <port> --json - --log-level <level> <args>`, to its end.
RunResult run_client(const std::string& client, std::uint16_t port, const std::vector<std::string>& args,
                     const std::string& log_level = "warn") {
  return run(joined({bin(client), "--port", std::to_string(port), "--json", "-", "--log-level", log_level}, args),
             120s);
}

// The server with `--json -`, its client against it, the server stopped:
// both stdouts hold only their JSON.
void expect_only_json(const std::string& server_program, const std::vector<std::string>& server_args,
                      const std::string& client_program, const std::vector<std::string>& client_args,
                      std::string_view server_role = "server") {
  Server server(server_program, joined(server_args, {"--json", "-", "--log-level", "warn"}));
  const auto client = run_client(client_program, server.port(), client_args);
  {
    INFO(client_program << " exited " << client.exit_code << "; stderr:\n" << client.err);
    CHECK(client.exit_code == 0);
    only_json(client_program, client.out, "client");
  }
  const int server_exit = server.stop();
  INFO(server_program << " exited " << server_exit << "; stderr:\n" << server.log());
  CHECK(server_exit == 0);
  only_json(server_program, server.out(), server_role);
}

}  // namespace

TEST_CASE("framing: --json - prints only JSON", "[json-stdout]") {
  for (const std::string codec : {"raw", "delimiter", "length"}) {
    INFO("--codec " << codec);
    expect_only_json("netlab-framing-server", {"--codec", codec}, "netlab-framing-client",
                     {"--codec", codec, "--messages", "20", "--max-size", "200"});
  }
  expect_only_json("netlab-framing-server", {"--codec", "length", "--one-way"}, "netlab-framing-client",
                   {"--codec", "length", "--one-way", "--messages", "20", "--max-size", "200"});
}

TEST_CASE("timewait: --json - prints only JSON", "[json-stdout]") {
  expect_only_json("netlab-timewait-server", {}, "netlab-timewait-client",
                   {"--mode", "short", "--requests", "5", "--concurrency", "1"});
}

TEST_CASE("closewait: --json - prints only JSON", "[json-stdout]") {
  expect_only_json("netlab-closewait-server", {"--fixed"}, "netlab-closewait-client",
                   {"--connections", "2", "--observe-ms", "0"});
}

TEST_CASE("teardown: --json - prints only JSON", "[json-stdout]") {
  expect_only_json("netlab-teardown-server", {}, "netlab-teardown-client", {"--mode", "normal", "--pause-ms", "0"});
}

TEST_CASE("handshake: --json - prints only JSON", "[json-stdout]") {
  expect_only_json("netlab-handshake-server", {"--backlog", "1024"}, "netlab-handshake-client",
                   {"--connections", "2", "--hold-ms", "0"});
}

TEST_CASE("http: --json - prints only JSON", "[json-stdout]") {
  expect_only_json("netlab-http-server", {}, "netlab-http-client", {"--keepalive", "--requests", "3"});
}

TEST_CASE("rpc: --json - prints only JSON", "[json-stdout]") {
  expect_only_json("netlab-rpc-server", {}, "netlab-rpc-client", {"--calls", "5", "--pipeline", "1"});
}

TEST_CASE("transport: --json - prints only JSON", "[json-stdout]") {
  for (const std::string proto : {"tcp", "udp"}) {
    INFO("--proto " << proto);
    expect_only_json("netlab-transport-server", {"--proto", proto}, "netlab-transport-client",
                     {"--proto", proto, "--messages", "50", "--size", "100"});
  }
}

TEST_CASE("relay: --json - prints only JSON", "[json-stdout]") {
  Server server("netlab-transport-server", {"--proto", "udp", "--log-level", "warn"});
  expect_only_json("netlab-relay", {"--server-port", server.port_text()}, "netlab-transport-client",
                   {"--proto", "udp", "--relay", "--messages", "50", "--size", "100"}, "relay");
  CHECK(server.stop() == 0);
}

TEST_CASE("https: --json - prints only JSON", "[json-stdout]") {
  const TempDir dir;
  const std::string certs = dir.file("certs");
  expect_only_json("netlab-https-server", {"--cert-dir", certs}, "netlab-https-client", {"--cert-dir", certs});
}

TEST_CASE("a client run that fails writes nothing on stdout with --json -, and one line on stderr", "[json-stdout]") {
  // The framing client --one-way against a server that echoes (no --one-way):
  // the reply is not a tally, the run throws, exit 1; the experiment did not
  // finish, so there is no result to write (client.hpp: "the result is still
  // written when the experiment finished").
  Server server("netlab-framing-server", {"--codec", "length", "--log-level", "warn"});
  const auto client = run_client("netlab-framing-client", server.port(),
                                 {"--codec", "length", "--one-way", "--messages", "20", "--max-size", "200"}, "off");
  INFO("stdout:\n" << client.out << "\nstderr:\n" << client.err);
  CHECK(client.exit_code == 1);
  CHECK(client.out.empty());
  // One line naming the program and the cause (the log is off).
  CHECK(client.err.find("netlab-framing-client: ") != std::string::npos);
  CHECK(client.err.find("--one-way") != std::string::npos);
  CHECK(std::count(client.err.begin(), client.err.end(), '\n') == 1);
  CHECK(server.stop() == 0);
}

TEST_CASE("a usage error writes nothing on stdout with --json -", "[json-stdout]") {
  for (const std::string program :
       {"netlab-framing-client", "netlab-timewait-client", "netlab-closewait-client", "netlab-teardown-client",
        "netlab-handshake-client", "netlab-http-client", "netlab-rpc-client", "netlab-transport-client",
        "netlab-https-client", "netlab-framing-server", "netlab-timewait-server", "netlab-closewait-server",
        "netlab-teardown-server", "netlab-handshake-server", "netlab-http-server", "netlab-rpc-server",
        "netlab-transport-server", "netlab-https-server", "netlab-relay"}) {
    const auto result = run({bin(program), "--json", "-", "--port", "70000"}, 30s);
    INFO(program << " exited " << result.exit_code << "; stdout:\n" << result.out << "\nstderr:\n" << result.err);
    CHECK(result.exit_code == 2);
    CHECK(result.out.empty());
    CHECK(result.err.find(program + ": ") != std::string::npos);
  }
}
