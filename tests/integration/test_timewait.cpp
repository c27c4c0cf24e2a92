// The TIME_WAIT lab on real sockets: the real server and client on ephemeral
// ports, asserted on their JSON and, independently, on this test's own socket
// census of the server's port. Only sockets on that port are counted, so other
// tests running at the same time do not change the numbers.
#include "lab.hpp"
#include "lifecycle_capture.hpp"
#include "loopback.hpp"
#include "process.hpp"

#include "kernel/census.hpp"
#include "kernel/netstat.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

using namespace netlab::test;
namespace json = boost::json;

namespace {

constexpr const char* server_program = "netlab-timewait-server";
constexpr const char* client_program = "netlab-timewait-client";

json::object run_client_ok(const Server& server, const std::vector<std::string>& args) {
  return run_client_json(client_program, server.port(), args, 90s);
}

// This test's own count, by state, of the sockets at either end of the server's port.
std::size_t time_wait_toward(std::uint16_t server_port) {
  return netlab::count_tcp_states({.remote_port = server_port}).of(netlab::TcpState::time_wait);
}
std::size_t time_wait_at(std::uint16_t server_port) {
  return netlab::count_tcp_states({.local_port = server_port}).of(netlab::TcpState::time_wait);
}

// The lifetime verdict, pinned to the TIME_WAIT timers the test reads itself
// (sock_diag) right after the run: RFC 793's 2 x MSL is 240 s, Linux's
// TCP_TIMEWAIT_LEN 60 s. A pile whose longest timer has at most 120 s left was
// made seconds ago, so no socket in it lives ~240 s: the verdict must be
// nuanced whatever lifetime the client reported. The client read its timers
// earlier than we do, so its figure can't be below what is left now.
void expect_lifetime_verdict(const json::object& result, const netlab::PortFilter& pile) {
  std::uint32_t longest_ms = 0;
  for (const auto& s : netlab::list_tcp_sockets(pile))
    if (s.state == netlab::TcpState::time_wait) longest_ms = std::max(longest_ms, s.timer_expires_ms);
  REQUIRE(longest_ms > 0);
  const double lifetime = result.at("observed").at("time_wait").at("lifetime_s").to_number<double>();
  CHECK(lifetime >= longest_ms / 1000.0 - 0.5);
  const auto& c = check(result, "closer-holds-time-wait");
  if (longest_ms <= 120'000)
    CHECK(c.at("verdict") == "nuanced");
  else
    CHECK(c.at("verdict") == (std::abs(lifetime - 240.0) <= 5.0 ? "confirmed" : "nuanced"));
}

// TCP's retransmitted segments, whole host (/proc/net/snmp).
std::int64_t host_retransmissions() {
  const auto n = netlab::read_snmp_counter("Tcp", "RetransSegs");
  REQUIRE(n);
  return *n;
}

}  // namespace

TEST_CASE("short connections closed by the client: the client side holds TIME_WAIT", "[pair][timewait]") {
  Server server(server_program, {"--closer", "client"});
  const auto retrans_before = host_retransmissions();
  const auto result = run_client_ok(server, {"--mode", "short", "--requests", "500", "--concurrency", "16"});
  const auto retrans_during = host_retransmissions() - retrans_before;
  const auto& observed = result.at("observed").as_object();
  CHECK(number(observed.at("succeeded")) == 500);
  CHECK(number(observed.at("closed_first_by_client")) == 500);
  const auto& tw = observed.at("time_wait").as_object();
  // Every close left a TIME_WAIT socket. tcp_tw_reuse (2 by default: loopback)
  // lets a connect() take over a TIME_WAIT port older than 1 s, which ends that
  // TIME_WAIT early and shows as a local port used twice: those are counted too.
  const std::size_t ports = number(observed.at("local_ports_used"));
  const std::size_t taken_over = number(observed.at("time_wait_taken_over"));
  CHECK(ports + taken_over == 500);
  CHECK(number(tw.at("client_side")) + taken_over >= 450);
  CHECK(number(tw.at("client_side")) >= ports * 95 / 100);
  CHECK(number(tw.at("server_side")) <= 25);
  // The test's own census agrees: the pile is at the client's end of the server's port.
  CHECK(time_wait_toward(server.port()) >= ports * 95 / 100);
  CHECK(time_wait_at(server.port()) <= 25);
  expect_lifetime_verdict(result, {.remote_port = server.port()});
  CHECK(check(result, "mass-time-wait-from-many-closes").at("verdict") == "confirmed");
  // "TIME_WAIT piles up because fourth segments are lost" is refuted when
  // hardly anything was retransmitted: the test's own reading of the host's
  // counter spans the client's, so the client can't have seen more.
  const auto& fourth = check(result, "time-wait-not-from-lost-fourth-segment");
  CHECK(number(observed.at("kernel").at("retransmitted_segments")) <= static_cast<std::size_t>(retrans_during));
  if (retrans_during * 10 < static_cast<std::int64_t>(time_wait_toward(server.port())))
    CHECK(fourth.at("verdict") == "refuted");
  else
    CHECK(fourth.at("verdict") != "confirmed");
  CHECK(server.stop() == 0);
}

TEST_CASE("closer server: the TIME_WAIT pile moves to the server", "[pair][timewait]") {
  TempDir dir;
  Server server(server_program, {"--closer", "server", "--json", dir.file("server.json")});
  const auto result = run_client_ok(server, {"--mode", "short", "--requests", "500", "--concurrency", "16"});
  const auto& observed = result.at("observed").as_object();
  CHECK(number(observed.at("succeeded")) == 500);
  CHECK(number(observed.at("closed_first_by_server")) == 500);
  const auto& tw = observed.at("time_wait").as_object();
  const std::size_t ports = number(observed.at("local_ports_used"));
  CHECK(number(tw.at("server_side")) + number(observed.at("time_wait_taken_over")) >= 450);
  CHECK(number(tw.at("server_side")) >= ports * 95 / 100);
  CHECK(number(tw.at("client_side")) <= 25);
  CHECK(time_wait_at(server.port()) >= ports * 95 / 100);
  CHECK(time_wait_toward(server.port()) <= 25);
  expect_lifetime_verdict(result, {.local_port = server.port()});
  CHECK(check(result, "closer-holds-time-wait").at("observed").as_string().find("closed first by the server") !=
        std::string::npos);
  CHECK(server.stop() == 0);
  const auto server_result = read_json(dir.file("server.json"));
  CHECK(number(server_result.at("observed").at("closed_first_by_server")) == 500);
  CHECK(number(server_result.at("observed").at("time_wait_on_port_at_stop")) >= ports * 95 / 100);
}

TEST_CASE("a pool of 4 leaves at most 4 TIME_WAIT sockets for 500 requests", "[pair][pool]") {
  TempDir dir;
  Server server(server_program, {"--closer", "client"});
  // The short run first, as the baseline the pool is compared with.
  const auto baseline = run({bin(client_program), "--port", server.port_text(), "--mode", "short", "--requests", "500",
                             "--json", dir.file("short.json"), "--log-level", "warn"});
  REQUIRE(baseline.exit_code == 0);
  const std::size_t before = time_wait_toward(server.port());
  REQUIRE(before > 0);
  const auto result = run_client_ok(server, {"--mode", "pool", "--pool-size", "4", "--requests", "500", "--concurrency",
                                             "16", "--compare-with", dir.file("short.json")});
  const auto& observed = result.at("observed").as_object();
  CHECK(number(observed.at("succeeded")) == 500);
  const auto& tw = observed.at("time_wait").as_object();
  CHECK(number(tw.at("client_side")) <= 4);
  CHECK(number(tw.at("server_side")) <= 4);
  const auto& pool = observed.at("pool").as_object();
  CHECK(number(pool.at("created")) <= 4);
  CHECK(number(pool.at("created")) + number(pool.at("reused")) >= 500);
  // Independent census: the pool added at most 4 to what the short run left.
  CHECK(time_wait_toward(server.port()) <= before + 4);
  // Bounded, as the census above showed: so the verdict is confirmed or, if
  // the pool was slower, nuanced; which one, the capture test below checks
  // against its own timing.
  CHECK(observed.at("rate_ratio_vs_short").to_number<double>() > 0);
  const std::string verdict(check(result, "pool-fixes-time-wait").at("verdict").as_string());
  CHECK((verdict == "confirmed" || verdict == "nuanced"));
  CHECK(server.stop() == 0);
}

TEST_CASE("capture: the pool's rate against the short run's, timed on the wire", "[root][capture][pool]") {
  require_capture();
  TempDir dir;
  Server server(server_program, {"--closer", "client"});
  // Each run captured on its own: from its first packet to its last is how
  // long its 500 requests took on the wire.
  const auto wire_seconds = [](const std::vector<netlab::Flow>& flows) {
    double first = 1e300, last = 0;
    for (const auto& f : flows) {
      first = std::min(first, f.packets.front().time);
      last = std::max(last, f.packets.back().time);
    }
    return last - first;
  };
  std::vector<netlab::Flow> short_flows, pool_flows;
  {
    Capture capture(server.port());
    const auto baseline = run({bin(client_program), "--port", server.port_text(), "--mode", "short", "--requests",
                               "500", "--json", dir.file("short.json"), "--log-level", "warn"});
    REQUIRE(baseline.exit_code == 0);
    short_flows = capture.stop();
    capture.require_complete();
  }
  json::object result;
  {
    Capture capture(server.port());
    result = run_client_ok(server, {"--mode", "pool", "--pool-size", "4", "--requests", "500", "--concurrency", "16",
                                    "--compare-with", dir.file("short.json")});
    pool_flows = capture.stop();
    capture.require_complete();
  }
  // (A port taken over from TIME_WAIT makes two short connections one flow here: not counted.)
  REQUIRE(!short_flows.empty());
  REQUIRE(!pool_flows.empty());
  CHECK(pool_flows.size() <= 4);
  // requests/s pool over short, for 500 requests each: the ratio of the durations.
  const double wire_ratio = wire_seconds(short_flows) / wire_seconds(pool_flows);
  const double client_ratio = result.at("observed").at("rate_ratio_vs_short").to_number<double>();
  // The verdict: confirmed at a ratio >= 1 (the count bound holds, see above), else nuanced.
  expect_verdict_follows_wire(result, "pool-fixes-time-wait", wire_ratio, client_ratio, 1.0, 0.0);
  CHECK(server.stop() == 0);
}

TEST_CASE("linger0: no TIME_WAIT anywhere, an RST per connection instead", "[pair][linger]") {
  Server server(server_program, {"--closer", "client"});
  // The server's port (any free port) may be one an earlier test's server had:
  // its clients' TIME_WAIT toward it stay for 60 s after that server is gone
  // (seen once in CI: 1). Those are counted before, and may only go.
  const auto time_wait_before = time_wait_toward(server.port()) + time_wait_at(server.port());
  const auto resets_before = kernel_counter("Tcp", "OutRsts");
  const auto result = run_client_ok(server, {"--mode", "short", "--requests", "200", "--linger0"});
  const auto resets = kernel_counter("Tcp", "OutRsts") - resets_before;
  const auto& observed = result.at("observed").as_object();
  CHECK(number(observed.at("succeeded")) == 200);
  CHECK(number(observed.at("time_wait").at("client_side")) == 0);
  CHECK(number(observed.at("time_wait").at("server_side")) == 0);
  INFO("TIME_WAIT on the server's port before the run: " << time_wait_before);
  CHECK(time_wait_toward(server.port()) + time_wait_at(server.port()) <= time_wait_before);
  // Tcp OutRsts read by the test around the client's run: the namespace's
  // counter counts everyone's resets, so at least our 200; the client's own
  // delta, taken inside that span, cannot be larger.
  INFO("OutRsts +" << resets << " around the client's run");
  CHECK(resets >= 200);
  CHECK(number(observed.at("kernel").at("resets_sent")) >= 200);
  CHECK(observed.at("kernel").at("resets_sent").to_number<std::int64_t>() <= resets);
  CHECK(check(result, "linger0-is-not-the-fix").at("verdict") == "nuanced");
  CHECK(server.stop() == 0);
}

TEST_CASE("a pool against a server that closes idle connections discards them and carries on", "[pair][pool]") {
  Server server(server_program, {"--closer", "server"});
  // Every reply says "close": no connection can go back to the pool.
  const auto result = run_client_ok(server, {"--mode", "pool", "--pool-size", "2", "--requests", "50"});
  const auto& observed = result.at("observed").as_object();
  CHECK(number(observed.at("succeeded")) == 50);
  CHECK(number(observed.at("pool").at("created")) == 50);
  CHECK(number(observed.at("pool").at("reused")) == 0);
  CHECK(number(observed.at("time_wait").at("server_side")) >= 45);
  CHECK(server.stop() == 0);
}

TEST_CASE("the server dies mid-run: the pool discards broken connections, errors are reported, no hang",
          "[pair][errors]") {
  auto server = std::make_unique<Server>(server_program, std::vector<std::string>{"--closer", "client"});
  const std::uint16_t port = server->port();
  TempDir dir;
  Process client({bin(client_program), "--port", std::to_string(port), "--mode", "pool", "--pool-size", "4",
                  "--requests", "100000", "--json", dir.file("client.json"), "--log-level", "warn"},
                 dir.file("out"), dir.file("err"));
  // Wait (bounded) until the server has answered a request, then kill it.
  REQUIRE(eventually([&] { return server->log().find("serving: first request answered") != std::string::npos; }, 30s));
  ::kill(server->pid(), SIGKILL);
  server.reset();
  const int code = client.wait(90s);
  INFO("client stderr: " << read_text(dir.file("err")));
  CHECK(code == 1);
  CHECK(read_text(dir.file("err")).find("did netlab-timewait-server stop?") != std::string::npos);
  const auto result = read_json(dir.file("client.json"));
  const auto& observed = result.at("observed").as_object();
  CHECK(number(observed.at("failed")) > 0);
  CHECK(number(observed.at("succeeded")) > 0);
  CHECK(number(observed.at("succeeded")) < 100000);
  const auto& pool = observed.at("pool").as_object();
  // The killed server's connections were reset or closed: none of them was used again.
  CHECK(number(pool.at("discarded")) + number(pool.at("connect_failures")) > 0);
}

TEST_CASE("bad requests close that connection only", "[bad-input]") {
  TempDir dir;
  Server server(server_program, {"--json", dir.file("server.json")});
  Connection bystander(server.port());
  {
    Connection bad(server.port());
    REQUIRE(bad.send("HELLO\n"));
    CHECK(bad.receive_all().starts_with("ERR"));
  }
  {
    Connection bad(server.port());
    REQUIRE(bad.send(std::string(200, 'P')));  // no newline within the limit
    CHECK(bad.receive_all().starts_with("ERR"));
  }
  REQUIRE(bystander.send("PING 7\n"));
  CHECK(bystander.receive_line() == "PONG 7");
  CHECK(number(stop_and_read(server, dir.file("server.json")).at("bad_requests")) == 2);
}

TEST_CASE("the client says clearly when the server is not running", "[errors]") {
  const auto port = port_of_stopped_server(server_program);
  for (const char* mode : {"short", "pool"}) {
    expect_failure(run({bin(client_program), "--port", std::to_string(port), "--mode", mode}), 1,
                   {"connection refused", "is netlab-timewait-server running?"});
  }
}

TEST_CASE("a port already in use is a clear error", "[errors]") {
  Server first(server_program, {});
  expect_failure(run_on_taken_port(first, server_program), 1, {"address already in use"});
  CHECK(first.stop() == 0);
}

TEST_CASE("usage errors exit 2 with one line", "[errors]") {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--pool-size", "0"},
                                               {"--requests", "0"},
                                               {"--requests", "100000000"},
                                               {"--concurrency", "0"},
                                               {"--mode", "long"}}) {
    const auto result = run({bin(client_program), args[0], args[1]});
    CHECK(result.exit_code == 2);
    CHECK(result.err.find(args[0]) != std::string::npos);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  }
  expect_usage_errors(server_program, {{"--closer", "nobody"}});
}

// ---- root: port exhaustion in a network namespace of our own -----------------

namespace {

std::string ip_command() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
    if (::access(path, X_OK) == 0) return path;
  return "";
}

void write_sysctl(const std::string& key, const std::string& value) {
  const std::string path = "/proc/sys/" + key;
  {
    std::ofstream out(path);
    out << value << "\n";
  }
  std::string back = read_text(path);
  for (auto& c : back)
    if (c == '\t') c = ' ';
  while (!back.empty() && back.back() == '\n') back.pop_back();
  REQUIRE(back == value);
}

// Enters a fresh network namespace (this thread, and the children it starts);
// leaves and deletes it on destruction, whatever happened.
class NetworkNamespace {
 public:
  NetworkNamespace() : ip_(ip_command()) {
    REQUIRE_FALSE(ip_.empty());
    std::random_device random;
    name_ = "netlab-tw-" + std::to_string(random() % 1000000);
    original_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    REQUIRE(original_ >= 0);
    REQUIRE(run({ip_, "netns", "add", name_}, 10s).exit_code == 0);
    created_ = true;
    const int fd = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    const int entered = ::setns(fd, CLONE_NEWNET);
    ::close(fd);
    REQUIRE(entered == 0);
    REQUIRE(run({ip_, "link", "set", "lo", "up"}, 10s).exit_code == 0);
  }
  ~NetworkNamespace() {
    if (original_ >= 0) {
      ::setns(original_, CLONE_NEWNET);
      ::close(original_);
    }
    if (created_) (void)run({ip_, "netns", "del", name_}, 10s);
  }
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;

 private:
  std::string ip_;
  std::string name_;
  int original_ = -1;
  bool created_ = false;
};

}  // namespace

TEST_CASE("port exhaustion: 400 ports, tcp_tw_reuse 0 — short connections run out, a pool does not",
          "[root][exhaustion]") {
  require_root("creates a network namespace and sets its sysctls");
  NetworkNamespace ns;
  write_sysctl("net/ipv4/ip_local_port_range", "40000 40399");
  write_sysctl("net/ipv4/tcp_tw_reuse", "0");
  Server server(server_program, {"--closer", "client"});

  // The pool first: it needs 4 ports, and completes every request.
  const auto pooled = run_client_ok(server, {"--mode", "pool", "--pool-size", "4", "--requests", "500"});
  CHECK(number(pooled.at("observed").at("succeeded")) == 500);
  CHECK(pooled.at("params").at("tcp_tw_reuse") == "0");

  // Then a connection per request: about 400 ports, then EADDRNOTAVAIL.
  const auto result = run_client_ok(server, {"--mode", "short", "--requests", "500", "--concurrency", "8"});
  const auto& observed = result.at("observed").as_object();
  const std::size_t succeeded = number(observed.at("succeeded"));
  const auto& errors = observed.at("connect_errors").as_object();
  REQUIRE(errors.contains("EADDRNOTAVAIL"));
  const std::size_t exhausted = number(errors.at("EADDRNOTAVAIL"));
  CHECK(succeeded <= 400);
  CHECK(succeeded >= 300);  // the range minus the server's port and the pool's 4 TIME_WAIT, give or take
  CHECK(succeeded + exhausted == 500);
  CHECK(number(observed.at("time_wait").at("client_side")) >= succeeded * 95 / 100);
  CHECK(check(result, "time-wait-exhausts-ports").at("verdict") == "confirmed");
  CHECK(server.stop() == 0);
}
