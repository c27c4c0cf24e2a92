// The closewait lab on real sockets: the real server (--bug / --fixed) and
// client on ephemeral ports; the client's JSON is checked against a census
// taken from here and against the server's /proc/<pid>/fd.
#include "process.hpp"

#include "kernel/census.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

using namespace netlab::test;
namespace json = boost::json;

namespace {

std::size_t number(const json::value& v) { return v.to_number<std::size_t>(); }

json::object run_client(const Server& server, std::vector<std::string> args) {
  TempDir dir;
  std::vector<std::string> argv{bin("netlab-closewait-client"), "--port", server.port_text(), "--json",
                                dir.file("client.json"), "--log-level", "warn"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto result = run(argv);
  INFO("client stderr: " << result.err);
  REQUIRE(result.exit_code == 0);
  return read_json(dir.file("client.json")).as_object();
}

const json::object& check(const json::object& result, const std::string& id) {
  for (const auto& c : result.at("checks").as_array())
    if (c.at("id").as_string() == id) return c.as_object();
  FAIL("no check " << id);
  throw std::logic_error("unreachable");
}

// CLOSE_WAIT sockets on the server's port (its side of every connection).
std::size_t close_wait_on(std::uint16_t port) {
  return netlab::count_tcp_states({.local_port = port}).of(netlab::TcpState::close_wait);
}

// Polls the census (bounded: 5 s) until `count` CLOSE_WAIT sockets remain on the port.
bool close_wait_becomes(std::uint16_t port, std::size_t count) {
  for (int i = 0; i < 500; ++i) {
    if (close_wait_on(port) == count) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

// A blocking loopback connection whose reads give up after 10 s.
int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

// Everything the server sends until it closes, and how the reading ended:
// "FIN" or "RST" from the server, or "timeout" (the 10 s SO_RCVTIMEO). An
// empty text alone cannot tell a server that closed from one that said nothing.
struct Reply {
  std::string text;
  std::string ended_by;
};

Reply read_to_end(int fd) {
  Reply reply{"", "timeout"};
  char buffer[512];
  for (int i = 0; i < 1000; ++i) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) return {reply.text, "FIN"};
    if (n < 0) {
      if (errno == ECONNRESET) reply.ended_by = "RST";
      else if (errno != EAGAIN && errno != EWOULDBLOCK) reply.ended_by = std::strerror(errno);
      return reply;
    }
    reply.text.append(buffer, static_cast<std::size_t>(n));
  }
  return reply;
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
    const int fd = connect_to(server.port());
    ::send(fd, "GET / HTTP/1.1\r\n\r\n", 18, MSG_NOSIGNAL);
    const auto reply = read_to_end(fd);
    CHECK(reply.text.rfind("ERR unknown request", 0) == 0);
    CHECK(reply.ended_by != "timeout");  // answered, then closed (even in --bug mode)
    ::close(fd);
  }
  {
    const int fd = connect_to(server.port());  // a line far too long: no newline within the cap
    const std::string junk(1000, 'x');
    ::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    const auto reply = read_to_end(fd);
    CHECK(reply.text.empty());
    // Closed by the server (FIN, or RST over the unread rest of the line), not silence until our timeout.
    CHECK(reply.ended_by != "timeout");
    ::close(fd);
  }
  {
    const int fd = connect_to(server.port());  // a client that vanishes before saying anything
    ::close(fd);
  }
  const auto result = run_client(server, {"--connections", "2", "--observe-ms", "0"});
  CHECK(number(result.at("observed").at("server_close_wait")) == 2);
  CHECK(server.stop() == 0);
  CHECK(number(read_json(dir.file("server.json")).at("observed").at("bad_requests")) == 2);
}

TEST_CASE("the client says clearly when the server is not running", "[errors]") {
  std::uint16_t port = 0;
  {
    Server server("netlab-closewait-server", {});
    port = server.port();
    REQUIRE(server.stop() == 0);
  }
  const auto result = run({bin("netlab-closewait-client"), "--port", std::to_string(port)});
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("connection refused — is netlab-closewait-server running?") != std::string::npos);
}

TEST_CASE("closewait: a port already in use is a clear error", "[errors]") {
  Server first("netlab-closewait-server", {});
  const auto result = run({bin("netlab-closewait-server"), "--port", first.port_text()}, 10s);
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("address already in use") != std::string::npos);
  CHECK(first.stop() == 0);
}

TEST_CASE("closewait: usage errors exit 2", "[errors]") {
  CHECK(run({bin("netlab-closewait-server"), "--bug", "--fixed"}).exit_code == 2);
  CHECK(run({bin("netlab-closewait-server"), "--idle-timeout-ms", "-1"}).exit_code == 2);
  CHECK(run({bin("netlab-closewait-client"), "--connections", "0"}).exit_code == 2);
}
