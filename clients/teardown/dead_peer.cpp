// The teardown client's dead-peer stories across netlab-wire: see dead_peer.hpp.
#include "dead_peer.hpp"

#include "helpers.hpp"

#include "capture/pcap.hpp"
#include "io/coro.hpp"
#include "io/net.hpp"
#include "kernel/census.hpp"
#include "kernel/lifecycle.hpp"
#include "kernel/netstat.hpp"
#include "kernel/tcp_info.hpp"
#include "program/logging.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/describe/class.hpp>
#include <boost/json.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace netlab::teardown {

namespace {

using asio::awaitable;
using namespace std::chrono_literals;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
const std::string dead_peer_request = "dead-peer\n";

long ms_since(Clock::time_point start) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

long sysctl_number(const std::string& key, long fallback) {
  const std::string value = sysctl(key);
  return value == "?" ? fallback : std::stol(value);
}

// What TCP_INFO says about the retransmission timer and the probes (the
// fields common/kernel/tcp_info leaves out: rto, backoff, probes).
struct Timers {
  long at_ms = 0;
  std::string state;
  std::uint32_t rto_ms = 0, backoff = 0, retransmits = 0, total_retrans = 0, probes = 0;
  bool operator==(const Timers& o) const {
    return state == o.state && rto_ms == o.rto_ms && backoff == o.backoff && retransmits == o.retransmits &&
           total_retrans == o.total_retrans && probes == o.probes;
  }
};
BOOST_DESCRIBE_STRUCT(Timers, (), (at_ms, state, rto_ms, backoff, retransmits, total_retrans, probes))

Timers read_timers(int fd, Clock::time_point start) {
  tcp_info info{};
  socklen_t length = sizeof info;
  Timers t;
  t.at_ms = ms_since(start);
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return t;
  t.state = std::string(state_name(static_cast<TcpState>(info.tcpi_state)));
  t.rto_ms = info.tcpi_rto / 1000;
  t.backoff = info.tcpi_backoff;
  t.retransmits = info.tcpi_retransmits;
  t.total_retrans = info.tcpi_total_retrans;
  t.probes = info.tcpi_probes;
  return t;
}

void set_int(tcp::socket& socket, int level, int name, int value, const char* what) {
  if (::setsockopt(socket.native_handle(), level, name, &value, sizeof value) != 0)
    throw std::runtime_error(std::string("setsockopt ") + what + ": " + std::strerror(errno));
}

// A connection the server reads and never answers; up once our request is acknowledged.
awaitable<tcp::socket> open_silent(const CommonOptions& options) {
  tcp::socket socket = co_await connect_to(options.host, options.port, server_program);
  if (auto [ec, n] = co_await asio::async_write(socket, asio::buffer(dead_peer_request), use_tuple); ec)
    throw failure("send request", ec);
  const int fd = socket.native_handle();
  co_await poll_until(
      [fd] {
        const auto info = read_tcp_info(fd);
        return info && info->unacked == 0;
      },
      3s);
  co_return socket;
}

// Asks the script to cut the cable (writes --cut-file) and waits until it has.
awaitable<void> cut_the_cable(const DeadPeerConfig& config, std::uint16_t port, std::chrono::milliseconds bound) {
  if (config.cut_file.empty()) throw std::runtime_error("--cut-file is needed: the script cuts the wire when asked");
  {
    std::ofstream out(config.cut_file + ".tmp");
    out << port << "\n";
  }
  std::filesystem::rename(config.cut_file + ".tmp", config.cut_file);
  const std::string done = config.cut_file + ".cut";
  if (!co_await poll_until([&] { return std::filesystem::exists(done); }, bound))
    throw std::runtime_error("the wire was not cut within " + std::to_string(bound.count()) + " ms (no " + done + ")");
}

// Our segments (from `port`) in the capture, as (capture time in ns, packet).
struct Sent {
  std::int64_t stamp_ns;
  std::uint32_t seq;
  std::uint8_t flags;
  std::size_t length;
};
std::vector<Sent> our_segments(const std::string& capture, std::uint16_t port) {
  std::vector<Sent> out;
  if (capture.empty() || !std::filesystem::exists(capture)) return out;
  try {
    PcapReader reader(capture);  // tcpdump may still be writing: we take the records there are
    Frame frame;
    PacketView p;
    while (reader.next(frame))
      if (decode_frame(reader.link(), frame.bytes, p) && p.is_tcp && p.src_port == port)
        out.push_back({frame.stamp_ns, p.seq, p.flags, p.payload_length});
  } catch (const std::exception& e) {
    spdlog::warn("capture {}: {}", capture, e.what());
  }
  return out;
}

std::int64_t realtime_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// tcp_model_timeout (net/ipv4/tcp_timer.c): how long retransmits_timed_out
// lets a connection retransmit with tcp_retries2 = boundary: RTO doubling from
// rto_base up to rto_max, summed. The kernel takes TCP_RTO_MIN (200 ms) as the
// base, whatever the measured RTO.
double model_timeout_ms(long boundary, double rto_base, double rto_max) {
  const long thresh = static_cast<long>(std::floor(std::log2(rto_max / rto_base)));
  if (boundary <= thresh) return (std::pow(2.0, static_cast<double>(boundary + 1)) - 1) * rto_base;
  return (std::pow(2.0, static_cast<double>(thresh + 1)) - 1) * rto_base +
         static_cast<double>(boundary - thresh) * rto_max;
}

// The timer's expiries from the measured initial RTO (doubling, capped at
// rto_max). The clock starts at the first retransmission (retrans_stamp, "stamp
// of the first (attempted) retransmit" in tcp_retransmit_skb; measured so in
// this step); the first expiry `timeout` or more after it is ETIMEDOUT.
std::pair<long, double> schedule(double rto0, double rto_max, double timeout) {
  double at = rto0, gap = std::min(rto0 * 2, rto_max);
  long retransmissions = 1;
  for (; retransmissions < 1000 && at + gap - rto0 < timeout; ++retransmissions) {
    at += gap;
    gap = std::min(gap * 2, rto_max);
  }
  return {retransmissions, at + gap};  // ms after the first transmission
}

// "ETIMEDOUT", as the lesson names it; other endings in words.
std::string ending_name(const boost::system::error_code& ec) {
  return ec == asio::error::timed_out ? "ETIMEDOUT" : error_text(ec);
}

// A read left pending on `socket`: the kernel reports a dead connection to it.
// Shared with the handler, which may run after the coroutine that started it.
struct Ending {
  bool done = false;
  boost::system::error_code ec;
  long at_ms = 0;
  char sink[64];
};
std::shared_ptr<Ending> watch_for_error(tcp::socket& socket, Clock::time_point start) {
  auto ending = std::make_shared<Ending>();
  socket.async_read_some(asio::buffer(ending->sink), [ending, start](boost::system::error_code ec, std::size_t) {
    ending->done = true;
    ending->ec = ec ? ec : asio::error::message_size;  // bytes from a peer we cut off: not expected
    ending->at_ms = ms_since(start);
  });
  return ending;
}

// cut-cable: 1000 bytes written after the cut; the kernel retransmits them
// until TCP_USER_TIMEOUT says it is enough.
awaitable<void> cut_cable(const CommonOptions& options, const DeadPeerConfig& config, Result& result) {
  tcp::socket socket = co_await open_silent(options);
  const std::uint16_t port = socket.local_endpoint().port();
  const int fd = socket.native_handle();
  const Timers before = read_timers(fd, Clock::now());
  co_await cut_the_cable(config, port, config.settle);
  set_int(socket, IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(config.user_timeout_ms), "TCP_USER_TIMEOUT");
  const auto probes_before = read_kernel_counter("TcpExt", "TCPLossProbes").value_or(0);
  const std::string data(1000, 'x');
  const auto written = Clock::now();
  if (auto [ec, n] = co_await asio::async_write(socket, asio::buffer(data), use_tuple); ec)
    throw failure("write after the cut", ec);
  const auto ending_ptr = watch_for_error(socket, written);
  const Ending& ending = *ending_ptr;
  std::vector<Timers> samples{read_timers(fd, written)};
  const auto bound = std::chrono::milliseconds(config.user_timeout_ms) + config.settle;
  while (!ending.done && Clock::now() - written < bound) {
    co_await pause_for(5ms);
    if (Timers t = read_timers(fd, written); !(t == samples.back())) samples.push_back(t);
  }
  if (!ending.done) socket.cancel();
  const auto loss_probes = read_kernel_counter("TcpExt", "TCPLossProbes").value_or(0) - probes_before;
  // Every transmission of the 1000 bytes, on our veth (before the wire drops it).
  std::vector<double> times;  // ms after the first
  std::int64_t first_ns = 0;
  for (const auto& s : our_segments(config.capture, port))
    if (s.length == data.size()) {
      if (times.empty()) first_ns = s.stamp_ns;
      times.push_back(static_cast<double>(s.stamp_ns - first_ns) / 1e6);
    }
  const bool from_capture = times.size() >= 2;
  if (!from_capture) {  // no capture: when TCP_INFO's count of retransmissions went up (5 ms samples)
    times = {0.0};
    for (std::size_t i = 1; i < samples.size(); ++i)
      if (samples[i].total_retrans > samples[i - 1].total_retrans)
        times.push_back(static_cast<double>(samples[i].at_ms));
  }
  // The gaps between RTO retransmissions: a tail loss probe (TLP) comes first and does not back off.
  json::array gaps, ratios;
  std::vector<double> g;
  for (std::size_t i = 1; i < times.size(); ++i) g.push_back(times[i] - times[i - 1]);
  for (double x : g) gaps.push_back(std::round(x * 10) / 10);
  const std::size_t skip = std::min<std::size_t>(static_cast<std::size_t>(loss_probes), g.size());
  std::size_t in_band = 0;
  for (std::size_t i = skip + 1; i < g.size(); ++i) {
    const double r = g[i] / g[i - 1];
    ratios.push_back(std::round(r * 100) / 100);
    in_band += r >= 1.5 && r <= 2.5;
  }
  const bool timed_out = ending.ec == asio::error::timed_out;
  const long retries2 = sysctl_number("tcp_retries2", 15);
  const double rto_max = static_cast<double>(sysctl_number("tcp_rto_max_ms", 120000));
  const double rto0 = g.size() > skip ? g[skip] : static_cast<double>(before.rto_ms);
  const double model = model_timeout_ms(retries2, 200.0, rto_max);
  const auto [would_retransmit, would_die_ms] = schedule(rto0, rto_max, model);
  result.observed() = {
      {"local_port", port},
      {"our_path", "ESTAB, cable cut, 1000 bytes written: " + std::to_string(times.size() ? times.size() - 1 : 0) +
                       " retransmission(s), then " + ending_name(ending.ec)},
      {"rto_before_cut_ms", before.rto_ms},
      {"user_timeout_ms", config.user_timeout_ms},
      {"ended_by", ending.done ? ending_name(ending.ec) : "nothing within the bound"},
      {"ended_after_ms", ending.done ? json::value(ending.at_ms) : nullptr},
      {"transmissions_from", from_capture ? "capture" : "tcp_info"},
      {"retransmission_ms",
       json::value_from(std::vector<double>(times.begin() + (times.empty() ? 0 : 1), times.end()))},
      {"gaps_ms", gaps},
      {"gap_ratios", ratios},
      {"tail_loss_probes", loss_probes},
      {"tcp_info", json::value_from(samples)},
      {"tcp_retries2", retries2},
      {"tcp_rto_max_ms", rto_max},
      {"retries2_timeout_ms", std::round(model)},
      {"retries2_retransmissions", would_retransmit},
      {"retries2_etimedout_at_ms", std::round(would_die_ms)}};
  const std::string what =
      std::to_string(times.size() ? times.size() - 1 : 0) + " retransmissions (" + std::to_string(loss_probes) +
      " tail loss probe), gaps " + json::serialize(gaps) + " ms, ratios " + json::serialize(ratios) + "; " +
      (ending.done ? ending_name(ending.ec) + " after " + std::to_string(ending.at_ms) + " ms" : "no error") +
      " (TCP_USER_TIMEOUT " + std::to_string(config.user_timeout_ms) + " ms); tcp_retries2 " +
      std::to_string(retries2) + " would have retransmitted " + std::to_string(would_retransmit) +
      " times and given up after " + seconds(static_cast<std::uint64_t>(would_die_ms)) + " (computed)";
  result.add_check(
      {.id = "rto-backs-off",
       .claim = "asked next: a cut cable — the sender retransmits with exponential backoff (RTO doubles each time)",
       .expected = "each gap about twice the one before (ratio 1.5 to 2.5); ETIMEDOUT at TCP_USER_TIMEOUT",
       .observed = what,
       .verdict = ratios.size() < 1                       ? Verdict::skipped
                  : in_band == ratios.size() && timed_out ? Verdict::confirmed
                  : in_band == 0                          ? Verdict::refuted
                                                          : Verdict::nuanced,
       .evidence = std::string(from_capture ? "the 1000 bytes' transmissions in the step's capture on our veth"
                                            : "TCP_INFO total_retrans going up (sampled every 5 ms; no capture)") +
                   "; TLP: TcpExt TCPLossProbes delta; the error of our pending read; tcp_retries2 read in our "
                   "namespace, the kernel's tcp_model_timeout from TCP_RTO_MIN 200 ms"});
}

// keepalive: two idle connections, the cable cut under both; only the one with SO_KEEPALIVE finds out.
awaitable<void> keepalive(const CommonOptions& options, const DeadPeerConfig& config, Result& result) {
  tcp::socket quiet = co_await open_silent(options);
  tcp::socket probed = co_await open_silent(options);
  const std::uint16_t quiet_port = quiet.local_endpoint().port(), port = probed.local_endpoint().port();
  co_await cut_the_cable(config, port, config.settle);
  const std::int64_t cut_ns = realtime_ns();
  set_int(probed, IPPROTO_TCP, TCP_KEEPIDLE, config.keep_idle_s, "TCP_KEEPIDLE");
  set_int(probed, IPPROTO_TCP, TCP_KEEPINTVL, config.keep_intvl_s, "TCP_KEEPINTVL");
  set_int(probed, IPPROTO_TCP, TCP_KEEPCNT, config.keep_cnt, "TCP_KEEPCNT");
  const auto enabled = Clock::now();
  set_int(probed, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
  const auto ending_ptr = watch_for_error(probed, enabled), quiet_ptr = watch_for_error(quiet, enabled);
  const Ending &ending = *ending_ptr, &quiet_ending = *quiet_ptr;
  const long expected_ms = 1000L * (config.keep_idle_s + config.keep_intvl_s * config.keep_cnt);
  std::vector<Timers> samples{read_timers(probed.native_handle(), enabled)};
  while (!ending.done && Clock::now() - enabled < std::chrono::milliseconds(expected_ms) + config.settle) {
    co_await pause_for(10ms);
    if (Timers t = read_timers(probed.native_handle(), enabled); !(t == samples.back())) samples.push_back(t);
  }
  const Timers quiet_after = read_timers(quiet.native_handle(), enabled);
  if (!ending.done) probed.cancel();
  // In the capture: keep-alive probes (ACK, seq = snd_nxt - 1, no data or one byte); anything from the quiet one.
  std::uint32_t snd_nxt = 0;
  json::array probe_ms;
  long quiet_segments = 0;
  for (const auto& s : our_segments(config.capture, port))
    if (s.length > 0 && (s.flags & tcp_flag::psh) != 0) snd_nxt = s.seq + static_cast<std::uint32_t>(s.length);
  for (const auto& s : our_segments(config.capture, port))
    if (s.stamp_ns > cut_ns && s.flags == tcp_flag::ack && s.length <= 1 && s.seq == snd_nxt - 1)
      probe_ms.push_back((s.stamp_ns - cut_ns) / 1'000'000);
  for (const auto& s : our_segments(config.capture, quiet_port)) quiet_segments += s.stamp_ns > cut_ns;
  const bool captured = !config.capture.empty() && std::filesystem::exists(config.capture);
  const bool timed_out = ending.ec == asio::error::timed_out;
  const long probes = captured ? static_cast<long>(probe_ms.size()) : static_cast<long>(samples.back().probes);
  const bool quiet_alive = quiet_after.state == "ESTAB" && !quiet_ending.done && quiet_segments == 0;
  const long defaults_s = sysctl_number("tcp_keepalive_time", 7200) +
                          sysctl_number("tcp_keepalive_intvl", 75) * sysctl_number("tcp_keepalive_probes", 9);
  result.observed() = {
      {"local_port", port},
      {"quiet_port", quiet_port},
      {"our_path", "two idle connections, cable cut: with SO_KEEPALIVE " + std::to_string(probes) + " probe(s), then " +
                       ending_name(ending.ec) + "; without it " + quiet_after.state},
      {"keep_idle_s", config.keep_idle_s},
      {"keep_intvl_s", config.keep_intvl_s},
      {"keep_cnt", config.keep_cnt},
      {"expected_after_ms", expected_ms},
      {"ended_by", ending.done ? ending_name(ending.ec) : "nothing within the bound"},
      {"ended_after_ms", ending.done ? json::value(ending.at_ms) : nullptr},
      {"probes", probes},
      {"probes_from", captured ? "capture" : "tcp_info"},
      {"probe_ms", probe_ms},
      {"tcp_info", json::value_from(samples)},
      {"quiet_state", quiet_after.state},
      {"quiet_segments_after_cut", captured ? json::value(quiet_segments) : nullptr},
      {"tcp_keepalive_time", sysctl_number("tcp_keepalive_time", -1)},
      {"tcp_keepalive_intvl", sysctl_number("tcp_keepalive_intvl", -1)},
      {"tcp_keepalive_probes", sysctl_number("tcp_keepalive_probes", -1)},
      {"defaults_would_take_s", defaults_s}};
  const std::string what =
      "with SO_KEEPALIVE (" + std::to_string(config.keep_idle_s) + " s, " + std::to_string(config.keep_intvl_s) +
      " s, " + std::to_string(config.keep_cnt) + "): " + std::to_string(probes) + " probe(s) at " +
      json::serialize(probe_ms) + " ms, " +
      (ending.done ? ending_name(ending.ec) + " after " + std::to_string(ending.at_ms) + " ms" : "no error") +
      " (idle + intvl x cnt = " + std::to_string(expected_ms) + " ms); without: " + quiet_after.state + ", " +
      (captured ? std::to_string(quiet_segments) : std::string("?")) + " segment(s) after the cut";
  result.add_check(
      {.id = "tcp-keepalive-detects-dead-peer",
       .claim = "asked next: an idle connection to a dead peer goes unnoticed — until TCP keep-alive probes it",
       .expected = "no keep-alive: ESTABLISHED, no segment; SO_KEEPALIVE: KEEPCNT probes, then ETIMEDOUT",
       .observed = what,
       .verdict = !ending.done || !quiet_alive             ? Verdict::refuted
                  : timed_out && probes == config.keep_cnt ? Verdict::confirmed
                                                           : Verdict::nuanced,
       .evidence = std::string(captured ? "the step's capture on our veth (probes: ACK with seq = snd_nxt - 1)"
                                        : "TCP_INFO probes (no capture)") +
                   "; the error of a pending read on each; the quiet one's state from TCP_INFO; with this "
                   "namespace's defaults (tcp_keepalive_time/intvl/probes) it would take " +
                   std::to_string(defaults_s) + " s"});
}

}  // namespace

void add_dead_peer_options(CLI::App& app, DeadPeerConfig& config) {
  app.add_option("--cut-file", config.cut_file,
                 "cut-cable, keepalive: written once our connection is up; the script then cuts the wire and writes "
                 "PATH.cut");
  app.add_option("--capture", config.capture, "cut-cable, keepalive: the step's capture on our side of the wire");
  add_bounded_option(app, "--user-timeout-ms", config.user_timeout_ms, "cut-cable: TCP_USER_TIMEOUT", 500L, 60'000L);
  add_bounded_option(app, "--keep-idle", config.keep_idle_s, "keepalive: TCP_KEEPIDLE, s", 1, 60);
  add_bounded_option(app, "--keep-intvl", config.keep_intvl_s, "keepalive: TCP_KEEPINTVL, s", 1, 60);
  add_bounded_option(app, "--keep-cnt", config.keep_cnt, "keepalive: TCP_KEEPCNT", 1, 20);
}

bool is_dead_peer_mode(const std::string& mode) { return mode == "cut-cable" || mode == "keepalive"; }

awaitable<void> dead_peer_scenario(const CommonOptions& options, const std::string& mode, const DeadPeerConfig& config,
                                   Result& result) {
  if (mode == "cut-cable") return cut_cable(options, config, result);
  return keepalive(options, config, result);
}

}  // namespace netlab::teardown
