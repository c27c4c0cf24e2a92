#include "kernel/transport_kernel.hpp"

#include "io/net.hpp"

#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace netlab {

namespace {

std::vector<std::string> words(std::string_view line) {
  std::vector<std::string> out;
  std::istringstream in{std::string(line)};
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

}  // namespace

std::map<std::string, std::int64_t> parse_snmp(std::string_view text, std::string_view group) {
  const std::string prefix = std::string(group) + ":";
  std::vector<std::vector<std::string>> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const auto line = text.substr(0, end);
    if (line.substr(0, prefix.size()) == prefix && (line.size() == prefix.size() || line[prefix.size()] == ' '))
      lines.push_back(words(line.substr(prefix.size())));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  std::map<std::string, std::int64_t> counters;
  if (lines.size() < 2 || lines[0].size() != lines[1].size()) return counters;
  for (std::size_t i = 0; i < lines[0].size(); ++i) {
    try {
      counters[lines[0][i]] = std::stoll(lines[1][i]);
    } catch (const std::exception&) {
      return {};
    }
  }
  return counters;
}

std::map<std::string, std::int64_t> read_snmp(std::string_view group) {
  std::ifstream in("/proc/net/snmp");
  std::stringstream text;
  text << in.rdbuf();
  return parse_snmp(text.str(), group);
}

std::optional<std::int64_t> read_snmp_counter(std::string_view group, std::string_view name) {
  const auto counters = read_snmp(group);
  const auto it = counters.find(std::string(name));
  if (it == counters.end()) return std::nullopt;
  return it->second;
}

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

boost::asio::ip::udp::socket open_udp_socket(boost::asio::io_context& io, const std::string& host,
                                             std::uint16_t port, std::string_view program) {
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
