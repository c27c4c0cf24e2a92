// The closewait lab on real sockets: the real server (--bug / --fixed) and
// client on ephemeral ports; the client's JSON is checked against a census
// taken from here and against the server's /proc/<pid>/fd.
#include "lab.hpp"
#include "loopback.hpp"
#include "process.hpp"

#include "kernel/census.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace netlab::test;
namespace json = boost::json;

namespace {

json::object run_client(const Server& server, const std::vector<std::string>& args) {
  return run_client_json("netlab-closewait-client", server.port(), args);
}

// CLOSE_WAIT sockets on the server's port (its side of every connection).
std::size_t close_wait_on(std::uint16_t port) {
  return netlab::count_tcp_states({.local_port = port}).of(netlab::TcpState::close_wait);
}

// Polls the census (bounded: 5 s) until `count` CLOSE_WAIT sockets remain on the port.
bool close_wait_becomes(std::uint16_t port, std::size_t count) {
  return eventually([&] { return close_wait_on(port) == count; });
}

}  // namespace

TEST_CASE("bug mode: every closed client leaves a CLOSE_WAIT socket and a descriptor", "[pair]") {
  TempDir dir;
  Server server("netlab-closewait-server", {"--bug", "--json", dir.file("server.json")});
  const std::size_t fds_idle = open_fds(server.pid());
  const auto result = run_client(server, {"--connections", "4", "--observe-ms", "200"});
  const auto& observed = result.at("observed").as_object();
  CHECK(observed.at("server_mode") == "bug");
  CHECK(number(observed.at("server_close_wait")) == 4);
  CHECK(number(observed.at("server_close_wait_after_observe")) == 4);
  CHECK(number(observed.at("server_close_wait_send_queue_bytes")) == 0);
  CHECK(observed.at("server_fd_growth").to_number<long>() == 4);
  // Our side waits for the FIN that never comes (until tcp_fin_timeout).
  CHECK(number(observed.at("client_fin_wait_2")) == 4);
  CHECK(check(result, "close-wait-means-not-closed").at("verdict") == "confirmed");
  // Without --half-close-json only the idle CLOSE_WAIT is measured: refuted.
  CHECK(check(result, "close-wait-is-not-sending").at("verdict") == "refuted");
  // Seen from here too: the census and the server's descriptor table.
  CHECK(close_wait_on(server.port()) == 4);
  CHECK(open_fds(server.pid()) == fds_idle + 4);
  // Only close() ends CLOSE_WAIT: the server's stop closes them all.
  CHECK(server.stop() == 0);
  CHECK(close_wait_becomes(server.port(), 0));
  CHECK(number(read_json(dir.file("server.json")).at("observed").at("close_wait_held_at_stop")) == 4);
}

TEST_CASE("fixed mode: closing on EOF leaves no CLOSE_WAIT and no descriptor", "[pair]") {
  Server server("netlab-closewait-server", {"--fixed"});
  const std::size_t fds_idle = open_fds(server.pid());
  const auto result = run_client(server, {"--connections", "4", "--observe-ms", "0"});
  const auto& observed = result.at("observed").as_object();
  CHECK(observed.at("server_mode") == "fixed");
  CHECK(number(observed.at("server_close_wait")) == 0);
  CHECK(observed.at("server_fd_growth").to_number<long>() == 0);
  // The server closed after us: we were the active closer, TIME_WAIT is ours.
  CHECK(number(observed.at("client_time_wait")) == 4);
  CHECK(check(result, "close-wait-means-not-closed").at("verdict") == "confirmed");
  CHECK(check(result, "close-wait-is-not-sending").at("verdict") == "skipped");
  CHECK(close_wait_on(server.port()) == 0);
  CHECK(open_fds(server.pid()) == fds_idle);
  CHECK(server.stop() == 0);
}

TEST_CASE("an idle timeout closes what the buggy code forgot", "[pair]") {
  Server server("netlab-closewait-server", {"--bug", "--idle-timeout-ms", "2000"});
  const auto result = run_client(server, {"--connections", "3", "--observe-ms", "0"});
  const auto& observed = result.at("observed").as_object();
  CHECK(number(observed.at("server_close_wait")) == 3);
  REQUIRE(observed.contains("server_close_wait_after_idle_timeout"));
  CHECK(number(observed.at("server_close_wait_after_idle_timeout")) == 0);
  CHECK(close_wait_on(server.port()) == 0);
  CHECK(server.stop() == 0);
}

TEST_CASE("bad input is answered and closed, and the server keeps serving", "[bad-input]") {
  TempDir dir;
  Server server("netlab-closewait-server", {"--bug", "--json", dir.file("server.json")});
  {
    Connection wrong(server.port());
    wrong.send("GET / HTTP/1.1\r\n\r\n");
    const auto reply = wrong.read_to_end();
    CHECK(reply.text.rfind("ERR unknown request", 0) == 0);
    CHECK(reply.ended_by != "timeout");  // answered, then closed (even in --bug mode)
  }
  {
    Connection too_long(server.port());  // a line far too long: no newline within the cap
    too_long.send(std::string(1000, 'x'));
    const auto reply = too_long.read_to_end();
    CHECK(reply.text.empty());
    // Closed by the server (FIN, or RST over the unread rest of the line), not silence until our timeout.
    CHECK(reply.ended_by != "timeout");
  }
  {
    Connection vanished(server.port());  // a client that vanishes before saying anything
  }
  const auto result = run_client(server, {"--connections", "2", "--observe-ms", "0"});
  CHECK(number(result.at("observed").at("server_close_wait")) == 2);
  CHECK(number(stop_and_read(server, dir.file("server.json")).at("bad_requests")) == 2);
}

TEST_CASE("closewait: no server, or a port already in use, is a clear error", "[errors]") {
  expect_clear_start_failures("closewait");
}

TEST_CASE("closewait: usage errors exit 2", "[errors]") {
  expect_usage_errors("netlab-closewait-server", {{"--bug", "--fixed"}, {"--idle-timeout-ms", "-1"}});
  expect_usage_errors("netlab-closewait-client", {{"--connections", "0"}});
}
