// netlab-handshake-client — the handshake lab's client (为什么三次握手).
//
// Default: M connections, one after another, each connect() bounded by
// --timeout-ms, timed, and counted in segments by the kernel itself
// (TCP_INFO segs_out/segs_in: SYN + ACK out, SYN-ACK in). Then the socket census
// shows both ends ESTAB and the listener's accept queue holding them, whether
// or not the server called accept(); connections beyond the queue's bound
// stall (their SYNs are dropped and retransmitted after ~1 s, ~3 s), and
// /proc/net/netstat counts ListenOverflows. As root, TCP_REPAIR reads each
// connection's two initial sequence numbers: handshake/experiments.hpp.
// --stale-syn: a SYN from a port where no socket exists, through a raw socket
// (CAP_NET_RAW in this network namespace: root, or a user namespace), as an old
// duplicate SYN would arrive: the server's kernel answers SYN-ACK, ours
// answers RST, and no connection is created.
// --isn-capture PCAP: from the lab's capture, whether each handshake's two
// ISNs were acknowledged (ack = ISN + 1): handshake/isns.hpp.
// --mode old-syn | lost-synack | lost-ack: the failure stories across
// netlab-wire (handshake/failures.hpp); --judge RUN.json then gives their
// verdicts from the capture, the server's census and the wire's rule log.
#include "handshake/asked_next.hpp"
#include "handshake/experiments.hpp"
#include "handshake/failures.hpp"
#include "handshake/isns.hpp"
#include "program/client.hpp"
#include "program/options.hpp"
#include "program/result.hpp"

#include <boost/json/serialize.hpp>

#include <iostream>

namespace {

using namespace netlab;

const ProgramInfo program_info{
    "handshake", "The handshake lab's client: connects, times, counts segments; --stale-syn sends an old SYN.", 7002,
    60};

void print_summary(std::ostream& out, const Result& result) {
  const auto& o = result.observed();
  out << "netlab-handshake-client\n";
  if (o.contains("attempts")) {
    for (const auto& a : o.at("attempts").as_array())
      out << "  port " << a.at("local_port") << ": " << a.at("outcome").as_string().c_str() << " after "
          << static_cast<long>(a.at("ms").as_double()) << " ms\n";
    out << "  accept queue " << o.at("accept_queue_length") << " (backlog " << o.at("backlog") << ")";
    if (o.contains("listen_overflows_delta"))
      out << ", ListenOverflows +" << o.at("listen_overflows_delta") << ", ListenDrops +" << o.at("listen_drops_delta");
    out << "\n";
    for (const auto& isn : o.at("isns").as_array())
      out << "  port " << isn.at("local_port") << ": client ISN " << isn.at("client_isn") << ", server ISN "
          << isn.at("server_isn") << "\n";
  }
  for (const char* key : {"first", "second", "connect"})
    if (const auto* a = o.if_contains(key); a && a->is_object())
      out << "  port " << o.at("local_port") << ", " << (key == std::string("connect") ? "" : key)
          << (key == std::string("connect") ? "" : " ")
          << "connect(): " << a->as_object().at("outcome").as_string().c_str() << " after "
          << static_cast<long>(a->as_object().at("ms").as_double()) << " ms\n";
  if (o.contains("segments"))
    for (const auto& s : o.at("segments").as_array())
      out << "  " << s.at("from").as_string().c_str() << " [" << s.at("flags").as_string().c_str() << "] seq "
          << s.at("seq") << " ack " << s.at("ack") << "\n";
}

}  // namespace

int handshake_client(ClientProgram& program, CLI::App& app, handshake::QueueConfig& config) {
  bool stale_syn = false;
  add_bounded_option(app, "--connections", config.connections, "connections to open, one after another", std::size_t{1},
                     std::size_t{64});
  add_bounded_option(app, "--timeout-ms", config.timeout_ms, "bound on each connect()", 50L, 30'000L);
  add_bounded_option(app, "--hold-ms", config.hold_ms, "keep the connections open this long after the census", 0L,
                     60'000L);
  app.add_flag("--stale-syn", stale_syn, "send a SYN from a port with no socket (raw socket: CAP_NET_RAW)");
  handshake::FailureConfig failure;
  app.add_option("--mode", failure.mode,
                 "across netlab-wire: old-syn, lost-synack, lost-ack; syn-queue, syn-flood, simultaneous-open")
      ->check(CLI::IsMember({"old-syn", "lost-synack", "lost-ack", "syn-queue", "syn-flood", "simultaneous-open"}));
  handshake::AskedNextConfig asked;
  app.add_option("--server-netns", asked.server_netns,
                 "syn-queue, syn-flood, simultaneous-open: the server's network namespace (/run/netns/NAME)");
  add_bounded_option(app, "--flood-syns", asked.flood_syns, "syn-flood: spoofed SYNs in the burst", std::size_t{1},
                     std::size_t{1000});
  add_bounded_option(app, "--give-up-ms", failure.give_up_ms, "old-syn: abandon the first connect() after this", 20L,
                     900L);
  add_bounded_option(app, "--data-after-ms", failure.data_after_ms,
                     "lost-ack: send the first data this long after connect()", 0L, 10'000L);
  handshake::Evidence evidence;
  app.add_option("--judge", evidence.run_json, "give the verdicts of the scenario recorded in this JSON");
  app.add_option("--server-json", evidence.server_json, "with --judge: netlab-handshake-server's JSON");
  app.add_option("--wire-json", evidence.wire_json, "with --judge: netlab-wire's stats JSON");
  app.add_option("--pcap", evidence.pcap, "with --judge: the capture on the client's link");
  std::string isn_capture;
  app.add_option("--isn-capture", isn_capture,
                 "judge whether each handshake in this capture (on --port) acked both ISNs");
  program.check_usage([&] {
    if (!evidence.run_json.empty() && (evidence.server_json.empty() || evidence.wire_json.empty()))
      throw UsageError("--judge needs --server-json and --wire-json");
    if (handshake::is_asked_next_mode(failure.mode) && asked.server_netns.empty())
      throw UsageError("--mode " + failure.mode + " needs --server-netns");
  });
  return program.run([&](ClientRun& run) {
    const auto& options = run.options();
    Result& result = run.result();
    if (!evidence.run_json.empty()) {
      handshake::judge_failure(evidence, result);  // the recorded run's params replace ours
      return;
    }
    if (!isn_capture.empty()) {
      handshake::judge_isns(isn_capture, options.port, result);
      return;
    }
    result.set_params(boost::json::object{{"mode", stale_syn ? "stale-syn" : "queue"},
                                          {"connections", config.connections},
                                          {"timeout_ms", config.timeout_ms},
                                          {"seed", options.seed}});
    const std::string raw_refused = stale_syn ? handshake::raw_socket_blocker() : std::string();
    if (!raw_refused.empty()) {
      std::cerr << "netlab-handshake-client: --stale-syn skipped: " << raw_refused << "\n";
      handshake::stale_syn_skipped(result, raw_refused);
    } else if (stale_syn) {
      handshake::run_stale_syn(options, result);
    } else if (handshake::is_asked_next_mode(failure.mode)) {
      asked.mode = failure.mode;
      asked.connections = config.connections;
      asked.timeout_ms = config.timeout_ms;
      asked.seed = options.seed;
      result.params()["mode"] = failure.mode;
      handshake::run_asked_next(options, asked, result);
    } else if (handshake::is_failure_mode(failure.mode)) {
      failure.timeout_ms = config.timeout_ms;
      failure.hold_ms = config.hold_ms;
      result.params()["mode"] = failure.mode;
      result.params()["give_up_ms"] = failure.give_up_ms;
      result.params()["data_after_ms"] = failure.data_after_ms;
      run.within(handshake::run_failure(options, failure, result));
    } else {
      run.within(handshake::run_queue(options, config, result));
    }
    run.summary([&](std::ostream& out) { print_summary(out, result); });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, handshake_client); }
