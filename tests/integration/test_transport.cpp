// The transport lab on real sockets: the real server, client and relay on
// ephemeral ports, asserted on their JSON and against the kernel's own counts
// (SO_RXQ_OVFL, /proc/net/snmp, TCP_INFO, nftables counters). Bad input sent
// from here over plain sockets must be counted, never crash the server.
#include "lab.hpp"
#include "lifecycle_capture.hpp"
#include "loopback.hpp"
#include "process.hpp"

#include "kernel/netstat.hpp"
#include "program/readiness.hpp"
#include "proto/transport_message.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

using namespace netlab::test;
namespace json = boost::json;
namespace tr = netlab::transport;

namespace {

json::object run_client(std::uint16_t port, const std::vector<std::string>& args) {
  return run_client_json("netlab-transport-client", port, args);
}

const json::object& server_account(const json::object& result, const char* proto) {
  return result.at("observed").at(proto).at("server").as_object();
}

// Plain sockets for hand-made input; reads give up after 5 s.
constexpr SocketOptions udp_socket{.type = SOCK_DGRAM, .read_timeout = 5s};
constexpr SocketOptions tcp_socket{.type = SOCK_STREAM, .read_timeout = 5s};

std::string encoded(tr::Kind kind, std::uint64_t sequence, std::string_view payload) {
  std::string out;
  tr::encode(kind, sequence, 0, payload, out);
  return out;
}

// "done, I sent N" over a UDP socket, answered with the server's report.
json::object ask_report(Connection& socket, std::uint64_t sent) {
  REQUIRE(socket.send(encoded(tr::Kind::done, sent, std::string("\0\0\0\1", 4))));
  const std::string datagram = socket.receive_next();
  const auto reply = tr::decode_datagram(datagram);
  REQUIRE(reply.message);
  REQUIRE(reply.message->header.kind == tr::Kind::report);
  return json::parse(reply.message->payload).as_object();
}

}  // namespace

// A counter of /proc/net/snmp (whole host), read by the test itself.
std::int64_t snmp(std::string_view group, std::string_view name) {
  const auto n = netlab::read_snmp_counter(group, name);
  REQUIRE(n);
  return *n;
}

TEST_CASE("plain loopback: TCP delivers all in order, UDP's verdict follows what was measured", "[pair]") {
  Server server("netlab-transport-server", {});
  const auto retrans_before = snmp("Tcp", "RetransSegs");
  const auto udp_drops_before = snmp("Udp", "RcvbufErrors") + snmp("Udp", "InErrors");
  const auto result = run_client(server.port(), {"--messages", "5000", "--size", "200"});
  // The test's own readings span the client's run: what the kernel did, not what the client says.
  const auto retrans_during = snmp("Tcp", "RetransSegs") - retrans_before;
  const auto udp_drops_during = snmp("Udp", "RcvbufErrors") + snmp("Udp", "InErrors") - udp_drops_before;
  const auto& tcp = server_account(result, "tcp");
  CHECK(number(tcp.at("unique")) == 5000);
  CHECK(number(tcp.at("lost")) == 0);
  CHECK(number(tcp.at("reordered")) == 0);
  CHECK(number(tcp.at("duplicated")) == 0);
  CHECK(number(tcp.at("bytes")) == 5000 * 200);
  const auto retrans = number(result.at("observed").at("tcp").at("total_retrans"));
  CHECK(retrans <= static_cast<std::size_t>(retrans_during));
  // Nothing retransmitted anywhere on the host: TCP had nothing to repair, so
  // "reliable" was not put to the test — nuanced, never confirmed.
  if (retrans_during == 0) CHECK(check(result, "tcp-reliable-ordered").at("verdict") == "nuanced");
  CHECK(check(result, "tcp-reliable-ordered").at("verdict") == (retrans > 0 ? "confirmed" : "nuanced"));

  const auto& udp = server_account(result, "udp");
  const auto trouble = number(udp.at("lost")) + number(udp.at("reordered")) + number(udp.at("duplicated"));
  CHECK(number(udp.at("unique")) + number(udp.at("lost")) == 5000);
  CHECK(check(result, "udp-no-guarantee").at("verdict") == (trouble > 0 ? "confirmed" : "nuanced"));
  // Whatever UDP lost here, the kernel dropped it at the socket: the counts agree.
  CHECK(number(udp.at("lost")) == number(udp.at("socket_drops_of_data")));
  // And the host's counters, read by the test: no UDP datagram dropped means
  // none lost (loopback neither reorders nor duplicates), so nuanced.
  CHECK(number(udp.at("lost")) <= static_cast<std::size_t>(udp_drops_during));
  if (udp_drops_during == 0) CHECK(check(result, "udp-no-guarantee").at("verdict") == "nuanced");

  // Overhead: the numbers behind the verdict, and the verdict from them.
  const auto& overhead = result.at("observed").at("overhead").as_object();
  const double tcp_bytes = overhead.at("tcp_wire_bytes_per_message").as_double();
  const double udp_bytes = overhead.at("udp_wire_bytes_per_message").as_double();
  CHECK(udp_bytes >= 20 + 8 + 32 + 200);
  CHECK(tcp_bytes >= 32 + 200);
  // Which verdict is right, the capture's bytes decide: the capture test below.
  CHECK_FALSE(has_check(result, "flow-control"));  // only with a slow reader
  CHECK(server.stop() == 0);
}

TEST_CASE("capture: tcp-costs-more follows the IP bytes on the wire, not the header-size estimate", "[root][capture]") {
  require_capture();
  Server server("netlab-transport-server", {});
  Capture capture(server.port(), "");  // TCP and UDP on the lab's port
  const auto result = run_client(server.port(), {"--messages", "2000", "--size", "200"});
  const auto flows = capture.stop();
  capture.require_complete();
  std::size_t tcp_ip_bytes = 0, udp_ip_bytes = 0, retransmissions = 0;
  for (const auto& flow : flows) {
    for (const auto& p : flow.packets) (p.is_tcp ? tcp_ip_bytes : udp_ip_bytes) += p.ip_bytes;
    if (flow.is_tcp) retransmissions += netlab::analyse_flow(flow).analysis.retransmission;
  }
  const double tcp_wire = static_cast<double>(tcp_ip_bytes) / 2000, udp_wire = static_cast<double>(udp_ip_bytes) / 2000;
  const auto& overhead = result.at("observed").at("overhead").as_object();
  const double tcp_estimate = overhead.at("tcp_wire_bytes_per_message").as_double();
  const double udp_estimate = overhead.at("udp_wire_bytes_per_message").as_double();
  INFO("per message on the wire: TCP " << tcp_wire << " B, UDP " << udp_wire << " B; the client's estimate: TCP "
                                       << tcp_estimate << ", UDP " << udp_estimate << "; TCP retransmissions "
                                       << retransmissions);
  REQUIRE(udp_wire >= 20 + 8 + 32 + 200);  // every datagram was captured
  CHECK(udp_estimate == Approx(udp_wire).epsilon(0.02));
  if (retransmissions == 0) {
    // The estimate (header sizes x TCP_INFO's segment counts) is what was
    // carried, within 2 % (measured: within 0.1 %), and the verdict is the wire's.
    CHECK(tcp_estimate == Approx(tcp_wire).epsilon(0.02));
    CHECK(check(result, "tcp-costs-more").at("verdict") == (tcp_wire > udp_wire ? "confirmed" : "nuanced"));
  } else {
    // Seen on loopback: one retransmitted 64 KiB segment adds ~30 B a message
    // on the wire that the client's snapshot has not counted. Not judged here.
    WARN("the capture shows " << retransmissions << " TCP retransmissions: the estimate is not compared");
  }
  CHECK(server.stop() == 0);
}

TEST_CASE("slow reader: UDP loss equals the kernel's drop count, TCP loses nothing and the sender waits",
          "[pair][slow]") {
  TempDir dir;
  Server server("netlab-transport-server",
                {"--rcvbuf", "4096", "--reader-delay-us", "100", "--json", dir.file("server.json")});
  const auto result = run_client(server.port(), {"--messages", "3000", "--size", "1000"});

  const auto& udp = server_account(result, "udp");
  const auto lost = number(udp.at("lost"));
  CHECK(lost > 0);
  CHECK(lost == number(udp.at("socket_drops_of_data")));  // SO_RXQ_OVFL, this socket only
  REQUIRE(udp.contains("udp_rcvbuf_errors_delta"));       // the whole host: other programs may add to it
  CHECK(udp.at("udp_rcvbuf_errors_delta").to_number<std::int64_t>() >=
        static_cast<std::int64_t>(number(udp.at("socket_drops"))));
  CHECK(check(result, "udp-loss-is-kernel-drop").at("verdict") == "confirmed");

  const auto& tcp = server_account(result, "tcp");
  CHECK(number(tcp.at("unique")) == 3000);
  CHECK(number(tcp.at("lost")) == 0);
  const auto& sender = result.at("observed").at("tcp").as_object();
  // Confirmed on the receiver's window (rwnd-limited time or a zero window seen), not on EAGAIN.
  const bool window_closed = sender.at("rwnd_limited_ms").as_double() > 0 ||
                             (sender.contains("zero_window_samples") && number(sender.at("zero_window_samples")) > 0);
  CHECK(window_closed);
  CHECK(check(result, "flow-control").at("verdict") == (window_closed ? "confirmed" : "nuanced"));
  CHECK(server.stop() == 0);
}

TEST_CASE("impaired path: the relay's counts equal the server's, and the same seed makes the same choices",
          "[pair][relay]") {
  TempDir dir;
  Server server("netlab-transport-server", {"--proto", "udp"});
  Server relay("netlab-relay",
               {"--server-port", server.port_text(), "--loss", "0.05", "--duplicate", "0.03", "--reorder", "0.02",
                "--delay-ms", "1", "--jitter-ms", "2", "--seed", "11", "--json", dir.file("relay.json")});
  const std::vector<std::string> args{"--proto", "udp", "--relay", "--messages", "3000", "--rate", "4000"};
  const auto first = run_client(relay.port(), args);
  const auto second = run_client(relay.port(), args);
  for (const auto* result : {&first, &second}) {
    const auto& s = server_account(*result, "udp");
    const auto& r = result->at("observed").at("udp").at("relay").as_object();
    // --rate 4000 held: message i leaves no earlier than i/4000 s after the
    // start, less the millisecond the pacer may run ahead (a bound the clock
    // gives, not a speed threshold: no machine sends the 3000 sooner).
    CHECK(result->at("observed").at("udp").at("send_seconds").as_double() >= 2999.0 / 4000 - 0.001);
    INFO("server: " << json::serialize(s) << "\nrelay: " << json::serialize(r));
    CHECK(number(r.at("socket_drops")) == 0);  // the relay itself dropped nothing by accident
    // The server's own socket may drop too on a busy host (SO_RXQ_OVFL): each
    // such drop loses a message or one copy of a duplicated one, no more.
    const auto kernel = number(s.at("socket_drops_of_data"));
    const auto lost = number(s.at("lost")), duplicated = number(s.at("duplicated"));
    CHECK(lost >= number(r.at("dropped")));
    CHECK(duplicated <= number(r.at("duplicated")));
    CHECK(lost - number(r.at("dropped")) + (number(r.at("duplicated")) - duplicated) <= kernel);
    CHECK(number(s.at("reordered")) <= number(r.at("reordered")));
    if (kernel == 0) {
      CHECK(lost == number(r.at("dropped")));
      CHECK(duplicated == number(r.at("duplicated")));
      CHECK(number(s.at("reordered")) == number(r.at("reordered")));
    }
    CHECK(lost > 0);
    CHECK(duplicated > 0);
    CHECK(number(s.at("reordered")) > 0);
    CHECK(check(*result, "relay-equals-server").at("verdict") == (kernel == 0 ? "confirmed" : "nuanced"));
    CHECK(check(*result, "udp-no-guarantee").at("verdict") == "confirmed");
  }
  // Loss, duplication and hold-back are drawn from the seed, per datagram: the same in both runs.
  const auto& r1 = first.at("observed").at("udp").at("relay").as_object();
  const auto& r2 = second.at("observed").at("udp").at("relay").as_object();
  CHECK(r1.at("dropped") == r2.at("dropped"));
  CHECK(r1.at("duplicated") == r2.at("duplicated"));
  CHECK(r1.at("reorder_held") == r2.at("reorder_held"));
  CHECK(relay.stop() == 0);
  const auto relay_json = read_json(dir.file("relay.json"));
  CHECK(number(relay_json.at("observed").at("sessions")) == 2);
  CHECK(number(relay_json.at("observed").at("total").at("dropped")) ==
        number(r1.at("dropped")) + number(r2.at("dropped")));
  CHECK(server.stop() == 0);
}

TEST_CASE("relay: garbage is forwarded as it is and the server counts it as corrupt", "[relay][bad-input]") {
  TempDir dir;
  Server server("netlab-transport-server", {"--proto", "udp", "--json", dir.file("server.json")});
  Server relay("netlab-relay", {"--server-port", server.port_text(), "--json", dir.file("relay.json")});
  Connection socket(relay.port(), udp_socket);
  REQUIRE(socket.send("not a netlab message at all, just some bytes"));
  std::string corrupt = encoded(tr::Kind::data, 0, "payload");
  corrupt.back() = '!';
  REQUIRE(socket.send(corrupt));
  REQUIRE(socket.send(encoded(tr::Kind::data, 1, "good")));
  // The report comes back through the relay after everything before it.
  const auto report = ask_report(socket, 2);
  CHECK(number(report.at("corrupted")) == 2);
  CHECK(number(report.at("unique")) == 1);
  CHECK(number(report.at("lost")) == 1);
  CHECK(relay.stop() == 0);
  CHECK(number(read_json(dir.file("relay.json")).at("observed").at("total").at("garbage_forwarded")) == 2);
  CHECK(number(stop_and_read(server, dir.file("server.json")).at("udp_bad_datagrams")) == 2);
}

TEST_CASE("connection semantics: TCP is refused at once, UDP sendto succeeds into the void", "[pair][semantics]") {
  Server server("netlab-transport-server", {});
  const auto result = run_client(server.port(), {"--mode", "semantics"});
  const auto& s = result.at("observed").at("semantics").as_object();
  CHECK(s.at("tcp_connect_refused").as_bool());
  CHECK(s.at("udp_sendto_error") == "none");
  CHECK(number(s.at("udp_sendto_bytes")) == 32 + 200);
  CHECK(s.at("udp_unconnected_then") == "");       // no error and no datagram came back
  CHECK(s.at("udp_connected_refused").as_bool());  // a connected socket hears the ICMP error
  // Three for the handshake, the data, two FINs and the last ACK at the very least.
  CHECK(number(s.at("tcp_one_message_packets")) >= 7);
  CHECK(s.at("udp_one_message_arrived").as_bool());
  CHECK(check(result, "tcp-needs-connection").at("verdict") == "confirmed");
  CHECK(check(result, "tcp-costs-more-packets").at("verdict") == "fact");  // counted above, not graded
  CHECK(server.stop() == 0);
}

TEST_CASE("bad UDP input is counted and logged, the server goes on", "[bad-input]") {
  TempDir dir;
  Server server("netlab-transport-server", {"--proto", "udp", "--json", dir.file("server.json")});
  {
    Connection socket(server.port(), udp_socket);
    const std::string good = encoded(tr::Kind::data, 0, "abc");
    REQUIRE(socket.send(good.substr(0, 10)));        // a truncated header
    REQUIRE(socket.send(good + "trailing"));         // length mismatch
    REQUIRE(socket.send(std::string(100, '\xff')));  // garbage
    std::string oversized = good;
    oversized.replace(24, 4, std::string("\x7f\xff\xff\xff", 4));
    REQUIRE(socket.send(oversized));
    REQUIRE(socket.send(good));
    const auto report = ask_report(socket, 1);
    CHECK(number(report.at("corrupted")) == 4);
    CHECK(number(report.at("unique")) == 1);
  }
  const auto result = run_client(server.port(), {"--proto", "udp", "--messages", "100"});
  CHECK(number(server_account(result, "udp").at("unique")) == 100);
  CHECK(number(stop_and_read(server, dir.file("server.json")).at("udp_bad_datagrams")) == 4);
  CHECK(server.log().find("shorter than a 32-byte header") != std::string::npos);
}

TEST_CASE("bad TCP input: half a header, or garbage, closes that connection only", "[bad-input]") {
  TempDir dir;
  Server server("netlab-transport-server", {"--proto", "tcp", "--json", dir.file("server.json")});
  {
    Connection half(server.port(), tcp_socket);
    REQUIRE(half.send(encoded(tr::Kind::data, 0, "abc").substr(0, 16)));
    half.half_close();
    CHECK(half.receive_next().empty());  // the server closed: end of stream
  }
  {
    Connection garbage(server.port(), tcp_socket);
    REQUIRE(garbage.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n01234567"));
    CHECK(garbage.receive_next().empty());
  }
  const auto result = run_client(server.port(), {"--proto", "tcp", "--messages", "100"});
  CHECK(number(server_account(result, "tcp").at("unique")) == 100);
  CHECK(number(stop_and_read(server, dir.file("server.json")).at("tcp_bad_streams")) == 2);
  CHECK(server.log().find("ended inside a message") != std::string::npos);
  CHECK(server.log().find("bad magic") != std::string::npos);
}

TEST_CASE("clear errors: no server, port in use, bad usage", "[errors]") {
  const auto port = port_of_stopped_server("netlab-transport-server");
  expect_failure(run({bin("netlab-transport-client"), "--port", std::to_string(port), "--proto", "tcp"}), 1,
                 {"connection refused — is netlab-transport-server running?"});
  expect_failure(run({bin("netlab-transport-client"), "--port", std::to_string(port), "--proto", "udp"}), 1,
                 {"is netlab-transport-server running?"});

  Server first("netlab-transport-server", {});
  for (const char* proto : {"both", "tcp", "udp"}) {
    INFO(proto);
    expect_failure(run_on_taken_port(first, "netlab-transport-server", {"--proto", proto}), 1,
                   {"address already in use", "--port 0"});
  }
  expect_failure(run_on_taken_port(first, "netlab-relay"), 1,
                 {"address already in use — is another netlab-relay running?"});
  CHECK(first.stop() == 0);

  expect_usage_errors("netlab-transport-client", {{"--rate", "fast"},
                                                  {"--proto", "sctp"},
                                                  {"--size", "70000"},
                                                  {"--messages", "0"},
                                                  {"--mode", "window-verdicts"},
                                                  {"--mode", "window-verdicts", "--runs", "a,b"},
                                                  {"--mode", "probes-capture"},
                                                  {"--mode", "window", "--window-seconds", "0.1"}});
  expect_usage_errors("netlab-relay", {{"--loss", "2"}});
  expect_usage_errors("netlab-transport-server", {{"--reader-delay-us", "-1"}});
}

TEST_CASE("the server stops after --max-seconds, SIGTERM closes open connections", "[lifecycle]") {
  TempDir dir;
  {
    Server server("netlab-transport-server", {"--max-seconds", "0.3", "--json", dir.file("server.json")});
    CHECK(server.wait() == 0);
    CHECK(read_json(dir.file("server.json")).at("observed").at("stopped_by") == "max-seconds");
  }
  Server server("netlab-transport-server", {});
  Connection idle(server.port(), tcp_socket);
  CHECK(server.stop() == 0);
  CHECK(idle.receive_next().empty());
  CHECK(server.out().find("stopped by SIGTERM") != std::string::npos);
}

// ---- the lossy link: two namespaces, veth, nftables dropping at random (root) ----

namespace {

int shell(const std::string& command) { return std::system(command.c_str()); }

// Two namespaces joined by veth, 198.18.0.1 (a: the server) <-> 198.18.0.2 (b: the client),
// and an nftables table in a that drops a share of what arrives from b. Removed on every path.
class LossyLink {
  // Deletes the namespaces (and with them the veth pair and the rules) on every
  // path, even when set-up fails half way: constructed before anything is made.
  struct Namespaces {
    std::string a, b;
    ~Namespaces() {
      if (!a.empty()) shell("ip netns del " + a + " 2>/dev/null");
      if (!b.empty()) shell("ip netns del " + b + " 2>/dev/null");
    }
  };

 public:
  explicit LossyLink(int per_mille) {
    std::mt19937 rng(std::random_device{}());
    const std::string suffix = std::to_string(std::uniform_int_distribution<int>(100000, 999999)(rng));
    a_ = "netlab-tr-a-" + suffix;
    b_ = "netlab-tr-b-" + suffix;
    namespaces_.a = a_;
    namespaces_.b = b_;
    veth_ = "nltra" + suffix;
    const std::string peer = "nltrb" + suffix;
    const std::string setup = "ip netns add " + a_ + " && ip netns add " + b_ + " && ip link add " + veth_ + " netns " +
                              a_ + " type veth peer name " + peer + " netns " + b_ + " && ip -n " + a_ +
                              " addr add 198.18.0.1/30 dev " + veth_ + " && ip -n " + b_ +
                              " addr add 198.18.0.2/30 dev " + peer + " && ip -n " + a_ + " link set " + veth_ +
                              " up && ip -n " + b_ + " link set " + peer + " up && ip -n " + a_ +
                              " link set lo up && ip -n " + b_ + " link set lo up";
    REQUIRE(shell(setup) == 0);
    const std::string p = std::to_string(per_mille);
    const std::string rules =
        "table inet netlab {\n chain input {\n  type filter hook input priority 0; policy accept;\n"
        "  iifname \"" +
        veth_ + "\" meta l4proto udp numgen random mod 1000 < " + p +
        " counter drop\n"
        "  iifname \"" +
        veth_ + "\" meta l4proto tcp numgen random mod 1000 < " + p + " counter drop\n }\n}\n";
    REQUIRE(shell("ip netns exec " + a_ + " nft -f - <<'EOF'\n" + rules + "EOF") == 0);
  }
  LossyLink(const LossyLink&) = delete;
  LossyLink& operator=(const LossyLink&) = delete;
  const std::string& a() const { return a_; }
  const std::string& b() const { return b_; }

  // The packets the UDP rule dropped ("counter packets N bytes M").
  std::uint64_t udp_drops() const {
    TempDir dir;
    shell("ip netns exec " + a_ + " nft list ruleset > " + dir.file("rules"));
    const std::string text = read_text(dir.file("rules"));
    const auto rule = text.find("meta l4proto udp");
    REQUIRE(rule != std::string::npos);
    const auto at = text.find("counter packets ", rule);
    REQUIRE(at != std::string::npos);
    return std::stoull(text.substr(at + 16));
  }

 private:
  Namespaces namespaces_;
  std::string a_, b_, veth_;
};

}  // namespace

TEST_CASE("lossy link: TCP delivers everything by retransmitting, UDP loses what the link drops", "[root][netns]") {
  require_root("network namespaces, veth, nftables");
  require_tool("nft", "apt-get install nftables");
  LossyLink link(100);  // 10 %
  TempDir dir;
  Process server({"/usr/bin/env", "ip", "netns", "exec", link.a(), bin("netlab-transport-server"), "--host",
                  "198.18.0.1", "--port", "0", "--port-file", dir.file("port"), "--log-level", "warn"},
                 dir.file("server.out"), dir.file("server.err"));
  std::optional<std::uint16_t> port;
  for (int i = 0; i < 1000 && !port && server.running(); ++i) {
    port = netlab::read_port_file(dir.file("port"));
    if (!port) std::this_thread::sleep_for(10ms);
  }
  REQUIRE(port);
  const auto client = run({"/usr/bin/env", "ip",
                           "netns",        "exec",
                           link.b(),       bin("netlab-transport-client"),
                           "--host",       "198.18.0.1",
                           "--port",       std::to_string(*port),
                           "--messages",   "3000",
                           "--rate",       "20000",
                           "--link-loss",  "0.1",
                           "--json",       dir.file("client.json"),
                           "--log-level",  "warn"},
                          100s);
  INFO("client stderr: " << client.err);
  REQUIRE(client.exit_code == 0);
  const auto result = read_json(dir.file("client.json")).as_object();

  const auto& tcp = server_account(result, "tcp");
  CHECK(number(tcp.at("unique")) == 3000);
  CHECK(number(tcp.at("lost")) == 0);
  CHECK(number(tcp.at("reordered")) == 0);
  CHECK(number(result.at("observed").at("tcp").at("total_retrans")) > 0);
  CHECK(check(result, "tcp-reliable-ordered").at("verdict") == "confirmed");

  const auto& udp = server_account(result, "udp");
  const auto lost = number(udp.at("lost"));
  CHECK(lost > 0);
  // Every missing datagram (lost messages, earlier copies of "done") was dropped
  // either by the nftables rule or at the server's full socket buffer.
  CHECK(lost + (number(udp.at("done_attempt")) - 1) == link.udp_drops() + number(udp.at("socket_drops")));
  CHECK(check(result, "udp-no-guarantee").at("verdict") == "confirmed");
  server.signal(SIGTERM);
  CHECK(server.wait(30s) == 0);
}
