#pragma once
// TCP flow control as TCP_INFO shows it: the receive window the peer
// advertises and the time the sender was held back by it (rwnd_limited) or by
// its own send buffer (sndbuf_limited). Fields newer than those in tcp_info.hpp.
// Kept apart from Asio: <linux/tcp.h> and <netinet/tcp.h> cannot meet in one file.
#include <cstdint>
#include <optional>

namespace netlab {

// The flow-control side of TCP_INFO (fields newer than those in tcp_info.hpp).
struct TcpFlowInfo {
  std::uint32_t peer_window = 0;        // tcpi_snd_wnd: the receive window the peer advertised (bytes)
  bool peer_window_known = false;       // Linux 6.2+
  std::uint64_t rwnd_limited_us = 0;    // time the sender was held back by the peer's window
  std::uint64_t sndbuf_limited_us = 0;  // ... by its own send buffer
  std::uint64_t busy_us = 0;            // time with data to send
  std::uint32_t rcv_space = 0;
  bool timestamps = false;      // TCP timestamps option in use (12 more header bytes)
  bool window_scaling = false;  // both SYNs carried the window scale option (RFC 7323)
  std::uint8_t snd_wscale = 0;  // the peer's shift: its advertised windows are this many bits larger
  std::uint8_t rcv_wscale = 0;  // ours
  std::uint32_t segs_out = 0;
  std::uint32_t segs_in = 0;
  std::uint32_t total_retrans = 0;
};

std::optional<TcpFlowInfo> read_tcp_flow(int fd);

}  // namespace netlab
