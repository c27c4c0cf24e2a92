// The handshake lab on real sockets: the real server (--no-accept, small
// backlogs, --accept-delay-ms) and client on ephemeral ports; the client's JSON
// is asserted and the listener's accept queue is read from here too. As root:
// the stale SYN through a raw socket, and the handshakes in a tcpdump capture
// (read with netlab::read_pcap and analyse_flow).
#include "lab.hpp"
#include "lifecycle_capture.hpp"
#include "process.hpp"

#include "kernel/census.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <set>

#include <iostream>

using namespace netlab::test;
namespace json = boost::json;

namespace {

json::object run_client(const Server& server, std::vector<std::string> args) {
  args.insert(args.begin(), {"--hold-ms", "0"});
  return run_client_json("netlab-handshake-client", server.port(), args);
}

// The listener's accept queue, as `ss -lnt` shows it in Recv-Q.
std::size_t accept_queue(std::uint16_t port) {
  const auto listener = netlab::find_listener(port);
  return listener ? listener->receive_queue : 0;
}

}  // namespace

TEST_CASE("no accept(): connect() succeeds, both ends ESTAB, the accept queue holds them", "[pair]") {
  Server server("netlab-handshake-server", {"--no-accept", "--backlog", "8"});
  const auto result = run_client(server, {"--connections", "3"});
  const auto& o = result.at("observed").as_object();
  CHECK(number(o.at("connected")) == 3);
  CHECK(number(o.at("client_established")) == 3);
  CHECK(number(o.at("server_established")) == 3);
  CHECK(number(o.at("accept_queue_length")) == 3);
  CHECK(number(o.at("backlog")) == 8);
  // SYN and ACK out, SYN-ACK in: counted by the kernel.
  for (const auto& a : o.at("attempts").as_array()) {
    CHECK(number(a.at("segments_out")) == 2);
    CHECK(number(a.at("segments_in")) == 1);
  }
  CHECK(verdict(result, "three-segments") == "fact");  // printed, not graded: the segments are counted above
  CHECK(verdict(result, "kernel-handshake") == "confirmed");
  CHECK(verdict(result, "backlog-bounds-queue") == "skipped");
  // Nobody ever called accept(): the kernel still holds the three.
  CHECK(accept_queue(server.port()) == 3);
  CHECK(server.stop() == 0);
}

TEST_CASE("a full accept queue: the next connect() stalls in SYN-SENT, ListenOverflows grows", "[pair]") {
  Server server("netlab-handshake-server", {"--no-accept", "--backlog", "1"});
  const auto overflows_before = kernel_counter("TcpExt", "ListenOverflows");
  const auto result = run_client(server, {"--connections", "3", "--timeout-ms", "1500"});
  const auto overflows = kernel_counter("TcpExt", "ListenOverflows") - overflows_before;
  const auto& o = result.at("observed").as_object();
  const std::size_t connected = number(o.at("connected")), stalled = number(o.at("stalled"));
  CHECK(connected + stalled == 3);
  CHECK(stalled >= 1);
  CHECK(number(o.at("accept_queue_length")) == connected);
  // The queue as the test reads it (sock_diag): the connected ones, never accepted.
  CHECK(accept_queue(server.port()) == connected);
  CHECK(std::string(o.at("attempts").as_array().back().at("outcome").as_string()) == "timed out in SYN-SENT");
  // ListenOverflows read by the test around the client's run: a namespace-wide
  // counter (others may add to it, never take from it), so the client's delta,
  // taken inside that span, cannot be larger, and a stalled SYN was counted.
  INFO("ListenOverflows +" << overflows << " around the client's run");
  CHECK(overflows >= 1);
  REQUIRE(o.contains("listen_overflows_delta"));
  CHECK(number(o.at("listen_overflows_delta")) >= 1);
  CHECK(o.at("listen_overflows_delta").to_number<std::int64_t>() <= overflows);
  CHECK(verdict(result, "backlog-bounds-queue") == "confirmed");
  CHECK(server.stop() == 0);
}

TEST_CASE("a slow accept(): a dropped SYN is retransmitted and the connection made later", "[pair]") {
  Server server("netlab-handshake-server", {"--backlog", "0", "--accept-delay-ms", "300"});
  const auto result = run_client(server, {"--connections", "3", "--timeout-ms", "5000"});
  const auto& o = result.at("observed").as_object();
  CHECK(number(o.at("connected")) == 3);
  std::size_t retransmitted = 0;
  for (const auto& a : o.at("attempts").as_array())
    if (number(a.at("syn_retransmits")) > 0) {
      ++retransmitted;
      CHECK(number(a.at("segments_out")) >= 3);  // SYN, SYN again, ACK
    }
  CHECK(retransmitted >= 1);
  CHECK(verdict(result, "backlog-bounds-queue") == "confirmed");
  CHECK(server.stop() == 0);
}

TEST_CASE("TCP_REPAIR reads a different initial sequence number for every connection", "[root]") {
  require_root("TCP_REPAIR");
  Server server("netlab-handshake-server", {});
  const auto result = run_client(server, {"--connections", "4"});
  const auto& isns = result.at("observed").at("isns").as_array();
  CHECK(isns.size() == 4);
  std::set<std::int64_t> client_isns;
  for (const auto& isn : isns) client_isns.insert(isn.at("client_isn").to_number<std::int64_t>());
  CHECK(client_isns.size() == 4);
  CHECK(verdict(result, "isn-per-connection") == "fact");  // the kernel's ISN generator: printed, not graded
  CHECK(server.stop() == 0);
}

TEST_CASE("a stale SYN is answered SYN-ACK, then RST, and creates nothing", "[root]") {
  require_root("a raw socket for the stale SYN");
  Server server("netlab-handshake-server", {});
  const auto result = run_client(server, {"--stale-syn", "--seed", "42"});
  const auto& o = result.at("observed").as_object();
  CHECK(o.at("syn_ack_seen").as_bool());
  CHECK(o.at("rst_seen").as_bool());
  CHECK(number(o.at("sockets_created")) == 0);
  CHECK(number(o.at("accept_queue_after")) == 0);
  std::string flags;
  for (const auto& s : o.at("segments").as_array()) flags += std::string(s.at("flags").as_string()) + " ";
  CHECK(flags == "S S. R ");
  CHECK(verdict(result, "stale-syn-rejected") == "confirmed");
  CHECK(server.stop() == 0);
}

TEST_CASE("capture: three segments open each connection, with the ISNs TCP_REPAIR read", "[root][capture]") {
  require_capture();
  Server server("netlab-handshake-server", {});
  Capture capture(server.port());
  const auto result = run_client(server, {"--connections", "2"});
  const auto flows = capture.stop();
  const auto& isns = result.at("observed").at("isns").as_array();
  REQUIRE(isns.size() == 2);
  for (const auto& isn : isns) {
    const auto port = static_cast<std::uint16_t>(number(isn.at("local_port")));
    INFO("port " << port);
    const netlab::Flow* flow = connection(flows, port);
    REQUIRE(flow != nullptr);
    REQUIRE(flow->packets.size() >= 3);
    CHECK(netlab::flag_names(flow->packets[0].flags) == "SYN");
    CHECK(netlab::flag_names(flow->packets[1].flags) == "SYN-ACK");
    CHECK(netlab::flag_names(flow->packets[2].flags) == "ACK");
    const auto facts = netlab::analyse_flow(*flow);
    CHECK(facts.handshake_segments == 3);
    CHECK(facts.handshake_complete);
    CHECK(facts.client_isn == isn.at("client_isn").to_number<std::uint32_t>());
    CHECK(facts.server_isn == isn.at("server_isn").to_number<std::uint32_t>());
  }
  CHECK(server.stop() == 0);
}

TEST_CASE("handshake: clear errors — no server, port in use, bad usage", "[errors]") {
  const auto port = port_of_stopped_server("netlab-handshake-server");
  expect_failure(run({bin("netlab-handshake-client"), "--port", std::to_string(port)}), 1,
                 {"connection refused — is netlab-handshake-server running?"});
  if (::geteuid() == 0) {
    expect_failure(run({bin("netlab-handshake-client"), "--port", std::to_string(port), "--stale-syn"}), 1,
                   {"nothing listens on"});
  }
  Server first("netlab-handshake-server", {});
  expect_failure(run_on_taken_port(first, "netlab-handshake-server"), 1, {"address already in use"});
  CHECK(first.stop() == 0);
  expect_usage_errors("netlab-handshake-server", {{"--no-accept", "--accept-delay-ms", "10"}});
  expect_usage_errors("netlab-handshake-client", {{"--connections", "0"},
                                                  {"--mode", "syn-queue"},
                                                  {"--mode", "syn-flood", "--flood-syns", "0"},
                                                  {"--mode", "simultaneous-open"}});
}

TEST_CASE("a client arriving while the queue is full waits, bounded, and says so", "[bad-input]") {
  Server server("netlab-handshake-server", {"--no-accept", "--backlog", "0"});
  // The first client fills the queue (one connection) and leaves it there.
  const auto first = run_client(server, {"--connections", "1"});
  CHECK(number(first.at("observed").at("connected")) == 1);
  // A second one, in the middle of that scenario: its SYN is dropped, bounded by --timeout-ms.
  const auto second = run_client(server, {"--connections", "1", "--timeout-ms", "300"});
  CHECK(number(second.at("observed").at("stalled")) == 1);
  CHECK(std::string(second.at("observed").at("attempts").as_array().at(0).at("outcome").as_string()) ==
        "timed out in SYN-SENT");
  CHECK(server.stop() == 0);
}
