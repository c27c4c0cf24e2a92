#pragma once
// The teardown lab's dead peer across netlab-wire (server --mode dead-peer):
// the cable is cut after the connection is up (the script makes the wire drop
// everything both ways when we ask, --cut-file), and we see what our kernel
// does about a peer that has gone silent:
//   cut-cable   data unacknowledged: retransmissions with exponential backoff
//               (RFC 6298), ended by TCP_USER_TIMEOUT with ETIMEDOUT; what
//               tcp_retries2 would have given, computed (tcp_model_timeout)
//   keepalive   nothing to send: a connection without SO_KEEPALIVE notices
//               nothing; one with it (TCP_KEEPIDLE/KEEPINTVL/KEEPCNT small)
//               sends its probes and ends with ETIMEDOUT
#include "program/options.hpp"
#include "program/result.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>

namespace netlab::teardown {

struct DeadPeerConfig {
  std::string cut_file;  // we write it once our connection is up; the script writes <cut_file>.cut once cut
  std::string capture;   // the step's capture on our veth, read once the connection has died
  long user_timeout_ms = 3000;
  int keep_idle_s = 1, keep_intvl_s = 1, keep_cnt = 3;
  std::chrono::milliseconds settle{3000};
};

void add_dead_peer_options(CLI::App& app, DeadPeerConfig& config);
bool is_dead_peer_mode(const std::string& mode);
boost::asio::awaitable<void> dead_peer_scenario(const CommonOptions& options, const std::string& mode,
                                                const DeadPeerConfig& config, Result& result);

}  // namespace netlab::teardown
