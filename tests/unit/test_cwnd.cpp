// The congestion-window analysis of the transport lab, on hand-made TCP_INFO
// samples: slow start's growth per round trip, the back-off after a loss,
// HyStart and tail loss probes told apart from losses, Jain's index, the chart.
#include "cwnd.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace netlab::transport;

namespace {

// Samples every 10 ms of a window that doubles every 40 ms (srtt 40 ms) from
// 10 segments, until `loss_ms`; from there the sender is in recovery with
// ssthresh = beta x the window it had.
std::vector<CwndSample> doubling_then_loss(double loss_ms, double beta, std::uint8_t state_at_loss = 3) {
  std::vector<CwndSample> samples;
  std::uint32_t at_loss = 0;
  for (double t = 0; t <= loss_ms + 200; t += 10) {
    CwndSample s;
    s.t_ms = t;
    s.srtt_us = 40'000;
    if (t < loss_ms) {
      s.cwnd = static_cast<std::uint32_t>(10 * std::pow(2.0, t / 40));
      at_loss = s.cwnd;
    } else {
      s.ssthresh = static_cast<std::uint32_t>(beta * at_loss);
      s.cwnd = s.ssthresh;
      s.ca_state = t < loss_ms + 80 ? state_at_loss : 0;
      s.total_retrans = 5;
    }
    samples.push_back(s);
  }
  return samples;
}

}  // namespace

TEST_CASE("slow start: the window doubles per round trip, and a loss ends it") {
  const auto samples = doubling_then_loss(300, 0.7);
  const auto slow = analyse_slow_start(samples);
  REQUIRE(slow.measured);
  CHECK(slow.growth_per_rtt == Approx(2.0).epsilon(0.05));
  CHECK(slow.ended_by == "loss");
  CHECK(slow.end_ms == Approx(300));
}

TEST_CASE("back-off: ssthresh over the window the sender had") {
  for (double beta : {0.7, 0.5}) {
    const auto back = analyse_back_off(doubling_then_loss(300, beta));
    REQUIRE(back.loss_seen);
    CHECK(back.loss_ms == Approx(300));
    CHECK(back.ratio == Approx(beta).epsilon(0.02));
  }
  CHECK(textbook_beta("cubic") == 0.7);
  CHECK(textbook_beta("reno") == 0.5);
  CHECK_FALSE(textbook_beta("bbr").has_value());
}

TEST_CASE("HyStart: ssthresh set with no loss ends slow start, and is not called a loss") {
  auto samples = doubling_then_loss(300, 0.9, 0);
  for (auto& s : samples) s.total_retrans = 0;
  CHECK(analyse_slow_start(samples).ended_by == "hystart");
  CHECK_FALSE(first_loss(samples).has_value());
  // A real loss later: the back-off is measured there, against the new ssthresh.
  CwndSample loss = samples.back();
  loss.t_ms += 10;
  loss.ca_state = 3;
  loss.ssthresh = loss.cwnd / 2;
  samples.push_back(loss);
  const auto back = analyse_back_off(samples);
  REQUIRE(back.loss_seen);
  CHECK(back.ratio == Approx(0.5).epsilon(0.02));
}

TEST_CASE("bbr: a loss with no ssthresh set has no back-off factor") {
  auto samples = doubling_then_loss(300, 0.7);
  for (auto& s : samples) s.ssthresh = infinite_ssthresh;
  const auto back = analyse_back_off(samples);
  CHECK(back.loss_seen);
  CHECK(back.ratio == 0);
}

TEST_CASE("a tail loss probe (a retransmission, no recovery) is not a loss") {
  auto samples = doubling_then_loss(400, 0.7);
  std::erase_if(samples, [](const CwndSample& s) { return s.t_ms >= 400; });  // no loss at all
  samples[5].total_retrans = 1;  // a probe: state open, ssthresh still infinite
  CHECK_FALSE(first_loss(samples).has_value());
  CHECK_FALSE(analyse_back_off(samples).loss_seen);
  CHECK(analyse_slow_start(samples).ended_by == "still growing");
}

TEST_CASE("too short to measure slow start says so") {
  const std::vector<CwndSample> two = {{.t_ms = 0, .cwnd = 10, .srtt_us = 40'000},
                                       {.t_ms = 10, .cwnd = 12, .srtt_us = 40'000}};
  CHECK_FALSE(analyse_slow_start(two).measured);
}

TEST_CASE("Jain's index: 1 for equal shares, 1/n when one flow takes all") {
  CHECK(jain_index({10, 10}) == Approx(1));
  CHECK(jain_index({10, 0}) == Approx(0.5));
  CHECK(jain_index({5, 5, 5, 0}) == Approx(0.75));
  CHECK(jain_index({}) == 0);
}

TEST_CASE("the chart draws each flow, the queue and the first loss, and the CSV has a row per sample") {
  FlowSeries flow{"single", "cubic", doubling_then_loss(300, 0.7)};
  const auto svg = cwnd_svg({flow}, {{0, 0}, {100, 30}, {200, 66}}, "title");
  CHECK(svg.find("<svg") == 0);
  CHECK(svg.find("stroke=\"#999\"") != std::string::npos);   // the queue
  CHECK(svg.find("stroke-dasharray") != std::string::npos);  // the first loss
  CHECK(svg.find("single (cubic)") != std::string::npos);
  const auto rows = cwnd_csv_rows(flow);
  CHECK(static_cast<std::size_t>(std::count(rows.begin(), rows.end(), '\n')) == flow.samples.size());
  CHECK(rows.find(",inf,") != std::string::npos);
}
