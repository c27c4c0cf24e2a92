// netlab-relay — a UDP impairment relay for the tcp和udp lab.
//
// Sits between a client and netlab-transport-server and does to datagrams
// what a bad network path does: drops some (--loss), delivers some twice
// (--duplicate), delays each one (--delay-ms) by a varying amount
// (--jitter-ms; jitter larger than the gap between sends reorders them), and
// holds some back behind the next one (--reorder). Every choice comes from
// one generator seeded with --seed, re-seeded for each new client, so the
// same seed makes the same choices on the same input.
//
// It counts what it did and what it sent (the same accounting the server
// keeps, applied to its own output), and answers a relay_query datagram with
// those counts, so a client can set the relay's numbers against the server's.
// Datagrams that are not netlab messages are forwarded as they are, unimpaired:
// the server must count them as corrupt. Control messages ("done") wait until
// every delayed datagram has gone, so they never overtake the data.
// One client at a time: replies go to the last client that sent data.
#include "io/coro.hpp"
#include "io/net.hpp"
#include "kernel/transport_kernel.hpp"
#include "program/logging.hpp"
#include "program/options.hpp"
#include "program/readiness.hpp"
#include "program/result.hpp"
#include "proto/transport_message.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/describe/class.hpp>
#include <boost/json/serialize.hpp>

#include <sys/socket.h>

#include <deque>
#include <iostream>
#include <map>
#include <random>

namespace {

using namespace netlab;
namespace tr = netlab::transport;
using asio::awaitable;
using udp = asio::ip::udp;

struct Config {
  std::string server_host = "127.0.0.1";
  std::uint16_t server_port = 7001;
  double loss = 0, duplicate = 0, reorder = 0;
  double delay_ms = 0, jitter_ms = 0;
  int rcvbuf = 4 << 20;
  std::uint64_t seed = 1;
};
// The result's "params" (with the relay's own port).
BOOST_DESCRIBE_STRUCT(Config, (),
                      (server_host, server_port, loss, duplicate, reorder, delay_ms, jitter_ms, rcvbuf, seed))

// What the relay did for one client (a session) or over its whole life.
struct Counts {
  std::uint64_t data_in = 0, dropped = 0, duplicated = 0, held = 0, forwarded = 0;
  std::uint64_t garbage_forwarded = 0, controls_forwarded = 0, replies_forwarded = 0, send_errors = 0;
  std::uint32_t drops_before = 0, socket_drops = 0;  // SO_RXQ_OVFL on the client side
  std::uint64_t expected = 0;                        // from the client's "done"
  tr::SequenceAccounting sent;                       // the data as it left towards the server

  boost::json::object to_json() const {
    return {{"data_in", data_in},
            {"dropped", dropped},
            {"duplicated", duplicated},
            {"reorder_held", held},
            {"forwarded", forwarded},
            {"garbage_forwarded", garbage_forwarded},
            {"controls_forwarded", controls_forwarded},
            {"replies_forwarded", replies_forwarded},
            {"send_errors", send_errors},
            {"socket_drops", socket_drops},
            {"expected", expected},
            // The server's view of the same stream, if the last hop loses nothing:
            {"lost", sent.lost(expected)},
            {"reordered", sent.reordered()},
            {"duplicated_out", sent.duplicated()}};
  }
};

class Relay {
 public:
  Relay(udp::socket downstream, udp::socket upstream, const Config& config)
      : downstream_(std::move(downstream)),
        upstream_(std::move(upstream)),
        config_(config),
        wake_(downstream_.get_executor()) {}

  awaitable<void> from_clients();
  awaitable<void> from_server();
  awaitable<void> forward();
  void stop();
  boost::json::object report() const;
  const Counts& total() const { return total_; }

 private:
  struct Pending {
    std::string bytes;
    bool data = false;
    bool held = false;  // --reorder: goes out after the next datagram
    std::uint64_t sequence = 0;
  };
  using Key = std::pair<Clock::time_point, std::uint64_t>;  // due time, arrival order

  void start_session(const udp::endpoint& client, std::uint32_t drops);
  void on_data(std::string bytes, std::uint64_t sequence);
  void schedule(Clock::time_point due, Pending pending);
  awaitable<void> send_upstream(const Pending& pending);
  template <typename F>
  void count(F f) {
    f(session_);
    f(total_);
  }

  udp::socket downstream_, upstream_;
  Config config_;
  asio::steady_timer wake_;
  std::mt19937_64 rng_;
  std::optional<udp::endpoint> client_;
  std::map<Key, Pending> queue_;
  std::deque<Pending> held_;
  std::deque<std::string> controls_;
  std::uint64_t order_ = 0;
  Counts session_, total_;
  std::uint64_t sessions_ = 0;
  bool stopped_ = false;
};

void Relay::start_session(const udp::endpoint& client, std::uint32_t drops) {
  client_ = client;
  session_ = Counts{};
  session_.drops_before = drops;
  rng_.seed(config_.seed);  // the same seed makes the same choices for every client
  ++sessions_;
  spdlog::info("session {}: client {}:{}", sessions_, client.address().to_string(), client.port());
}

// The four draws happen for every data datagram, used or not, so that each
// datagram's fate depends only on the seed and its place in the stream.
void Relay::on_data(std::string bytes, std::uint64_t sequence) {
  std::uniform_real_distribution<double> chance(0.0, 1.0);
  const double drop = chance(rng_), twice = chance(rng_), hold = chance(rng_);
  const auto jitter_us =
      std::uniform_int_distribution<std::int64_t>(0, static_cast<std::int64_t>(config_.jitter_ms * 1000))(rng_);
  count([](Counts& c) { ++c.data_in; });
  if (drop < config_.loss) {
    count([](Counts& c) { ++c.dropped; });
    return;
  }
  const auto due =
      Clock::now() + std::chrono::microseconds(static_cast<std::int64_t>(config_.delay_ms * 1000) + jitter_us);
  const bool held = hold < config_.reorder;
  if (held) count([](Counts& c) { ++c.held; });
  if (twice < config_.duplicate) {
    count([](Counts& c) { ++c.duplicated; });
    schedule(due, {bytes, true, held, sequence});
    schedule(due, {std::move(bytes), true, false, sequence});
  } else {
    schedule(due, {std::move(bytes), true, held, sequence});
  }
}

void Relay::schedule(Clock::time_point due, Pending pending) {
  const bool earliest = queue_.empty() || Key{due, order_} < queue_.begin()->first;
  queue_.emplace(Key{due, order_++}, std::move(pending));
  if (earliest) wake_.cancel();
}

awaitable<void> Relay::from_clients() {
  std::vector<char> buffer(65536);
  for (;;) {
    auto [ec] = co_await downstream_.async_wait(udp::socket::wait_read, use_tuple);
    if (ec || stopped_) co_return;
    for (int batch = 0; batch < 256; ++batch) {
      ReceivedDatagram got;
      if (receive_datagram(downstream_.native_handle(), buffer, got)) break;
      std::string bytes(buffer.data(), got.size);
      const auto header = tr::peek_header(bytes);
      if (header && header->kind == tr::Kind::relay_query) {
        std::string reply;
        tr::encode(tr::Kind::relay_report, 0, 0, boost::json::serialize(report()), reply);
        co_await downstream_.async_send_to(asio::buffer(reply), got.from, use_tuple);
        continue;
      }
      if (!client_ || *client_ != got.from) start_session(got.from, got.socket_drops);
      count([&](Counts& c) { c.socket_drops = got.socket_drops - c.drops_before; });
      const auto decoded = tr::decode_datagram(bytes);
      if (decoded.message && decoded.message->header.kind == tr::Kind::data) {
        on_data(std::move(bytes), decoded.message->header.sequence);
      } else if (decoded.message && decoded.message->header.kind == tr::Kind::done) {
        session_.expected = decoded.message->header.sequence;
        controls_.push_back(std::move(bytes));
        wake_.cancel();
      } else {
        if (!decoded.message) count([](Counts& c) { ++c.garbage_forwarded; });
        schedule(Clock::now(), {std::move(bytes), false, false, 0});
      }
    }
  }
}

awaitable<void> Relay::send_upstream(const Pending& pending) {
  auto [ec, n] = co_await upstream_.async_send(asio::buffer(pending.bytes), use_tuple);
  (void)n;
  if (ec) {
    count([](Counts& c) { ++c.send_errors; });
    if (session_.send_errors <= 3) spdlog::warn("send to the server: {}", ec.message());
    co_return;
  }
  count([](Counts& c) { ++c.forwarded; });
  if (pending.data) count([&](Counts& c) { c.sent.on_message(pending.sequence, pending.bytes.size()); });
}

// Sends each datagram when it is due; "done" only once nothing is left.
awaitable<void> Relay::forward() {
  while (!stopped_) {
    if (queue_.empty()) {
      if (!controls_.empty()) {
        for (; !held_.empty(); held_.pop_front()) co_await send_upstream(held_.front());
        for (; !controls_.empty(); controls_.pop_front()) {
          const Pending control{controls_.front(), false, false, 0};
          co_await send_upstream(control);
          count([](Counts& c) { ++c.controls_forwarded; });
        }
        continue;
      }
      wake_.expires_at(Clock::time_point::max());
      co_await wake_.async_wait(use_tuple);
      continue;
    }
    const auto due = queue_.begin()->first.first;
    if (due > Clock::now()) {
      wake_.expires_at(due);
      co_await wake_.async_wait(use_tuple);  // cancelled early when something earlier arrives
      continue;
    }
    Pending next = std::move(queue_.begin()->second);
    queue_.erase(queue_.begin());
    if (next.held) {
      held_.push_back(std::move(next));
      continue;
    }
    co_await send_upstream(next);
    if (next.data)
      for (; !held_.empty(); held_.pop_front()) co_await send_upstream(held_.front());
  }
}

// Replies (the server's report) go back to the client unimpaired.
awaitable<void> Relay::from_server() {
  std::vector<char> buffer(65536);
  std::size_t refused = 0;
  while (!stopped_) {
    auto [ec, n] = co_await upstream_.async_receive(asio::buffer(buffer), use_tuple);
    if (ec == asio::error::connection_refused) {  // ICMP port unreachable: nothing listens there
      if (++refused <= 3)
        spdlog::warn("the server {}:{} refused a datagram — is netlab-transport-server running?", config_.server_host,
                     config_.server_port);
      continue;
    }
    if (ec) co_return;
    if (!client_) continue;
    auto [send_ec, sent] = co_await downstream_.async_send_to(asio::buffer(buffer.data(), n), *client_, use_tuple);
    (void)sent;
    if (!send_ec) count([](Counts& c) { ++c.replies_forwarded; });
  }
}

void Relay::stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  downstream_.close(ignored);
  upstream_.close(ignored);
  wake_.cancel();
}

boost::json::object Relay::report() const {
  return {{"session", session_.to_json()}, {"total", total_.to_json()},      {"sessions", sessions_},
          {"loss", config_.loss},          {"duplicate", config_.duplicate}, {"reorder", config_.reorder},
          {"delay_ms", config_.delay_ms},  {"jitter_ms", config_.jitter_ms}, {"seed", config_.seed}};
}

// A big client-side buffer: the relay itself must not be where datagrams are lost.
void enlarge_receive_buffer(int fd, int bytes) {
  // SO_RCVBUFFORCE passes net.core.rmem_max, but only with CAP_NET_ADMIN.
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) set_receive_buffer(fd, bytes);
}

}  // namespace

// Not on ServerProgram (program/server.hpp): the relay is no lab's server.
// It is named netlab-relay, its result's role is "relay", it accepts no TCP
// connection (so it has no connection limit, registry or accept loop) and it
// answers on two UDP sockets; what it shares with the servers is the common
// options, the stops and the result.
int main(int argc, char** argv) {
  CLI::App app("A UDP impairment relay: seeded loss, duplication, delay, jitter and reordering.", "netlab-relay");
  CommonOptions options;
  add_common_options(app, options, 7101, Role::server);
  Config config;
  app.add_option("--server-host", config.server_host, "where netlab-transport-server listens")->capture_default_str();
  add_bounded_option(app, "--server-port", config.server_port, "its UDP port", 1, 65535);
  add_bounded_option(app, "--loss", config.loss, "share of data datagrams dropped (0..1)", 0.0, 1.0);
  add_bounded_option(app, "--duplicate", config.duplicate, "share of data datagrams sent twice (0..1)", 0.0, 1.0);
  add_bounded_option(app, "--reorder", config.reorder, "share held back behind the next datagram (0..1)", 0.0, 1.0);
  add_bounded_option(app, "--delay-ms", config.delay_ms, "delay added to every data datagram", 0.0, 10'000.0);
  add_bounded_option(app, "--jitter-ms", config.jitter_ms, "plus a uniform random 0..J ms (J > send gap reorders)", 0.0,
                     10'000.0);
  add_bounded_option(app, "--rcvbuf", config.rcvbuf, "SO_RCVBUF of the client-side socket", 4096, 256 << 20);
  if (auto code = parse_options(app, argc, argv)) return *code;
  config.seed = options.seed;
  init_logging("relay", options.log_level);

  try {
    asio::io_context io;
    udp::socket downstream = open_udp_socket(io, options.host, options.port, "netlab-relay");
    enable_drop_count(downstream.native_handle());
    enlarge_receive_buffer(downstream.native_handle(), config.rcvbuf);
    const auto address = asio::ip::make_address(config.server_host);
    udp::socket upstream(io, address.is_v6() ? udp::v6() : udp::v4());
    upstream.connect({address, config.server_port});  // no packet: connect only fixes the peer
    const std::uint16_t port = downstream.local_endpoint().port();

    Relay relay(std::move(downstream), std::move(upstream), config);
    std::string stop_reason = "?";
    StopSignals stop(io, options.max_seconds, [&](std::string_view reason) {
      stop_reason = reason;
      spdlog::info("stopping ({})", reason);
      relay.stop();
    });
    asio::co_spawn(io, relay.from_clients(), asio::detached);
    asio::co_spawn(io, relay.from_server(), asio::detached);
    asio::co_spawn(io, relay.forward(), asio::detached);
    spdlog::info("relaying {}:{} -> {}:{} (loss {}, duplicate {}, reorder {}, delay {} ms, jitter {} ms, seed {})",
                 options.host, port, config.server_host, config.server_port, config.loss, config.duplicate,
                 config.reorder, config.delay_ms, config.jitter_ms, config.seed);
    if (!options.port_file.empty()) write_port_file(options.port_file, port);
    io.run();

    Result result("transport", "relay");
    result.params()["port"] = port;
    result.set_params(config);
    result.observed() = relay.report();
    result.observed()["stopped_by"] = stop_reason;
    if (options.json != "-") {
      const auto& t = relay.total();
      std::cout << "netlab-relay on " << options.host << ":" << port << " stopped by " << stop_reason << "\n"
                << "  data in " << t.data_in << ", dropped " << t.dropped << ", duplicated " << t.duplicated
                << ", held back " << t.held << ", forwarded " << t.forwarded << ", garbage forwarded "
                << t.garbage_forwarded << ", replies " << t.replies_forwarded << "\n";
    }
    result.write(options.json);
  } catch (const std::exception& e) {
    std::cerr << "netlab-relay: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
