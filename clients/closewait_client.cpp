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
// --half-close-json: the teardown lab's half-close, measured by its own
// programs (netlab-teardown-client --mode half-close): a passive side that
// still had data when the FIN came sent it all in CLOSE_WAIT, then closed.
// With it, close-wait-is-not-sending weighs both: the bug server's CLOSE_WAIT
// with nothing to send, and that one's CLOSE_WAIT spent sending.
#include "io/coro.hpp"
#include "io/net.hpp"
#include "kernel/lifecycle.hpp"
#include "observed.hpp"
#include "program/client.hpp"
#include "program/logging.hpp"
#include "program/options.hpp"
#include "program/result.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <iostream>
#include <set>

namespace {

using namespace netlab;
using asio::awaitable;
using namespace std::chrono_literals;
constexpr auto server_program = "netlab-closewait-server";

const ProgramInfo program_info{
    "closewait", "The closewait lab's client: N connections closed by us; the server's CLOSE_WAIT counted.", 7005, 60};

struct Config {
  std::size_t connections = 5;
  std::string half_close_json;             // the teardown client's --mode half-close result, or ""
  std::chrono::milliseconds settle{3000};  // bound on waiting for the states to show
  std::chrono::milliseconds observe{500};  // how long a CLOSE_WAIT is watched to see it last
};

// The result's "params": this run's options, then the server's mode (asked with STATUS).
struct Params {
  std::size_t connections = 0;
  long settle_ms = 0, observe_ms = 0;
};
BOOST_DESCRIBE_STRUCT(Params, (), (connections, settle_ms, observe_ms))
struct ServerMode {
  std::string mode;  // bug, bug+idle-timeout or fixed
};
BOOST_DESCRIBE_STRUCT(ServerMode, (), (mode))

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

// The teardown lab's half-close, as its client measured it: the server read
// our request and FIN (CLOSE_WAIT), then sent its whole response, then closed.
struct DataInCloseWait {
  std::string from;                                       // the netlab-teardown-client --mode half-close JSON
  std::size_t response_bytes = 0;                         // what the server had to send when our FIN came
  std::size_t bytes_after_peer_fin = 0, wrong_bytes = 0;  // what reached the client after its FIN
  // The server's socket in the census once our FIN was acknowledged: CLOSE-WAIT (its
  // data not written yet), or LAST-ACK if it had already written and called close()
  // — then its Send-Q is the data it still had to send after our FIN.
  std::string passive_state_after_peer_fin;
  std::size_t passive_send_queue_after_peer_fin = 0;
  bool then_last_ack = false;  // LAST_ACK seen after its close()
  std::string ended_by;        // "FIN": the server's FIN came after all its data
};
BOOST_DESCRIBE_STRUCT(DataInCloseWait, (),
                      (from, response_bytes, bytes_after_peer_fin, wrong_bytes, passive_state_after_peer_fin,
                       passive_send_queue_after_peer_fin, then_last_ack, ended_by))

DataInCloseWait read_half_close(const std::string& path) {
  const auto value = read_json_object(path, "--half-close-json");
  const auto* params = value.if_contains("params");
  const auto* observed = value.if_contains("observed");
  const auto* mode = params && params->is_object() ? params->as_object().if_contains("mode") : nullptr;
  if (!mode || !mode->is_string() || mode->as_string() != "half-close" || !observed || !observed->is_object())
    throw std::runtime_error("--half-close-json " + path +
                             ": not the JSON of netlab-teardown-client --mode half-close");
  const auto& o = observed->as_object();
  const auto count = [&](const auto& object, const char* key) {
    return object.at(key).template to_number<std::size_t>();
  };
  // The first census row, "request sent, then our FIN": taken once our FIN was acknowledged.
  const auto& after_fin = o.at("steps").as_array().at(0).as_object();
  return {.from = path,
          .response_bytes = count(o, "response_bytes"),
          .bytes_after_peer_fin = count(o, "bytes_after_our_fin"),
          .wrong_bytes = count(o, "wrong_bytes"),
          .passive_state_after_peer_fin = std::string(after_fin.at("server").as_string()),
          .passive_send_queue_after_peer_fin = count(after_fin, "server_send_q"),
          .then_last_ack = o.at("server_seen_in_last_ack").as_bool(),
          .ended_by = std::string(o.at("ended_by").as_string())};
}

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
  std::optional<DataInCloseWait> half_close{};                        // --half-close-json

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Observed& o) {
    v = present_members(o);
  }
};
BOOST_DESCRIBE_STRUCT(Observed, (),
                      (server_mode, server_idle_timeout_ms, connections, server_established_before_close, settled,
                       server_close_wait, server_close_wait_send_queue_bytes, server_close_wait_after_observe,
                       observe_ms, server_states, client_fin_wait_2, client_time_wait, client_states, server_fds_before,
                       server_fds_after, server_fd_growth, server_close_wait_after_idle_timeout, half_close))

// The note reads CLOSE_WAIT as waiting for the remaining data to be sent.
// CLOSE_WAIT is the passive side after the peer's FIN (RFC 9293 §3.3.2): it
// may still send, and it stays until its application calls close(), whether
// it has anything to send or not. Two measurements: the --bug server's
// CLOSE_WAIT, lasting with nothing queued; and (--half-close-json) a server
// that had data when the FIN came, sending it all in CLOSE_WAIT, then closing.
void close_wait_sending_check(Result& result, const Observed& o) {
  const bool idle = o.server_close_wait_after_observe > 0 && o.server_close_wait_send_queue_bytes == 0;
  const std::string lasting = std::to_string(o.server_close_wait_after_observe) + " still in CLOSE_WAIT after " +
                              std::to_string(o.observe_ms) + " ms with " +
                              std::to_string(o.server_close_wait_send_queue_bytes) + " bytes queued to send";
  const auto& h = o.half_close;
  // The passive side had our FIN and still had data to send: CLOSE-WAIT, or already
  // LAST-ACK with its data queued behind its close(); and all of it arrived, then its FIN.
  const bool had_data_at_fin =
      h && (h->passive_state_after_peer_fin == "CLOSE-WAIT" ||
            (h->passive_state_after_peer_fin == "LAST-ACK" && h->passive_send_queue_after_peer_fin > 0));
  const bool sending = had_data_at_fin && h->response_bytes > 0 && h->bytes_after_peer_fin == h->response_bytes &&
                       h->wrong_bytes == 0 && h->ended_by == "FIN";
  std::string observed = "--bug: " + lasting + ", until close()";
  if (h)
    observed += "; half-close: once our FIN was acked the server was " + h->passive_state_after_peer_fin + " with " +
                std::to_string(h->passive_send_queue_after_peer_fin) + " bytes queued, and " +
                std::to_string(h->bytes_after_peer_fin) + " of its " + std::to_string(h->response_bytes) +
                " bytes reached us, then " + (h->ended_by == "FIN" ? "its FIN" : "ended by " + h->ended_by);
  const Verdict verdict = !h                ? (idle ? Verdict::refuted : Verdict::nuanced)
                          : idle && sending ? Verdict::nuanced
                          : idle            ? Verdict::refuted
                          : sending         ? Verdict::confirmed
                                            : Verdict::nuanced;
  result.add_check({.id = "close-wait-is-not-sending",
                    .claim = "CLOSE_WAIT is waiting for the remaining data to be sent",
                    .expected = "CLOSE_WAIT sockets with data still queued to send",
                    .observed = observed,
                    .verdict = verdict,
                    .evidence = "Send-Q of the --bug server's CLOSE_WAIT sockets in the census, twice, " +
                                std::to_string(o.observe_ms) + " ms apart" +
                                (h ? "; " + h->from +
                                         ": bytes read after our FIN and the server's state in the census. CLOSE_WAIT "
                                         "is when the passive side may finish sending, and it lasts until close() "
                                         "whether there is data or not (RFC 9293 §3.3.2)"
                                   : "; the half-close (a server with data left) was not measured in this run")});
}

awaitable<void> run_lab(const CommonOptions& options, const Config& config, Result& result, Observed& o) {
  const auto before = co_await server_status(options);
  const bool bug = before.at("mode") == "bug";
  const auto idle_ms = number(before, "idle_timeout_ms");
  result.set_params(ServerMode{bug ? (idle_ms > 0 ? "bug+idle-timeout" : "bug") : "fixed"});

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
  if (!config.half_close_json.empty()) o.half_close = read_half_close(config.half_close_json);
  result.set_observed(o);

  const std::string counts = std::to_string(close_wait) + " of " + std::to_string(n) +
                             " server sockets in CLOSE_WAIT, server descriptors " + (fd_growth >= 0 ? "+" : "") +
                             std::to_string(fd_growth);
  const bool matches = close_wait == expected_close_wait && fd_growth == static_cast<long>(expected_close_wait);
  result.add_check({.id = "close-wait-means-not-closed",
                    .claim = "CLOSE_WAIT: the peer has closed, the local application has not",
                    .expected = bug ? "server --bug: N CLOSE_WAIT and N more descriptors"
                                    : "server --fixed: 0 CLOSE_WAIT, no descriptor left",
                    .observed = counts,
                    .verdict = matches ? Verdict::confirmed : Verdict::refuted,
                    .evidence = "census of the server's sockets for our " + std::to_string(n) +
                                " ports after our close(); the server's /proc/self/fd before and after"});
  if (bug)
    close_wait_sending_check(result, o);
  else
    result.add_check({.id = "close-wait-is-not-sending",
                      .claim = "CLOSE_WAIT is waiting for the remaining data to be sent",
                      .expected = "a CLOSE_WAIT that lasts with nothing to send",
                      .observed = "the server closed at once: nothing to watch",
                      .verdict = Verdict::skipped,
                      .evidence = "run the server with --bug to watch a CLOSE_WAIT that lasts"});
}

void print_summary(std::ostream& out, const Observed& o) {
  out << "netlab-closewait-client: " << o.connections << " connections to a server running --" << o.server_mode
      << ", all closed by us\n"
      << "  server side: " << o.server_states << " (CLOSE-WAIT " << o.server_close_wait << ", still "
      << o.server_close_wait_after_observe << " after " << o.observe_ms << " ms), descriptors " << o.server_fds_before
      << " -> " << o.server_fds_after << "\n"
      << "  our side:    " << o.client_states << "\n";
  if (o.half_close)
    out << "  half-close (" << o.half_close->from << "): the server " << o.half_close->passive_state_after_peer_fin
        << " with " << o.half_close->passive_send_queue_after_peer_fin << " bytes queued after our FIN; "
        << o.half_close->bytes_after_peer_fin << " of " << o.half_close->response_bytes << " bytes, then "
        << o.half_close->ended_by << "\n";
  if (o.server_close_wait_after_idle_timeout)
    out << "  after the server's idle timeout: CLOSE-WAIT " << *o.server_close_wait_after_idle_timeout << "\n";
}

}  // namespace

int closewait_client(ClientProgram& program, CLI::App& app, Config& config) {
  long settle_ms = config.settle.count(), observe_ms = config.observe.count();
  add_bounded_option(app, "--connections", config.connections, "connections to open and close", std::size_t{1},
                     std::size_t{1000});
  add_bounded_option(app, "--settle-ms", settle_ms, "bound on waiting for the states to show in the census", 10L,
                     60'000L);
  add_bounded_option(app, "--observe-ms", observe_ms, "how long the CLOSE_WAIT sockets are watched", 0L, 60'000L);
  app.add_option("--half-close-json", config.half_close_json,
                 "the JSON of netlab-teardown-client --mode half-close: a server that still had data at the FIN")
      ->check(CLI::ExistingFile);
  Observed observed;  // kept here: the summary reads it after the body has returned
  return program.run([&](ClientRun& run) {
    config.settle = std::chrono::milliseconds(settle_ms);
    config.observe = std::chrono::milliseconds(observe_ms);
    Result& result = run.result();
    result.set_params(Params{.connections = config.connections, .settle_ms = settle_ms, .observe_ms = observe_ms});
    run.within(run_lab(run.options(), config, result, observed));
    run.summary([&](std::ostream& out) { print_summary(out, observed); });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, closewait_client); }
