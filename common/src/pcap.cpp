#include "netlab/pcap.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace netlab {

namespace {

// Link types (tcpdump's DLT_ numbers as written into the file).
constexpr std::uint32_t link_ethernet = 1, link_raw = 101, link_raw_alt = 12, link_sll = 113, link_sll2 = 276;

class Reader {
 public:
  Reader(std::string_view bytes, bool swapped) : bytes_(bytes), swapped_(swapped) {}
  bool has(std::size_t n) const { return bytes_.size() - at_ >= n; }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    std::memcpy(&v, bytes_.data() + at_, 4);
    at_ += 4;
    return swapped_ ? __builtin_bswap32(v) : v;
  }
  std::string_view take(std::size_t n) {
    auto view = bytes_.substr(at_, n);
    at_ += n;
    return view;
  }
  void skip(std::size_t n) { at_ += n; }

 private:
  std::string_view bytes_;
  std::size_t at_ = 0;
  bool swapped_;
};

std::uint16_t be16(std::string_view b, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(b[at]) << 8) | static_cast<unsigned char>(b[at + 1]));
}

std::uint32_t be32(std::string_view b, std::size_t at) {
  return (std::uint32_t{be16(b, at)} << 16) | be16(b, at + 2);
}

std::string ip_text(int family, std::string_view raw) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, raw.data(), text, sizeof text);
  return text;
}

// The IP packet inside a link-layer frame, or an empty view (not IP).
std::string_view ip_of(std::uint32_t link, std::string_view frame) {
  std::size_t offset = 0;
  std::uint16_t ethertype = 0;
  switch (link) {
    case link_ethernet:
      if (frame.size() < 14) return {};
      ethertype = be16(frame, 12);
      offset = 14;
      if (ethertype == 0x8100 && frame.size() >= 18) {  // one VLAN tag
        ethertype = be16(frame, 16);
        offset = 18;
      }
      break;
    case link_sll:
      if (frame.size() < 16) return {};
      ethertype = be16(frame, 14);
      offset = 16;
      break;
    case link_sll2:
      if (frame.size() < 20) return {};
      ethertype = be16(frame, 0);
      offset = 20;
      break;
    case link_raw:
    case link_raw_alt:
      return frame;
    default:
      return {};
  }
  if (ethertype != 0x0800 && ethertype != 0x86DD) return {};
  return frame.substr(offset);
}

// The fixed part of an IPv4 or IPv6 header.
struct IpHeader {
  int family = 0;          // AF_INET or AF_INET6
  std::size_t length = 0;  // the header's own bytes (IPv6: the fixed 40; extension headers are not followed)
  std::size_t total = 0;   // the packet's bytes as sent, header included
  std::uint8_t protocol = 0;
  std::string src_ip, dst_ip;
};

std::optional<IpHeader> ip_header(std::string_view ip) {
  if (ip.empty()) return std::nullopt;
  IpHeader h;
  const int version = static_cast<unsigned char>(ip[0]) >> 4;
  if (version == 4) {
    if (ip.size() < 20) return std::nullopt;
    h.family = AF_INET;
    h.length = (static_cast<unsigned char>(ip[0]) & 0x0f) * 4u;
    h.total = be16(ip, 2);
    h.protocol = static_cast<std::uint8_t>(ip[9]);
    h.src_ip = ip_text(AF_INET, ip.substr(12, 4));
    h.dst_ip = ip_text(AF_INET, ip.substr(16, 4));
  } else if (version == 6) {
    if (ip.size() < 40) return std::nullopt;
    h.family = AF_INET6;
    h.length = 40;
    h.total = 40u + be16(ip, 4);
    h.protocol = static_cast<std::uint8_t>(ip[6]);
    h.src_ip = ip_text(AF_INET6, ip.substr(8, 16));
    h.dst_ip = ip_text(AF_INET6, ip.substr(24, 16));
  } else {
    return std::nullopt;
  }
  if (h.length < 20 || ip.size() < h.length) return std::nullopt;
  return h;
}

constexpr std::uint8_t protocol_icmp = 1, protocol_tcp = 6, protocol_udp = 17, protocol_icmp6 = 58;

// Decodes one IP packet into `packet`; false when it is not TCP/UDP or is cut too short.
bool decode_ip(std::string_view ip, Packet& packet) {
  const auto h = ip_header(ip);
  if (!h) return false;
  packet.src_ip = h->src_ip;
  packet.dst_ip = h->dst_ip;
  packet.ip_bytes = h->total;
  const std::size_t header = h->length;
  const std::size_t total = h->total;
  const std::string_view transport = ip.substr(header);
  if (h->protocol == protocol_tcp) {
    if (transport.size() < 20) return false;
    const std::size_t tcp_header = (static_cast<unsigned char>(transport[12]) >> 4) * 4u;
    if (tcp_header < 20 || transport.size() < tcp_header) return false;
    packet.is_tcp = true;
    packet.src_port = be16(transport, 0);
    packet.dst_port = be16(transport, 2);
    packet.seq = be32(transport, 4);
    packet.ack = be32(transport, 8);
    packet.flags = static_cast<std::uint8_t>(transport[13]);
    packet.window = be16(transport, 14);
    packet.header_bytes = header + tcp_header;
  } else if (h->protocol == protocol_udp) {
    if (transport.size() < 8) return false;
    packet.is_tcp = false;
    packet.src_port = be16(transport, 0);
    packet.dst_port = be16(transport, 2);
    packet.header_bytes = header + 8;
  } else {
    return false;
  }
  packet.payload_length = total > packet.header_bytes ? total - packet.header_bytes : 0;
  const std::size_t captured = ip.size() > packet.header_bytes ? ip.size() - packet.header_bytes : 0;
  packet.payload.assign(ip.substr(packet.header_bytes, std::min(captured, packet.payload_length)));
  return true;
}

// Decodes an ICMP port unreachable about a UDP datagram; false for anything else.
// The message: type, code, checksum, 4 unused bytes, then the datagram's IP
// header and (at least) the first 8 bytes after it: the UDP ports.
bool decode_port_unreachable(std::string_view ip, PortUnreachable& out) {
  const auto h = ip_header(ip);
  if (!h) return false;
  const bool v4 = h->family == AF_INET && h->protocol == protocol_icmp;
  const bool v6 = h->family == AF_INET6 && h->protocol == protocol_icmp6;
  if (!v4 && !v6) return false;
  const std::string_view icmp = ip.substr(h->length);
  if (icmp.size() < 8) return false;
  const auto type = static_cast<unsigned char>(icmp[0]), code = static_cast<unsigned char>(icmp[1]);
  if (v4 ? !(type == 3 && code == 3) : !(type == 1 && code == 4)) return false;
  const std::string_view quoted = icmp.substr(8);
  const auto inner = ip_header(quoted);
  if (!inner || inner->family != h->family || inner->protocol != protocol_udp) return false;
  if (quoted.size() < inner->length + 4) return false;
  out.src_ip = h->src_ip;
  out.dst_ip = h->dst_ip;
  out.ip_bytes = h->total;
  out.datagram_src_port = be16(quoted, inner->length);
  out.datagram_dst_port = be16(quoted, inner->length + 2);
  return true;
}

std::string endpoint(const std::string& ip, std::uint16_t port) {
  return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

}  // namespace

std::vector<Packet> parse_pcap(std::string_view bytes, std::vector<PortUnreachable>* port_unreachables) {
  if (bytes.size() < 24) throw std::runtime_error("not a pcap file: shorter than its 24-byte header");
  std::uint32_t magic = 0;
  std::memcpy(&magic, bytes.data(), 4);
  bool swapped = false, nanoseconds = false;
  switch (magic) {
    case 0xa1b2c3d4: break;
    case 0xd4c3b2a1: swapped = true; break;
    case 0xa1b23c4d: nanoseconds = true; break;
    case 0x4d3cb2a1: swapped = nanoseconds = true; break;
    case 0x0a0d0d0a: throw std::runtime_error("pcapng is not supported: write the capture with tcpdump -w (classic pcap)");
    default: throw std::runtime_error("not a pcap file: unknown magic number");
  }
  Reader reader(bytes, swapped);
  reader.skip(20);
  const std::uint32_t link = reader.u32();
  std::vector<Packet> packets;
  std::optional<std::uint32_t> first_second;  // times are kept relative to it: a double then keeps the microseconds
  // Each record is at least 16 bytes, so the loop ends within bytes.size()/16 turns.
  while (reader.has(16)) {
    const std::uint32_t seconds = reader.u32();
    const std::uint32_t fraction = reader.u32();
    const std::uint32_t captured = reader.u32();
    reader.u32();  // original length
    if (!reader.has(captured)) throw std::runtime_error("pcap truncated: the last record is cut short");
    const std::string_view frame = reader.take(captured);
    Packet packet;
    if (!first_second) first_second = seconds;
    packet.time = static_cast<double>(seconds - *first_second) + fraction / (nanoseconds ? 1e9 : 1e6);
    const std::string_view ip = ip_of(link, frame);
    if (decode_ip(ip, packet)) {
      packets.push_back(std::move(packet));
    } else if (port_unreachables) {
      PortUnreachable unreachable;
      unreachable.time = packet.time;
      if (decode_port_unreachable(ip, unreachable)) port_unreachables->push_back(std::move(unreachable));
    }
  }
  return packets;
}

std::vector<Packet> read_pcap(const std::string& path, std::vector<PortUnreachable>* port_unreachables) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::stringstream content;
  content << in.rdbuf();
  try {
    return parse_pcap(content.str(), port_unreachables);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

bool Flow::from_client(const Packet& p) const { return endpoint(p.src_ip, p.src_port) == client; }

std::vector<Flow> group_flows(const std::vector<Packet>& packets, std::uint16_t port) {
  std::vector<Flow> flows;
  std::map<std::string, std::size_t> index;  // canonical 4-tuple -> flow
  for (const auto& p : packets) {
    if (port != 0 && p.src_port != port && p.dst_port != port) continue;
    const std::string a = endpoint(p.src_ip, p.src_port), b = endpoint(p.dst_ip, p.dst_port);
    const std::string key = (p.is_tcp ? "t" : "u") + std::min(a, b) + "|" + std::max(a, b);
    auto [it, added] = index.emplace(key, flows.size());
    if (added) {
      Flow flow;
      flow.is_tcp = p.is_tcp;
      // A SYN without ACK names the client; otherwise the lab's port names the
      // server, and failing that the first sender is taken as the client.
      const bool first_is_reply = (p.flags & tcp_flag::syn) && (p.flags & tcp_flag::ack);
      const bool to_lab_port = port == 0 || p.dst_port == port;
      const bool sender_is_client = p.is_tcp && (p.flags & tcp_flag::syn) ? !first_is_reply : to_lab_port;
      flow.client = sender_is_client ? a : b;
      flow.server = sender_is_client ? b : a;
      flow.server_port = sender_is_client ? p.dst_port : p.src_port;
      flows.push_back(std::move(flow));
    }
    flows[it->second].packets.push_back(p);
  }
  return flows;
}

std::string flag_names(std::uint8_t flags) {
  std::string name;
  auto add = [&](const char* part) {
    if (!name.empty()) name += '-';
    name += part;
  };
  if (flags & tcp_flag::syn) add("SYN");
  if (flags & tcp_flag::fin) add("FIN");
  if (flags & tcp_flag::rst) add("RST");
  if (flags & tcp_flag::psh) add("PSH");
  if (flags & tcp_flag::urg) add("URG");
  if (flags & tcp_flag::ack) add("ACK");
  return name.empty() ? "none" : name;
}

}  // namespace netlab
