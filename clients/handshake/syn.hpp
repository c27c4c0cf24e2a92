#pragma once
// The handshake lab's root-only instruments:
//   - the initial sequence numbers of a fresh connection, read with TCP_REPAIR
//     (CAP_NET_ADMIN), before either side has sent a byte;
//   - a raw TCP socket (CAP_NET_RAW) that sends a SYN from a port where no socket
//     exists, as an old duplicate SYN would arrive, and sees the segments the
//     two kernels exchange about it (every TCP segment delivered on this host).
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace netlab {

struct InitialSequenceNumbers {
  std::uint32_t local = 0;   // the ISN this end chose (its SYN's sequence number)
  std::uint32_t remote = 0;  // the ISN the peer chose
};

// Only for a connected socket that has neither sent nor received data: then the
// next sequence numbers are ISN + 1 (the SYN counts as one). nullopt with
// `why_not` set when repair mode is refused (not root) or unavailable.
std::optional<InitialSequenceNumbers> read_initial_sequence_numbers(int fd, std::string& why_not);

// One TCP segment seen on the wire (IPv4).
struct Segment {
  double at_ms = 0;  // since the probe was made
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::string flag_text() const;  // tcpdump's notation: "S", "S.", "R", "R.", "F." ...
};

// A bare SYN with an MSS option, its checksum over the pseudo-header of
// source -> destination (addresses in network order): what RawTcpProbe sends,
// and what the SYN flood (asked_next.hpp) sends from addresses that are not ours.
std::array<unsigned char, 24> syn_segment(std::uint32_t source, std::uint32_t destination, std::uint16_t source_port,
                                          std::uint16_t destination_port, std::uint32_t seq, std::uint16_t mss);

class RawTcpProbe {
 public:
  // Throws std::system_error ("raw socket: Operation not permitted") without CAP_NET_RAW.
  explicit RawTcpProbe(const std::string& ipv4_address);
  ~RawTcpProbe();
  RawTcpProbe(const RawTcpProbe&) = delete;
  RawTcpProbe& operator=(const RawTcpProbe&) = delete;

  // A bare SYN (with an MSS option) from address:source_port to address:destination_port.
  void send_syn(std::uint16_t source_port, std::uint16_t destination_port, std::uint32_t seq);

  // The segments between the two ports (port_b 0: port_a and any), in arrival order, until one with a flag
  // in `stop_flags` (e.g. RST) has been seen or `bound` has passed.
  std::vector<Segment> collect(std::uint16_t port_a, std::uint16_t port_b, std::uint8_t stop_flags,
                               std::chrono::milliseconds bound);

  static constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack_flag = 0x10;

 private:
  int fd_ = -1;
  std::uint32_t address_ = 0;  // network order
  std::chrono::steady_clock::time_point started_;
};

}  // namespace netlab
