#pragma once
// The congestion experiment of the tcp和udp lab: TCP flows through a
// bottleneck (netlab-wire between two namespaces), TCP_INFO sampled every few
// milliseconds, set against the wire's own record of its queue and drops.
//   single      one flow: slow start, the back-off after the first loss, the link filled
//   share       two flows at once: how they share the link (Jain's index)
//   udp         one flow beside a UDP sender at 1.5 x the bottleneck: UDP keeps its
//               rate and loses at the queue, TCP backs off
//   algorithms  one flow per congestion-control algorithm the kernel offers, on one chart
#include "program/options.hpp"
#include "program/result.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

namespace netlab::transport {

struct CongestionConfig {
  std::vector<std::string> scenarios = {"single", "share", "udp", "algorithms"};
  double seconds = 10;                     // each flow
  std::size_t size = 1368;                 // payload per message: 1400 bytes with the header
  double sample_ms = 10;                   // TCP_INFO every this often
  std::uint64_t bottleneck_kbit = 20'000;  // what the wire was told (for "fills the link")
  double udp_factor = 1.5;                 // the UDP sender's rate, times the bottleneck
  std::vector<std::string> algorithms;     // empty: cubic, reno and bbr where the kernel has them
  std::string wire_events;                 // netlab-wire's --events file
  std::string csv, svg;                    // the samples, and the chart
  std::uint64_t seed = 1;
};

boost::asio::awaitable<void> run_congestion(const CommonOptions& options, const CongestionConfig& config,
                                            Result& result);

}  // namespace netlab::transport
