#include "window.hpp"

#include "checks.hpp"
#include "format.hpp"
#include "stream.hpp"

#include "io/stats.hpp"
#include "kernel/tcp_info.hpp"
#include "kernel/transport_flow.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value_to.hpp>

#include <algorithm>
#include <fstream>

namespace netlab::transport {

namespace {

namespace json = boost::json;
using asio::awaitable;

// The largest window a 16-bit field can carry when no scale is agreed (RFC 7323 §1.1).
constexpr double unscaled_max_window = 65535;

struct Sample {
  double t_s = 0;
  std::uint64_t bytes_acked = 0;
  double srtt_ms = 0;
  std::uint32_t peer_window = 0;
};

Sample take_sample(int fd, Clock::time_point start) {
  Sample s{.t_s = seconds_since(start)};
  if (const auto info = read_tcp_info(fd)) {
    s.bytes_acked = info->bytes_acked;
    s.srtt_ms = info->rtt_us / 1000.0;
  }
  if (const auto flow = read_tcp_flow(fd)) s.peer_window = flow->peer_window;
  return s;
}

template <class T>
T median_of(std::vector<T> values) {
  if (values.empty()) return T{};
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2), values.end());
  return values[values.size() / 2];
}

std::string sysctl_text(const std::string& name) {
  std::ifstream in("/proc/sys/net/ipv4/" + name);
  std::string line;
  if (!std::getline(in, line)) return "unreadable";
  std::replace(line.begin(), line.end(), '\t', ' ');
  return line;
}

// From the samples: goodput, RTT and window over the steady part.
void summarise(const std::vector<Sample>& samples, WindowFlow& flow) {
  std::vector<double> rtts;
  std::vector<std::uint32_t> windows;
  const Sample* first = nullptr;
  for (const auto& s : samples) {
    flow.peer_window_max = std::max(flow.peer_window_max, s.peer_window);
    if (s.t_s < flow.steady_from_s) continue;
    if (!first) first = &s;
    rtts.push_back(s.srtt_ms);
    windows.push_back(s.peer_window);
  }
  flow.samples = samples.size();
  if (!first || samples.back().t_s <= first->t_s) return;
  const Sample& last = samples.back();
  flow.goodput_mbit = static_cast<double>(last.bytes_acked - first->bytes_acked) * 8 / 1e6 / (last.t_s - first->t_s);
  flow.srtt_ms = median_of(rtts);
  flow.peer_window_median = median_of(windows);
  if (flow.srtt_ms > 0)
    flow.window_over_rtt_mbit = static_cast<double>(flow.peer_window_median) * 8 / 1e6 / (flow.srtt_ms / 1000);
  if (flow.window_over_rtt_mbit > 0) flow.goodput_share_of_bound = flow.goodput_mbit / flow.window_over_rtt_mbit;
}

}  // namespace

awaitable<void> run_window(const CommonOptions& options, const WindowConfig& config, Result& result) {
  tcp::socket socket = co_await connect_to(options.host, options.port, server_program);
  const int fd = socket.native_handle();
  // A fixed send buffer well above what the path holds (its bandwidth-delay
  // product and the wire's queue, 500 kB here): the sender never waits on its
  // own buffer, and what is left to drain once sending stops is short.
  socket.set_option(asio::socket_base::send_buffer_size(1 << 20));
  socket.non_blocking(true);
  WindowFlow flow{.window_case = config.window_case,
                  .seconds = config.seconds,
                  .steady_from_s = config.seconds / 3,
                  .sysctl_tcp_window_scaling = sysctl_text("tcp_window_scaling"),
                  .sysctl_tcp_rmem = sysctl_text("tcp_rmem")};
  std::vector<Sample> samples;
  const auto start = Clock::now();
  const double sample_every_s = config.sample_ms / 1000;
  PayloadGenerator payloads(config.seed, config.size, config.size);
  SendTally tally;
  std::string frame;
  std::uint64_t sent = 0;
  // As fast as the socket takes them: what limits the flow is the path, not
  // us. A write waits at most until the next ACK opens room, so sampling
  // between writes keeps to the period.
  for (double now = 0; now < config.seconds; now = seconds_since(start)) {
    if (samples.empty() || now - samples.back().t_s >= sample_every_s) samples.push_back(take_sample(fd, start));
    frame.clear();
    encode(Kind::data, sent++, now_us(), payloads.next_view(), frame);
    co_await write_counted(socket, frame, tally);
  }
  samples.push_back(take_sample(fd, start));
  summarise(samples, flow);
  if (const auto info = read_tcp_info(fd)) {
    flow.bytes_acked = info->bytes_acked;
    flow.min_rtt_ms = info->min_rtt_us / 1000.0;
  }
  if (const auto kernel = read_tcp_flow(fd)) {
    flow.window_scaling = kernel->window_scaling;
    flow.peer_wscale = kernel->window_scaling ? kernel->snd_wscale : -1;
    flow.our_wscale = kernel->window_scaling ? kernel->rcv_wscale : -1;
    flow.total_retrans = kernel->total_retrans;
    if (kernel->busy_us > 0)
      flow.rwnd_limited_share = static_cast<double>(kernel->rwnd_limited_us) / static_cast<double>(kernel->busy_us);
  }

  // "done, I sent N": the server's account comes back, then both FINs.
  frame.clear();
  encode(Kind::done, sent, now_us(), {}, frame);
  co_await write_counted(socket, frame, tally);
  StreamDecoder decoder;
  std::uint64_t bytes_in = 0;
  if (auto report = co_await read_until(socket, decoder, Kind::report, bytes_in)) {
    const auto account = read_account(json::parse(report->payload).as_object());
    flow.server_unique = account.unique;
    flow.server_lost = account.lost;
  } else {
    throw std::runtime_error("the server closed the connection without a report");
  }
  socket.shutdown(tcp::socket::shutdown_send);
  co_await read_until(socket, decoder, Kind::report, bytes_in);
  result.set_observed(WindowObserved{flow});
}

namespace {

WindowFlow read_flow(const std::string& path) {
  const auto object = read_json_object(path, "the window flow's result");
  const auto* observed = object.if_contains("observed");
  const auto* window = observed && observed->is_object() ? observed->as_object().if_contains("window") : nullptr;
  if (!window) throw std::runtime_error(path + ": no observed.window (a --mode window result?)");
  return json::value_to<WindowFlow>(*window);
}

std::string flow_text(const WindowFlow& f) {
  return f.window_case + ": goodput " + fixed(f.goodput_mbit, 2) + " Mbit/s, window " +
         std::to_string(f.peer_window_median) + " B (max " + std::to_string(f.peer_window_max) + "), srtt " +
         fixed(f.srtt_ms, 1) + " ms, window/RTT " + fixed(f.window_over_rtt_mbit, 2) + " Mbit/s, scale " +
         (f.window_scaling ? std::to_string(f.peer_wscale) : std::string("none"));
}

// The small receive buffer rides at its window / RTT; autotuning opens the window and goes faster.
void rwnd_check(Result& result, const WindowFlow& small, const WindowFlow& big) {
  const bool at_bound = small.goodput_share_of_bound >= 0.7 && small.goodput_share_of_bound <= 1.15;
  const bool above_bound = small.goodput_share_of_bound > 1.15;
  const bool autotuned_faster =
      big.goodput_mbit >= 1.5 * small.goodput_mbit && big.peer_window_median >= 1.5 * small.peer_window_median;
  result.add_check(
      {.id = "rwnd-bounds-throughput",
       .claim = "asked next (tcp和udp): the receive window bounds throughput at rwnd / RTT; autotuning opens it",
       .expected = "the 64 KiB-buffer flow's goodput within 0.7..1.15 of its window / RTT; the autotuned flow at "
                   "least 1.5 times faster with a window at least 1.5 times larger",
       .observed = flow_text(small) + " (goodput " + fixed(small.goodput_share_of_bound, 2) + " of window/RTT); " +
                   flow_text(big),
       .verdict = above_bound                    ? Verdict::refuted
                  : at_bound && autotuned_faster ? Verdict::confirmed
                                                 : Verdict::nuanced,
       .evidence = "TCP_INFO on the sender between writes, 10 ms apart, across netlab-wire: tcpi_snd_wnd (the "
                   "server's advertised window), tcpi_rtt, tcpi_bytes_acked over the last two thirds of each flow; the "
                   "server's SO_RCVBUF set on its listening socket before the SYN came"});
}

// Without the scale option the window field stops at 65535 bytes, and so does the flow.
void scaling_check(Result& result, const WindowFlow& unscaled, const WindowFlow& scaled) {
  const double cap_mbit = unscaled_max_window * 8 / 1e6 / (unscaled.srtt_ms / 1000);
  const bool unscaled_capped = !unscaled.window_scaling && unscaled.peer_window_max <= unscaled_max_window &&
                               unscaled.goodput_mbit <= 1.15 * cap_mbit;
  const bool scaled_opens = scaled.window_scaling && scaled.peer_window_max > unscaled_max_window;
  const bool scaled_faster = scaled.goodput_mbit >= 1.5 * unscaled.goodput_mbit;
  result.add_check(
      {.id = "window-scaling-needed-for-long-fat-paths",
       .claim = "asked next (tcp和udp): without window scaling (RFC 7323) the window stops at 64 KiB, and a long "
                "path at 64 KiB / RTT",
       .expected = "tcp_window_scaling=0: no scale agreed, the window never above 65535 bytes, goodput at most "
                   "65535 B / RTT; with scaling: a larger window and at least 1.5 times the goodput",
       .observed = flow_text(unscaled) + " (65535 B / RTT = " + fixed(cap_mbit, 2) + " Mbit/s); " + flow_text(scaled),
       .verdict = !unscaled_capped || (scaled_opens && !scaled_faster) ? Verdict::refuted
                  : scaled_opens && scaled_faster                      ? Verdict::confirmed
                                                                       : Verdict::nuanced,
       .evidence = "TCP_INFO on the sender (tcpi_options WSCALE, tcpi_snd_wscale, tcpi_snd_wnd, tcpi_rtt); "
                   "tcp_window_scaling=0 written in both namespaces for the unscaled flow (as read there: " +
                   unscaled.sysctl_tcp_window_scaling + ")"});
}

}  // namespace

void window_verdicts(const WindowConfig& config, Result& result) {
  if (config.runs.size() != 3) throw std::runtime_error("--runs wants three results: small,autotuned,unscaled");
  const WindowFlow small = read_flow(config.runs[0]);
  const WindowFlow autotuned = read_flow(config.runs[1]);
  const WindowFlow unscaled = read_flow(config.runs[2]);
  result.observed()["flows"] =
      json::array{json::value_from(small), json::value_from(autotuned), json::value_from(unscaled)};
  rwnd_check(result, small, autotuned);
  scaling_check(result, unscaled, autotuned);
}

}  // namespace netlab::transport
