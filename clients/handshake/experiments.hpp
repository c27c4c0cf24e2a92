#pragma once
// The handshake lab's experiments on the server's port (为什么三次握手,
// docs/labs/handshake.md):
//   run_queue      M connections one after another, each connect() timed and
//                  counted in segments by the kernel (TCP_INFO), then the census:
//                  both ends ESTAB and the accept queue holding them whether or
//                  not the server called accept(); connections beyond the
//                  queue's bound stall and ListenOverflows grows; as root,
//                  TCP_REPAIR reads each connection's two ISNs
//   run_stale_syn  a SYN from a port where no socket exists, through a raw
//                  socket, as an old duplicate SYN would arrive: the server's
//                  kernel answers SYN-ACK, ours answers RST, no connection
#include "io/net.hpp"
#include "program/options.hpp"
#include "program/result.hpp"

#include <cstddef>
#include <string>

namespace netlab::handshake {

inline constexpr const char* server_program = "netlab-handshake-server";

struct QueueConfig {
  std::size_t connections = 6;
  long timeout_ms = 2500;  // bound on each connect()
  long hold_ms = 300;      // keep the connections open this long after the census
};

asio::awaitable<void> run_queue(const CommonOptions& options, const QueueConfig& config, Result& result);

// Why this process cannot open a raw TCP socket, or "" when it can.
std::string raw_socket_blocker();

// --stale-syn: needs CAP_NET_RAW (raw_socket_blocker() == "").
void run_stale_syn(const CommonOptions& options, Result& result);

// The check stale-syn-rejected, skipped for `why`.
void stale_syn_skipped(Result& result, const std::string& why);

}  // namespace netlab::handshake
