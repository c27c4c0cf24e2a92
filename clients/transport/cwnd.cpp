#include "cwnd.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

namespace netlab::transport {

std::optional<std::size_t> first_loss(const std::vector<CwndSample>& samples) {
  // The sender detected a loss: it entered recovery or loss state. Neither a
  // retransmission alone (a tail loss probe retransmits with no loss
  // detected) nor ssthresh alone (HyStart sets it with no loss) is one.
  for (std::size_t i = 0; i < samples.size(); ++i)
    if (samples[i].ca_state >= 3) return i;
  return std::nullopt;
}

SlowStart analyse_slow_start(const std::vector<CwndSample>& samples) {
  SlowStart result;
  if (samples.size() < 2) return result;
  // Slow start lasts until the first loss or until ssthresh is set without one (HyStart).
  std::size_t end = 0;
  while (end < samples.size() && samples[end].ssthresh >= infinite_ssthresh && samples[end].ca_state < 3) ++end;
  if (end == samples.size()) {
    result.ended_by = "still growing";
  } else {
    result.ended_by = samples[end].ca_state >= 3 ? "loss" : "hystart";
    result.end_ms = samples[end].t_ms;
    result.end_cwnd = end > 0 ? samples[end - 1].cwnd : samples[end].cwnd;
  }
  // The growth over one round trip, from each sample to the first one a
  // smoothed RTT later (queueing included, as the sender measured it); the
  // median of those ratios.
  std::vector<double> ratios;
  for (std::size_t i = 0, j = 0; i < end; ++i) {
    if (samples[i].srtt_us == 0 || samples[i].cwnd == 0) continue;
    const double later = samples[i].t_ms + samples[i].srtt_us / 1000.0;
    j = std::max(j, i + 1);
    while (j < end && samples[j].t_ms < later) ++j;
    if (j >= end) break;
    ratios.push_back(static_cast<double>(samples[j].cwnd) / static_cast<double>(samples[i].cwnd));
  }
  if (ratios.size() < 3) return result;  // less than a few round trips of growth: too short to say
  std::nth_element(ratios.begin(), ratios.begin() + static_cast<std::ptrdiff_t>(ratios.size() / 2), ratios.end());
  result.measured = true;
  result.growth_per_rtt = ratios[ratios.size() / 2];
  return result;
}

BackOff analyse_back_off(const std::vector<CwndSample>& samples) {
  BackOff result;
  const auto loss = first_loss(samples);
  if (!loss) return result;
  result.loss_seen = true;
  result.loss_ms = samples[*loss].t_ms;
  // The window the sender had when it reacted: the largest in the round trip before.
  const double rtt_ms = samples[*loss].srtt_us / 1000.0;
  for (std::size_t i = *loss; i-- > 0;) {
    if (samples[*loss].t_ms - samples[i].t_ms > rtt_ms) break;
    result.cwnd_before = std::max(result.cwnd_before, samples[i].cwnd);
  }
  // What the algorithm set as it entered recovery (bbr leaves it "infinite").
  if (samples[*loss].ssthresh < infinite_ssthresh) result.ssthresh_after = samples[*loss].ssthresh;
  if (result.cwnd_before > 0 && result.ssthresh_after > 0)
    result.ratio = static_cast<double>(result.ssthresh_after) / static_cast<double>(result.cwnd_before);
  return result;
}

std::optional<double> textbook_beta(const std::string& algorithm) {
  if (algorithm == "cubic") return 0.7;  // RFC 9438 §4.6: beta_cubic = 0.7
  if (algorithm == "reno") return 0.5;   // RFC 5681 §3.1: ssthresh = FlightSize / 2
  return std::nullopt;
}

double jain_index(const std::vector<double>& shares) {
  if (shares.empty()) return 0;
  const double sum = std::accumulate(shares.begin(), shares.end(), 0.0);
  const double squares = std::inner_product(shares.begin(), shares.end(), shares.begin(), 0.0);
  return squares > 0 ? sum * sum / (static_cast<double>(shares.size()) * squares) : 0;
}

std::string cwnd_svg(const std::vector<FlowSeries>& flows, const std::vector<QueuePoint>& queue,
                     const std::string& title) {
  const double width = 900, height = 420, left = 60, right = 850, top = 40, bottom = 360;
  double end_ms = 1, highest = 10;
  for (const auto& f : flows)
    for (const auto& s : f.samples) end_ms = std::max(end_ms, s.t_ms), highest = std::max<double>(highest, s.cwnd);
  for (const auto& q : queue) end_ms = std::max(end_ms, q.t_ms), highest = std::max(highest, q.depth);
  highest *= 1.1;
  auto x = [&](double t) { return left + (right - left) * t / end_ms; };
  auto y = [&](double v) { return bottom - (bottom - top) * v / highest; };
  const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
  std::ostringstream svg;
  svg.setf(std::ios::fixed);
  svg.precision(1);
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\""
      << height + 20 * static_cast<double>(flows.size()) << "\" font-family=\"sans-serif\" font-size=\"13\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << left << "\" y=\"24\" font-size=\"16\">" << title << "</text>\n"
      << "<line x1=\"" << left << "\" y1=\"" << bottom << "\" x2=\"" << right << "\" y2=\"" << bottom
      << "\" stroke=\"black\"/>\n<line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left << "\" y2=\"" << bottom
      << "\" stroke=\"black\"/>\n";
  for (int k = 0; k <= 4; ++k) {
    const double v = highest / 1.1 * k / 4, t = end_ms * k / 4;
    svg << "<text x=\"" << left - 6 << "\" y=\"" << y(v) + 4 << "\" text-anchor=\"end\">" << std::lround(v)
        << "</text>\n<text x=\"" << x(t) << "\" y=\"" << bottom + 18 << "\" text-anchor=\"middle\">" << std::lround(t)
        << " ms</text>\n";
  }
  svg << "<text x=\"14\" y=\"" << (top + bottom) / 2 << "\" transform=\"rotate(-90 14 " << (top + bottom) / 2
      << ")\" text-anchor=\"middle\">segments / packets</text>\n";
  if (!queue.empty()) {
    svg << "<polyline fill=\"none\" stroke=\"#999\" stroke-width=\"1.5\" points=\"";
    for (const auto& q : queue) svg << x(q.t_ms) << "," << y(q.depth) << " ";
    svg << "\"/>\n";
  }
  for (std::size_t k = 0; k < flows.size(); ++k) {
    const auto& f = flows[k];
    const char* colour = colours[k % 6];
    svg << "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" << colour << "\" points=\"";
    for (const auto& s : f.samples) svg << x(s.t_ms) << "," << y(s.cwnd) << " ";
    svg << "\"/>\n";
    if (const auto loss = first_loss(f.samples)) {
      const double lx = x(f.samples[*loss].t_ms);
      svg << "<line x1=\"" << lx << "\" y1=\"" << top << "\" x2=\"" << lx << "\" y2=\"" << bottom << "\" stroke=\""
          << colour << "\" stroke-dasharray=\"4 3\"/>\n";
    }
    svg << "<text x=\"" << left << "\" y=\"" << height + 20 * static_cast<double>(k) << "\" fill=\"" << colour << "\">"
        << f.label << " (" << f.algorithm << "): cwnd, segments; dashed: first loss</text>\n";
  }
  if (!queue.empty())
    svg << "<text x=\"" << right << "\" y=\"" << top - 6
        << "\" text-anchor=\"end\" fill=\"#777\">grey: the bottleneck queue (netlab-wire), packets</text>\n";
  svg << "</svg>\n";
  return svg.str();
}

std::string cwnd_csv_header() {
  return "flow,algorithm,t_ms,cwnd,ssthresh,srtt_ms,ca_state,total_retrans,lost,delivery_mbit,bytes_acked\n";
}

std::string cwnd_csv_rows(const FlowSeries& flow) {
  std::ostringstream csv;
  for (const auto& s : flow.samples)
    csv << flow.label << "," << flow.algorithm << "," << s.t_ms << "," << s.cwnd << ","
        << (s.ssthresh >= infinite_ssthresh ? std::string("inf") : std::to_string(s.ssthresh)) << ","
        << s.srtt_us / 1000.0 << "," << int{s.ca_state} << "," << s.total_retrans << "," << s.lost << ","
        << s.delivery_mbit << "," << s.bytes_acked << "\n";
  return csv.str();
}

}  // namespace netlab::transport
