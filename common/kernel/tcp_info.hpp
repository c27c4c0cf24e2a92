#pragma once
// A TCP_INFO snapshot of one socket: what the kernel itself knows about the
// connection (state, rtt, retransmissions, congestion window, bytes).
#include <cstdint>
#include <optional>
#include <string>

namespace netlab {

struct TcpInfoSnapshot {
  std::uint8_t state = 0;  // TcpState numbering
  std::uint32_t rtt_us = 0;
  std::uint32_t rtt_var_us = 0;
  std::uint32_t retransmits = 0;    // retransmissions of the current segment
  std::uint32_t total_retrans = 0;  // retransmitted segments over the connection's life
  std::uint32_t snd_cwnd = 0;       // congestion window, in segments
  std::uint32_t snd_mss = 0;
  std::uint32_t rcv_space = 0;    // the receive window the socket advertises space for
  std::uint32_t unacked = 0;      // segments sent and not yet acknowledged
  std::uint64_t bytes_acked = 0;  // 0 where the kernel does not report it
  std::uint64_t bytes_received = 0;
  std::uint32_t segs_out = 0;
  std::uint32_t segs_in = 0;
  std::uint32_t snd_ssthresh = 0;   // slow-start threshold, segments (a huge value until the first loss)
  std::uint8_t ca_state = 0;        // 0 open, 1 disorder, 2 CWR, 3 recovery, 4 loss
  std::uint32_t lost = 0;           // segments the sender believes lost now
  std::uint64_t delivery_rate = 0;  // bytes/s the connection delivered lately (0 where not reported)
  std::uint64_t pacing_rate = 0;    // bytes/s
  std::uint32_t min_rtt_us = 0;
};

// The congestion-control algorithm of socket `fd` ("cubic", "reno", "bbr"), or "".
std::string congestion_algorithm(int fd);

// The snapshot of socket `fd`, or nullopt if it is not a TCP socket.
std::optional<TcpInfoSnapshot> read_tcp_info(int fd);

// "state=ESTAB rtt=45us cwnd=10 retrans=0/0 unacked=0 acked=123 received=456".
std::string describe(const TcpInfoSnapshot& info);

}  // namespace netlab
