// netlab-timewait-client — the TIME_WAIT lab's client.
//
// Sends N "PING n" requests to netlab-timewait-server, C at a time:
//   --mode short   a new connection per request: connect, PING, PONG, close.
//                  Every close by the side that closes first leaves one socket
//                  in TIME_WAIT for 60 s (Linux), so N requests leave ~N of them.
//   --mode pool    the same N requests through a ConnectionPool of K long-lived
//                  connections: only K connections are ever closed.
// After the run it asks the kernel (the socket census, as `ss` does) how many of
// *our* connections sit in TIME_WAIT on the client's side and on the server's
// side, reads the TIME_WAIT timer to measure how long the state lasts, and
// checks the note's claims against those numbers.
#include "timewait/timewait.hpp"

#include "io/stats.hpp"
#include "kernel/netstat.hpp"
#include "program/client.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include <iostream>

namespace {

using namespace netlab;
using namespace netlab::timewait;

const ProgramInfo program_info{
    "timewait", "The TIME_WAIT lab's client: N requests, a connection each (short) or through a pool.", 7004, 120};

void print_summary(std::ostream& out, const Config& config, const Observed& o,
                   const std::optional<boost::json::object>& pool) {
  out << "netlab-timewait-client --mode " << mode_name(config.mode) << ": " << config.requests << " requests, "
      << config.concurrency << " at a time"
      << (config.mode == Mode::pool ? ", pool of " + std::to_string(config.pool_size) : std::string())
      << (config.linger0 ? ", SO_LINGER 0" : "") << "\n"
      << "  succeeded " << o.succeeded << ", failed " << o.failed << " (connect " << describe(o.connect_errors)
      << ", request " << describe(o.request_errors) << ")\n"
      << "  " << fixed(o.requests_per_s, 0) << " requests/s, latency p50 " << fixed(o.latency_ms.p50, 3) << " ms, p99 "
      << fixed(o.latency_ms.p99, 3) << " ms\n"
      << "  TIME-WAIT after the run: client side " << o.time_wait.client_side << ", server side "
      << o.time_wait.server_side << "; lifetime " << fixed(o.time_wait.lifetime_s) << " s\n";
  if (pool) out << "  pool: " << boost::json::serialize(*pool) << "\n";
}

}  // namespace

int timewait_client(ClientProgram& program, CLI::App& app, Config& config) {
  app.add_option("--mode", config.mode, "short (a connection per request) | pool (a connection pool)")
      ->transform(
          CLI::CheckedTransformer(std::map<std::string, Mode>{{"short", Mode::short_lived}, {"pool", Mode::pool}}))
      ->capture_default_str();
  add_bounded_option(app, "--requests", config.requests, "requests to send (at most 100000)", std::size_t{1},
                     std::size_t{100'000});
  add_bounded_option(app, "--concurrency", config.concurrency, "requests in flight at once (at most 1000)",
                     std::size_t{1}, std::size_t{1000});
  add_bounded_option(app, "--pool-size", config.pool_size,
                     "connections in the pool (--mode pool, at least 1, at most 1000)", std::size_t{1},
                     std::size_t{1000});
  app.add_flag("--linger0", config.linger0, "close with SO_LINGER {on, 0}: an RST instead of a FIN, no TIME_WAIT");
  add_bounded_option(app, "--request-timeout", config.request_timeout, "seconds one request may take", 0.01, 60.0);
  app.add_option("--compare-with", config.compare_with, "a --mode short result JSON: report the pool's rate ratio");
  // Kept outside the body: the summary reads them after the body has returned.
  Observed o;
  std::optional<boost::json::object> pool;
  return program.run([&](ClientRun& lab) {
    const auto& options = lab.options();
    Result& result = lab.result();
    result.set_params(
        boost::json::object{{"mode", mode_name(config.mode)},
                            {"requests", config.requests},
                            {"concurrency", config.concurrency},
                            {"pool_size", config.mode == Mode::pool ? boost::json::value(config.pool_size) : nullptr},
                            {"linger0", config.linger0},
                            {"request_timeout", config.request_timeout},
                            {"host", options.host},
                            {"tcp_tw_reuse", read_sysctl("/proc/sys/net/ipv4/tcp_tw_reuse")},
                            {"ip_local_port_range", read_sysctl("/proc/sys/net/ipv4/ip_local_port_range")}});
    std::optional<Baseline> baseline;
    if (!config.compare_with.empty()) baseline = read_baseline(config.compare_with);
    Run run{options, config, tcp::endpoint(parse_host(options.host, "--host"), options.port), {}, nullptr};
    const auto retransmitted_before = read_kernel_counter("Tcp", "RetransSegs");
    const auto resets_before = read_kernel_counter("Tcp", "OutRsts");
    const auto started = Clock::now();
    lab.within(run_requests(run), [&] { return std::to_string(run.tally.succeeded) + " requests done"; });
    const auto& tally = run.tally;
    o.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    o.time_wait = time_wait_census(run);
    if (auto after = read_kernel_counter("Tcp", "RetransSegs"); after && retransmitted_before)
      o.kernel.retransmitted_segments = *after - *retransmitted_before;
    if (auto after = read_kernel_counter("Tcp", "OutRsts"); after && resets_before)
      o.kernel.resets_sent = *after - *resets_before;
    if (tally.succeeded == 0 && tally.refused > 0)
      throw std::runtime_error("connect " + to_string(run.server) +
                               ": connection refused — is netlab-timewait-server running?");
    const std::size_t closes = tally.closed_first_by_client + tally.closed_first_by_server;
    o.succeeded = tally.succeeded;
    o.failed = total(tally.connect_errors) + total(tally.request_errors);
    o.connect_errors = tally.connect_errors;
    o.request_errors = tally.request_errors;
    o.not_sent = config.requests - std::min(config.requests, tally.next);
    o.retried_on_fresh_connection = tally.retried;
    o.requests_per_s = o.seconds > 0 ? static_cast<double>(tally.succeeded) / o.seconds : 0.0;
    o.latency_ms = {percentile(tally.latency_ms, 50), percentile(tally.latency_ms, 99)};
    o.local_ports_used = tally.ended_at.size();
    o.time_wait_taken_over =
        config.mode == Mode::short_lived && closes > tally.ended_at.size() ? closes - tally.ended_at.size() : 0;
    o.closed_first_by_client = tally.closed_first_by_client;
    o.closed_first_by_server = tally.closed_first_by_server;
    result.set_observed(o);
    if (run.pool) {
      pool = boost::json::value_from(run.pool->stats()).as_object();
      result.observed()["pool"] = *pool;
    }
    add_checks(config, run, o, baseline, result);
    lab.summary([&](std::ostream& out) { print_summary(out, config, o, pool); });
    // Running out of ports is what the lab shows; any other failure is a failure.
    if (const std::size_t exhausted = address_exhaustion(o); o.failed > exhausted)
      lab.fail(std::to_string(o.failed - exhausted) + " of " + std::to_string(config.requests) +
               " requests failed (connect " + describe(o.connect_errors) + ", request " + describe(o.request_errors) +
               ", " + std::to_string(o.not_sent) + " not sent) — did netlab-timewait-server stop?");
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, timewait_client); }
