#include "congestion_parts.hpp"

#include "cwnd.hpp"
#include "stream.hpp"

#include "io/coro.hpp"
#include "io/stats.hpp"
#include "kernel/tcp_info.hpp"
#include "observed.hpp"
#include "program/readiness.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value_from.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cmath>
#include <fstream>
#include <sstream>

namespace netlab::transport {

using namespace congestion;

namespace {

namespace json = boost::json;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;

std::int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

CwndSample sample(int fd, Clock::time_point start) {
  CwndSample s;
  s.t_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  s.mono_ns = mono_ns();
  if (const auto info = read_tcp_info(fd)) {
    s.cwnd = info->snd_cwnd;
    s.ssthresh = info->snd_ssthresh;
    s.srtt_us = info->rtt_us;
    s.total_retrans = info->total_retrans;
    s.lost = info->lost;
    s.ca_state = info->ca_state;
    s.delivery_mbit = static_cast<double>(info->delivery_rate) * 8 / 1e6;
    s.bytes_acked = info->bytes_acked;
  }
  return s;
}

// Sends numbered messages for config.seconds, sampling TCP_INFO on the side,
// then "done" and the server's account of what arrived.
awaitable<void> tcp_flow(const CommonOptions& options, const CongestionConfig& config, const std::string& algorithm,
                         FlowRun& run) {
  tcp::socket socket = co_await connect_to(options.host, options.port, server_program);
  const int fd = socket.native_handle();
  if (!algorithm.empty() &&
      ::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, algorithm.data(), static_cast<socklen_t>(algorithm.size())) != 0)
    throw std::system_error(errno, std::generic_category(), "TCP_CONGESTION " + algorithm);
  run.series.algorithm = congestion_algorithm(fd);
  // A fixed send buffer well above the path's window (its bandwidth-delay
  // product plus the queue), so what is left to drain after the window closes
  // is short; a buffer does not change how the congestion window moves.
  socket.set_option(asio::socket_base::send_buffer_size(512 * 1024));
  socket.non_blocking(true);
  const auto start = Clock::now();
  run.start_ns = mono_ns();
  bool sending = true;
  std::uint64_t acked_at_end = 0;

  auto sender = [&]() -> awaitable<void> {
    PayloadGenerator payloads(config.seed, config.size, config.size);
    SendTally tally;
    std::string frame;
    while (seconds_since(start) < config.seconds) {
      frame.clear();
      encode(Kind::data, run.sent, now_us(), payloads.next_view(), frame);
      co_await write_counted(socket, frame, tally);
      ++run.sent;
      run.bytes_sent += frame.size();
    }
    sending = false;
    run.end_ns = mono_ns();
    if (const auto info = read_tcp_info(fd)) acked_at_end = info->bytes_acked;
  };
  auto sampler = [&]() -> awaitable<void> {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto period =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(config.sample_ms));
    for (std::size_t n = 0; sending && n < 1'000'000; ++n) {
      run.series.samples.push_back(sample(fd, start));
      timer.expires_after(period);
      co_await timer.async_wait(use_tuple);
    }
  };
  co_await (sender() && sampler());
  run.goodput_mbit = static_cast<double>(acked_at_end) * 8 / 1e6 / config.seconds;

  std::string done;
  encode(Kind::done, run.sent, now_us(), {}, done);
  SendTally tally;
  co_await write_counted(socket, done, tally);
  StreamDecoder decoder;
  std::uint64_t bytes_in = 0;
  auto report = co_await read_until(socket, decoder, Kind::report, bytes_in);
  if (!report) throw std::runtime_error("the server closed the connection without a report");
  run.server = json::parse(report->payload).as_object();
  socket.shutdown(tcp::socket::shutdown_send);
  co_await read_until(socket, decoder, Kind::report, bytes_in);
}

// Datagrams at a fixed rate whatever happens to them: UDP has no window to close.
awaitable<void> udp_flood(const CommonOptions& options, const CongestionConfig& config, UdpRun& run) {
  const asio::ip::udp::endpoint to(asio::ip::make_address(options.host), options.port);
  asio::ip::udp::socket socket(co_await asio::this_coro::executor, asio::ip::udp::v4());
  socket.connect(to);
  const double datagram = static_cast<double>(header_size + config.size);
  run.target_mbit = static_cast<double>(config.bottleneck_kbit) * config.udp_factor / 1000;
  const double rate = run.target_mbit * 1e6 / 8 / datagram;  // datagrams per second
  PayloadGenerator payloads(config.seed + 1, config.size, config.size);
  std::string bytes;
  const auto start = Clock::now();
  for (std::size_t i = 0; seconds_since(start) < config.seconds; ++i) {
    co_await pace(rate, start, i);
    bytes.clear();
    encode(Kind::data, i, now_us(), payloads.next_view(), bytes);
    auto [ec, n] = co_await socket.async_send(asio::buffer(bytes), use_tuple);
    if (ec) throw udp_failure(to, ec);
    ++run.sent;
    run.bytes_sent += n;
  }
  run.send_seconds = seconds_since(start);
  // IP + UDP headers on top of what the socket took: the rate on the link.
  run.sent_mbit =
      (static_cast<double>(run.bytes_sent) + 28.0 * static_cast<double>(run.sent)) * 8 / 1e6 / run.send_seconds;
  int used = 0;
  run.server = co_await ask(socket, Kind::done, run.sent, Kind::report, 25, 200, server_program, used);
}

WireRecord read_wire_events(const std::string& path) {
  WireRecord record;
  if (path.empty()) return record;
  std::ifstream in(path);
  std::string line;
  for (std::size_t n = 0; n < 2'000'000 && std::getline(in, line); ++n) {
    boost::system::error_code ec;
    const auto value = json::parse(line, ec);
    if (ec || !value.is_object()) continue;  // a line being written as we read
    const auto& o = value.as_object();
    const auto* dir = o.if_contains("dir");
    const auto* event = o.if_contains("event");
    if (!dir || !event || dir->as_string() != "left>right") continue;
    const auto at = o.at("mono_ns").to_number<std::int64_t>();
    if (event->as_string() == "queue") record.queue.emplace_back(at, o.at("queue").to_number<double>());
    if (event->as_string() == "drop" && o.at("cause").as_string() == "queue") {
      record.queue_drops.push_back(at);
      record.queue.emplace_back(at, o.at("queue").to_number<double>());
    }
  }
  return record;
}

std::vector<QueuePoint> queue_during(const WireRecord& wire, std::int64_t start_ns, std::int64_t end_ns) {
  std::vector<QueuePoint> points;
  for (auto [at, depth] : wire.queue)
    if (at >= start_ns && at <= end_ns) points.push_back({static_cast<double>(at - start_ns) / 1e6, depth});
  return points;
}

// One TCP flow as the result's "observed" shows it.
struct FlowObserved {
  std::string label, algorithm;
  std::uint64_t messages_sent = 0, bytes_sent = 0;
  double goodput_mbit = 0;
  std::size_t samples = 0;
  std::uint32_t total_retrans = 0;
  SlowStart slow_start;
  BackOff back_off;
  json::object server;
};
BOOST_DESCRIBE_STRUCT(FlowObserved, (),
                      (label, algorithm, messages_sent, bytes_sent, goodput_mbit, samples, total_retrans, slow_start,
                       back_off, server))

FlowObserved observe(const FlowRun& run) {
  return {.label = run.series.label,
          .algorithm = run.series.algorithm,
          .messages_sent = run.sent,
          .bytes_sent = run.bytes_sent,
          .goodput_mbit = run.goodput_mbit,
          .samples = run.series.samples.size(),
          .total_retrans = run.series.samples.empty() ? 0 : run.series.samples.back().total_retrans,
          .slow_start = analyse_slow_start(run.series.samples),
          .back_off = analyse_back_off(run.series.samples),
          .server = run.server};
}

std::vector<FlowObserved> observe(const std::vector<FlowRun>& runs) {
  std::vector<FlowObserved> flows;
  for (const auto& run : runs) flows.push_back(observe(run));
  return flows;
}

struct ShareObserved {
  std::vector<FlowObserved> flows;
  double jain_index = 0;
};
BOOST_DESCRIBE_STRUCT(ShareObserved, (), (flows, jain_index))

struct UdpSenderObserved {
  std::uint64_t sent = 0, bytes_sent = 0;
  double sent_mbit = 0, target_mbit = 0;
  json::object server;
};
BOOST_DESCRIBE_STRUCT(UdpSenderObserved, (), (sent, bytes_sent, sent_mbit, target_mbit, server))

struct BesideUdpObserved {
  FlowObserved tcp;
  UdpSenderObserved udp;
};
BOOST_DESCRIBE_STRUCT(BesideUdpObserved, (), (tcp, udp))

struct AlgorithmsObserved {
  std::vector<FlowObserved> flows;
  std::vector<std::string> missing;  // asked for, not offered by this kernel
};
BOOST_DESCRIBE_STRUCT(AlgorithmsObserved, (), (flows, missing))

// What --mode congestion observed (the result's "observed"): the steps that ran.
struct CongestionObserved {
  std::optional<FlowObserved> single{};
  std::optional<ShareObserved> share{};
  std::optional<BesideUdpObserved> udp{};
  std::optional<AlgorithmsObserved> algorithms{};

  friend void tag_invoke(json::value_from_tag, json::value& v, const CongestionObserved& o) { v = present_members(o); }
};
BOOST_DESCRIBE_STRUCT(CongestionObserved, (), (single, share, udp, algorithms))

std::vector<std::string> available_algorithms() {
  std::ifstream in("/proc/sys/net/ipv4/tcp_available_congestion_control");
  std::vector<std::string> names;
  for (std::string name; in >> name && names.size() < 32;) names.push_back(name);
  return names;
}

}  // namespace

awaitable<void> run_congestion(const CommonOptions& options, const CongestionConfig& config, Result& result) {
  CongestionObserved observed;  // into the result as each step ends
  std::vector<FlowSeries> charted;
  std::vector<QueuePoint> charted_queue;
  std::string csv = cwnd_csv_header();
  std::optional<double> alone_mbit;
  auto wants = [&](const char* name) {
    return std::find(config.scenarios.begin(), config.scenarios.end(), name) != config.scenarios.end();
  };
  auto keep = [&](const FlowRun& run) { csv += cwnd_csv_rows(run.series); };

  // The single, shared and UDP steps use cubic, Linux's default and the
  // loss-based algorithm the textbooks describe, wherever this kernel has it
  // (a namespace may default to another one, bbr say).
  const auto available = available_algorithms();
  const std::string main_algorithm =
      std::find(available.begin(), available.end(), "cubic") != available.end() ? "cubic" : "";
  if (wants("single")) {
    FlowRun run;
    run.series.label = "single";
    co_await tcp_flow(options, config, main_algorithm, run);
    const auto wire = read_wire_events(config.wire_events);
    observed.single = observe(run);
    result.set_observed(observed);
    congestion::single_checks(result, run, wire, config);
    alone_mbit = run.goodput_mbit;
    keep(run);
    charted.push_back(run.series);
    charted_queue = queue_during(wire, run.start_ns, run.end_ns);
  }
  if (wants("share")) {
    std::vector<FlowRun> flows(2);
    flows[0].series.label = "share-1";
    flows[1].series.label = "share-2";
    co_await (tcp_flow(options, config, main_algorithm, flows[0]) &&
              tcp_flow(options, config, main_algorithm, flows[1]));
    for (const auto& f : flows) keep(f);
    observed.share = ShareObserved{.flows = observe(flows),
                                   .jain_index = jain_index({flows[0].goodput_mbit, flows[1].goodput_mbit})};
    result.set_observed(observed);
    congestion::share_checks(result, flows, config);
  }
  if (wants("udp")) {
    FlowRun tcp;
    tcp.series.label = "beside-udp";
    UdpRun udp;
    co_await (tcp_flow(options, config, main_algorithm, tcp) && udp_flood(options, config, udp));
    observed.udp = BesideUdpObserved{.tcp = observe(tcp),
                                     .udp = {.sent = udp.sent,
                                             .bytes_sent = udp.bytes_sent,
                                             .sent_mbit = udp.sent_mbit,
                                             .target_mbit = udp.target_mbit,
                                             .server = udp.server}};
    result.set_observed(observed);
    congestion::udp_checks(result, tcp, udp, alone_mbit);
    keep(tcp);
  }
  if (wants("algorithms")) {
    std::vector<std::string> asked = config.algorithms, missing;
    if (asked.empty()) asked = {"cubic", "reno", "bbr"};
    std::vector<FlowRun> runs;
    for (const auto& name : asked) {
      if (std::find(available.begin(), available.end(), name) == available.end()) {
        missing.push_back(name);
        continue;
      }
      FlowRun run;
      run.series.label = name;
      co_await tcp_flow(options, config, name, run);
      keep(run);
      runs.push_back(std::move(run));
    }
    observed.algorithms = AlgorithmsObserved{.flows = observe(runs), .missing = missing};
    result.set_observed(observed);
    congestion::algorithm_check(result, runs, missing);
    if (!runs.empty()) {
      const auto svg = cwnd_svg(
          [&] {
            std::vector<FlowSeries> all;
            for (const auto& r : runs) all.push_back(r.series);
            return all;
          }(),
          {}, "cwnd per congestion-control algorithm, one flow each through the same bottleneck");
      if (!config.svg.empty())
        write_file_atomically(config.svg.substr(0, config.svg.rfind('.')) + "-algorithms.svg", svg);
    }
  }
  if (!config.csv.empty()) write_file_atomically(config.csv, csv);
  if (!config.svg.empty() && !charted.empty())
    write_file_atomically(
        config.svg, cwnd_svg(charted, charted_queue,
                             "one TCP flow through a " + fixed(static_cast<double>(config.bottleneck_kbit) / 1000, 0) +
                                 " Mbit/s bottleneck: cwnd and the queue"));
}

}  // namespace netlab::transport
