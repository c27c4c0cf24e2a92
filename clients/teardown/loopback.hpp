#pragma once
// The teardown stories on loopback (为什么四次挥手), each against
// netlab-teardown-server --mode of the same name, recording both ends' states
// at each step from the socket census:
//   normal       two connections we close first; the kernel's segment counters
//                give the segments each close took (four, or three when the
//                server's FIN carries its delayed ACK of ours)
//   half-close   the whole response still arrives after our FIN
//   unread-data  the server closes with a request unread: RST, bytes lost
//   linger0      the server aborts with SO_LINGER {on, 0}: RST, no TIME_WAIT
#include "program/options.hpp"
#include "program/result.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <string>

namespace netlab::teardown {

struct Config {
  std::string mode = "normal";
  long pause_ms = 300;
  bool quickack = false;
  std::size_t response_bytes = 0;  // 0 = the server's default for the mode
  std::chrono::milliseconds settle{3000};
};

bool is_loopback_mode(const std::string& mode);
boost::asio::awaitable<void> loopback_scenario(const CommonOptions& options, const Config& config, Result& result);

}  // namespace netlab::teardown
