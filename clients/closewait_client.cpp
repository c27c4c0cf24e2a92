// netlab-closewait-client — the closewait lab's client (closewait是什么状态).
//
// Opens N connections to netlab-closewait-server, says HELLO on each, then
// closes them all: our FINs move the server's sockets to CLOSE_WAIT. Then it
// looks, from outside the server, at what the server's code did about it:
//   - the socket census: how many of the server's sockets for our connections
//     sit in CLOSE_WAIT, with how many bytes left to send, and for how long;
//     and our own sockets, in FIN_WAIT_2 (waiting for a FIN that never comes)
//     or TIME_WAIT (the server did close);
//   - the server's open file descriptors before and after (its STATUS line).
// --bug leaves N CLOSE_WAIT and N more descriptors; --fixed leaves none.
#include "kernel/lifecycle.hpp"
#include "program/client.hpp"
#include "program/logging.hpp"
#include "io/net.hpp"
#include "program/options.hpp"
#include "program/result.hpp"
#include "observed.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <iostream>
#include <set>

namespace {

using namespace netlab;
using asio::awaitable;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto server_program = "netlab-closewait-server";

struct Config {
  std::size_t connections = 5;
  std::chrono::milliseconds settle{3000};   // bound on waiting for the states to show
  std::chrono::milliseconds observe{500};   // how long a CLOSE_WAIT is watched to see it last
};

// Sends one request line and returns the server's one-line answer.
awaitable<std::string> ask(tcp::socket& socket, const std::string& request) {
  if (auto [ec, n] = co_await asio::async_write(socket, asio::buffer(request + "\n"), use_tuple); ec)
    throw failure("send " + request, ec);
  std::string line;
  auto [ec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(line, 4096), '\n', use_tuple);
  if (ec) throw failure("read the answer to " + request, ec);
  line.resize(n - 1);
  if (line.rfind("ERR", 0) == 0) throw std::runtime_error("the server answered " + request + " with: " + line);
  co_return line;
}

awaitable<boost::json::object> server_status(const CommonOptions& options) {
  tcp::socket socket = co_await connect_to(options.host, options.port, server_program);
  const std::string line = co_await ask(socket, "STATUS");
  boost::system::error_code ec;
  auto status = boost::json::parse(line, ec);
  if (ec || !status.is_object() || !status.as_object().contains("open_fds"))
    throw std::runtime_error("STATUS answer is not netlab-closewait-server's: " + line.substr(0, 80));
  co_return status.as_object();
}

// The server-side sockets of our connections, by state.
StateCounts server_side(std::uint16_t server_port, const std::set<std::uint16_t>& ours,
                        std::uint32_t* send_queue_bytes = nullptr) {
  std::vector<SocketRecord> mine;
  for (auto& socket : list_tcp_sockets({.local_port = server_port}))
    if (ours.contains(socket.remote_port)) mine.push_back(socket);
  if (send_queue_bytes) {
    *send_queue_bytes = 0;
    for (const auto& socket : mine)
      if (socket.state == TcpState::close_wait) *send_queue_bytes += socket.send_queue;
  }
  return count_states(mine);
}

StateCounts client_side(std::uint16_t server_port, const std::set<std::uint16_t>& ours) {
  std::vector<SocketRecord> mine;
  for (auto& socket : list_tcp_sockets({.remote_port = server_port}))
    if (ours.contains(socket.local_port)) mine.push_back(socket);
  return count_states(mine);
}

std::size_t number(const boost::json::object& o, const char* key) { return o.at(key).to_number<std::size_t>(); }

// What the run observed (the result's "observed"): the summary and the checks read these.
struct Observed {
  std::string server_mode;  // the server's: bug or fixed
  std::size_t server_idle_timeout_ms = 0, connections = 0, server_established_before_close = 0;
  bool settled = false;
  std::size_t server_close_wait = 0;
  std::uint32_t server_close_wait_send_queue_bytes = 0;
  std::size_t server_close_wait_after_observe = 0;
  long observe_ms = 0;
  std::string server_states;
  std::size_t client_fin_wait_2 = 0, client_time_wait = 0;
  std::string client_states;
  std::size_t server_fds_before = 0, server_fds_after = 0;
  long server_fd_growth = 0;
  std::optional<std::size_t> server_close_wait_after_idle_timeout{};  // the server has an idle timeout

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Observed& o) {
    v = present_members(o);
  }
};
BOOST_DESCRIBE_STRUCT(Observed, (),
                      (server_mode, server_idle_timeout_ms, connections, server_established_before_close, settled,
                       server_close_wait, server_close_wait_send_queue_bytes, server_close_wait_after_observe,
                       observe_ms, server_states, client_fin_wait_2, client_time_wait, client_states,
                       server_fds_before, server_fds_after, server_fd_growth, server_close_wait_after_idle_timeout))

awaitable<void> run_lab(const CommonOptions& options, const Config& config, Result& result, Observed& o) {
  const auto before = co_await server_status(options);
  const bool bug = before.at("mode") == "bug";
  const auto idle_ms = number(before, "idle_timeout_ms");
  result.params()["mode"] = bug ? (idle_ms > 0 ? "bug+idle-timeout" : "bug") : "fixed";  // the server's

  // 1. N connections, each greeted.
  std::vector<tcp::socket> sockets;
  std::set<std::uint16_t> ours;
  for (std::size_t i = 0; i < config.connections; ++i) {
    sockets.push_back(co_await connect_to(options.host, options.port, server_program));
    ours.insert(sockets.back().local_endpoint().port());
    co_await ask(sockets.back(), "HELLO");
  }
  const auto established = server_side(options.port, ours).of(TcpState::established);
  spdlog::info("{} connections up, {} ESTAB on the server side", sockets.size(), established);

  // 2. We close every one: our FIN is sent and acknowledged by the server's kernel at once.
  for (auto& socket : sockets) socket.close();
  const std::size_t n = config.connections;
  const std::size_t expected_close_wait = bug ? n : 0;
  const bool settled = co_await poll_until(
      [&] {
        // Our FIN is acknowledged (possibly late: a delayed ACK) and the server's code has acted.
        const auto server = server_side(options.port, ours);
        return server.of(TcpState::established) == 0 && server.of(TcpState::close_wait) == expected_close_wait &&
               client_side(options.port, ours).of(TcpState::fin_wait1) == 0;
      },
      config.settle);
  std::uint32_t send_queue = 0;
  const auto server_after = server_side(options.port, ours, &send_queue);
  const auto client_after = client_side(options.port, ours);
  const auto status = co_await server_status(options);
  const long fd_growth = static_cast<long>(number(status, "open_fds")) - static_cast<long>(number(before, "open_fds"));
  const std::size_t close_wait = server_after.of(TcpState::close_wait);

  // 3. Watch the CLOSE_WAIT sockets: nothing left to send, and still there.
  co_await pause_for(config.observe);
  const std::size_t close_wait_later = server_side(options.port, ours).of(TcpState::close_wait);

  // 4. With an idle timeout, the server's timer closes what its code forgot.
  std::optional<std::size_t> after_idle;
  if (bug && idle_ms > 0 && close_wait_later > 0 && idle_ms <= 60'000) {
    co_await poll_until([&] { return server_side(options.port, ours).of(TcpState::close_wait) == 0; },
                        std::chrono::milliseconds(idle_ms) + config.settle, 20ms);
    after_idle = server_side(options.port, ours).of(TcpState::close_wait);
  }

  o = {.server_mode = bug ? "bug" : "fixed",
       .server_idle_timeout_ms = idle_ms,
       .connections = n,
       .server_established_before_close = established,
       .settled = settled,
       .server_close_wait = close_wait,
       .server_close_wait_send_queue_bytes = send_queue,
       .server_close_wait_after_observe = close_wait_later,
       .observe_ms = config.observe.count(),
       .server_states = describe(server_after),
       .client_fin_wait_2 = client_after.of(TcpState::fin_wait2),
       .client_time_wait = client_after.of(TcpState::time_wait),
       .client_states = describe(client_after),
       .server_fds_before = number(before, "open_fds"),
       .server_fds_after = number(status, "open_fds"),
       .server_fd_growth = fd_growth,
       .server_close_wait_after_idle_timeout = after_idle};
  result.set_observed(o);

  const std::string counts = std::to_string(close_wait) + " of " + std::to_string(n) +
                             " server sockets in CLOSE_WAIT, server descriptors " +
                             (fd_growth >= 0 ? "+" : "") + std::to_string(fd_growth);
  const bool matches = close_wait == expected_close_wait && fd_growth == static_cast<long>(expected_close_wait);
  result.add_check({.id = "close-wait-means-not-closed", .claim = "CLOSE_WAIT: the peer has closed, the local application has not",
                    .expected = bug ? "server --bug: N CLOSE_WAIT and N more descriptors"
                        : "server --fixed: 0 CLOSE_WAIT, no descriptor left",
                    .observed = counts, .verdict = matches ? Verdict::confirmed : Verdict::refuted,
                    .evidence = "census of the server's sockets for our " + std::to_string(n) +
                        " ports after our close(); the server's /proc/self/fd before and after"});
  if (bug)
    result.add_check({.id = "close-wait-is-not-sending", .claim = "CLOSE_WAIT is waiting for the remaining data to be sent",
                      .expected = "CLOSE_WAIT sockets with data still queued to send",
                      .observed = std::to_string(close_wait_later) + " still in CLOSE_WAIT after " +
                          std::to_string(config.observe.count()) + " ms with " + std::to_string(send_queue) +
                          " bytes queued to send: it lasts until the application calls close()",
                      .verdict = close_wait_later > 0 && send_queue == 0 ? Verdict::refuted : Verdict::nuanced,
                      .evidence = "Send-Q of the CLOSE_WAIT sockets in the census, twice, " +
                          std::to_string(config.observe.count()) + " ms apart"});
  else
    result.add_check({.id = "close-wait-is-not-sending", .claim = "CLOSE_WAIT is waiting for the remaining data to be sent",
                      .expected = "a CLOSE_WAIT that lasts with nothing to send", .observed = "the server closed at once: nothing to watch",
                      .verdict = Verdict::skipped, .evidence = "run the server with --bug to watch a CLOSE_WAIT that lasts"});
}

void print_summary(std::ostream& out, const Observed& o, const Result& result) {
  out << "netlab-closewait-client: " << o.connections << " connections to a server running --" << o.server_mode
      << ", all closed by us\n"
      << "  server side: " << o.server_states << " (CLOSE-WAIT " << o.server_close_wait << ", still "
      << o.server_close_wait_after_observe << " after " << o.observe_ms << " ms), descriptors "
      << o.server_fds_before << " -> " << o.server_fds_after << "\n"
      << "  our side:    " << o.client_states << "\n";
  if (o.server_close_wait_after_idle_timeout)
    out << "  after the server's idle timeout: CLOSE-WAIT " << *o.server_close_wait_after_idle_timeout << "\n";
  out << render_checks(result.checks());
}

}  // namespace

int main(int argc, char** argv) {
  ClientProgram program("closewait",
                        "The closewait lab's client: N connections closed by us; the server's CLOSE_WAIT counted.",
                        7005, 60);
  auto& app = program.app();
  Config config;
  long settle_ms = config.settle.count(), observe_ms = config.observe.count();
  app.add_option("--connections", config.connections, "connections to open and close")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000}));
  app.add_option("--settle-ms", settle_ms, "bound on waiting for the states to show in the census")
      ->capture_default_str()
      ->check(CLI::Range(10L, 60'000L));
  app.add_option("--observe-ms", observe_ms, "how long the CLOSE_WAIT sockets are watched")
      ->capture_default_str()
      ->check(CLI::Range(0L, 60'000L));
  Observed observed;  // kept here: the summary reads it after the body has returned
  return program.run(argc, argv, [&](ClientRun& run) {
    config.settle = std::chrono::milliseconds(settle_ms);
    config.observe = std::chrono::milliseconds(observe_ms);
    Result& result = run.result();
    result.set_params(boost::json::object{
        {"connections", config.connections}, {"settle_ms", settle_ms}, {"observe_ms", observe_ms}});
    run.within(run_lab(run.options(), config, result, observed));
    run.summary([&](std::ostream& out) { print_summary(out, observed, result); });
  });
}
