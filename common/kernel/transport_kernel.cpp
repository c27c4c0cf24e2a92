#include "kernel/transport_kernel.hpp"

#include "io/net.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace netlab {

void enable_drop_count(int fd) {
  const int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on) != 0)
    throw std::system_error(errno, std::generic_category(), "setsockopt SO_RXQ_OVFL");
}

boost::system::error_code receive_datagram(int fd, std::span<char> buffer, ReceivedDatagram& datagram) {
  iovec iov{buffer.data(), buffer.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(std::uint32_t)) * 2];
  msghdr message{};
  datagram.from = {};
  message.msg_name = datagram.from.data();
  message.msg_namelen = static_cast<socklen_t>(datagram.from.capacity());
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(fd, &message, MSG_DONTWAIT);
  if (n < 0) return {errno, boost::system::system_category()};
  datagram.from.resize(message.msg_namelen);
  datagram.size = static_cast<std::size_t>(n);
  datagram.truncated = (message.msg_flags & MSG_TRUNC) != 0;
  // No SO_RXQ_OVFL message means the count is still 0.
  datagram.socket_drops = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
      std::uint32_t drops = 0;
      std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
      datagram.socket_drops = drops;
    }
  }
  return {};
}

}  // namespace netlab

namespace netlab {

boost::asio::ip::udp::socket open_udp_socket(boost::asio::io_context& io, const std::string& host, std::uint16_t port,
                                             std::string_view program) {
  namespace asio = boost::asio;
  const std::string where = host + ":" + std::to_string(port) + "/udp";
  const auto address = parse_host(host, "bind");
  asio::ip::udp::socket socket(io);
  socket.open(address.is_v6() ? asio::ip::udp::v6() : asio::ip::udp::v4());
  boost::system::error_code ec;
  socket.bind({address, port}, ec);
  if (ec) throw std::runtime_error(bind_error(where, ec, program));
  return socket;
}

int set_receive_buffer(int fd, int bytes) {
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) != 0)
    throw std::system_error(errno, std::generic_category(), "setsockopt SO_RCVBUF");
  return receive_buffer(fd);
}

int receive_buffer(int fd) {
  int value = 0;
  socklen_t length = sizeof value;
  ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, &length);
  return value;
}

}  // namespace netlab
