#pragma once
// Captures written byte by byte by the tests, so every TCP analysis class can
// be made on purpose: a connection between 10.0.0.1:40000 (client) and
// 10.0.0.2:7006 (server), segments stamped at a clock the test moves, framed
// for any link type libpcap reads (Ethernet with or without a VLAN tag, Linux
// cooked v1 and v2, BSD NULL / LOOP, raw IP), in classic pcap with micro- or
// nanosecond stamps or in pcapng (with blocks a reader must skip).
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace netlab::synthetic {

namespace flag {
inline constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;
}

inline void be16(std::string& s, std::uint16_t v) {
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v & 0xff);
}
inline void be32(std::string& s, std::uint32_t v) {
  be16(s, static_cast<std::uint16_t>(v >> 16));
  be16(s, static_cast<std::uint16_t>(v & 0xffff));
}
inline void le16(std::string& s, std::uint16_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>(v >> 8);
}
inline void le32(std::string& s, std::uint32_t v) {
  le16(s, static_cast<std::uint16_t>(v & 0xffff));
  le16(s, static_cast<std::uint16_t>(v >> 16));
}

struct Segment {
  bool from_client = true;
  std::uint8_t flags = flag::ack;
  std::uint32_t seq = 0, ack = 0;
  std::uint32_t length = 0;  // payload bytes (filled with 'x')
  std::uint16_t window = 512;
  int window_scale = -1;  // SYN / SYN-ACK: the option's shift, -1 for none
  std::uint16_t client_port = 40000;
};

// An IPv4 + TCP packet for a segment, checksums 0.
inline std::string ipv4_tcp(const Segment& s) {
  std::string options;
  if (s.window_scale >= 0) options = std::string("\x01\x03\x03", 3) + static_cast<char>(s.window_scale);
  std::string ip("\x45\x00", 2);
  be16(ip, static_cast<std::uint16_t>(20 + 20 + options.size() + s.length));
  ip += std::string("\x00\x00\x40\x00\x40\x06\x00\x00", 8);  // id, DF, TTL 64, TCP, checksum
  ip += s.from_client ? std::string("\x0a\x00\x00\x01\x0a\x00\x00\x02", 8)
                      : std::string("\x0a\x00\x00\x02\x0a\x00\x00\x01", 8);
  be16(ip, s.from_client ? s.client_port : 7006);
  be16(ip, s.from_client ? 7006 : s.client_port);
  be32(ip, s.seq);
  be32(ip, s.ack);
  ip += static_cast<char>(((20 + options.size()) / 4) << 4);
  ip += static_cast<char>(s.flags);
  be16(ip, s.window);
  ip += std::string(4, '\0');
  return ip + options + std::string(s.length, 'x');
}

// Link types as written in the file (LINKTYPE_ values).
enum class Link : std::uint32_t { ethernet = 1, null = 0, loop = 108, raw = 101, sll = 113, sll2 = 276, vlan = 1000 };

inline std::uint32_t linktype_of(Link link) { return link == Link::vlan ? 1 : static_cast<std::uint32_t>(link); }

// The frame around an IPv4 packet.
inline std::string frame(Link link, const std::string& ip) {
  std::string f;
  switch (link) {
    case Link::ethernet:
      f = std::string(12, '\x02') + std::string("\x08\x00", 2);
      break;
    case Link::vlan:
      f = std::string(12, '\x02') + std::string("\x81\x00\x00\x07\x08\x00", 6);
      break;
    case Link::null:
      le32(f, 2);
      break;  // AF_INET in the writer's (little-endian) order
    case Link::loop:
      be32(f, 2);
      break;  // AF_INET in network order
    case Link::raw:
      break;
    case Link::sll:
      f = std::string("\x00\x00\x03\x04\x00\x06", 6) + std::string(8, '\x02') + std::string("\x08\x00", 2);
      break;
    case Link::sll2:
      f = std::string("\x08\x00\x00\x00", 4);   // protocol, reserved
      be32(f, 1);                               // interface index
      f += std::string("\x00\x01\x00\x06", 4);  // ARPHRD_ETHER, packet type, address length
      f += std::string(8, '\x02');
      break;
  }
  return f + ip;
}

// A capture file being written: classic pcap (micro- or nanosecond) or pcapng.
class CaptureWriter {
 public:
  enum class Format { pcap_us, pcap_ns, pcapng };
  explicit CaptureWriter(Link link = Link::ethernet, Format format = Format::pcap_us, std::uint32_t snaplen = 65535)
      : link_(link), format_(format), snaplen_(snaplen) {
    if (format_ == Format::pcapng) {
      // Section header block: type, length, byte-order magic, version 1.0, section length -1.
      std::string shb;
      le32(shb, 0x1a2b3c4d);
      le16(shb, 1);
      le16(shb, 0);
      le32(shb, 0xffffffff);
      le32(shb, 0xffffffff);
      block(0x0a0d0d0a, shb);
      // Interface description block: link type, reserved, snap length, option if_tsresol = 9 (ns).
      std::string idb;
      le16(idb, static_cast<std::uint16_t>(linktype_of(link_)));
      le16(idb, 0);
      le32(idb, snaplen_);
      le16(idb, 9);  // if_tsresol
      le16(idb, 1);
      idb += std::string("\x09\x00\x00\x00", 4);
      le32(idb, 0);  // opt_endofopt
      block(1, idb);
    } else {
      le32(bytes_, format_ == Format::pcap_ns ? 0xa1b23c4d : 0xa1b2c3d4);
      le16(bytes_, 2);
      le16(bytes_, 4);
      le32(bytes_, 0);
      le32(bytes_, 0);
      le32(bytes_, snaplen_);
      le32(bytes_, linktype_of(link_));
    }
  }

  // Moves the capture clock on (nanoseconds) before the next packet.
  CaptureWriter& wait(std::int64_t ns) {
    now_ns_ += ns;
    return *this;
  }

  CaptureWriter& segment(const Segment& s) { return packet(ipv4_tcp(s)); }

  // Any IPv4 packet, framed; cut to the snap length like a capture would be.
  CaptureWriter& packet(const std::string& ip) {
    const std::string f = frame(link_, ip);
    const std::uint32_t captured = static_cast<std::uint32_t>(std::min<std::size_t>(f.size(), snaplen_));
    record(f.substr(0, captured), static_cast<std::uint32_t>(f.size()), captured);
    return *this;
  }

  // A record with the lengths given (for malformed files).
  CaptureWriter& record(const std::string& data, std::uint32_t original, std::uint32_t captured) {
    if (format_ == Format::pcapng) {
      std::string epb;
      le32(epb, 0);  // interface 0
      const auto stamp = static_cast<std::uint64_t>(now_ns_);
      le32(epb, static_cast<std::uint32_t>(stamp >> 32));
      le32(epb, static_cast<std::uint32_t>(stamp & 0xffffffff));
      le32(epb, captured);
      le32(epb, original);
      epb += data;
      epb += std::string((4 - data.size() % 4) % 4, '\0');
      block(6, epb);
    } else {
      le32(bytes_, static_cast<std::uint32_t>(now_ns_ / 1'000'000'000));
      const auto fraction = now_ns_ % 1'000'000'000;
      le32(bytes_, static_cast<std::uint32_t>(format_ == Format::pcap_ns ? fraction : fraction / 1000));
      le32(bytes_, captured);
      le32(bytes_, original);
      bytes_ += data;
    }
    return *this;
  }

  // A pcapng block of a type no reader knows (it must be skipped).
  CaptureWriter& unknown_block() {
    if (format_ == Format::pcapng) block(0x0badcafe, std::string(12, '\x5a'));
    return *this;
  }

  const std::string& bytes() const { return bytes_; }

 private:
  void block(std::uint32_t type, const std::string& body) {
    const auto length = static_cast<std::uint32_t>(12 + body.size());
    le32(bytes_, type);
    le32(bytes_, length);
    bytes_ += body;
    le32(bytes_, length);
  }

  Link link_;
  Format format_;
  std::uint32_t snaplen_;
  std::int64_t now_ns_ = 1'700'000'000'000'000'000;
  std::string bytes_;
};

}  // namespace netlab::synthetic
