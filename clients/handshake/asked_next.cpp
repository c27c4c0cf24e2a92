// The plumbing the asked-next scenarios share (see asked_next.hpp): looking
// into the server's network namespace, reading its sysctls, a bounded
// non-blocking connect(); and the dispatch to the three scenarios.
#include "asked_next.hpp"

#include "asked_next_modes.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

namespace netlab::handshake {
namespace {

int open_namespace(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path);
  return fd;
}

void enter(int fd, const std::string& what) {
  if (::setns(fd, CLONE_NEWNET) != 0)
    throw std::system_error(errno, std::generic_category(),
                            "setns " + what + " (needs CAP_SYS_ADMIN over it: root, or the lab's user namespace)");
}

sockaddr_in ipv4(const std::string& host, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) throw std::runtime_error(host + " is not an IPv4 address");
  return a;
}

}  // namespace

void in_netns(const std::string& netns_path, const std::function<void()>& what) {
  const Fd home(open_namespace("/proc/thread-self/ns/net"));
  const Fd there(open_namespace(netns_path));
  enter(there.get(), netns_path);
  try {
    what();
  } catch (...) {
    enter(home.get(), "back to our own namespace");
    throw;
  }
  enter(home.get(), "back to our own namespace");
}

long read_sysctl(const std::string& name) {
  // /proc/sys/net answers for the namespace of the thread that opens it.
  std::ifstream in("/proc/sys/" + name);
  long value = -1;
  return in >> value ? value : -1;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint16_t Fd::local_port() const {
  sockaddr_in a{};
  socklen_t length = sizeof a;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &length) != 0) return 0;
  return ntohs(a.sin_port);
}

Fd tcp_socket() {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throw std::system_error(errno, std::generic_category(), "socket");
  return fd;
}

double monotonic_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

ConnectOutcome connect_within(int fd, const std::string& host, std::uint16_t port, long ms) {
  const auto to = ipv4(host, port);
  const double started = monotonic_ms();
  ConnectOutcome c;
  int error = 0;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    error = errno;
    if (error == EINPROGRESS) {
      pollfd ready{fd, POLLOUT, 0};
      const int n = ::poll(&ready, 1, static_cast<int>(ms));
      socklen_t length = sizeof error;
      if (n == 0)
        error = ETIMEDOUT;
      else if (n < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0)
        error = errno;
      if (n == 0) c.outcome = "timed out";
    }
  }
  c.ms = monotonic_ms() - started;
  if (c.outcome.empty()) c.outcome = error == 0 ? "connected" : std::strerror(error);
  return c;
}

std::string local_address_toward(const std::string& host) {
  const Fd probe(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const auto to = ipv4(host, 9);
  sockaddr_in local{};
  socklen_t length = sizeof local;
  // A connected UDP socket sends nothing; the kernel picks the source address its route gives.
  if (probe.get() < 0 || ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 ||
      ::getsockname(probe.get(), reinterpret_cast<sockaddr*>(&local), &length) != 0)
    throw std::system_error(errno, std::generic_category(), "no route to " + host);
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &local.sin_addr, text, sizeof text);
  return text;
}

bool is_asked_next_mode(const std::string& mode) {
  return mode == "syn-queue" || mode == "syn-flood" || mode == "simultaneous-open";
}

void run_asked_next(const CommonOptions& options, const AskedNextConfig& config, Result& result) {
  if (config.server_netns.empty()) throw std::runtime_error("--mode " + config.mode + " needs --server-netns");
  result.params()["server_netns"] = config.server_netns;
  if (config.mode == "syn-queue") run_syn_queue(options, config, result);
  if (config.mode == "syn-flood") run_syn_flood(options, config, result);
  if (config.mode == "simultaneous-open") run_simultaneous_open(options, config, result);
}

}  // namespace netlab::handshake
