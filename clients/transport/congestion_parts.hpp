#pragma once
// The congestion experiment's parts (congestion.hpp): what its flows measured,
// shared by the experiment (congestion.cpp) and the claims set against it
// (congestion_checks.cpp).
#include "congestion.hpp"
#include "cwnd.hpp"
#include "format.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace netlab::transport::congestion {

// One TCP flow and what was measured on it.
struct FlowRun {
  FlowSeries series;
  std::int64_t start_ns = 0, end_ns = 0;  // CLOCK_MONOTONIC: the sending window
  std::uint64_t sent = 0, bytes_sent = 0;
  double goodput_mbit = 0;     // acknowledged bytes in the sending window, per second
  boost::json::object server;  // the server's account: every message once, checksums right
};

// A UDP sender at a fixed rate, and the server's account of it.
struct UdpRun {
  std::uint64_t sent = 0, bytes_sent = 0;
  double send_seconds = 0, target_mbit = 0, sent_mbit = 0;
  boost::json::object server;
};

// What netlab-wire wrote about the forward direction (client to server).
struct WireRecord {
  std::vector<std::pair<std::int64_t, double>> queue;  // mono_ns, depth
  std::vector<std::int64_t> queue_drops;               // mono_ns of each frame the full queue dropped
};

// The frames the wire's full queue dropped between two CLOCK_MONOTONIC times.
std::size_t drops_during(const WireRecord& wire, std::int64_t start_ns, std::int64_t end_ns);

// ---- congestion_checks.cpp: the claims
void single_checks(Result& result, const FlowRun& run, const WireRecord& wire, const CongestionConfig& config);
void share_checks(Result& result, const std::vector<FlowRun>& flows, const CongestionConfig& config);
// A TCP flow beside a UDP sender; `alone_mbit`: the single flow's goodput, when that step ran.
void udp_checks(Result& result, const FlowRun& tcp, const UdpRun& udp, std::optional<double> alone_mbit);
void algorithm_check(Result& result, const std::vector<FlowRun>& runs, const std::vector<std::string>& missing);

}  // namespace netlab::transport::congestion
