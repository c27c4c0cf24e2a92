// netlab-handshake-server — the handshake lab's server (为什么三次握手).
//
// The three-way handshake is the kernel's business: SYN in, SYN-ACK out, ACK
// in, and the finished connection waits in the listener's accept queue until
// the application calls accept(). This server lets a class see that:
//   --backlog N          the accept queue's bound (listen(fd, N)); Linux holds
//                        N + 1 finished connections, and drops the SYNs of more
//   --accept-delay-ms D  wait D ms before each accept(): the queue fills
//   --no-accept          never call accept(): clients still connect, until the
//                        queue is full; then their SYNs go unanswered
// An accepted connection is read to its end and closed (or after --idle-timeout
// without a byte). --max-connections counts accepted connections only: what
// waits in the accept queue is the kernel's, bounded by --backlog, and is what
// the lab shows; one accepted over the limit gets one "ERR server busy" line.
//   --census-ms MS       sample this port's sockets (this network namespace's
//                        census) every MS ms and keep each peer's state changes
//                        (SYN-RECV, ESTAB, gone) with CLOCK_MONOTONIC times, next
//                        to the time of every accept(): a half-open connection
//                        the kernel dropped is one that never reached accept()
#include "io/coro.hpp"
#include "kernel/census.hpp"
#include "program/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/describe/class.hpp>

#include <iostream>
#include <map>
#include <optional>

namespace {

using namespace netlab;
using asio::awaitable;

const ProgramInfo program_info{
    "handshake", "The handshake lab's server: a listener whose accept queue a class can watch fill up.", 7002};

struct Config {
  int backlog = 4;
  long accept_delay_ms = 0;
  bool no_accept = false;
  double idle_timeout = default_idle_timeout;
  long census_ms = 0;
};
// The result's "params".
BOOST_DESCRIBE_STRUCT(Config, (), (backlog, accept_delay_ms, no_accept, idle_timeout))

// CLOCK_MONOTONIC in ms: the same clock in every network namespace, so the
// client's times and these line up.
double monotonic_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// An accept(): when, and whose connection it took from the queue.
struct Accept {
  double mono_ms = 0;
  std::string peer;
};
BOOST_DESCRIBE_STRUCT(Accept, (), (mono_ms, peer))

// A peer's socket on our port changed state ("gone" when it left the census).
struct CensusChange {
  double mono_ms = 0;
  std::string peer;
  std::string state;
};
BOOST_DESCRIBE_STRUCT(CensusChange, (), (mono_ms, peer, state))

struct Counters {
  std::size_t accepted = 0;
  std::size_t bytes_received = 0;
  std::vector<Accept> accepts;
  std::size_t census_samples = 0;
  std::vector<CensusChange> census_timeline;
};
// The census fields go into the result only with --census-ms (CensusObserved).
BOOST_DESCRIBE_STRUCT(Counters, (), (accepted, bytes_received, accepts))

// With --census-ms.
struct CensusObserved {
  long census_every_ms = 0;
  std::size_t census_samples = 0;
  std::vector<CensusChange> census_timeline;
};
BOOST_DESCRIBE_STRUCT(CensusObserved, (), (census_every_ms, census_samples, census_timeline))

// Every MS ms: the sockets on our port; a peer whose state changed (or whose
// socket is gone) gets a line. A request socket shows as SYN-RECV.
awaitable<void> sample_census(std::uint16_t port, long every_ms, Counters& counters, asio::steady_timer& timer,
                              const bool& stopping) {
  std::map<std::string, std::string> last;
  for (;;) {
    std::map<std::string, std::string> now;
    for (const auto& s : list_tcp_sockets({.local_port = port}))
      if (s.state != TcpState::listen)
        now[s.remote_address + ":" + std::to_string(s.remote_port)] = std::string(state_name(s.state));
    const double at = monotonic_ms();
    for (const auto& [peer, state] : now)
      if (auto it = last.find(peer); it == last.end() || it->second != state)
        counters.census_timeline.push_back({.mono_ms = at, .peer = peer, .state = state});
    for (const auto& [peer, state] : last)
      if (!now.contains(peer)) counters.census_timeline.push_back({.mono_ms = at, .peer = peer, .state = "gone"});
    last = std::move(now);
    ++counters.census_samples;
    timer.expires_after(std::chrono::milliseconds(every_ms));
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec || stopping) co_return;
  }
}

awaitable<void> session(tcp::socket socket, const Config& config, Counters& counters, ConnectionRegistry& registry) {
  ServedConnection served(socket, registry, config.idle_timeout);
  char buffer[4096];
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_tuple);
    if (ec) {
      if (!is_normal_ending(ec)) spdlog::warn("read {}: {}", served.who(), ec.message());
      break;
    }
    counters.bytes_received += n;
  }
  served.down("");
}

}  // namespace

int handshake_server(ServerProgram& program, CLI::App& app, Config& config) {
  add_bounded_option(app, "--backlog", config.backlog, "listen() backlog: the accept queue holds backlog + 1", 0, 4096);
  auto* delay = add_bounded_option(app, "--accept-delay-ms", config.accept_delay_ms,
                                   "wait this long before each accept()", 0L, 60'000L);
  app.add_flag("--no-accept", config.no_accept, "never call accept(): the kernel alone does the handshakes")
      ->excludes(delay);
  program.add_idle_timeout(config.idle_timeout);
  add_bounded_option(app, "--census-ms", config.census_ms, "sample this port's socket states every MS ms (0: off)", 0L,
                     1000L);
  program.add_max_connections();
  program.after_parse([&] { program.backlog(config.backlog); });
  Counters counters;
  std::optional<asio::steady_timer> census_timer, accept_delay;
  bool stopping = false;
  const auto accepting = [&] {
    return config.no_accept             ? std::string("never accepting")
           : config.accept_delay_ms > 0 ? "accepting every " + std::to_string(config.accept_delay_ms) + " ms"
                                        : std::string("accepting at once");
  };
  return program.run([&](ServerRun& run) {
    census_timer.emplace(run.io());
    accept_delay.emplace(run.io());
    run.at_exit([&] {  // made on run.io(): gone before it
      census_timer.reset();
      accept_delay.reset();
    });
    // Closing the listener makes the kernel reset what is still in its accept queue.
    run.on_stop([&](std::string_view) {
      stopping = true;
      census_timer->cancel();
      accept_delay->cancel();
    });
    AcceptHooks hooks{.accepted = [&](const tcp::socket& socket) {
      ++counters.accepted;
      boost::system::error_code ignored;
      counters.accepts.push_back({.mono_ms = monotonic_ms(), .peer = to_string(socket.remote_endpoint(ignored))});
    }};
    // Meanwhile the kernel goes on completing handshakes into the accept queue.
    if (config.accept_delay_ms > 0)
      hooks.before_each = [&]() -> awaitable<void> {
        accept_delay->expires_after(std::chrono::milliseconds(config.accept_delay_ms));
        co_await accept_delay->async_wait(use_tuple);
      };
    // --no-accept: the listener stays open and nobody takes from its queue.
    if (!config.no_accept)
      run.serve([&](tcp::socket socket) { return session(std::move(socket), config, counters, run.registry()); },
                std::move(hooks));
    if (config.census_ms > 0)
      asio::co_spawn(run.io(), sample_census(run.bound().port(), config.census_ms, counters, *census_timer, stopping),
                     [](std::exception_ptr error) {
                       if (error) try {
                           std::rethrow_exception(error);
                         } catch (const std::exception& e) {
                           spdlog::error("census: {}", e.what());
                         }
                     });
    run.listening("backlog " + std::to_string(config.backlog) + ", " + accepting());
    run.report([&](Result& result, std::ostream& out) {
      result.set_params(config);
      result.set_observed(counters);
      if (config.census_ms > 0)
        result.set_observed(CensusObserved{.census_every_ms = config.census_ms,
                                           .census_samples = counters.census_samples,
                                           .census_timeline = counters.census_timeline});
      out << "netlab-handshake-server (backlog " << config.backlog << ", " << accepting() << ") on "
          << to_string(run.bound()) << " stopped by " << run.stop_reason() << "\n  accepted " << counters.accepted
          << " connection(s), refused (--max-connections " << run.limit().max() << ") " << run.limit().refused()
          << "\n";
    });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, handshake_server); }
