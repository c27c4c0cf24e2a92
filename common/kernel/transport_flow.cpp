#include "kernel/transport_flow.hpp"

// <linux/tcp.h>, not <netinet/tcp.h>: glibc's struct tcp_info lags the kernel's.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace netlab {

std::optional<TcpFlowInfo> read_tcp_flow(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return std::nullopt;
  // A field past the returned length was not filled by this (older) kernel.
  const auto reported = [&](std::size_t offset, std::size_t size) { return offset + size <= length; };
  TcpFlowInfo flow;
  flow.rcv_space = info.tcpi_rcv_space;
  flow.timestamps = (info.tcpi_options & TCPI_OPT_TIMESTAMPS) != 0;
  flow.window_scaling = (info.tcpi_options & TCPI_OPT_WSCALE) != 0;
  flow.snd_wscale = info.tcpi_snd_wscale;
  flow.rcv_wscale = info.tcpi_rcv_wscale;
  flow.total_retrans = info.tcpi_total_retrans;
  if (reported(offsetof(tcp_info, tcpi_segs_in), sizeof info.tcpi_segs_in)) {
    flow.segs_out = info.tcpi_segs_out;
    flow.segs_in = info.tcpi_segs_in;
  }
  if (reported(offsetof(tcp_info, tcpi_sndbuf_limited), sizeof info.tcpi_sndbuf_limited)) {
    flow.busy_us = info.tcpi_busy_time;
    flow.rwnd_limited_us = info.tcpi_rwnd_limited;
    flow.sndbuf_limited_us = info.tcpi_sndbuf_limited;
  }
  if (reported(offsetof(tcp_info, tcpi_snd_wnd), sizeof info.tcpi_snd_wnd)) {
    flow.peer_window = info.tcpi_snd_wnd;
    flow.peer_window_known = true;
  }
  return flow;
}

}  // namespace netlab
