// The persist timer, from the capture of the persist step: while the receiver
// advertises a zero window the sender has data it may not send, and nothing
// would ever reopen the window if the receiver's update were lost. So the
// sender probes (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17): Linux's
// tcp_probe_timer fires tcp_send_probe0, which sends a segment below the
// window (sequence snd_una - 1, no data: Wireshark calls it a keep-alive, or a
// zero-window probe when it carries the next byte), and doubles its interval
// after each unanswered probe (icsk_backoff), from the RTO up to TCP_RTO_MAX.
#include "persist.hpp"

#include "format.hpp"

#include "capture/capture.hpp"
#include "capture/pcap.hpp"

#include <algorithm>

namespace netlab::transport {

PersistProbes capture_probes(const std::string& pcap, std::uint16_t port) {
  namespace a = tcp_analysis;
  PersistProbes out;
  out.source = pcap;
  for (const auto& flow : group_flows(read_pcap(pcap), port)) {
    if (!flow.is_tcp) continue;
    const auto classes = tcp_analysis_of(flow);
    bool window_closed = false;
    double closed_at = 0, last_probe = 0;
    std::vector<double> stall;  // this stall's probe gaps
    for (std::size_t i = 0; i < flow.packets.size(); ++i) {
      const Packet& p = flow.packets[i];
      if (p.flags & (tcp_flag::syn | tcp_flag::rst | tcp_flag::fin)) continue;
      if (!flow.from_client(p)) {
        // The receiver (the server): a window of 0 whatever the scale; any other window reopens.
        if (p.window == 0 && !window_closed) {
          window_closed = true;
          closed_at = last_probe = p.time;
          ++out.zero_window_stalls;
        } else if (p.window != 0 && window_closed) {
          window_closed = false;
          if (!stall.empty()) out.gaps_ms_per_stall.push_back(stall);
          stall.clear();
        }
        continue;
      }
      if (!window_closed || p.payload_length > 1 || !(classes[i] & (a::zero_window_probe | a::keep_alive))) continue;
      ++out.probes;
      out.probe_times_ms.push_back((p.time - closed_at) * 1000);
      stall.push_back((p.time - last_probe) * 1000);
      last_probe = p.time;
    }
    if (!stall.empty()) out.gaps_ms_per_stall.push_back(stall);
  }
  return out;
}

void probes_check(Result& result, const PersistProbes& probes) {
  // Each gap against the one before it in the same stall (the first gap runs
  // from the zero window to the first probe: one RTO).
  std::size_t pairs = 0, doubled = 0;
  std::string gaps;
  for (const auto& stall : probes.gaps_ms_per_stall) {
    gaps += gaps.empty() ? "" : "; ";
    for (std::size_t i = 0; i < stall.size(); ++i) {
      gaps += (i ? ", " : "") + fixed(stall[i], 0);
      if (i == 0) continue;
      ++pairs;
      if (stall[i] >= 1.5 * stall[i - 1]) ++doubled;
    }
  }
  Check check{.id = "zero-window-probes-back-off",
              .claim =
                  "asked next (tcp和udp): against a zero window the sender probes on the persist timer, backing "
                  "off between probes",
              .expected = "probes while the window is 0, each gap at least 1.5 times the one before it",
              .observed = std::to_string(probes.probes) + " probes in " + std::to_string(probes.zero_window_stalls) +
                          " zero-window stalls; gaps in ms (per stall, from the zero window): " +
                          (gaps.empty() ? "none" : gaps),
              .evidence = "the step's capture " + probes.source +
                          ": the client's empty (or 1-byte) segments below the window, classified as Wireshark does "
                          "(keep-alive / zero-window probe), while the server's last window was 0"};
  check.verdict = pairs == 0         ? Verdict::skipped
                  : doubled == pairs ? Verdict::confirmed
                  : doubled == 0     ? Verdict::refuted
                                     : Verdict::nuanced;
  if (pairs == 0) check.observed += " (no stall had two probes: nothing to compare)";
  result.add_check(std::move(check));
}

}  // namespace netlab::transport
