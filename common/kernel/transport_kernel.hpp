#pragma once
// What the kernel itself counts for the transport lab, so that the lab's own
// numbers can be set against the kernel's:
//   - /proc/net/snmp: UdpRcvbufErrors (datagrams dropped because a socket's
//     receive buffer was full) and friends, for the whole network namespace
//     (read with kernel/netstat.hpp);
//   - SO_RXQ_OVFL: the same drops for one socket, stamped on every datagram;
//   - TCP_INFO flow-control fields (transport_flow.hpp).
#include "kernel/transport_flow.hpp"

#include <boost/asio/ip/udp.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace netlab {

// Asks the kernel to stamp each datagram with the socket's drop count (SO_RXQ_OVFL).
// Throws std::system_error when refused.
void enable_drop_count(int fd);

struct ReceivedDatagram {
  std::size_t size = 0;
  bool truncated = false;  // larger than the buffer (MSG_TRUNC)
  boost::asio::ip::udp::endpoint from;
  std::uint32_t socket_drops = 0;  // SO_RXQ_OVFL: datagrams this socket dropped before this one was queued
};

// One non-blocking recvmsg(): a datagram, or would_block when none is queued.
boost::system::error_code receive_datagram(int fd, std::span<char> buffer, ReceivedDatagram& datagram);

}  // namespace netlab

#include <boost/asio/io_context.hpp>

namespace netlab {

// Binds a UDP socket to host:port. Throws std::runtime_error with one line,
//   "bind 127.0.0.1:7001/udp: address already in use — is another
//    netlab-transport-server running? (--port 0 picks a free port)"
boost::asio::ip::udp::socket open_udp_socket(boost::asio::io_context& io, const std::string& host, std::uint16_t port,
                                             std::string_view program);

// Sets SO_RCVBUF to `bytes` (the kernel doubles it for its own bookkeeping and
// clamps it to net.core.rmem_max) and returns what the socket really got.
int set_receive_buffer(int fd, int bytes);
int receive_buffer(int fd);

}  // namespace netlab
