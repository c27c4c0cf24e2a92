// The capture reader on what the kernel really sends: tcpdump records a
// handshake, a close and an RST made here on loopback, and the facts must
// read them back. Needs root and tcpdump; skipped (77) otherwise.
#include "lab.hpp"
#include "loopback.hpp"
#include "process.hpp"

#include "capture/capture.hpp"
#include "capture/ladder.hpp"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>
#include <csignal>
#include <thread>

using namespace netlab::test;

namespace {

void require_root_and_tcpdump() {
  if (::geteuid() != 0) skip("capturing on lo needs root");
  if (run({"/bin/sh", "-c", "command -v tcpdump"}).exit_code != 0) skip("tcpdump is not installed");
}

// tcpdump on lo for one port: started and ready before the traffic, stopped (SIGINT, flushed) after.
class Capture {
 public:
  Capture(std::uint16_t port)
      : process_({"/usr/bin/env", "tcpdump", "-i", "lo", "--immediate-mode", "-U", "-n", "-s", "0", "-w",
                  dir_.file("capture.pcap"), "tcp port " + std::to_string(port)},
                 dir_.file("out"), dir_.file("err")) {
    for (int i = 0; i < 500 && read_text(dir_.file("err")).find("listening on") == std::string::npos; ++i)
      std::this_thread::sleep_for(10ms);
    REQUIRE(read_text(dir_.file("err")).find("listening on") != std::string::npos);
  }
  std::string file() const { return dir_.file("capture.pcap"); }
  std::vector<netlab::Flow> stop(std::uint16_t port) {
    process_.signal(SIGINT);
    process_.wait(10s);
    return netlab::group_flows(netlab::read_pcap(dir_.file("capture.pcap")), port);
  }

 private:
  TempDir dir_;
  Process process_;
};

// A connection made here on loopback, recorded by tcpdump from before its SYN.
struct RecordedConnection {
  Listener listener;
  Capture capture{listener.port()};
  Connection client{listener.port()};
  int server = listener.accept();
  ~RecordedConnection() { close_server(); }
  void close_server() {
    if (server >= 0) ::close(server);
    server = -1;
  }
  std::uint16_t port() const { return listener.port(); }
};

}  // namespace

TEST_CASE("a real connection: three-segment handshake, a close of three or four", "[root]") {
  require_root_and_tcpdump();
  RecordedConnection recorded;
  const auto port = recorded.port();
  auto& capture = recorded.capture;
  REQUIRE(recorded.client.send("hello"));
  char buffer[16];
  REQUIRE(::recv(recorded.server, buffer, sizeof buffer, 0) == 5);
  recorded.client.close();  // the client closes first ...
  REQUIRE(::recv(recorded.server, buffer, sizeof buffer, 0) == 0);
  recorded.close_server();            // ... and the server after reading its FIN
  std::this_thread::sleep_for(50ms);  // let the last ACK reach the capture
  const auto flows = capture.stop(port);
  REQUIRE(flows.size() == 1);
  const auto facts = netlab::analyse_flow(flows[0]);
  CHECK(facts.handshake_segments == 3);
  CHECK(facts.handshake_complete);
  CHECK(facts.client_isn != facts.server_isn);
  CHECK(facts.first_fin_from == "client");
  // Linux may piggyback the ACK of the first FIN on its own FIN: 3, or 4 without that.
  CHECK(facts.close_segments >= 3);
  CHECK(facts.close_segments <= 4);
  CHECK(facts.rst_segments == 0);
  CHECK(facts.payload_bytes == 5);
  // Nothing lost on loopback: no retransmission of any kind, no hole in the capture.
  CHECK(facts.analysis.retransmission == 0);
  CHECK(facts.analysis.out_of_order == 0);
  CHECK_FALSE(facts.analysis.capture_has_gaps());
  CHECK(netlab::capture_contains(flows, "hello"));
  // netlab-pcap facts streams the same file to the same facts.
  const auto streamed = run({bin("netlab-pcap"), "facts", capture.file(), "--port", std::to_string(port), "--get",
                             "/flow_facts/0/handshake_segments", "--get", "/flow_facts/0/close_segments", "--get",
                             "/retransmissions", "--get", "/capture_gaps", "--get", "/complete"});
  REQUIRE(streamed.exit_code == 0);
  CHECK(streamed.out == "3\n" + std::to_string(facts.close_segments) + "\n0\nfalse\ntrue\n");
  const auto text = netlab::ladder_text(flows[0], netlab::LadderOptions{});
  CHECK(text.find("SYN seq=0") != std::string::npos);
  CHECK(text.find("SYN-ACK seq=0 ack=1") != std::string::npos);
}

TEST_CASE("a real abortive close: SO_LINGER 0 sends RST, no FIN", "[root]") {
  require_root_and_tcpdump();
  RecordedConnection recorded;
  linger abort_now{1, 0};
  REQUIRE(::setsockopt(recorded.client.fd(), SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now) == 0);
  recorded.client.close();
  char byte;
  CHECK(::recv(recorded.server, &byte, 1, 0) < 0);  // ECONNRESET
  recorded.close_server();
  std::this_thread::sleep_for(50ms);
  const auto flows = recorded.capture.stop(recorded.port());
  REQUIRE(flows.size() == 1);
  const auto facts = netlab::analyse_flow(flows[0]);
  CHECK(facts.rst_segments >= 1);
  CHECK(facts.first_rst_from == "client");
  CHECK(facts.first_fin_from.empty());
}
