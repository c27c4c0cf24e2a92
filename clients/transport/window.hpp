#pragma once
// The window over a long path (tcp和udp, asked next): one TCP flow across
// netlab-wire with a real round trip, TCP_INFO sampled between writes — the
// receive window the server advertises (tcpi_snd_wnd), the smoothed RTT, the
// bytes acknowledged, the window scale both SYNs agreed on. A flow can go no
// faster than window / RTT; whether it does is measured, not assumed.
//   --mode window --window-case small|autotuned|unscaled   one flow (the
//       script sets the server's SO_RCVBUF, or tcp_window_scaling=0, per case)
//   --mode window-verdicts --runs SMALL,AUTOTUNED,UNSCALED  the claims, from
//       those three results: rwnd-bounds-throughput,
//       window-scaling-needed-for-long-fat-paths
#include "observed.hpp"
#include "program/options.hpp"
#include "program/result.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/describe/class.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace netlab::transport {

struct WindowConfig {
  std::string window_case = "autotuned";  // a name for the result: small | autotuned | unscaled
  double seconds = 3;                     // sending time
  double sample_ms = 10;                  // TCP_INFO every this often
  std::size_t size = 1368;                // payload per message: 1400 bytes with the header
  std::vector<std::string> runs;          // window-verdicts: the three results
  std::uint64_t seed = 1;
};

// One flow and what TCP_INFO said about it. "Steady": from a third of the
// sending time on, after slow start and the first rounds of autotuning.
struct WindowFlow {
  std::string window_case;
  double seconds = 0;
  double steady_from_s = 0;
  std::size_t samples = 0;
  std::uint64_t bytes_acked = 0;          // over the whole flow
  double goodput_mbit = 0;                // acknowledged payload per second, steady part
  double srtt_ms = 0;                     // median smoothed RTT, steady part
  double min_rtt_ms = 0;                  // tcpi_min_rtt at the end
  std::uint32_t peer_window_median = 0;   // tcpi_snd_wnd (bytes), steady part
  std::uint32_t peer_window_max = 0;      // over the whole flow
  double window_over_rtt_mbit = 0;        // peer_window_median / srtt_ms: the bound
  double goodput_share_of_bound = 0;      // goodput_mbit / window_over_rtt_mbit
  bool window_scaling = false;            // TCPI_OPT_WSCALE: both SYNs carried the option
  int peer_wscale = -1, our_wscale = -1;  // the shifts (-1: no scaling)
  double rwnd_limited_share = 0;          // tcpi_rwnd_limited / tcpi_busy_time
  std::uint32_t total_retrans = 0;
  std::uint64_t server_unique = 0, server_lost = 0;        // the server's account of the messages
  std::string sysctl_tcp_window_scaling, sysctl_tcp_rmem;  // this network namespace's, as read
};
BOOST_DESCRIBE_STRUCT(WindowFlow, (),
                      (window_case, seconds, steady_from_s, samples, bytes_acked, goodput_mbit, srtt_ms, min_rtt_ms,
                       peer_window_median, peer_window_max, window_over_rtt_mbit, goodput_share_of_bound,
                       window_scaling, peer_wscale, our_wscale, rwnd_limited_share, total_retrans, server_unique,
                       server_lost, sysctl_tcp_window_scaling, sysctl_tcp_rmem))

struct WindowObserved {
  WindowFlow window{};
};
BOOST_DESCRIBE_STRUCT(WindowObserved, (), (window))

// --mode window: one flow; its observed, no check (the claims need all three cases).
boost::asio::awaitable<void> run_window(const CommonOptions& options, const WindowConfig& config, Result& result);

// --mode window-verdicts: reads the three flows' results and adds the two checks.
void window_verdicts(const WindowConfig& config, Result& result);

}  // namespace netlab::transport
