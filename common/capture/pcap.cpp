#include "capture/pcap.hpp"

#include <arpa/inet.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>

namespace netlab {

// ---- reading frames through libpcap ------------------------------------------

PcapReader::PcapReader(const std::string& path) : name_(path) {
  char why[PCAP_ERRBUF_SIZE] = {};
  // Nanosecond precision: libpcap scales microsecond files up, so stamps stay exact either way.
  handle_ = ::pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, why);
  if (!handle_) open_failed(why);
  link_ = ::pcap_datalink(handle_);
}

PcapReader::PcapReader(std::FILE* file, std::string name) : name_(std::move(name)) {
  char why[PCAP_ERRBUF_SIZE] = {};
  if (!file) throw std::runtime_error(name_ + ": cannot open: " + std::strerror(errno));
  handle_ = ::pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, why);
  if (!handle_) {
    std::fclose(file);  // libpcap leaves the file to us when it refuses it
    open_failed(why);
  }
  link_ = ::pcap_datalink(handle_);
}

PcapReader::~PcapReader() {
  if (handle_) ::pcap_close(handle_);
}

void PcapReader::open_failed(const char* why) {
  std::string reason = why;
  // libpcap's words for a file that is neither pcap nor pcapng.
  if (reason.find("unknown file format") != std::string::npos ||
      reason.find("truncated dump file") != std::string::npos)
    reason = "not a pcap or pcapng file (" + reason + ")";
  // libpcap names the file itself when it cannot open it ("PATH: No such file or directory").
  if (reason.rfind(name_ + ": ", 0) == 0) throw std::runtime_error(reason);
  throw std::runtime_error(name_ + ": " + reason);
}

bool PcapReader::next(Frame& frame) {
  if (!error_.empty()) return false;
  ::pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  const int status = ::pcap_next_ex(handle_, &header, &data);
  if (status == 1) {
    frame.number = ++frames_;
    // A stamp outside 1834..2106 (a corrupt record; pcapng has 64-bit stamps) is
    // clamped, so that nanoseconds and their differences stay within 64 bits.
    const std::int64_t seconds = std::clamp<std::int64_t>(header->ts.tv_sec, -4'000'000'000, 4'000'000'000);
    frame.stamp_ns = seconds * 1'000'000'000 + static_cast<std::int64_t>(header->ts.tv_usec);
    frame.original_length = header->len;
    frame.bytes = std::string_view(reinterpret_cast<const char*>(data), header->caplen);
    return true;
  }
  if (status == PCAP_ERROR_BREAK) return false;  // the end of the file
  error_ = name_ + ": after frame " + std::to_string(frames_) + ": " + ::pcap_geterr(handle_);
  return false;
}

// ---- decoding what libpcap hands over ----------------------------------------

namespace {

std::uint16_t be16(std::string_view b, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(b[at]) << 8) | static_cast<unsigned char>(b[at + 1]));
}

std::uint32_t be32(std::string_view b, std::size_t at) { return (std::uint32_t{be16(b, at)} << 16) | be16(b, at + 2); }

// The IP packet inside a link-layer frame, or an empty view (not IP).
std::string_view ip_of(int link, std::string_view frame) {
  std::size_t offset = 0;
  std::uint16_t ethertype = 0;
  switch (link) {
    case link_type::ethernet:
      if (frame.size() < 14) return {};
      ethertype = be16(frame, 12);
      offset = 14;
      // Up to two VLAN tags (802.1Q, 802.1ad QinQ).
      for (int tags = 0; tags < 2 && (ethertype == 0x8100 || ethertype == 0x88a8 || ethertype == 0x9100); ++tags) {
        if (frame.size() < offset + 4) return {};
        ethertype = be16(frame, offset + 2);
        offset += 4;
      }
      break;
    case link_type::linux_sll:  // packet type, ARPHRD, address length, 8-byte address, protocol
      if (frame.size() < 16) return {};
      ethertype = be16(frame, 14);
      offset = 16;
      break;
    case link_type::linux_sll2:  // protocol first, then reserved, ifindex, ARPHRD, type, address
      if (frame.size() < 20) return {};
      ethertype = be16(frame, 0);
      offset = 20;
      break;
    case link_type::null:
    case link_type::loop:
      // A 4-byte address family (host order for NULL, network order for LOOP;
      // IPv6's number differs between systems): the IP version nibble decides.
      if (frame.size() < 4) return {};
      return frame.substr(4);
    case link_type::raw:
    case link_type::raw_openbsd:
    case link_type::raw_linktype:
    case link_type::ipv4:
    case link_type::ipv6:
      return frame;
    default:
      return {};
  }
  if (ethertype != 0x0800 && ethertype != 0x86DD) return {};
  return frame.substr(offset);
}

// The fixed part of an IPv4 or IPv6 header.
struct IpHeader {
  std::size_t length = 0;  // the header's own bytes (IPv6: the fixed 40; extension headers are not followed)
  std::size_t total = 0;   // the packet's bytes as sent, header included
  std::uint8_t protocol = 0;
  IpAddress src, dst;
};

bool ip_header(std::string_view ip, IpHeader& h) {
  if (ip.empty()) return false;
  const int version = static_cast<unsigned char>(ip[0]) >> 4;
  if (version == 4) {
    if (ip.size() < 20) return false;
    h.length = (static_cast<unsigned char>(ip[0]) & 0x0f) * 4u;
    h.total = be16(ip, 2);
    h.protocol = static_cast<std::uint8_t>(ip[9]);
    h.src.family = h.dst.family = 4;
    std::memcpy(h.src.bytes.data(), ip.data() + 12, 4);
    std::memcpy(h.dst.bytes.data(), ip.data() + 16, 4);
  } else if (version == 6) {
    if (ip.size() < 40) return false;
    h.length = 40;
    h.total = 40u + be16(ip, 4);
    h.protocol = static_cast<std::uint8_t>(ip[6]);
    h.src.family = h.dst.family = 6;
    std::memcpy(h.src.bytes.data(), ip.data() + 8, 16);
    std::memcpy(h.dst.bytes.data(), ip.data() + 24, 16);
  } else {
    return false;
  }
  // A total below the header's own length (TSO captures write 0) is taken as what was captured.
  if (h.total < h.length) h.total = ip.size();
  return h.length >= 20 && ip.size() >= h.length;
}

constexpr std::uint8_t protocol_icmp = 1, protocol_tcp = 6, protocol_udp = 17, protocol_icmp6 = 58;

// The window scale option's shift in a TCP header's options, -1 when absent.
std::int8_t window_scale_option(std::string_view options) {
  std::size_t at = 0;
  while (at < options.size()) {
    const auto kind = static_cast<unsigned char>(options[at]);
    if (kind == 0) break;  // end of options
    if (kind == 1) {       // no-op
      ++at;
      continue;
    }
    if (at + 1 >= options.size()) break;
    const auto length = static_cast<unsigned char>(options[at + 1]);
    if (length < 2 || at + length > options.size()) break;
    if (kind == 3 && length == 3)
      return static_cast<std::int8_t>(std::min<unsigned>(14, static_cast<unsigned char>(options[at + 2])));
    at += length;
  }
  return -1;
}

}  // namespace

std::string IpAddress::text() const {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family == 6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text);
  return text;
}

bool decode_frame(int link, std::string_view frame, PacketView& packet) {
  const std::string_view ip = ip_of(link, frame);
  IpHeader h;
  if (!ip_header(ip, h)) return false;
  packet.src = h.src;
  packet.dst = h.dst;
  packet.ip_bytes = h.total;
  const std::string_view transport = ip.substr(h.length);
  packet.window_scale = -1;
  if (h.protocol == protocol_tcp) {
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
    if (packet.flags & tcp_flag::syn) packet.window_scale = window_scale_option(transport.substr(20, tcp_header - 20));
    packet.header_bytes = h.length + tcp_header;
  } else if (h.protocol == protocol_udp) {
    if (transport.size() < 8) return false;
    packet.is_tcp = false;
    packet.src_port = be16(transport, 0);
    packet.dst_port = be16(transport, 2);
    packet.flags = 0;
    packet.seq = packet.ack = 0;
    packet.window = 0;
    packet.header_bytes = h.length + 8;
  } else {
    return false;
  }
  packet.payload_length = h.total > packet.header_bytes ? h.total - packet.header_bytes : 0;
  const std::size_t captured = ip.size() > packet.header_bytes ? ip.size() - packet.header_bytes : 0;
  packet.payload = ip.substr(packet.header_bytes, std::min(captured, packet.payload_length));
  return true;
}

// The message: type, code, checksum, 4 unused bytes, then the datagram's IP
// header and (at least) the first 8 bytes after it: the UDP ports.
bool decode_port_unreachable(int link, std::string_view frame, PortUnreachable& out) {
  const std::string_view ip = ip_of(link, frame);
  IpHeader h;
  if (!ip_header(ip, h)) return false;
  const bool v4 = h.src.family == 4 && h.protocol == protocol_icmp;
  const bool v6 = h.src.family == 6 && h.protocol == protocol_icmp6;
  if (!v4 && !v6) return false;
  const std::string_view icmp = ip.substr(h.length);
  if (icmp.size() < 8) return false;
  const auto type = static_cast<unsigned char>(icmp[0]), code = static_cast<unsigned char>(icmp[1]);
  if (v4 ? !(type == 3 && code == 3) : !(type == 1 && code == 4)) return false;
  const std::string_view quoted = icmp.substr(8);
  IpHeader inner;
  if (!ip_header(quoted, inner) || inner.src.family != h.src.family || inner.protocol != protocol_udp) return false;
  if (quoted.size() < inner.length + 4) return false;
  out.src_ip = h.src.text();
  out.dst_ip = h.dst.text();
  out.ip_bytes = h.total;
  out.datagram_src_port = be16(quoted, inner.length);
  out.datagram_dst_port = be16(quoted, inner.length + 2);
  return true;
}

std::string endpoint(const std::string& ip, std::uint16_t port) {
  return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

std::vector<Packet> read_packets(PcapReader& reader, std::vector<PortUnreachable>* port_unreachables) {
  std::vector<Packet> packets;
  std::optional<std::int64_t> first_second;  // times are kept relative to it: a double then keeps the microseconds
  Frame frame;
  PacketView view;
  while (reader.next(frame)) {
    if (!first_second) first_second = frame.stamp_ns / 1'000'000'000;
    const double time = static_cast<double>(frame.stamp_ns - *first_second * 1'000'000'000) / 1e9;
    if (decode_frame(reader.link(), frame.bytes, view)) {
      Packet p;
      p.number = frame.number;
      p.time = time;
      p.stamp_ns = frame.stamp_ns;
      p.is_tcp = view.is_tcp;
      p.src_ip = view.src.text();
      p.dst_ip = view.dst.text();
      p.src_port = view.src_port;
      p.dst_port = view.dst_port;
      p.flags = view.flags;
      p.seq = view.seq;
      p.ack = view.ack;
      p.window = view.window;
      p.window_scale = view.window_scale;
      p.ip_bytes = view.ip_bytes;
      p.header_bytes = view.header_bytes;
      p.payload.assign(view.payload);
      p.payload_length = view.payload_length;
      packets.push_back(std::move(p));
    } else if (port_unreachables) {
      PortUnreachable unreachable;
      unreachable.time = time;
      if (decode_port_unreachable(reader.link(), frame.bytes, unreachable))
        port_unreachables->push_back(std::move(unreachable));
    }
  }
  if (!reader.error().empty()) throw std::runtime_error(reader.error());
  return packets;
}

std::vector<Packet> parse_pcap(std::string_view bytes, std::vector<PortUnreachable>* port_unreachables) {
  if (bytes.empty()) throw std::runtime_error("capture: not a pcap or pcapng file (empty)");
  // libpcap reads a FILE*: fmemopen gives it one over the bytes, without a copy.
  std::FILE* file = ::fmemopen(const_cast<char*>(bytes.data()), bytes.size(), "rb");
  PcapReader reader(file, "capture");
  return read_packets(reader, port_unreachables);
}

std::vector<Packet> read_pcap(const std::string& path, std::vector<PortUnreachable>* port_unreachables) {
  PcapReader reader(path);
  return read_packets(reader, port_unreachables);
}

bool Flow::from_client(const Packet& p) const { return endpoint(p.src_ip, p.src_port) == client; }

bool first_sender_is_client(bool is_tcp, std::uint8_t flags, std::uint16_t dst_port, std::uint16_t port) {
  if (is_tcp && (flags & tcp_flag::syn)) return !(flags & tcp_flag::ack);
  return port == 0 || dst_port == port;
}

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
      const bool sender_is_client = first_sender_is_client(p.is_tcp, p.flags, p.dst_port, port);
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
