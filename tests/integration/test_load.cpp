// Load: a server holds 5,000 concurrent connections on loopback and serves one
// request on each. The kernel's own census (NETLINK_SOCK_DIAG, what `ss` reads)
// must show 5,000 ESTABLISHED sockets on the server's port while they are open,
// and none once the client has closed them; the server must be back to the
// file descriptors it had before. Both processes need 5,000+ descriptors: the
// test raises its RLIMIT_NOFILE within the hard limit (posix_spawn passes it
// on to the server), or skips (exit 77) saying why.
#include "lab.hpp"
#include "loopback.hpp"
#include "process.hpp"

#include "kernel/census.hpp"
#include "proto/codec.hpp"
#include "proto/rpc_protocol.hpp"
#include "proto/transport_message.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>

using namespace netlab::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t connections = 5000;
constexpr rlim_t wanted_fds = 2 * connections + 1024;

// Raises the soft limit; false (with the reason) when the hard limit is too low.
bool raise_fd_limit(std::string& why) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    why = std::string("getrlimit: ") + std::strerror(errno);
    return false;
  }
  if (limit.rlim_cur >= wanted_fds) return true;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < wanted_fds) {
    // Root (CAP_SYS_RESOURCE) may raise the hard limit too, up to fs.nr_open.
    if (::geteuid() != 0) {
      why = "RLIMIT_NOFILE hard limit " + std::to_string(limit.rlim_max) + " < " + std::to_string(wanted_fds) +
            " (needed for " + std::to_string(connections) + " connections) and not root; raise it with ulimit -Hn";
      return false;
    }
    std::ifstream nr_open_file("/proc/sys/fs/nr_open");
    rlim_t nr_open = 0;
    if (!(nr_open_file >> nr_open) || nr_open < wanted_fds) {
      why = "fs.nr_open " + std::to_string(nr_open) + " < " + std::to_string(wanted_fds) +
            ": even root cannot open that many descriptors";
      return false;
    }
    limit.rlim_max = wanted_fds;
  }
  const bool raising_hard = limit.rlim_max == wanted_fds;
  limit.rlim_cur = wanted_fds;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    why = std::string("setrlimit RLIMIT_NOFILE ") + std::to_string(wanted_fds) + ": " + std::strerror(errno);
    if (raising_hard && errno == EPERM)
      why +=
          " (root without CAP_SYS_RESOURCE, as in some containers, cannot raise the hard limit; raise it with "
          "ulimit -Hn before the tests)";
    return false;
  }
  return true;
}

void require_fd_limit() {
  std::string why;
  if (!raise_fd_limit(why)) skip(why);
}

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const sockaddr_in addr = loopback(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error(std::string("connect: ") + std::strerror(error));
  }
  return fd;
}

// Reads exactly `size` bytes, bounded by `timeout`; returns what came.
std::string read_exactly(int fd, std::size_t size, std::chrono::milliseconds timeout = 10s) {
  std::string got;
  const auto deadline = Clock::now() + timeout;
  char buffer[256];
  while (got.size() < size && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const auto n = ::recv(fd, buffer, std::min(sizeof buffer, size - got.size()), 0);
    if (n <= 0) break;
    got.append(buffer, static_cast<std::size_t>(n));
  }
  return got;
}

std::size_t established(std::uint16_t port) {
  return netlab::count_tcp_states(netlab::PortFilter{.local_port = port}).of(netlab::TcpState::established);
}

// Polls (bounded) until the server-side ESTABLISHED count on `port` is `want`; returns the last count.
std::size_t wait_established(std::uint16_t port, std::size_t want, std::chrono::milliseconds timeout = 30s) {
  return wait_for_count([&] { return established(port); }, want, timeout, 50ms);
}

std::size_t wait_fds(pid_t pid, std::size_t want, std::chrono::milliseconds timeout = 30s) {
  return wait_for_count([&] { return open_fds(pid); }, want, timeout, 50ms);
}

// How connection i's answer is judged: `answered(i, fd)` reads it (bounded) and says whether it is right.
using Answered = std::function<bool(std::size_t i, int fd)>;

// Exactly these bytes.
template <typename Answer>
Answered exactly(Answer answer) {
  return [answer](std::size_t i, int fd) {
    const std::string want = answer(i);
    return read_exactly(fd, want.size()) == want;
  };
}

// One line (at most 4 KiB) that starts with `prefix`.
Answered line_starting(std::string prefix) {
  return [prefix](std::size_t, int fd) {
    std::string line;
    while (line.size() < 4096 && (line.empty() || line.back() != '\n')) {
      const auto byte = read_exactly(fd, 1);
      if (byte.empty()) break;
      line += byte;
    }
    return line.rfind(prefix, 0) == 0 && !line.empty() && line.back() == '\n';
  };
}

// An HTTP response with this status line, read whole (head, then Content-Length bytes).
Answered http_response(std::string status_line) {
  return [status_line](std::size_t, int fd) {
    std::string head;
    while (head.size() < 8192 && head.find("\r\n\r\n") == std::string::npos) {
      const auto byte = read_exactly(fd, 1);
      if (byte.empty()) return false;
      head += byte;
    }
    const auto at = head.find("Content-Length: ");
    if (head.rfind(status_line + "\r\n", 0) != 0 || at == std::string::npos) return false;
    const std::size_t length = std::stoul(head.substr(at + 16));
    return read_exactly(fd, length).size() == length;
  };
}

// Nothing to read: the server only holds the connection. No byte, no FIN and
// no RST may be waiting (the test also checks, from the server's JSON, that
// it read every request: see the handshake test).
Answered held_silently() {
  return [](std::size_t, int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  };
}

// The transport server's report for a stream of one message: a report-kind
// message whose JSON payload counts 1 unique message and 0 lost.
Answered transport_report() {
  return [](std::size_t, int fd) {
    namespace tr = netlab::transport;
    const auto header = read_exactly(fd, tr::header_size);
    const auto peeked = tr::peek_header(header);
    if (header.size() != tr::header_size || !peeked || peeked->kind != tr::Kind::report) return false;
    const std::size_t length = (std::size_t{static_cast<unsigned char>(header[24])} << 24) |
                               (std::size_t{static_cast<unsigned char>(header[25])} << 16) |
                               (std::size_t{static_cast<unsigned char>(header[26])} << 8) |
                               std::size_t{static_cast<unsigned char>(header[27])};
    if (length > tr::max_payload) return false;
    const auto whole = header + read_exactly(fd, length);
    const auto decoded = tr::decode_datagram(whole);  // checks the checksum too
    if (!decoded.message) return false;
    boost::system::error_code ec;
    const auto report = boost::json::parse(decoded.message->payload, ec);
    if (ec || !report.is_object()) return false;
    const auto& o = report.as_object();
    return o.contains("unique") && o.at("unique").to_number<std::uint64_t>() == 1 && o.contains("lost") &&
           o.at("lost").to_number<std::uint64_t>() == 0;
  };
}

// Whether the server keeps a connection after answering (most labs) or ends
// it by design (teardown: the requested close; https: one page, then close).
enum class AfterAnswer { kept, closed_by_server };

// request(i) is sent on connection i; answered(i, fd) judges what comes back.
template <typename Request>
void hold_and_serve(const std::string& program, std::vector<std::string> args, Request request, Answered answered,
                    AfterAnswer after = AfterAnswer::kept) {
  require_fd_limit();
  Server server(program, std::move(args));
  const auto port = server.port();
  const auto baseline = open_fds(server.pid());

  std::vector<int> sockets;
  sockets.reserve(connections);
  struct CloseAll {
    std::vector<int>& fds;
    ~CloseAll() {
      for (int fd : fds) ::close(fd);
    }
  } close_all{sockets};
  for (std::size_t i = 0; i < connections; ++i) sockets.push_back(connect_loopback(port));

  // Every connection: the kernel completed the handshake and the server accepted it.
  CHECK(wait_established(port, connections) == connections);
  CHECK(wait_fds(server.pid(), baseline + connections) == baseline + connections);

  // One request on each, all in flight at once, then every answer.
  for (std::size_t i = 0; i < connections; ++i) {
    const auto bytes = request(i);
    REQUIRE(::send(sockets[i], bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  }
  std::size_t right = 0;
  for (std::size_t i = 0; i < connections; ++i)
    if (answered(i, sockets[i])) ++right;
  CHECK(right == connections);
  if (after == AfterAnswer::kept) CHECK(established(port) == connections);

  for (int fd : sockets) ::close(fd);
  sockets.clear();
  // Closed cleanly: no ESTABLISHED socket left on the port, no descriptor left in the server.
  CHECK(wait_established(port, 0) == 0);
  CHECK(wait_fds(server.pid(), baseline) == baseline);
  CHECK(server.stop() == 0);
}

std::string length_frame(const std::string& payload) {
  std::string out;
  netlab::LengthHeaderCodec::put_header(static_cast<std::uint32_t>(payload.size()), out);
  return out + payload;
}

}  // namespace

TEST_CASE("the framing server (length codec) holds and serves 5000 connections", "[load]") {
  const auto frame = [](std::size_t i) { return length_frame("message " + std::to_string(i)); };
  hold_and_serve("netlab-framing-server", {"--codec", "length"}, frame, exactly(frame));
}

TEST_CASE("the timewait server holds and serves 5000 connections", "[load]") {
  hold_and_serve(
      "netlab-timewait-server", {"--closer", "client"},
      [](std::size_t i) { return "PING " + std::to_string(i) + "\n"; },
      exactly([](std::size_t i) { return "PONG " + std::to_string(i) + "\n"; }));
}

TEST_CASE("the rpc server holds and serves 5000 connections (binary calls)", "[load]") {
  namespace rpc = netlab::rpc;
  hold_and_serve(
      "netlab-rpc-server", {},
      [](std::size_t i) {
        std::string out;
        rpc::encode_request(
            {static_cast<std::uint32_t>(i), rpc::Method::put, "k" + std::to_string(i), static_cast<std::int64_t>(i)},
            out);
        return out;
      },
      exactly([](std::size_t i) {
        std::string out;
        rpc::encode_response({static_cast<std::uint32_t>(i), rpc::Status::ok, static_cast<std::int64_t>(i), ""}, out);
        return out;
      }));
}

TEST_CASE("the http server holds and serves 5000 connections (keep-alive)", "[load]") {
  hold_and_serve(
      "netlab-http-server", {}, [](std::size_t) { return std::string("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); },
      http_response("HTTP/1.1 200 OK"));
}

TEST_CASE("the closewait server (--fixed) holds and serves 5000 connections", "[load]") {
  hold_and_serve(
      "netlab-closewait-server", {"--fixed"}, [](std::size_t) { return std::string("HELLO\n"); }, line_starting("OK "));
}

TEST_CASE("the handshake server holds 5000 accepted connections", "[load]") {
  // It reads and drops what comes and answers nothing: held, not served.
  TempDir dir;
  hold_and_serve(
      "netlab-handshake-server", {"--backlog", "1024", "--json", dir.file("server.json")},
      [](std::size_t) { return std::string("hello"); }, held_silently());
  // What it read: every connection's 5 bytes, counted by the server, not by us.
  const auto observed = read_json(dir.file("server.json")).at("observed");
  CHECK(observed.at("accepted").to_number<std::size_t>() == connections);
  CHECK(observed.at("bytes_received").to_number<std::size_t>() == connections * 5);
}

TEST_CASE("the transport server (TCP) holds and serves 5000 connections", "[load]") {
  namespace tr = netlab::transport;
  hold_and_serve(
      "netlab-transport-server", {"--proto", "tcp"},
      [](std::size_t i) {
        std::string out;
        tr::encode(tr::Kind::data, 0, 0, "message " + std::to_string(i), out);
        tr::encode(tr::Kind::done, 1, 0, "1", out);
        return out;
      },
      // Its report, decoded: one unique message, none lost.
      transport_report());
}

TEST_CASE("the teardown server holds 5000 connections and serves a request on each", "[load]") {
  // Each request asks the server to end its connection (here: a normal close
  // after its answer), so the connections are held before the requests and
  // closed by the server after them.
  hold_and_serve(
      "netlab-teardown-server", {}, [](std::size_t) { return std::string("normal pause=0\n"); }, line_starting("OK "),
      AfterAnswer::closed_by_server);
}

TEST_CASE("the https server holds 5000 TLS connections and serves a request on each", "[load]") {
  require_fd_limit();
  TempDir dir;
  // A long --step-timeout: 5,000 handshakes queue behind each other on one thread.
  Server server("netlab-https-server", {"--cert-dir", dir.file("certs"), "--step-timeout", "300"});
  const auto port = server.port();
  const auto baseline = open_fds(server.pid());

  namespace ssl = boost::asio::ssl;
  using boost::asio::ip::tcp;
  boost::asio::io_context io;
  ssl::context context(ssl::context::tls_client);
  context.set_verify_mode(ssl::verify_none);  // the lab's CA is tested elsewhere; this is about holding
  std::vector<std::unique_ptr<ssl::stream<tcp::socket>>> streams;
  std::size_t handshakes = 0, pages = 0;
  const tcp::endpoint server_end(boost::asio::ip::address_v4::loopback(), port);
  // 1. Every connection opened and its handshake finished, all in flight at once.
  for (std::size_t i = 0; i < connections; ++i) {
    auto& stream = *streams.emplace_back(std::make_unique<ssl::stream<tcp::socket>>(io, context));
    boost::asio::co_spawn(
        io,
        [&stream, &handshakes, server_end]() -> boost::asio::awaitable<void> {
          co_await stream.next_layer().async_connect(server_end, boost::asio::use_awaitable);
          co_await stream.async_handshake(ssl::stream_base::client, boost::asio::use_awaitable);
          ++handshakes;
        },
        [](std::exception_ptr) {});
  }
  io.run_for(120s);
  CHECK(handshakes == connections);
  CHECK(wait_established(port, connections) == connections);
  CHECK(wait_fds(server.pid(), baseline + connections) == baseline + connections);
  // 2. One GET on each; the page ends with the server's close_notify.
  io.restart();
  for (auto& s : streams) {
    boost::asio::co_spawn(
        io,
        [&stream = *s, &pages]() -> boost::asio::awaitable<void> {
          const std::string get = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
          co_await boost::asio::async_write(stream, boost::asio::buffer(get), boost::asio::use_awaitable);
          std::string page;
          char buffer[4096];
          for (;;) {
            auto [ec, n] = co_await stream.async_read_some(boost::asio::buffer(buffer),
                                                           boost::asio::as_tuple(boost::asio::use_awaitable));
            page.append(buffer, n);
            if (ec) break;  // eof: the server's close_notify
          }
          if (page.rfind("HTTP/1.1 200", 0) == 0) ++pages;
        },
        [](std::exception_ptr) {});
  }
  io.run_for(120s);
  CHECK(pages == connections);
  streams.clear();
  CHECK(wait_established(port, 0) == 0);
  CHECK(wait_fds(server.pid(), baseline) == baseline);
  CHECK(server.stop() == 0);
}
