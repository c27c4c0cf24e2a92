#pragma once
// The congestion window over time, as TCP_INFO reported it every few
// milliseconds, and what it says: how fast it grew in slow start, how far it
// fell after the first loss, how two flows shared a link. Pure: no sockets,
// so the unit tests feed it hand-made samples.
#include <boost/describe/class.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace netlab::transport {

// Linux starts ssthresh at "infinity" (TCP_INFINITE_SSTHRESH): no loss yet.
inline constexpr std::uint32_t infinite_ssthresh = 0x7fffffff;

struct CwndSample {
  double t_ms = 0;           // since the flow started
  std::int64_t mono_ns = 0;  // CLOCK_MONOTONIC, to line up with netlab-wire's events
  std::uint32_t cwnd = 0;    // segments
  std::uint32_t ssthresh = infinite_ssthresh;
  std::uint32_t srtt_us = 0;
  std::uint32_t total_retrans = 0;
  std::uint32_t lost = 0;
  std::uint8_t ca_state = 0;  // 0 open, 1 disorder, 2 CWR, 3 recovery, 4 loss
  double delivery_mbit = 0;
  std::uint64_t bytes_acked = 0;
};

struct FlowSeries {
  std::string label;      // "cubic", "flow 2", ...
  std::string algorithm;  // what TCP_CONGESTION said
  std::vector<CwndSample> samples;
};

// The first sample that shows a loss: retransmissions counted, or the
// sender in recovery or loss state.
std::optional<std::size_t> first_loss(const std::vector<CwndSample>& samples);

struct SlowStart {
  bool measured = false;      // enough samples of growth to say
  double growth_per_rtt = 0;  // cwnd multiplies by this per round trip (2 in textbook slow start)
  double end_ms = 0;          // when ssthresh was first set (slow start ended)
  std::uint32_t end_cwnd = 0;
  std::string ended_by;  // "loss", "hystart" (ssthresh set before any loss), "still growing"
};
BOOST_DESCRIBE_STRUCT(SlowStart, (), (measured, growth_per_rtt, end_ms, end_cwnd, ended_by))
SlowStart analyse_slow_start(const std::vector<CwndSample>& samples);

struct BackOff {
  bool loss_seen = false;
  double loss_ms = 0;
  std::uint32_t cwnd_before = 0;     // the largest window in the round trip before the loss showed
  std::uint32_t ssthresh_after = 0;  // what the algorithm set
  double ratio = 0;                  // ssthresh_after / cwnd_before
};
BOOST_DESCRIBE_STRUCT(BackOff, (), (loss_seen, loss_ms, cwnd_before, ssthresh_after, ratio))
BackOff analyse_back_off(const std::vector<CwndSample>& samples);

// The factor a loss-based algorithm multiplies the window by on a loss
// (cubic 0.7, reno 0.5), or nullopt (bbr and others do not work that way).
std::optional<double> textbook_beta(const std::string& algorithm);

// Jain's fairness index: 1 when all get the same, 1/n when one gets all.
double jain_index(const std::vector<double>& shares);

// The chart: each flow's cwnd over time, the bottleneck queue's depth
// (packets, from netlab-wire) in grey, and each flow's first loss marked.
struct QueuePoint {
  double t_ms = 0;
  double depth = 0;
};
std::string cwnd_svg(const std::vector<FlowSeries>& flows, const std::vector<QueuePoint>& queue,
                     const std::string& title);

// One CSV row per sample:
// flow,algorithm,t_ms,cwnd,ssthresh,srtt_ms,ca_state,total_retrans,lost,delivery_mbit,bytes_acked
std::string cwnd_csv_header();
std::string cwnd_csv_rows(const FlowSeries& flow);

}  // namespace netlab::transport
