#include "kernel/census.hpp"

// The census asks the kernel the way `ss` does: one NETLINK_SOCK_DIAG dump
// request per address family, answered by a stream of inet_diag_msg records.
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <system_error>

namespace netlab {

std::string_view state_name(TcpState state) {
  switch (state) {
    case TcpState::established:
      return "ESTAB";
    case TcpState::syn_sent:
      return "SYN-SENT";
    case TcpState::syn_recv:
      return "SYN-RECV";
    case TcpState::fin_wait1:
      return "FIN-WAIT-1";
    case TcpState::fin_wait2:
      return "FIN-WAIT-2";
    case TcpState::time_wait:
      return "TIME-WAIT";
    case TcpState::close:
      return "UNCONN";  // ss's name: a closed socket is "not connected"
    case TcpState::close_wait:
      return "CLOSE-WAIT";
    case TcpState::last_ack:
      return "LAST-ACK";
    case TcpState::listen:
      return "LISTEN";
    case TcpState::closing:
      return "CLOSING";
    case TcpState::new_syn_recv:
      return "NEW-SYN-RECV";
  }
  return "UNKNOWN";
}

std::string_view timer_name(SocketTimer timer) {
  switch (timer) {
    case SocketTimer::none:
      return "off";
    case SocketTimer::retransmit:
      return "on";
    case SocketTimer::keepalive:
      return "keepalive";
    case SocketTimer::time_wait:
      return "timewait";
    case SocketTimer::probe:
      return "persist";
  }
  return "unknown";
}

namespace {

// The kernel sizes each dump batch to the reader's largest recv buffer, capped
// near 32 KiB, so a 64 KiB buffer is never cut short (MSG_TRUNC is still checked).
constexpr std::size_t receive_buffer_size = 64 * 1024;
// A dump of even a million sockets is far below this many batches: the loop is bounded.
constexpr int max_batches = 1 << 20;
// A kernel answer never takes this long; the timeout only stops a hang from being silent.
constexpr timeval receive_timeout{5, 0};

[[noreturn]] void fail(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), "sock_diag: " + what);
}

// Owns the netlink socket so that every path, a throw mid-dump included, closes it.
class NetlinkSocket {
 public:
  NetlinkSocket() : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) {
    if (fd_ < 0) fail(errno, "socket(AF_NETLINK, NETLINK_SOCK_DIAG)");
    if (::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof receive_timeout) != 0) {
      const int error = errno;
      ::close(fd_);
      fail(error, "setsockopt(SO_RCVTIMEO)");
    }
  }
  ~NetlinkSocket() { ::close(fd_); }
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

struct DumpRequest {
  nlmsghdr header;
  inet_diag_req_v2 body;
};
static_assert(sizeof(DumpRequest) == NLMSG_LENGTH(sizeof(inet_diag_req_v2)));

std::string family_name(std::uint8_t family) { return family == AF_INET ? "AF_INET" : "AF_INET6"; }

// Asks for every TCP socket of `family`: the state filter is done by the kernel
// (all bits: every state), the port filter by us.
void send_dump_request(int fd, std::uint8_t family, std::uint32_t sequence) {
  DumpRequest request{};
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = sequence;
  request.body.sdiag_family = family;
  request.body.sdiag_protocol = IPPROTO_TCP;
  request.body.idiag_states = ~0u;

  sockaddr_nl kernel{};  // nl_pid 0 is the kernel
  kernel.nl_family = AF_NETLINK;
  iovec part{&request, sizeof request};
  msghdr message{};
  message.msg_name = &kernel;
  message.msg_namelen = sizeof kernel;
  message.msg_iov = &part;
  message.msg_iovlen = 1;

  ssize_t sent = 0;
  do sent = ::sendmsg(fd, &message, 0);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) fail(errno, "send " + family_name(family) + " dump request");
  if (static_cast<std::size_t>(sent) != sizeof request) fail(EIO, "short send of the dump request");
}

// One recvmsg: a batch of netlink messages. Returns the bytes received.
std::size_t receive_batch(int fd, std::span<unsigned char> buffer) {
  iovec part{buffer.data(), buffer.size()};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  ssize_t received = 0;
  do received = ::recvmsg(fd, &message, 0);
  while (received < 0 && errno == EINTR);
  if (received < 0) {
    const int error = errno;
    fail(error, error == EAGAIN ? "no answer from the kernel" : "recvmsg");
  }
  if (message.msg_flags & MSG_TRUNC) fail(EMSGSIZE, "reply batch truncated");
  if (received == 0) fail(EIO, "netlink socket closed before NLMSG_DONE");
  return static_cast<std::size_t>(received);
}

SocketTimer to_timer(std::uint8_t timer) {
  // 1 covers every retransmission-like timer (RTO, loss probe, reordering);
  // values a future kernel might add are reported as no timer.
  return timer <= static_cast<std::uint8_t>(SocketTimer::probe) ? static_cast<SocketTimer>(timer) : SocketTimer::none;
}

std::string address_text(std::uint8_t family, const std::uint32_t (&words)[4]) {
  // An IPv4 address sits in the first of the four words, already in network order.
  char text[INET6_ADDRSTRLEN] = {};
  if (::inet_ntop(family, words, text, sizeof text) == nullptr) return "?";
  return text;
}

// The all-states mask also asks kernels from 6.5 for bound-but-inactive sockets
// (bound, neither listening nor connecting); they come back as TCP_CLOSE, which
// ss names UNCONN. A state number TcpState does not know is skipped.
std::optional<SocketRecord> to_record(const inet_diag_msg& message) {
  const auto state = message.idiag_state;
  if (state < static_cast<std::uint8_t>(TcpState::established) ||
      state > static_cast<std::uint8_t>(TcpState::new_syn_recv))
    return std::nullopt;
  SocketRecord record;
  record.state = static_cast<TcpState>(state);
  record.local_address = address_text(message.idiag_family, message.id.idiag_src);
  record.local_port = ntohs(message.id.idiag_sport);
  record.remote_address = address_text(message.idiag_family, message.id.idiag_dst);
  record.remote_port = ntohs(message.id.idiag_dport);
  record.timer = to_timer(message.idiag_timer);
  record.timer_expires_ms = message.idiag_expires;
  record.retransmits = message.idiag_retrans;
  record.receive_queue = message.idiag_rqueue;
  record.send_queue = message.idiag_wqueue;
  record.inode = message.idiag_inode;
  return record;
}

bool matches(const PortFilter& filter, const SocketRecord& record) {
  return (!filter.local_port || *filter.local_port == record.local_port) &&
         (!filter.remote_port || *filter.remote_port == record.remote_port);
}

// The error code the kernel put in an NLMSG_ERROR or NLMSG_DONE payload (0 if none).
int payload_error(std::span<const unsigned char> payload) {
  int error = 0;
  if (payload.size() >= sizeof error) std::memcpy(&error, payload.data(), sizeof error);
  return error;
}

enum class Dump { more, done };

// Walks one batch message by message (memcpy'd out: the buffer promises no alignment).
Dump parse_batch(std::span<const unsigned char> batch, std::uint32_t sequence, const PortFilter& filter,
                 std::vector<SocketRecord>& out) {
  std::size_t offset = 0;
  while (batch.size() - offset >= NLMSG_HDRLEN) {
    nlmsghdr header;
    std::memcpy(&header, batch.data() + offset, sizeof header);
    if (header.nlmsg_len < NLMSG_HDRLEN || header.nlmsg_len > batch.size() - offset)
      fail(EBADMSG, "malformed netlink message");
    const auto payload = batch.subspan(offset + NLMSG_HDRLEN, header.nlmsg_len - NLMSG_HDRLEN);
    offset += std::min<std::size_t>(NLMSG_ALIGN(header.nlmsg_len), batch.size() - offset);
    if (header.nlmsg_seq != sequence) continue;  // a late answer to an earlier request

    if (header.nlmsg_type == NLMSG_DONE) {
      // A dump that failed part-way says so in the DONE message's payload.
      if (const int error = payload_error(payload); error < 0) fail(-error, "dump failed");
      return Dump::done;
    }
    if (header.nlmsg_type == NLMSG_ERROR) {
      const int error = payload_error(payload);
      if (error < 0) fail(-error, "request refused");
      return Dump::done;  // error 0 is an acknowledgement: nothing follows
    }
    if (header.nlmsg_type != SOCK_DIAG_BY_FAMILY || payload.size() < sizeof(inet_diag_msg)) continue;
    inet_diag_msg message;
    std::memcpy(&message, payload.data(), sizeof message);
    if (auto record = to_record(message); record && matches(filter, *record)) out.push_back(std::move(*record));
  }
  return Dump::more;
}

void dump_family(int fd, std::uint8_t family, std::uint32_t sequence, const PortFilter& filter,
                 std::vector<SocketRecord>& out) {
  send_dump_request(fd, family, sequence);
  std::vector<unsigned char> buffer(receive_buffer_size);
  for (int batch = 0; batch < max_batches; ++batch) {
    const std::size_t size = receive_batch(fd, buffer);
    if (parse_batch(std::span(buffer).first(size), sequence, filter, out) == Dump::done) return;
  }
  fail(E2BIG, family_name(family) + " dump did not end");
}

}  // namespace

std::vector<SocketRecord> list_tcp_sockets(const PortFilter& filter) {
  NetlinkSocket netlink;
  std::vector<SocketRecord> sockets;
  dump_family(netlink.fd(), AF_INET, 1, filter, sockets);
  dump_family(netlink.fd(), AF_INET6, 2, filter, sockets);
  return sockets;
}

StateCounts count_states(const std::vector<SocketRecord>& sockets) {
  StateCounts counts;
  for (const auto& socket : sockets) {
    const auto index = static_cast<std::size_t>(socket.state);
    if (index >= tcp_state_count) continue;
    ++counts.by_state[index];
    ++counts.total;
  }
  return counts;
}

StateCounts count_tcp_states(const PortFilter& filter) { return count_states(list_tcp_sockets(filter)); }

std::string describe(const StateCounts& counts) {
  std::string text;
  for (std::size_t index = 1; index < tcp_state_count; ++index) {
    if (counts.by_state[index] == 0) continue;
    if (!text.empty()) text += ' ';
    text += state_name(static_cast<TcpState>(index));
    text += '=' + std::to_string(counts.by_state[index]);
  }
  return text.empty() ? "none" : text;
}

std::vector<SocketRecord> both_ends(std::uint16_t port) {
  auto sockets = list_tcp_sockets({.local_port = port});
  auto clients = list_tcp_sockets({.remote_port = port});
  sockets.insert(sockets.end(), clients.begin(), clients.end());
  return sockets;
}

std::optional<SocketRecord> find_listener(std::uint16_t port) {
  for (auto& s : list_tcp_sockets({.local_port = port}))
    if (s.state == TcpState::listen) return s;
  return std::nullopt;
}

}  // namespace netlab
