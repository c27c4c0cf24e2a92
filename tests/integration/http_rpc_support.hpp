#pragma once
// Test support shared by the http and rpc integration tests: a blocking
// loopback connection whose every read gives up after 10 s (so no test can
// hang), and a minimal HTTP/1.1 response reader written without Beast, so the
// tests check the servers' bytes independently of the library that wrote them.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace netlab::test {

class Connection {
 public:
  explicit Connection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(fd_ >= 0);
    timeval timeout{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    sockaddr_in local{};
    socklen_t length = sizeof local;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &length);
    local_port_ = ntohs(local.sin_port);
  }
  ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  std::uint16_t local_port() const { return local_port_; }

  // False when the peer has already closed (EPIPE / ECONNRESET).
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void half_close() { ::shutdown(fd_, SHUT_WR); }

  // Exactly n bytes, or fewer if the peer closed first.
  std::string receive(std::size_t n) {
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

  // Everything until the peer closes (bounded: 16 MiB, 10 s per read).
  std::string receive_all() {
    std::string bytes;
    char chunk[4096];
    while (bytes.size() < (std::size_t{16} << 20)) {
      const ssize_t r = ::recv(fd_, chunk, sizeof chunk, 0);
      if (r <= 0) break;
      bytes.append(chunk, static_cast<std::size_t>(r));
    }
    return bytes;
  }

  // Bytes up to and including `end`, or what came before the peer closed.
  std::string receive_until(std::string_view end) {
    std::string bytes;
    char byte;
    while (bytes.size() < (std::size_t{1} << 20) && bytes.find(end) == std::string::npos) {
      if (::recv(fd_, &byte, 1, 0) != 1) break;
      bytes.push_back(byte);
    }
    return bytes;
  }

  // True when the server ended the connection (EOF or RST) rather than the wait timing out.
  bool closed_by_peer() {
    char byte;
    for (int i = 0; i < 100000; ++i) {
      const ssize_t r = ::recv(fd_, &byte, 1, 0);
      if (r == 0) return true;
      if (r < 0) return errno == ECONNRESET;
    }
    return false;
  }

  // Waits up to `ms` for the peer to close; false if it is still open.
  bool closed_within(int ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return false;
    char byte;
    const ssize_t r = ::recv(fd_, &byte, 1, MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno == ECONNRESET);
  }

 private:
  int fd_;
  std::uint16_t local_port_ = 0;
};

inline std::string lower(std::string text) {
  for (auto& c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return text;
}

struct HttpResponse {
  std::string status_line;
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool has(const std::string& name) const { return headers.count(name) > 0; }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// Parses the head (status line + headers); the body is whatever follows.
inline HttpResponse parse_head(const std::string& text) {
  HttpResponse res;
  const auto end = text.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  std::string_view head(text.data(), end);
  const auto first = head.find("\r\n");
  res.status_line = std::string(head.substr(0, first));
  REQUIRE(res.status_line.rfind("HTTP/1.1 ", 0) == 0);
  res.status = static_cast<unsigned>(std::stoul(res.status_line.substr(9, 3)));
  std::size_t at = first == std::string_view::npos ? head.size() : first + 2;
  while (at < head.size()) {
    auto next = head.find("\r\n", at);
    if (next == std::string_view::npos) next = head.size();
    const auto line = head.substr(at, next - at);
    const auto colon = line.find(':');
    REQUIRE(colon != std::string_view::npos);
    std::string value(line.substr(colon + 1));
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    res.headers[lower(std::string(line.substr(0, colon)))] = value;
    at = next + 2;
  }
  res.body = text.substr(end + 4);
  return res;
}

// One response read off a keep-alive connection: the head, then Content-Length bytes.
inline HttpResponse read_response(Connection& connection) {
  auto res = parse_head(connection.receive_until("\r\n\r\n"));
  const std::size_t length = res.has("content-length") ? std::stoul(res.header("content-length")) : 0;
  res.body = connection.receive(length);
  return res;
}

}  // namespace netlab::test
