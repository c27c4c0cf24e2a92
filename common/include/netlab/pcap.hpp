#pragma once
// Reading a capture: the packets tcpdump wrote (classic pcap, any byte order,
// micro- or nanosecond stamps; Ethernet, Linux cooked v1/v2 or raw IP links),
// decoded down to TCP segments and UDP datagrams, grouped into flows. The
// ladder diagrams and the capture-based checks are built on this. No libpcap:
// the format is small, and parsing it here keeps the tests free of fixtures.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace netlab {

namespace tcp_flag {
inline constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10, urg = 0x20;
}

struct Packet {
  double time = 0;              // seconds since the capture's first second (stamps kept exact to the µs)
  bool is_tcp = false;          // else UDP
  std::string src_ip, dst_ip;
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint8_t flags = 0;       // TCP flags (tcp_flag::*)
  std::uint32_t seq = 0, ack = 0;
  std::uint16_t window = 0;     // as sent, before window scaling
  std::size_t ip_bytes = 0;     // IP header + transport header + payload: the bytes on the wire above the link
  std::size_t header_bytes = 0; // IP + TCP/UDP headers, options included
  std::string payload;          // as captured (may be cut short by the snap length)
  std::size_t payload_length = 0;  // as sent
};

// An ICMP "port unreachable" (ICMPv4 type 3 code 3, ICMPv6 type 1 code 4): how
// a kernel answers a UDP datagram sent to a port where no socket is bound. It
// quotes the datagram's headers, so it names the datagram's ports.
struct PortUnreachable {
  double time = 0;
  std::string src_ip, dst_ip;    // of the ICMP message: from the host that refused the datagram
  std::uint16_t datagram_src_port = 0, datagram_dst_port = 0;  // of the quoted UDP datagram
  std::size_t ip_bytes = 0;
};

// Throws std::runtime_error with a one-line cause for a file that is not a pcap
// (pcapng included: tcpdump -w writes classic pcap). Packets other than TCP
// and UDP over IPv4/IPv6 are skipped; ICMP port unreachables about UDP
// datagrams go to `port_unreachables` when it is given.
std::vector<Packet> parse_pcap(std::string_view bytes, std::vector<PortUnreachable>* port_unreachables = nullptr);
std::vector<Packet> read_pcap(const std::string& path, std::vector<PortUnreachable>* port_unreachables = nullptr);

// One TCP connection or UDP flow: packets between the same two endpoints.
struct Flow {
  bool is_tcp = false;
  std::string client;  // "ip:port" of the side that sent the SYN (else the first sender)
  std::string server;
  std::uint16_t server_port = 0;
  std::vector<Packet> packets;  // in capture order
  bool from_client(const Packet& p) const;
};

// Flows in order of their first packet; only those touching `port` when port != 0.
std::vector<Flow> group_flows(const std::vector<Packet>& packets, std::uint16_t port = 0);

// "SYN", "SYN-ACK", "ACK", "PSH-ACK", "FIN-ACK", "RST", "RST-ACK" ...
std::string flag_names(std::uint8_t flags);

}  // namespace netlab
