// rfc1337: an RST reaching our TIME_WAIT (TIME_WAIT assassination): see wire.hpp.
#include "helpers.hpp"

#include "kernel/lifecycle.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/describe/class.hpp>
#include <boost/json.hpp>

#include <fstream>
#include <sstream>

namespace netlab::teardown {

using asio::awaitable;
namespace json = boost::json;

namespace {

// rfc1337: what one setting of tcp_rfc1337 did; --compare-with reads the same
// fields from the other setting's run.
struct Rfc1337Outcome {
  std::string tcp_rfc1337;
  std::uint32_t timer_left_ms = 0;  // the TIME_WAIT timer's last value before it was gone
  std::uint64_t server_rsts_sent = 0;
  bool assassinated = false, kept = false;
};

struct Rfc1337Observed {
  std::uint16_t local_port = 0;
  std::string tcp_rfc1337;
  std::vector<EndSample> our_end;
  std::string our_path;
  bool time_wait_seen = false, time_wait_gone = false;
  std::optional<long> time_wait_gone_at_ms{};
  std::uint32_t timer_left_ms = 0;  // the TIME_WAIT timer's last value before it was gone
  std::uint64_t server_rsts_sent = 0;
  bool assassinated = false, kept = false;

  Rfc1337Outcome outcome() const { return {tcp_rfc1337, timer_left_ms, server_rsts_sent, assassinated, kept}; }
};
BOOST_DESCRIBE_STRUCT(Rfc1337Observed, (),
                      (local_port, tcp_rfc1337, our_end, our_path, time_wait_seen, time_wait_gone, time_wait_gone_at_ms,
                       timer_left_ms, server_rsts_sent, assassinated, kept))

}  // namespace

// rfc1337: the wire replays the server's FIN after the connection has closed
// ('right>left tcp flags=FA nth=1 hold-and-replay=MS'). Our TIME_WAIT answers
// it with an ACK; the server has no socket for it any more and answers that
// with an RST whose sequence number is exactly the one TIME_WAIT expects.
awaitable<void> rfc1337(const CommonOptions& options, const WireConfig& config, Result& result) {
  tcp::socket socket = co_await connect_to(options.host, options.port, server_program);
  const std::uint16_t our_port = socket.local_endpoint().port();
  socket.shutdown(tcp::socket::shutdown_send);
  co_await read_to_eof(socket, config.settle);
  // Until our TIME_WAIT is gone, or 300 ms after the replayed FIN restarted its timer.
  const auto samples = co_await watch_end(
      our_port, options.port,
      [](const std::vector<EndSample>& s) {
        if (s.back().state == "none") return true;
        for (const auto& x : s)
          if (x.restarted && s.back().at_ms >= x.at_ms + 300) return true;
        return false;
      },
      config.settle);
  socket.close();
  const ServerEnd server = read_server_end(co_await server_report(options, our_port));
  const bool time_wait = went_through(samples, "TIME-WAIT");
  const bool gone = samples.back().state == "none";
  Rfc1337Observed o;
  for (const auto& s : samples)
    if (s.state == "TIME-WAIT") o.timer_left_ms = s.timer_ms;
  o.tcp_rfc1337 = sysctl("tcp_rfc1337");
  o.server_rsts_sent = server.out_rsts_since_close.value_or(0);
  o.assassinated = time_wait && gone && o.server_rsts_sent > 0;
  o.kept = time_wait && !gone && o.server_rsts_sent > 0;
  o.local_port = our_port;
  o.our_end = samples;
  o.our_path = path_of(samples);
  o.time_wait_seen = time_wait;
  o.time_wait_gone = gone;
  if (gone) o.time_wait_gone_at_ms = samples.back().at_ms;
  result.set_observed(o);
  if (config.compare_with.empty()) co_return;
  // With the other setting's run: one verdict over both.
  std::ifstream in(config.compare_with);
  std::stringstream text;
  text << in.rdbuf();
  Rfc1337Outcome other;
  try {
    const json::value parsed = json::parse(text.str());
    const auto& observed = parsed.at("observed").as_object();
    other = {.tcp_rfc1337 = std::string(observed.at("tcp_rfc1337").as_string()),
             .timer_left_ms = json::value_to<std::uint32_t>(observed.at("timer_left_ms")),
             .server_rsts_sent = json::value_to<std::uint64_t>(observed.at("server_rsts_sent")),
             .assassinated = observed.at("assassinated").as_bool(),
             .kept = observed.at("kept").as_bool()};
  } catch (const std::exception& e) {
    throw std::runtime_error("--compare-with " + config.compare_with + ": not a teardown rfc1337 result (" + e.what() +
                             ")");
  }
  auto line = [](const Rfc1337Outcome& run) {
    return "tcp_rfc1337=" + run.tcp_rfc1337 + ": " + std::to_string(run.server_rsts_sent) +
           " RST from the server, TIME_WAIT " +
           (run.assassinated ? "gone with " + seconds(run.timer_left_ms) + " left"
            : run.kept       ? "kept"
                             : "not measured");
  };
  const bool killed = o.assassinated, kept = o.kept, other_killed = other.assassinated, other_kept = other.kept;
  const std::string what = line(other) + "; " + line(o.outcome());
  const bool both_measured = (killed || kept) && (other_killed || other_kept);
  const int killed_count = int(killed) + int(other_killed);
  result.add_check(
      {.id = "rst-kills-time-wait",
       .claim = "asked next: an RST that reaches a TIME_WAIT socket ends it early (TIME_WAIT assassination, RFC 1337)",
       .expected = "TIME_WAIT gone at the RST (with either tcp_rfc1337)",
       .observed = what,
       .verdict = !both_measured      ? Verdict::skipped
                  : killed_count == 2 ? Verdict::confirmed
                  : killed_count == 0 ? Verdict::refuted
                                      : Verdict::nuanced,
       .evidence = both_measured ? "our census in our namespace with each setting; the server's RSTs: its Tcp OutRsts "
                                   "delta since the close; the wire's replay in wire-<step>.json"
                                 : "a run saw no RST or no TIME_WAIT: see its our_end and server_rsts_sent"});
}

}  // namespace netlab::teardown
