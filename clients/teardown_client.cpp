// netlab-teardown-client — the teardown lab's client (为什么四次挥手).
//
// Plays the scenario of netlab-teardown-server --mode (the same --mode here)
// and records, at each step, the state of both ends of the connection in the
// socket census (what `ss -tan` shows):
//   normal       two connections that we close first (shutdown(SHUT_WR)): the
//                server closes one at once and one after --pause-ms (or with
//                TCP_QUICKACK, --quickack); the kernel's own segment counters
//                (TCP_INFO segs_in/segs_out) give the segments each close took.
//   half-close   request, shutdown(SHUT_WR), and the whole response still
//                arrives after our FIN: FIN_WAIT_2 here, CLOSE_WAIT there,
//                then LAST_ACK there, then TIME_WAIT here.
//   unread-data  a second request the server never reads: its close() sends
//                RST; we read what reached us, then ECONNRESET; bytes lost.
//   linger0      the server aborts with SO_LINGER {on, 0}: RST, no TIME_WAIT.
// (teardown/loopback.hpp.) Across netlab-wire (teardown/wire.cpp; each side sees only its own end):
//   lost-last-ack       our last ACK is lost: the server's FIN comes again and
//                       our TIME_WAIT answers it (server --mode passive-close)
//   no-time-wait        the same with no TIME_WAIT socket: we answer with RST
//   simultaneous-close  both sides close at once (server --mode simultaneous-close)
//   rfc1337             an RST reaches our TIME_WAIT (server --mode passive-close)
//   old-segment         an old segment replayed into a new connection on the
//                       same four-tuple (server --mode old-segment);
//                       old-segment-bare: no TIME_WAIT (linger 0), no timestamps
//   cut-cable, keepalive  a dead peer: the cable cut under a connection
//                       (teardown/dead_peer.cpp; server --mode dead-peer)
#include "program/client.hpp"
#include "program/options.hpp"
#include "program/result.hpp"
#include "teardown/dead_peer.hpp"
#include "teardown/loopback.hpp"
#include "teardown/wire.hpp"

#include <boost/describe/class.hpp>
#include <boost/json/array.hpp>

#include <iostream>

namespace {

using namespace netlab;
namespace json = boost::json;

const ProgramInfo program_info{"teardown", "The teardown lab's client: how a TCP connection closes, state by state.",
                               7003, 60};

// The result's "params": this run's options (response_bytes 0: the server's default).
struct Params {
  std::string mode;
  long pause_ms = 0;
  bool quickack = false;
  std::size_t response_bytes = 0;
};
BOOST_DESCRIBE_STRUCT(Params, (), (mode, pause_ms, quickack, response_bytes))

void print_summary(std::ostream& out, const teardown::Config& config, const Result& result) {
  out << "netlab-teardown-client --mode " << config.mode << "\n";
  const auto& o = result.observed();
  auto print_steps = [&out](const json::array& steps) {
    for (const auto& s : steps)
      out << "  " << s.at("step").as_string().c_str() << ": client " << s.at("client").as_string().c_str()
          << ", server " << s.at("server").as_string().c_str() << " (Send-Q " << s.at("server_send_q") << ")\n";
  };
  if (o.contains("connections"))
    for (const auto& c : o.at("connections").as_array()) {
      out << " " << c.at("connection").as_string().c_str() << ": " << c.at("closing_segments")
          << " segments to close\n";
      print_steps(c.at("steps").as_array());
    }
  if (o.contains("steps")) print_steps(o.at("steps").as_array());
  if (o.contains("our_path")) out << "  our end: " << o.at("our_path").as_string().c_str() << "\n";
  if (o.contains("server_path")) out << "  the server's end: " << o.at("server_path").as_string().c_str() << "\n";
}

}  // namespace

int teardown_client(ClientProgram& program, CLI::App& app, teardown::Config& config) {
  long settle_ms = config.settle.count();
  std::string compare_with;
  app.add_option("--mode", config.mode,
                 "normal | half-close | unread-data | linger0 (as the server's --mode); across the wire: "
                 "lost-last-ack | no-time-wait | rfc1337 (server passive-close), simultaneous-close, old-segment, "
                 "old-segment-bare (server old-segment); cut-cable | keepalive (server dead-peer)")
      ->capture_default_str()
      ->check(CLI::IsMember({"normal", "half-close", "unread-data", "linger0", "lost-last-ack", "no-time-wait",
                             "simultaneous-close", "rfc1337", "old-segment", "old-segment-bare", "cut-cable",
                             "keepalive"}));
  teardown::DeadPeerConfig dead_peer;
  teardown::add_dead_peer_options(app, dead_peer);
  app.add_option("--compare-with", compare_with, "rfc1337: the result JSON of the run with the other tcp_rfc1337")
      ->check(CLI::ExistingFile);
  add_bounded_option(app, "--pause-ms", config.pause_ms,
                     "the server's pause before it closes (normal: second connection)", 0L, 10'000L);
  app.add_flag("--quickack", config.quickack, "normal: the second connection asks for TCP_QUICKACK instead of a pause");
  app.add_option("--response-bytes", config.response_bytes, "response size (default: the server's for the mode)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{16} << 20));
  add_bounded_option(app, "--settle-ms", settle_ms, "bound on each wait for a state to show", 10L, 60'000L);
  return program.run([&](ClientRun& run) {
    config.settle = std::chrono::milliseconds(settle_ms);
    Result& result = run.result();
    result.set_params(Params{.mode = config.mode,
                             .pause_ms = config.pause_ms,
                             .quickack = config.quickack,
                             .response_bytes = config.response_bytes});
    const auto& options = run.options();
    const teardown::WireConfig wire{config.mode, config.settle, compare_with};
    dead_peer.settle = config.settle;
    run.within(teardown::is_dead_peer_mode(config.mode)
                   ? teardown::dead_peer_scenario(options, config.mode, dead_peer, result)
               : teardown::is_wire_mode(config.mode) ? teardown::wire_scenario(options, wire, result)
                                                     : teardown::loopback_scenario(options, config, result));
    run.summary([&](std::ostream& out) { print_summary(out, config, result); });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, teardown_client); }
