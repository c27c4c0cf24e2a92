#include "syn.hpp"

#include <arpa/inet.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace netlab {

namespace {

// Repair mode off without the window probe TCP_REPAIR_OFF would send (an extra
// segment a class would see in the capture). Linux 4.11+; older kernels say EINVAL.
#ifndef TCP_REPAIR_OFF_NO_WP
constexpr int repair_off_no_window_probe = -1;
#else
constexpr int repair_off_no_window_probe = TCP_REPAIR_OFF_NO_WP;
#endif

bool queue_seq(int fd, int queue, std::uint32_t& seq) {
  if (::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof queue) != 0) return false;
  socklen_t length = sizeof seq;
  return ::getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, &length) == 0;
}

std::uint16_t read_u16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t read_u32(const unsigned char* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
void put_u16(unsigned char* p, std::uint16_t v) {
  p[0] = static_cast<unsigned char>(v >> 8);
  p[1] = static_cast<unsigned char>(v);
}
void put_u32(unsigned char* p, std::uint32_t v) {
  put_u16(p, static_cast<std::uint16_t>(v >> 16));
  put_u16(p + 2, static_cast<std::uint16_t>(v));
}

// The Internet checksum over the pseudo-header and the segment (RFC 793):
// a raw socket's kernel writes the IP header but leaves the TCP checksum to us.
std::uint16_t tcp_checksum(std::uint32_t source, std::uint32_t destination, const unsigned char* segment,
                           std::size_t length) {
  std::uint32_t sum = 0;
  auto add = [&](std::uint32_t word) { sum += word; };
  const std::uint32_t s = ntohl(source), d = ntohl(destination);
  add(s >> 16), add(s & 0xffff), add(d >> 16), add(d & 0xffff);
  add(IPPROTO_TCP), add(static_cast<std::uint32_t>(length));
  for (std::size_t i = 0; i + 1 < length; i += 2) add(read_u16(segment + i));
  if (length % 2) add(std::uint32_t{segment[length - 1]} << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

}  // namespace

std::optional<InitialSequenceNumbers> read_initial_sequence_numbers(int fd, std::string& why_not) {
  int on = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) != 0) {
    why_not =
        errno == EPERM ? "TCP_REPAIR needs root (CAP_NET_ADMIN)" : std::string("TCP_REPAIR: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::uint32_t send_next = 0, receive_next = 0;
  const bool read = queue_seq(fd, TCP_SEND_QUEUE, send_next) && queue_seq(fd, TCP_RECV_QUEUE, receive_next);
  if (!read) why_not = std::string("TCP_QUEUE_SEQ: ") + std::strerror(errno);
  int off = repair_off_no_window_probe;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof off) != 0) {
    off = 0;  // an old kernel: leave repair mode with its window probe
    ::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof off);
  }
  if (!read) return std::nullopt;
  // The SYN takes one sequence number, so the next one is ISN + 1.
  return InitialSequenceNumbers{send_next - 1, receive_next - 1};
}

std::string Segment::flag_text() const {
  std::string text;
  if (flags & RawTcpProbe::syn) text += 'S';
  if (flags & RawTcpProbe::fin) text += 'F';
  if (flags & RawTcpProbe::rst) text += 'R';
  if (flags & RawTcpProbe::psh) text += 'P';
  if (flags & RawTcpProbe::ack_flag) text += '.';
  return text.empty() ? "none" : text;
}

RawTcpProbe::RawTcpProbe(const std::string& ipv4_address) : started_(std::chrono::steady_clock::now()) {
  in_addr address{};
  if (::inet_pton(AF_INET, ipv4_address.c_str(), &address) != 1)
    throw std::runtime_error("raw socket: " + ipv4_address + " is not an IPv4 address");
  address_ = address.s_addr;
  fd_ = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "raw socket");
  // Bound to the address, the kernel writes it as the source of what we send,
  // which is the address our checksum covers.
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = address_;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    const int error = errno;
    ::close(fd_);
    throw std::system_error(error, std::generic_category(), "raw socket: bind " + ipv4_address);
  }
}

RawTcpProbe::~RawTcpProbe() { ::close(fd_); }

std::array<unsigned char, 24> syn_segment(std::uint32_t source, std::uint32_t destination, std::uint16_t source_port,
                                          std::uint16_t destination_port, std::uint32_t seq, std::uint16_t mss) {
  std::array<unsigned char, 24> segment{};  // 20-byte header + MSS option
  put_u16(&segment[0], source_port);
  put_u16(&segment[2], destination_port);
  put_u32(&segment[4], seq);
  segment[12] = 6 << 4;  // header length: 6 words
  segment[13] = RawTcpProbe::syn;
  put_u16(&segment[14], 65495);
  segment[20] = 2, segment[21] = 4;
  put_u16(&segment[22], mss);
  put_u16(&segment[16], tcp_checksum(source, destination, segment.data(), segment.size()));
  return segment;
}

void RawTcpProbe::send_syn(std::uint16_t source_port, std::uint16_t destination_port, std::uint32_t seq) {
  // MSS = 65495, loopback's.
  const auto segment = syn_segment(address_, address_, source_port, destination_port, seq, 65495);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = address_;
  if (::sendto(fd_, segment.data(), segment.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
    throw std::system_error(errno, std::generic_category(), "raw socket: send SYN");
}

std::vector<Segment> RawTcpProbe::collect(std::uint16_t port_a, std::uint16_t port_b, std::uint8_t stop_flags,
                                          std::chrono::milliseconds bound) {
  std::vector<Segment> seen;
  const auto deadline = std::chrono::steady_clock::now() + bound;
  std::array<unsigned char, 65536> packet{};
  // Every TCP segment of this host arrives here: the loop is bounded by time and count.
  for (int received = 0; received < 100000; ++received) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd ready{fd_, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::recv(fd_, packet.data(), packet.size(), 0);
    if (n < 20) continue;
    const std::size_t ip_header = (packet[0] & 0x0f) * 4u;
    if (static_cast<std::size_t>(n) < ip_header + 20) continue;
    const unsigned char* tcp = packet.data() + ip_header;
    Segment segment;
    segment.source_port = read_u16(tcp);
    segment.destination_port = read_u16(tcp + 2);
    const bool ours = port_b == 0 ? segment.source_port == port_a || segment.destination_port == port_a
                                  : (segment.source_port == port_a && segment.destination_port == port_b) ||
                                        (segment.source_port == port_b && segment.destination_port == port_a);
    if (!ours) continue;
    segment.seq = read_u32(tcp + 4);
    segment.ack = read_u32(tcp + 8);
    segment.flags = tcp[13];
    segment.at_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
    seen.push_back(segment);
    if (segment.flags & stop_flags) break;
  }
  return seen;
}

}  // namespace netlab
