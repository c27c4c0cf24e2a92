#include "kernel/tcp_info.hpp"

#include "kernel/census.hpp"

// <linux/tcp.h>, not <netinet/tcp.h>: glibc's copy of struct tcp_info lags the
// kernel's (no byte or segment counters) and the two headers cannot be mixed.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstring>

namespace netlab {

namespace {

TcpInfoSnapshot to_snapshot(const tcp_info& info, socklen_t length) {
  TcpInfoSnapshot snapshot;
  // The kernel copies min(our length, its struct size) and returns that length:
  // an older kernel fills only the front of the struct. A field past the
  // returned length was never written and stays "not reported".
  const auto if_reported = [&](auto field, auto& into) {
    const auto offset =
        static_cast<std::size_t>(reinterpret_cast<const char*>(&(info.*field)) - reinterpret_cast<const char*>(&info));
    if (offset + sizeof(info.*field) <= length) into = info.*field;
  };
  snapshot.state = info.tcpi_state;
  snapshot.rtt_us = info.tcpi_rtt;
  snapshot.rtt_var_us = info.tcpi_rttvar;
  snapshot.retransmits = info.tcpi_retransmits;
  snapshot.total_retrans = info.tcpi_total_retrans;
  snapshot.snd_cwnd = info.tcpi_snd_cwnd;
  snapshot.snd_mss = info.tcpi_snd_mss;
  snapshot.rcv_space = info.tcpi_rcv_space;
  snapshot.unacked = info.tcpi_unacked;
  // Linux 4.1 added the byte counters, 4.2 the segment counters.
  if_reported(&tcp_info::tcpi_bytes_acked, snapshot.bytes_acked);
  if_reported(&tcp_info::tcpi_bytes_received, snapshot.bytes_received);
  if_reported(&tcp_info::tcpi_segs_out, snapshot.segs_out);
  if_reported(&tcp_info::tcpi_segs_in, snapshot.segs_in);
  snapshot.snd_ssthresh = info.tcpi_snd_ssthresh;
  snapshot.ca_state = info.tcpi_ca_state;
  snapshot.lost = info.tcpi_lost;
  if_reported(&tcp_info::tcpi_pacing_rate, snapshot.pacing_rate);
  if_reported(&tcp_info::tcpi_min_rtt, snapshot.min_rtt_us);
  // Linux 4.9 added the delivery rate.
  if_reported(&tcp_info::tcpi_delivery_rate, snapshot.delivery_rate);
  return snapshot;
}

}  // namespace

std::optional<TcpInfoSnapshot> read_tcp_info(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  // A UDP socket answers ENOPROTOOPT (no TCP level), a Unix socket EOPNOTSUPP,
  // a non-socket ENOTSOCK: none of them has a TCP_INFO to give.
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return std::nullopt;
  return to_snapshot(info, length);
}

std::string congestion_algorithm(int fd) {
  char name[16] = {};  // TCP_CA_NAME_MAX in the kernel
  socklen_t length = sizeof name;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &length) != 0) return "";
  return std::string(name, ::strnlen(name, length));
}

std::string describe(const TcpInfoSnapshot& info) {
  const bool known_state = info.state >= static_cast<std::uint8_t>(TcpState::established) &&
                           info.state <= static_cast<std::uint8_t>(TcpState::new_syn_recv);
  const std::string state =
      known_state ? std::string(state_name(static_cast<TcpState>(info.state))) : std::to_string(info.state);
  return "state=" + state + " rtt=" + std::to_string(info.rtt_us) + "us cwnd=" + std::to_string(info.snd_cwnd) +
         " retrans=" + std::to_string(info.retransmits) + "/" + std::to_string(info.total_retrans) +
         " unacked=" + std::to_string(info.unacked) + " acked=" + std::to_string(info.bytes_acked) +
         " received=" + std::to_string(info.bytes_received);
}

}  // namespace netlab
