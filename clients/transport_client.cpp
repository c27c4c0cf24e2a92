// netlab-transport-client — the tcp和udp lab's client.
//
// --mode stream (default): sends N numbered messages over TCP, then the same
// N over UDP (--proto both), each ending with "done, I sent N", and gets the
// server's account back: received, lost, reordered, duplicated, corrupted.
// Over TCP it also measures flow control from the sender's side: how often
// and how long the kernel refused more bytes (EAGAIN: the send buffer is full
// because the receiver's window is closed), and TCP_INFO's rwnd_limited time
// and the peer's advertised window.
// --mode semantics: what "connection-oriented" means on the wire: TCP connect
// to a port where nothing listens, UDP sendto there (unconnected, then
// connected), and the packets one message costs over each protocol.
// --mode congestion: TCP flows through a bottleneck (netlab-wire between
// namespaces), TCP_INFO sampled every few milliseconds: slow start, the
// back-off after a loss, two flows sharing, UDP beside TCP, one flow per
// congestion-control algorithm (transport/congestion.hpp).
// --mode probes-capture --pcap FILE: the persist timer's probes in a capture (transport/persist.hpp).
// --mode window / window-verdicts: the window over a long path (transport/window.hpp).
// --mode overhead-capture --pcap FILE: the bytes per message counted in the
// capture of a --proto both run (made with --overhead-by-capture), for tcp-costs-more.
// Every verdict is computed from what this run measured.
#include "program/client.hpp"
#include "program/options.hpp"
#include "program/result.hpp"
#include "proto/transport_message.hpp"
#include "transport/checks.hpp"
#include "transport/congestion.hpp"
#include "transport/experiments.hpp"
#include "transport/persist.hpp"

#include <boost/describe/class.hpp>

#include <iostream>
#include <map>

namespace {

using namespace netlab;
namespace tr = netlab::transport;
using asio::awaitable;
using tr::Mode;
using tr::Proto;

const ProgramInfo program_info{
    "transport", "The tcp和udp lab's client: one numbered stream over TCP and UDP, set against the server's account.",
    7001, 60};

// The result's "params": this run's options.
struct Params {
  std::string mode;      // --step, or the mode
  std::string scenario;  // the mode
  std::string proto;
  std::size_t messages = 0, size = 0;
  std::string rate;  // messages per second, or "max"
  int sndbuf = 0;
  bool relay = false;
  double link_loss = 0;
  std::uint64_t seed = 0;
  std::string host;
};
BOOST_DESCRIBE_STRUCT(Params, (), (mode, scenario, proto, messages, size, rate, sndbuf, relay, link_loss, seed, host))

// ---- the run -------------------------------------------------------------------------

// Each part goes into the result as soon as it is measured.
awaitable<void> run_lab(const CommonOptions& options, const tr::Config& config, Result& result,
                        tr::Observed& observed) {
  if (config.mode == Mode::congestion) {
    co_await tr::run_congestion(options, config.congestion, result);
    co_return;
  }
  if (config.mode == Mode::probes_capture) {
    const auto probes = tr::capture_probes(config.pcap, options.port);
    result.set_observed(tr::PersistObserved{probes});
    tr::probes_check(result, probes);
    co_return;
  }
  if (config.mode == Mode::window) {
    co_await tr::run_window(options, config.window, result);
    co_return;
  }
  if (config.mode == Mode::window_verdicts) {
    tr::window_verdicts(config.window, result);
    co_return;
  }
  if (config.mode == Mode::overhead_capture) {
    observed.overhead = tr::capture_overhead(config.pcap, options.port, config.messages);
    result.set_observed(observed);
    tr::costs_more_check(result, *observed.overhead);
    co_return;
  }
  if (config.mode == Mode::semantics) {
    observed.semantics = co_await tr::semantics(options, config);
    result.set_observed(observed);
    tr::semantics_checks(result, *observed.semantics);
    co_return;
  }
  if (config.proto != Proto::udp) {
    observed.tcp = co_await tr::tcp_stream(options, config);
    result.set_observed(observed);
    tr::tcp_checks(result, *observed.tcp);
  }
  if (config.proto != Proto::tcp) {
    observed.udp = co_await tr::udp_stream(options, config);
    result.set_observed(observed);
    tr::udp_checks(result, *observed.udp, config.relay, config.link_loss);
  }
  if (config.proto == Proto::both) {
    observed.overhead = tr::comparison_checks(result, *observed.tcp, *observed.udp, config.overhead_check);
    result.set_observed(observed);
  }
}

void print_summary(std::ostream& out, const tr::Observed& observed) {
  if (observed.tcp) out << "  tcp: " << tr::account_text(observed.tcp->server) << "\n";
  if (observed.udp) out << "  udp: " << tr::account_text(observed.udp->server) << "\n";
}

}  // namespace

int transport_client(ClientProgram& program, CLI::App& app, tr::Config& config) {
  std::string rate = "max";
  std::string step;
  app.add_option("--proto", config.proto, "tcp | udp | both")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, Proto>{{"tcp", Proto::tcp}, {"udp", Proto::udp}, {"both", Proto::both}}))
      ->capture_default_str();
  app.add_option("--mode", config.mode,
                 "stream | semantics | congestion | overhead-capture | window | window-verdicts | probes-capture")
      ->transform(CLI::CheckedTransformer(std::map<std::string, Mode>{{"stream", Mode::stream},
                                                                      {"semantics", Mode::semantics},
                                                                      {"congestion", Mode::congestion},
                                                                      {"overhead-capture", Mode::overhead_capture},
                                                                      {"window", Mode::window},
                                                                      {"window-verdicts", Mode::window_verdicts},
                                                                      {"probes-capture", Mode::probes_capture}}))
      ->capture_default_str();
  app.add_option("--window-case", config.window.window_case, "window: this flow's name (small, autotuned, unscaled)")
      ->capture_default_str();
  add_bounded_option(app, "--window-seconds", config.window.seconds, "window: how long the flow sends", 0.5, 60.0);
  app.add_option("--runs", config.window.runs, "window-verdicts: the small, autotuned and unscaled flows' results")
      ->delimiter(',');
  app.add_option("--pcap", config.pcap, "overhead-capture: the capture of a --proto both run (on --port)");
  app.add_flag_function(
      "--overhead-by-capture", [&](std::int64_t) { config.overhead_check = tr::OverheadCheck::from_capture; },
      "stream: leave tcp-costs-more to --mode overhead-capture over this run's capture");
  auto& cc = config.congestion;
  app.add_option("--scenario", cc.scenarios, "congestion: single share udp algorithms (any of them)")
      ->check(CLI::IsMember({"single", "share", "udp", "algorithms"}))
      ->delimiter(',');
  add_bounded_option(app, "--seconds", cc.seconds, "congestion: how long each flow sends", 0.5, 120.0);
  add_bounded_option(app, "--sample-ms", cc.sample_ms, "congestion: TCP_INFO every this many ms", 1.0, 1000.0);
  add_bounded_option(app, "--bottleneck-kbit", cc.bottleneck_kbit,
                     "congestion: the bottleneck's rate (what netlab-wire was given)", std::uint64_t{1},
                     std::uint64_t{100'000'000});
  add_bounded_option(app, "--udp-factor", cc.udp_factor, "congestion: the UDP sender's rate, times the bottleneck", 0.1,
                     10.0);
  app.add_option("--cc", cc.algorithms, "congestion: algorithms for the algorithms scenario (default cubic,reno,bbr)")
      ->delimiter(',');
  app.add_option("--wire-events", cc.wire_events,
                 "congestion: netlab-wire's --events file, to set its drops beside TCP_INFO");
  app.add_option("--csv", cc.csv, "congestion: write every TCP_INFO sample here");
  app.add_option("--svg", cc.svg, "congestion: draw cwnd and the queue here (and NAME-algorithms.svg)");
  add_bounded_option(app, "--messages", config.messages, "messages per protocol", std::size_t{1},
                     std::size_t{1'000'000});
  add_bounded_option(app, "--size", config.size, "payload bytes per message (a 32-byte header is added)",
                     std::size_t{0}, tr::max_payload);
  app.add_option("--rate", rate, "messages per second, or max")->capture_default_str()->check([](const std::string& v) {
    if (v == "max") return std::string();
    try {
      const double r = std::stod(v);
      return r > 0 && r <= 10'000'000 ? std::string() : std::string("--rate wants max or 0 < R <= 1e7");
    } catch (const std::exception&) {
      return std::string("--rate wants max or a number");
    }
  });
  app.add_option("--step", step, "name this run in the result (params.mode; default: the mode), e.g. slow-reader");
  app.add_flag("--relay", config.relay, "--port is a netlab-relay: ask it for its counts after the UDP run");
  add_bounded_option(app, "--sndbuf", config.sndbuf, "TCP SO_SNDBUF in bytes (0 = the kernel's default)", 0, 64 << 20);
  add_bounded_option(app, "--link-loss", config.link_loss, "the share the lossy link drops (for the report only)", 0.0,
                     1.0);
  add_bounded_option(app, "--dead-port", config.dead_port, "semantics: a port where nothing listens (0 = pick one)", 0,
                     65535);
  add_bounded_option(app, "--done-attempts", config.done_attempts, "how often UDP 'done' is sent before giving up", 1,
                     1000);
  add_bounded_option(app, "--done-interval-ms", config.done_interval_ms, "wait for a report this long per attempt", 1,
                     10'000);
  program.check_usage([&] {
    if ((config.mode == Mode::overhead_capture || config.mode == Mode::probes_capture) != !config.pcap.empty())
      throw UsageError("--pcap goes with --mode overhead-capture or probes-capture, and they need one");
    if ((config.mode == Mode::window_verdicts) != !config.window.runs.empty() ||
        (!config.window.runs.empty() && config.window.runs.size() != 3))
      throw UsageError("--runs SMALL,AUTOTUNED,UNSCALED goes with --mode window-verdicts, and it needs all three");
  });
  tr::Observed observed;  // --mode stream and semantics: what the run measured (the summary reads it)
  return program.run([&](ClientRun& run) {
    const auto& options = run.options();
    config.rate = rate == "max" ? 0 : std::stod(rate);
    config.seed = options.seed;
    config.congestion.seed = options.seed;
    config.window.seed = options.seed;
    if (app.count("--size") > 0) config.congestion.size = config.size;  // else full-sized segments
    Result& result = run.result();
    const char* mode = config.mode == Mode::stream            ? "stream"
                       : config.mode == Mode::semantics       ? "semantics"
                       : config.mode == Mode::congestion      ? "congestion"
                       : config.mode == Mode::window          ? "window"
                       : config.mode == Mode::window_verdicts ? "window-verdicts"
                       : config.mode == Mode::probes_capture  ? "probes-capture"
                                                              : "overhead-capture";
    const char* proto = config.proto == Proto::tcp ? "tcp" : config.proto == Proto::udp ? "udp" : "both";
    result.set_params(Params{.mode = step.empty() ? std::string(mode) : step,
                             .scenario = mode,
                             .proto = proto,
                             .messages = config.messages,
                             .size = config.size,
                             .rate = rate,
                             .sndbuf = config.sndbuf,
                             .relay = config.relay,
                             .link_loss = config.link_loss,
                             .seed = config.seed,
                             .host = options.host});
    run.within(run_lab(options, config, result, observed));
    run.summary([&, mode, proto](std::ostream& out) {
      out << "netlab-transport-client --mode " << mode;
      if (config.mode == Mode::stream)
        out << " --proto " << proto << ": " << config.messages << " messages of " << config.size << " bytes, rate "
            << rate;
      else if (config.mode == Mode::overhead_capture)
        out << ": " << config.pcap << ", " << config.messages << " messages over each protocol";
      else if (config.mode == Mode::window || config.mode == Mode::window_verdicts)
        out << ": the window over a long path";
      else if (config.mode == Mode::probes_capture)
        out << ": zero-window probes in " << config.pcap;
      else if (config.mode == Mode::congestion)
        out << ": flows of " << config.congestion.seconds << " s through a "
            << static_cast<double>(config.congestion.bottleneck_kbit) / 1000 << " Mbit/s bottleneck";
      else
        out << ": port " << observed.semantics->dead_port << " (nothing there) and port " << options.port
            << " (the server)";
      out << "\n";
      print_summary(out, observed);
    });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, transport_client); }
