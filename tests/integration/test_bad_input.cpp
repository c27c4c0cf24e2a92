// The bad-input matrix: one catalogue of hostile or careless peers (random
// bytes, a request one byte at a time, an oversized frame, a truncated frame, a
// reset mid-stream, connections dropped without a byte, a client that never
// reads) thrown at every TCP server on an ephemeral port, and garbage datagrams
// at the UDP one. After each case the server must still be running, must still
// serve its own client correctly, and must be back to the file descriptors it
// had before the case: nothing crashed, nothing stopped serving, nothing leaked.
#include "process.hpp"

#include "netlab/codec.hpp"
#include "netlab/rpc_protocol.hpp"
#include "netlab/transport_message.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

using namespace netlab::test;
using Clock = std::chrono::steady_clock;

namespace {

// ---- one lab as the catalogue sees it ------------------------------------------

struct Lab {
  std::string name;
  std::string server;                    // program
  std::vector<std::string> server_args;
  std::string client;                    // its own client program
  std::vector<std::string> client_args;  // small counts: seconds, not minutes
  std::string request;                   // one correct request in the lab's protocol
  std::string expect;                    // what the answer to `request` starts with ("" = no answer)
  std::string oversized;                 // a frame / line / header over the server's cap
  std::string truncated;                 // the start of a frame, never finished
};

std::string length_frame(const std::string& payload) {
  std::string out;
  netlab::LengthHeaderCodec::put_header(static_cast<std::uint32_t>(payload.size()), out);
  return out + payload;
}

std::string rpc_put_request() {
  std::string out;
  netlab::rpc::encode_request({7, netlab::rpc::Method::put, "k", 5}, out);
  return out;
}

std::string rpc_put_response() {
  std::string out;
  netlab::rpc::encode_response({7, netlab::rpc::Status::ok, 5, ""}, out);
  return out;
}

std::string transport_request() {
  namespace tr = netlab::transport;
  std::string out;
  tr::encode(tr::Kind::data, 0, 0, "hello", out);
  tr::encode(tr::Kind::done, 1, 0, "1", out);
  return out;
}

Lab framing(const std::string& codec) {
  Lab lab{"framing-" + codec, "netlab-framing-server", {"--codec", codec}, "netlab-framing-client",
          {"--codec", codec, "--messages", "20", "--max-size", "200"}, "", "", "", ""};
  if (codec == "length") {
    lab.request = lab.expect = length_frame("hello");
    lab.oversized = std::string("\xff\xff\xff\xff", 4) + std::string(1000, 'x');
    lab.truncated = length_frame("hello, world").substr(0, 9);
  } else if (codec == "delimiter") {
    lab.request = lab.expect = "hello\n";
    lab.oversized = std::string(netlab::DelimiterCodec::default_max_frame + 100, 'x');
    lab.truncated = "no delimiter";
  } else {
    // raw takes any bytes: its answer, at end of stream, is the read log.
    lab.request = "hello";
    lab.oversized = std::string(2 << 20, 'x');
    lab.truncated = "abc";
  }
  return lab;
}

std::vector<Lab> tcp_labs() {
  const std::string long_line(4096, 'x');
  return {
      framing("length"),
      framing("delimiter"),
      framing("raw"),
      {"timewait", "netlab-timewait-server", {}, "netlab-timewait-client",
       {"--mode", "short", "--requests", "5", "--concurrency", "1"}, "PING 1\n", "PONG 1", long_line, "PING 12"},
      {"closewait", "netlab-closewait-server", {"--fixed"}, "netlab-closewait-client",
       {"--connections", "2", "--observe-ms", "0"}, "HELLO\n", "OK ", long_line, "HEL"},
      {"teardown", "netlab-teardown-server", {}, "netlab-teardown-client",
       {"--mode", "normal", "--pause-ms", "0"}, "normal pause=0\n", "OK 1000\n", long_line, "norm"},
      {"handshake", "netlab-handshake-server", {}, "netlab-handshake-client",
       {"--connections", "2", "--hold-ms", "0"}, "hello", "", std::string(1 << 20, 'x'), "abc"},
      {"http", "netlab-http-server", {}, "netlab-http-client",
       {"--keepalive", "--requests", "3"}, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "HTTP/1.1 200",
       "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + std::string(64 * 1024, 'x') + "\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: loc"},
      {"rpc", "netlab-rpc-server", {}, "netlab-rpc-client",
       {"--calls", "5", "--pipeline", "1"}, rpc_put_request(), rpc_put_response(),
       std::string("\0\xff\xff\xff", 4) + std::string(1000, 'x'), rpc_put_request().substr(0, 6)},
      {"transport-tcp", "netlab-transport-server", {"--proto", "tcp"}, "netlab-transport-client",
       {"--proto", "tcp", "--messages", "50", "--size", "100"}, transport_request(), "NLT1",
       // a header whose length is over max_payload
       [] { std::string h = transport_request().substr(0, 32); h[24] = h[25] = h[26] = h[27] = '\xff'; return h; }(),
       transport_request().substr(0, 20)},
  };
}

// ---- plain sockets, every wait bounded -------------------------------------------

class Socket {
 public:
  explicit Socket(int type = SOCK_STREAM) : fd_(::socket(AF_INET, type, 0)) {
    if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  }
  ~Socket() { close(); }
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

Socket connect_to(std::uint16_t port) {
  Socket s;
  const auto addr = loopback(port);
  if (::connect(s.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("connect: " + std::string(std::strerror(errno)));
  return s;
}

// Writes everything unless the peer has gone (then stops quietly: the server may
// rightly close a connection that broke its protocol).
void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads until the peer's FIN or RST, or until `timeout`; returns what came.
std::string drain(int fd, std::chrono::milliseconds timeout = 5s) {
  std::string got;
  const auto deadline = Clock::now() + timeout;
  char buffer[65536];
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 1))) <= 0) continue;
    const auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    got.append(buffer, static_cast<std::size_t>(n));
  }
  return got;
}

void reset_close(Socket& s) {
  const linger abort{1, 0};
  ::setsockopt(s.fd(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  s.close();
}

// ---- the catalogue ------------------------------------------------------------------

struct Case {
  std::string name;
  std::function<void(const Lab&, std::uint16_t port)> run;
};

std::vector<Case> catalogue() {
  return {
      {"random bytes",
       [](const Lab&, std::uint16_t port) {
         std::mt19937 random(10);
         std::string bytes(8192, '\0');
         for (auto& b : bytes) b = static_cast<char>(random());
         auto s = connect_to(port);
         send_all(s.fd(), bytes);
         ::shutdown(s.fd(), SHUT_WR);
         drain(s.fd());
       }},
      {"a request one byte at a time",
       [](const Lab& lab, std::uint16_t port) {
         auto s = connect_to(port);
         const int on = 1;
         ::setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
         for (char byte : lab.request) {
           send_all(s.fd(), std::string_view(&byte, 1));
           std::this_thread::sleep_for(1ms);  // pacing only: each byte its own segment
         }
         ::shutdown(s.fd(), SHUT_WR);
         const auto answer = drain(s.fd());
         INFO("answer: " << answer.substr(0, 200));
         if (lab.expect.empty()) {
           if (lab.name != "framing-raw") CHECK(answer.empty());
           else CHECK(answer.size() > 4);
         } else {
           CHECK(answer.substr(0, lab.expect.size()) == lab.expect);
         }
       }},
      {"an oversized frame",
       [](const Lab& lab, std::uint16_t port) {
         auto s = connect_to(port);
         send_all(s.fd(), lab.oversized);
         ::shutdown(s.fd(), SHUT_WR);
         drain(s.fd());
       }},
      {"a truncated frame then close",
       [](const Lab& lab, std::uint16_t port) {
         auto s = connect_to(port);
         send_all(s.fd(), lab.truncated);
         s.close();
       }},
      {"an RST mid-stream (SO_LINGER 0)",
       [](const Lab& lab, std::uint16_t port) {
         auto s = connect_to(port);
         std::string many;
         for (int i = 0; i < 50; ++i) many += lab.request;
         send_all(s.fd(), many);
         // Wait (bounded) for the answers to start, so the reset hits a server mid-response.
         if (!lab.expect.empty()) {
           pollfd p{s.fd(), POLLIN, 0};
           ::poll(&p, 1, 5000);
         }
         reset_close(s);
       }},
      {"200 connections dropped without a byte",
       [](const Lab&, std::uint16_t port) {
         std::vector<Socket> sockets;
         for (int i = 0; i < 200; ++i) sockets.push_back(connect_to(port));
         sockets.clear();
       }},
      {"a client that never reads",
       [](const Lab& lab, std::uint16_t port) {
         auto s = connect_to(port);
         ::fcntl(s.fd(), F_SETFL, O_NONBLOCK);
         std::string many;
         while (many.size() < 65536) many += lab.request;
         // Send until both the server's send buffer and ours are full (the
         // server stops reading while its writes block), bounded in bytes and time.
         std::size_t sent = 0;
         const auto deadline = Clock::now() + 2s;
         while (sent < (16u << 20) && Clock::now() < deadline) {
           const auto n = ::send(s.fd(), many.data(), many.size(), MSG_NOSIGNAL);
           if (n > 0) { sent += static_cast<std::size_t>(n); continue; }
           if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) break;  // the server closed
           pollfd p{s.fd(), POLLOUT, 0};
           if (::poll(&p, 1, 300) == 0) break;  // stuck: the server is not reading
         }
         INFO("sent " << sent << " bytes");
         s.close();  // with unread data queued: the kernel sends an RST
       }},
  };
}

// ---- what must hold after every case ---------------------------------------------------

bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

// Polls (bounded) until the server is back to `baseline` descriptors; returns the last count.
std::size_t settle_fds(pid_t pid, std::size_t baseline, std::chrono::milliseconds timeout = 15s) {
  const auto deadline = Clock::now() + timeout;
  auto count = open_fds(pid);
  while (count != baseline && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    count = open_fds(pid);
  }
  return count;
}

void served_correctly(const Lab& lab, const Server& server) {
  TempDir dir;
  std::vector<std::string> argv{bin(lab.client), "--port", server.port_text(), "--json", dir.file("client.json"),
                                "--log-level", "warn"};
  argv.insert(argv.end(), lab.client_args.begin(), lab.client_args.end());
  const auto result = run(argv, 60s);
  INFO("client stderr: " << result.err);
  CHECK(result.exit_code == 0);
  if (result.exit_code == 0) {
    // Every check the client measured has a verdict; none is an error.
    const auto json = read_json(dir.file("client.json")).as_object();
    CHECK(json.at("role").as_string() == "client");
  }
}

void run_matrix(const Lab& lab) {
  Server server(lab.server, lab.server_args);
  const auto baseline = open_fds(server.pid());
  served_correctly(lab, server);
  CHECK(settle_fds(server.pid(), baseline) == baseline);
  for (const auto& c : catalogue()) {
    INFO(lab.name << ": " << c.name);
    c.run(lab, server.port());
    INFO("server log tail: " << [&] { auto l = server.log(); return l.substr(l.size() > 2000 ? l.size() - 2000 : 0); }());
    REQUIRE(alive(server.pid()));
    served_correctly(lab, server);
    CHECK(settle_fds(server.pid(), baseline) == baseline);
  }
  CHECK(server.stop() == 0);
}

}  // namespace

// One test case per server, so ctest names the server that fails; the catalogue
// above is the same for all of them.
TEST_CASE("framing-length survives the catalogue", "[bad-input]") { run_matrix(tcp_labs()[0]); }
TEST_CASE("framing-delimiter survives the catalogue", "[bad-input]") { run_matrix(tcp_labs()[1]); }
TEST_CASE("framing-raw survives the catalogue", "[bad-input]") { run_matrix(tcp_labs()[2]); }
TEST_CASE("timewait survives the catalogue", "[bad-input]") { run_matrix(tcp_labs()[3]); }
TEST_CASE("closewait --fixed survives the catalogue", "[bad-input]") { run_matrix(tcp_labs()[4]); }
TEST_CASE("teardown survives the catalogue", "[bad-input]") { run_matrix(tcp_labs()[5]); }
TEST_CASE("handshake survives the catalogue", "[bad-input]") { run_matrix(tcp_labs()[6]); }
TEST_CASE("http survives the catalogue", "[bad-input]") { run_matrix(tcp_labs()[7]); }
TEST_CASE("rpc survives the catalogue", "[bad-input]") { run_matrix(tcp_labs()[8]); }
TEST_CASE("transport-tcp survives the catalogue", "[bad-input]") { run_matrix(tcp_labs()[9]); }

TEST_CASE("transport-udp survives garbage datagrams", "[bad-input]") {
  Server server("netlab-transport-server", {"--proto", "udp"});
  const Lab lab{"transport-udp", "netlab-transport-server", {}, "netlab-transport-client",
                {"--proto", "udp", "--messages", "50", "--size", "100"}, "", "", "", ""};
  const auto baseline = open_fds(server.pid());
  served_correctly(lab, server);
  std::mt19937 random(11);
  const auto to = loopback(server.port());
  const std::string valid = transport_request();
  // Empty, one byte, a cut header, a header with a wrong length, random
  // bytes of every size up to 64 KiB, and a valid message with one bit flipped.
  std::vector<std::string> datagrams{"", "x", valid.substr(0, 20), valid.substr(0, 40)};
  for (int i = 0; i < 200; ++i) {
    std::string d(random() % 65000, '\0');
    for (auto& b : d) b = static_cast<char>(random());
    datagrams.push_back(std::move(d));
  }
  for (int bit = 0; bit < 32 * 8; ++bit) {
    std::string d = valid.substr(0, 37);  // the data message: header + "hello"
    d[static_cast<std::size_t>(bit / 8)] = static_cast<char>(d[static_cast<std::size_t>(bit / 8)] ^ (1 << (bit % 8)));
    datagrams.push_back(std::move(d));
  }
  // Many senders too: each source port is a new "sender" to the server.
  for (int round = 0; round < 3; ++round) {
    std::vector<Socket> senders;
    for (int i = 0; i < 100; ++i) senders.emplace_back(SOCK_DGRAM);
    for (std::size_t i = 0; i < datagrams.size(); ++i) {
      const auto& s = senders[i % senders.size()];
      ::sendto(s.fd(), datagrams[i].data(), datagrams[i].size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    }
    REQUIRE(alive(server.pid()));
    served_correctly(lab, server);
    CHECK(settle_fds(server.pid(), baseline) == baseline);
  }
  CHECK(server.stop() == 0);
}
