#pragma once
// Reading a capture: the packets tcpdump or Wireshark wrote, decoded down to
// TCP segments and UDP datagrams, grouped into flows. The ladder diagrams and
// the capture-based checks are built on this.
//
// libpcap reads the file (pcap in either byte order, micro- or nanosecond
// stamps, and pcapng), so every format tcpdump and Wireshark write opens; what
// it hands over — one link-layer frame at a time — is decoded here, byte by
// byte (Ethernet with VLAN tags, Linux cooked v1 and v2, BSD loopback / NULL,
// raw IP), and unit-tested without libpcap's help.
//
// Two ways to read:
//   PcapReader + decode_frame   one packet at a time, views into libpcap's
//                               buffer: memory does not grow with the file
//                               (netlab-pcap facts streams big captures so)
//   read_pcap / parse_pcap      every packet in a vector, for small captures
//                               (ladders, tests)
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

struct pcap;  // libpcap's handle (pcap_t), kept out of the users' includes

namespace netlab {

namespace tcp_flag {
inline constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10, urg = 0x20;
}

// Link types as libpcap reports them (pcap_datalink: DLT_ values on Linux).
namespace link_type {
inline constexpr int null = 0, ethernet = 1, raw = 12, raw_openbsd = 14, loop = 108, raw_linktype = 101,
                     linux_sll = 113, ipv4 = 228, ipv6 = 229, linux_sll2 = 276;
}

// One captured frame as libpcap hands it over: valid until the next read.
struct Frame {
  std::uint64_t number = 0;           // 1 for the first frame of the file, as Wireshark numbers them
  std::int64_t stamp_ns = 0;          // capture time, nanoseconds since the epoch
  std::uint32_t original_length = 0;  // the frame's bytes on the wire (the record may hold fewer)
  std::string_view bytes;             // what was captured (at most the snap length)
};

// Reads frames from a capture file through libpcap. Throws std::runtime_error
// with a one-line cause when the file cannot be opened or is not a capture.
class PcapReader {
 public:
  explicit PcapReader(const std::string& path);
  // Takes `file` over (closed with the reader); `name` is used in messages.
  PcapReader(std::FILE* file, std::string name);
  ~PcapReader();
  PcapReader(const PcapReader&) = delete;
  PcapReader& operator=(const PcapReader&) = delete;

  int link() const { return link_; }
  // The next frame; false at the end of the file, or when a record cannot be
  // read (then error() says why: a truncated file, a record longer than the
  // format allows, a pcapng block libpcap cannot read).
  bool next(Frame& frame);
  const std::string& error() const { return error_; }
  std::uint64_t frames() const { return frames_; }

 private:
  void open_failed(const char* why);
  ::pcap* handle_ = nullptr;
  std::string name_;
  int link_ = 0;
  std::string error_;
  std::uint64_t frames_ = 0;
};

// An IPv4 or IPv6 address as it is on the wire (IPv4 in the first 4 bytes).
struct IpAddress {
  std::uint8_t family = 0;  // 4 or 6
  std::array<std::uint8_t, 16> bytes{};
  std::string text() const;
  bool operator==(const IpAddress&) const = default;
};

// A TCP segment or UDP datagram decoded from a frame: views into the frame.
struct PacketView {
  bool is_tcp = false;  // else UDP
  IpAddress src, dst;
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint8_t flags = 0;  // TCP flags (tcp_flag::*)
  std::uint32_t seq = 0, ack = 0;
  std::uint16_t window = 0;        // as sent, before window scaling
  std::int8_t window_scale = -1;   // the window scale option's shift (SYN and SYN-ACK only), -1 if absent
  std::size_t ip_bytes = 0;        // IP header + transport header + payload: the bytes on the wire above the link
  std::size_t header_bytes = 0;    // IP + TCP/UDP headers, options included
  std::size_t payload_length = 0;  // as sent (the IP header's length)
  std::string_view payload;        // as captured (may be cut short by the snap length)
};

// Decodes a frame of link type `link`; false when it is not TCP or UDP over
// IPv4/IPv6, or is cut too short to hold its headers.
bool decode_frame(int link, std::string_view frame, PacketView& out);

// An ICMP "port unreachable" (ICMPv4 type 3 code 3, ICMPv6 type 1 code 4): how
// a kernel answers a UDP datagram sent to a port where no socket is bound. It
// quotes the datagram's headers, so it names the datagram's ports.
struct PortUnreachable {
  double time = 0;
  std::string src_ip, dst_ip;  // of the ICMP message: from the host that refused the datagram
  std::uint16_t datagram_src_port = 0, datagram_dst_port = 0;  // of the quoted UDP datagram
  std::size_t ip_bytes = 0;
};

// Decodes an ICMP port unreachable about a UDP datagram; false for anything else.
bool decode_port_unreachable(int link, std::string_view frame, PortUnreachable& out);

// A decoded packet that owns its bytes (read_pcap's vector).
struct Packet {
  std::uint64_t number = 0;   // the frame's number in the file (1 = first)
  double time = 0;            // seconds since the capture's first second (stamps kept exact to the ns)
  std::int64_t stamp_ns = 0;  // capture time, nanoseconds since the epoch
  bool is_tcp = false;        // else UDP
  std::string src_ip, dst_ip;
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint8_t flags = 0;  // TCP flags (tcp_flag::*)
  std::uint32_t seq = 0, ack = 0;
  std::uint16_t window = 0;        // as sent, before window scaling
  std::int8_t window_scale = -1;   // SYN and SYN-ACK: the window scale option, -1 if absent
  std::size_t ip_bytes = 0;        // IP header + transport header + payload: the bytes on the wire above the link
  std::size_t header_bytes = 0;    // IP + TCP/UDP headers, options included
  std::string payload;             // as captured (may be cut short by the snap length)
  std::size_t payload_length = 0;  // as sent
};

// Throws std::runtime_error with a one-line cause for a file that is not a
// capture libpcap reads, or whose records cannot all be read (a truncated
// file). Packets other than TCP and UDP over IPv4/IPv6 are skipped; ICMP port
// unreachables about UDP datagrams go to `port_unreachables` when it is given.
std::vector<Packet> parse_pcap(std::string_view bytes, std::vector<PortUnreachable>* port_unreachables = nullptr);
std::vector<Packet> read_pcap(const std::string& path, std::vector<PortUnreachable>* port_unreachables = nullptr);
// Every packet of a reader, the same way.
std::vector<Packet> read_packets(PcapReader& reader, std::vector<PortUnreachable>* port_unreachables = nullptr);

// "ip:port", with the IPv6 address in brackets.
std::string endpoint(const std::string& ip, std::uint16_t port);

// One TCP connection or UDP flow: packets between the same two endpoints.
struct Flow {
  bool is_tcp = false;
  std::string client;  // "ip:port" of the side that sent the SYN (else the first sender)
  std::string server;
  std::uint16_t server_port = 0;
  std::vector<Packet> packets;  // in capture order
  bool from_client(const Packet& p) const;
};

// Which side of a new flow its first packet comes from: a SYN without ACK names
// the client, a SYN-ACK the server; otherwise the lab's port (when given) names
// the server, and failing that the first sender is taken as the client.
bool first_sender_is_client(bool is_tcp, std::uint8_t flags, std::uint16_t dst_port, std::uint16_t port);

// Flows in order of their first packet; only those touching `port` when port != 0.
std::vector<Flow> group_flows(const std::vector<Packet>& packets, std::uint16_t port = 0);

// "SYN", "SYN-ACK", "ACK", "PSH-ACK", "FIN-ACK", "RST", "RST-ACK" ...
std::string flag_names(std::uint8_t flags);

}  // namespace netlab
