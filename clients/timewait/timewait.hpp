#pragma once
// What the TIME_WAIT lab's client is made of (docs/labs/timewait.md): the
// requests (requests.cpp), the census of our TIME_WAIT sockets (census.cpp) and
// the note's claims against the numbers (checks.cpp).
#include "format.hpp"
#include "io/net.hpp"
#include "kernel/census.hpp"
#include "pool.hpp"
#include "program/options.hpp"
#include "program/result.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/describe/class.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace netlab::timewait {

enum class Mode { short_lived, pool };

struct Config {
  Mode mode = Mode::short_lived;
  std::size_t requests = 1000, concurrency = 16, pool_size = 8;
  bool linger0 = false;
  double request_timeout = 5;
  std::string compare_with;  // a --mode short result JSON, for the pool's rate ratio
};

inline std::string_view mode_name(Mode mode) { return mode == Mode::pool ? "pool" : "short"; }

// What the run measured, filled in by the workers (all on one thread).
struct Tally {
  std::size_t next = 0;  // the next request number to send
  std::size_t succeeded = 0, retried = 0;
  std::size_t refused = 0, refused_in_a_row = 0;
  std::size_t closed_first_by_client = 0, closed_first_by_server = 0;
  std::map<std::string, std::size_t> connect_errors;  // by errno name
  std::map<std::string, std::size_t> request_errors;
  std::vector<double> latency_ms;
  // Our local ports, each with the moment its connection ended for us: these
  // name our sockets among everyone's in the census.
  std::unordered_map<std::uint16_t, Clock::time_point> ended_at;
  // --mode short: a local port used again by a later connection of this run,
  // counted by the side that held the earlier connection's TIME_WAIT (its closer).
  std::unordered_map<std::uint16_t, bool> closed_by_server;
  std::size_t reused_after_our_close = 0;     // our TIME_WAIT port: connect() took it over (tcp_tw_reuse)
  std::size_t reused_after_server_close = 0;  // the server's TIME_WAIT socket took the new SYN itself
};

struct Run {
  const CommonOptions& options;
  const Config& config;
  tcp::endpoint server;
  Tally tally;
  std::unique_ptr<ConnectionPool> pool;
  bool stopping = false;  // the server is not there: stop sending
};

// Our TIME_WAIT sockets now, on either side. Only sockets whose ports are
// ours count: other programs' connections to other ports are left out.
struct TimeWaitCensus {
  std::size_t client_side = 0;
  std::size_t server_side = 0;
  std::uint32_t timer_max_ms = 0;  // the freshest TIME_WAIT socket's time left
  double lifetime_s = 0;           // its time left + the time since its connection ended
};

// What the run observed (the result's "observed"): the summary and the checks read these.
struct Latency {
  double p50 = 0, p99 = 0;
};
BOOST_DESCRIBE_STRUCT(Latency, (), (p50, p99))
BOOST_DESCRIBE_STRUCT(TimeWaitCensus, (), (client_side, server_side, timer_max_ms, lifetime_s))

struct Kernel {  // this network namespace's TCP counters, their change during the run
  std::optional<std::uint64_t> retransmitted_segments;  // Tcp RetransSegs
  std::optional<std::uint64_t> resets_sent;             // Tcp OutRsts
};
BOOST_DESCRIBE_STRUCT(Kernel, (), (retransmitted_segments, resets_sent))

struct Observed {
  std::size_t succeeded = 0, failed = 0;
  std::map<std::string, std::size_t> connect_errors, request_errors;  // by errno name
  std::size_t not_sent = 0, retried_on_fresh_connection = 0;
  double seconds = 0, requests_per_s = 0;
  Latency latency_ms;
  std::size_t local_ports_used = 0, time_wait_taken_over = 0;
  std::size_t closed_first_by_client = 0, closed_first_by_server = 0;
  TimeWaitCensus time_wait;
  Kernel kernel;
};
BOOST_DESCRIBE_STRUCT(Observed, (),
                      (succeeded, failed, connect_errors, request_errors, not_sent, retried_on_fresh_connection,
                       seconds, requests_per_s, latency_ms, local_ports_used, time_wait_taken_over,
                       closed_first_by_client, closed_first_by_server, time_wait, kernel))

struct Baseline {  // a --mode short run to compare the pool with
  double requests_per_s = 0;
  std::size_t time_wait = 0;
};

// ---- requests.cpp
// Sends the --requests, --concurrency at a time, short-lived or through the pool.
boost::asio::awaitable<void> run_requests(Run& run);

// ---- census.cpp
// Our TIME_WAIT sockets after the run (once our closing handshakes have ended).
TimeWaitCensus time_wait_census(const Run& run);
// Our client-side TIME_WAIT sockets now.
std::size_t client_time_wait_now(const Run& run);
// A sysctl's first line ("unavailable" when unreadable).
std::string read_sysctl(const std::string& path);

// ---- checks.cpp
// "EADDRNOTAVAIL=600 ECONNREFUSED=2", or "none".
std::string describe(const std::map<std::string, std::size_t>& counts);
std::size_t total(const std::map<std::string, std::size_t>& counts);
// connect()s that failed for want of a free local port.
std::size_t address_exhaustion(const Observed& o);
// The --compare-with result of a --mode short run.
Baseline read_baseline(const std::string& path);
// The note's claims, against what the run measured.
void add_checks(const Config& config, const Run& run, const Observed& o, const std::optional<Baseline>& baseline,
                Result& result);

}  // namespace netlab::timewait
