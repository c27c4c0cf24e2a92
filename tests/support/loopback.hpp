#pragma once
// Test support: plain blocking sockets on 127.0.0.1, written without Asio or
// the lab's own I/O code, so a test sends the bytes it means and checks the
// servers independently of the library they are built on. Every read gives up
// after the socket's read timeout and every loop is bounded: no test can hang.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <netinet/in.h>
#include <sys/socket.h>

namespace netlab::test {

// 127.0.0.1:port.
sockaddr_in loopback(std::uint16_t port);

// A TCP listener on 127.0.0.1 and a port the kernel chose; nothing accepts
// unless the test does. Closed with the object.
class Listener {
 public:
  explicit Listener(int backlog = 8);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  int fd() const { return fd_; }
  std::uint16_t port() const { return port_; }
  int accept();  // the accepted socket's descriptor (the caller closes it)

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

struct SocketOptions {
  int type = SOCK_STREAM;  // or SOCK_DGRAM (connected: send and receive go to the port)
  std::chrono::seconds read_timeout{10};
  bool no_delay = false;  // TCP_NODELAY: each send leaves at once
};

// How reading a connection to its end stopped: "FIN" or "RST" from the peer,
// "timeout" (the read timeout, or the bound on the bytes), or another errno's
// text. The bytes alone cannot tell a peer that closed from one that said nothing.
struct Ending {
  std::string text;
  std::string ended_by;
  bool closed_by_peer() const { return ended_by == "FIN" || ended_by == "RST"; }
};

class Connection {
 public:
  explicit Connection(std::uint16_t port, SocketOptions options = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }
  std::uint16_t local_port() const { return local_port_; }

  // All of `bytes`; false when the peer has already closed (EPIPE / ECONNRESET).
  bool send(std::string_view bytes);
  void half_close();
  void close();

  // Exactly n bytes, or fewer if the peer closed first.
  std::string receive(std::size_t n);
  // The next datagram or chunk ("" on end of stream or timeout).
  std::string receive_next();
  // Bytes up to and including `end`, or what came before the peer closed (at most 1 MiB).
  std::string receive_until(std::string_view end);
  // One line without its '\n' (at most 256 bytes).
  std::string receive_line();
  // Everything until the peer closes (at most 16 MiB), and how it ended.
  Ending read_to_end();
  std::string receive_all() { return read_to_end().text; }
  // True when the peer ended the connection (EOF or RST) rather than the wait timing out.
  bool closed_by_peer() { return read_to_end().closed_by_peer(); }
  // Waits up to `ms` for the peer to close; false if it is still open.
  bool closed_within(int ms);

 private:
  int fd_;
  std::uint16_t local_port_ = 0;
};

}  // namespace netlab::test
