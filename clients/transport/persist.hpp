#pragma once
// The persist timer seen in a capture (persist.cpp): the sender's probes
// against a zero window and the gaps between them.
#include "observed.hpp"
#include "program/result.hpp"

#include <boost/describe/class.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace netlab::transport {

struct PersistProbes {
  std::string source;                                    // the capture
  std::size_t zero_window_stalls = 0;                    // times the server's window went to 0
  std::size_t probes = 0;                                // the client's probes while it was 0
  std::vector<double> probe_times_ms{};                  // each probe, since its stall's zero window
  std::vector<std::vector<double>> gaps_ms_per_stall{};  // per stall: zero window -> 1st probe, 1st -> 2nd, ...
};
BOOST_DESCRIBE_STRUCT(PersistProbes, (), (source, zero_window_stalls, probes, probe_times_ms, gaps_ms_per_stall))

struct PersistObserved {
  PersistProbes persist{};
};
BOOST_DESCRIBE_STRUCT(PersistObserved, (), (persist))

// The probes of the TCP flows on `port` in `pcap`.
PersistProbes capture_probes(const std::string& pcap, std::uint16_t port);
// zero-window-probes-back-off: each gap at least 1.5 times the one before (skipped with fewer than two in a stall).
void probes_check(Result& result, const PersistProbes& probes);

}  // namespace netlab::transport
