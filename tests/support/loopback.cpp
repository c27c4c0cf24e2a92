#include "loopback.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/time.h>
#include <unistd.h>

namespace netlab::test {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

namespace {

std::uint16_t local_port_of(int fd) {
  sockaddr_in local{};
  socklen_t length = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
  return ntohs(local.sin_port);
}

}  // namespace

Listener::Listener(int backlog) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
  REQUIRE(fd_ >= 0);
  const sockaddr_in address = loopback(0);
  REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(fd_, backlog) == 0);
  port_ = local_port_of(fd_);
}

Listener::~Listener() { ::close(fd_); }

int Listener::accept() { return ::accept(fd_, nullptr, nullptr); }

Connection::Connection(std::uint16_t port, SocketOptions options) : fd_(::socket(AF_INET, options.type, 0)) {
  REQUIRE(fd_ >= 0);
  timeval timeout{static_cast<time_t>(options.read_timeout.count()), 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (options.no_delay) {
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  const sockaddr_in address = loopback(port);
  REQUIRE(::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  local_port_ = local_port_of(fd_);
}

Connection::~Connection() { close(); }

void Connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool Connection::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void Connection::half_close() { ::shutdown(fd_, SHUT_WR); }

std::string Connection::receive(std::size_t n) {
  std::string bytes(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd_, bytes.data() + got, n - got, 0);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  bytes.resize(got);
  return bytes;
}

std::string Connection::receive_next() {
  std::string bytes(65536, '\0');
  const ssize_t n = ::recv(fd_, bytes.data(), bytes.size(), 0);
  bytes.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return bytes;
}

std::string Connection::receive_until(std::string_view end) {
  std::string bytes;
  char byte;
  while (bytes.size() < (std::size_t{1} << 20) && bytes.find(end) == std::string::npos) {
    if (::recv(fd_, &byte, 1, 0) != 1) break;
    bytes.push_back(byte);
  }
  return bytes;
}

std::string Connection::receive_line() {
  std::string line;
  char c;
  while (line.size() < 256 && ::recv(fd_, &c, 1, 0) == 1 && c != '\n') line += c;
  return line;
}

Ending Connection::read_to_end() {
  Ending ending{"", "timeout"};
  char buffer[4096];
  while (ending.text.size() < (std::size_t{16} << 20)) {
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n == 0) {
      ending.ended_by = "FIN";
      break;
    }
    if (n < 0) {
      if (errno == ECONNRESET)
        ending.ended_by = "RST";
      else if (errno != EAGAIN && errno != EWOULDBLOCK)
        ending.ended_by = std::strerror(errno);
      break;
    }
    ending.text.append(buffer, static_cast<std::size_t>(n));
  }
  return ending;
}

bool Connection::closed_within(int ms) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) return false;
  char byte;
  const ssize_t r = ::recv(fd_, &byte, 1, MSG_DONTWAIT);
  return r == 0 || (r < 0 && errno == ECONNRESET);
}

}  // namespace netlab::test
