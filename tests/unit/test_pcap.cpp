// Captures made by the test itself, byte by byte: a handshake, a close in
// three and in four segments, a half-close, an RST, a retransmission, a zero
// window, TLS records, UDP datagrams and ICMP port unreachables. The reader,
// the facts and the ladders are checked on them.
#include "capture/capture.hpp"
#include "capture/ladder.hpp"
#include "capture/pcap.hpp"

#include <catch2/catch.hpp>

#include <cstring>

using namespace netlab;
namespace f = netlab::tcp_flag;

namespace {

constexpr std::uint16_t client_port = 40000, server_port = 7006;

// Writes a classic pcap (little-endian, microseconds, Ethernet) of IPv4 TCP
// segments, or of any IP packet given whole.
class PcapWriter {
 public:
  explicit PcapWriter(std::uint32_t link = 1) : link_(link) {
    put32(0xa1b2c3d4);
    put16(2);
    put16(4);
    put32(0);
    put32(0);
    put32(65535);
    put32(link);
  }

  // A segment from the client (or the server) with the given flags, sequence numbers and payload.
  PcapWriter& tcp(bool from_client, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                  std::string_view payload = {}, std::uint16_t window = 512) {
    std::string ip;
    const std::size_t total = 20 + 20 + payload.size();
    ip += "\x45";
    ip += '\0';
    be16(ip, static_cast<std::uint16_t>(total));
    ip += std::string(5, '\0');
    ip += '\x06';  // TCP
    ip += std::string(2, '\0');
    ip += std::string("\x7f\x00\x00\x01", 4);
    ip += std::string("\x7f\x00\x00\x01", 4);
    be16(ip, from_client ? client_port : server_port);
    be16(ip, from_client ? server_port : client_port);
    be32(ip, seq);
    be32(ip, ack);
    ip += '\x50';  // 20-byte header
    ip += static_cast<char>(flags);
    be16(ip, window);
    ip += std::string(4, '\0');
    ip += payload;
    return ip_packet(ip);
  }

  // Any IP packet (v4 or v6), framed for the link.
  PcapWriter& ip_packet(const std::string& ip) {
    const bool v6 = !ip.empty() && (static_cast<unsigned char>(ip[0]) >> 4) == 6;
    const std::string ethertype = v6 ? std::string("\x86\xdd", 2) : std::string("\x08\x00", 2);
    std::string frame;
    if (link_ == 1) frame = std::string(12, '\0') + ethertype;
    if (link_ == 113) frame = std::string(14, '\0') + ethertype;
    frame += ip;
    put32(seconds_);
    put32(micros_ += 10);
    put32(static_cast<std::uint32_t>(frame.size()));
    put32(static_cast<std::uint32_t>(frame.size()));
    bytes_ += frame;
    return *this;
  }

  static void be16(std::string& s, std::uint16_t v) {
    s += static_cast<char>(v >> 8);
    s += static_cast<char>(v & 0xff);
  }

  // The usual opening: SYN, SYN-ACK, ACK with ISNs 1000 (client) and 5000 (server).
  PcapWriter& handshake() {
    return tcp(true, f::syn, 1000, 0).tcp(false, f::syn | f::ack, 5000, 1001).tcp(true, f::ack, 1001, 5001);
  }

  std::string bytes() const { return bytes_; }

 private:
  void put16(std::uint16_t v) {
    char raw[2];
    std::memcpy(raw, &v, 2);
    bytes_.append(raw, 2);
  }
  void put32(std::uint32_t v) {
    char raw[4];
    std::memcpy(raw, &v, 4);
    bytes_.append(raw, 4);
  }
  static void be32(std::string& s, std::uint32_t v) {
    be16(s, static_cast<std::uint16_t>(v >> 16));
    be16(s, static_cast<std::uint16_t>(v & 0xffff));
  }

  std::uint32_t link_;
  std::uint32_t seconds_ = 1700000000, micros_ = 0;
  std::string bytes_;
};

// An IPv4 header (20 bytes, loopback to loopback) for `protocol` and `body`.
std::string ipv4(std::uint8_t protocol, const std::string& body) {
  std::string ip("\x45\x00", 2);
  PcapWriter::be16(ip, static_cast<std::uint16_t>(20 + body.size()));
  ip += std::string(5, '\0');
  ip += static_cast<char>(protocol);
  ip += std::string(2, '\0');
  ip += std::string("\x7f\x00\x00\x01\x7f\x00\x00\x01", 8);
  return ip + body;
}

// An IPv6 header (::1 to ::1) for `next_header` and `body`.
std::string ipv6(std::uint8_t next_header, const std::string& body) {
  std::string ip("\x60\x00\x00\x00", 4);
  PcapWriter::be16(ip, static_cast<std::uint16_t>(body.size()));
  ip += static_cast<char>(next_header);
  ip += '\x40';
  const std::string loopback = std::string(15, '\0') + '\x01';
  return ip + loopback + loopback + body;
}

// A UDP header and payload, checksum 0.
std::string udp(std::uint16_t from, std::uint16_t to, const std::string& payload) {
  std::string datagram;
  PcapWriter::be16(datagram, from);
  PcapWriter::be16(datagram, to);
  PcapWriter::be16(datagram, static_cast<std::uint16_t>(8 + payload.size()));
  datagram += std::string(2, '\0');
  return datagram + payload;
}

// An ICMP message: type, code, checksum 0, 4 unused bytes, then what it quotes.
std::string icmp(std::uint8_t type, std::uint8_t code, const std::string& quoted) {
  return std::string{static_cast<char>(type), static_cast<char>(code)} + std::string(6, '\0') + quoted;
}

FlowFacts facts_of(const PcapWriter& writer) {
  const auto flows = group_flows(parse_pcap(writer.bytes()), server_port);
  REQUIRE(flows.size() == 1);
  return analyse_flow(flows.front());
}

Flow flow_of(const PcapWriter& writer) {
  auto flows = group_flows(parse_pcap(writer.bytes()));
  REQUIRE(flows.size() == 1);
  return flows.front();
}

}  // namespace

TEST_CASE("a handshake, one request, a close in three segments", "[facts]") {
  PcapWriter w;
  w.handshake()
      .tcp(true, f::psh | f::ack, 1001, 5001, "hello")
      .tcp(false, f::ack, 5001, 1006)
      .tcp(true, f::fin | f::ack, 1006, 5001)
      .tcp(false, f::fin | f::ack, 5001, 1007)  // the ACK of the FIN rides on the server's own FIN
      .tcp(true, f::ack, 1007, 5002);
  const auto facts = facts_of(w);
  CHECK(facts.client == "127.0.0.1:40000");
  CHECK(facts.server == "127.0.0.1:7006");
  CHECK(facts.packets == 8);
  CHECK(facts.handshake_segments == 3);
  CHECK(facts.handshake_complete);
  CHECK(facts.syn_segments == 1);
  CHECK(facts.syn_ack_segments == 1);
  CHECK(facts.client_isn == 1000);
  CHECK(facts.server_isn == 5000);
  CHECK(facts.close_segments == 3);
  CHECK(facts.first_fin_from == "client");
  CHECK(facts.data_segments == 1);
  CHECK(facts.payload_bytes == 5);
  CHECK(facts.stream_bytes == 5);
  CHECK(facts.ip_bytes == 8 * 40 + 5);
  CHECK(facts.rst_segments == 0);
  CHECK(facts.analysis.retransmission == 0);
}

TEST_CASE("a close in four segments, and a half-close with data after the FIN", "[facts]") {
  SECTION("FIN, ACK, FIN, ACK") {
    PcapWriter w;
    w.handshake()
        .tcp(true, f::fin | f::ack, 1001, 5001)
        .tcp(false, f::ack, 5001, 1002)
        .tcp(false, f::fin | f::ack, 5001, 1002)
        .tcp(true, f::ack, 1002, 5002);
    CHECK(facts_of(w).close_segments == 4);
  }
  SECTION("the server keeps sending after the client's FIN") {
    PcapWriter w;
    w.handshake()
        .tcp(true, f::fin | f::ack, 1001, 5001)
        .tcp(false, f::ack, 5001, 1002)
        .tcp(false, f::psh | f::ack, 5001, 1002, "response after the FIN")
        .tcp(true, f::ack, 1002, 5023)
        .tcp(false, f::fin | f::ack, 5023, 1002)
        .tcp(true, f::ack, 1002, 5024);
    const auto facts = facts_of(w);
    CHECK(facts.close_segments == 4);
    CHECK(facts.first_fin_from == "client");
    CHECK(facts.data_segments == 1);
    CHECK(facts.stream_bytes == 22);
  }
}

TEST_CASE("an RST instead of a FIN", "[facts]") {
  PcapWriter w;
  w.handshake().tcp(true, f::psh | f::ack, 1001, 5001, "unread").tcp(false, f::rst | f::ack, 5001, 1007);
  const auto facts = facts_of(w);
  CHECK(facts.rst_segments == 1);
  CHECK(facts.first_rst_from == "server");
  CHECK(facts.close_segments == 0);
  CHECK(facts.first_fin_from.empty());
}

TEST_CASE("retransmissions and zero windows are counted", "[facts]") {
  PcapWriter w;
  w.handshake()
      .tcp(true, f::psh | f::ack, 1001, 5001, "data")
      .tcp(true, f::psh | f::ack, 1001, 5001, "data")  // the same bytes again
      .tcp(false, f::ack, 5001, 1005, {}, 0);          // and the receiver is full
  const auto facts = facts_of(w);
  CHECK(facts.analysis.retransmission == 1);
  CHECK(facts.zero_window_segments == 1);
  // Sent twice, carried once: the stream's bytes count the 4 bytes once.
  CHECK(facts.payload_bytes == 8);
  CHECK(facts.stream_bytes == 4);
  const auto rows = ladder_rows(flow_of(w), LadderOptions{});
  REQUIRE(rows.size() == 6);
  CHECK(rows[4].label.find("(retransmission)") != std::string::npos);
  CHECK(rows[4].alarming);
  CHECK(rows[5].label.find("win=0") != std::string::npos);
}

TEST_CASE("a FIN sent again: the last ACK of the close was lost", "[facts]") {
  PcapWriter w;
  w.handshake()
      .tcp(true, f::fin | f::ack, 1001, 5001)  // the client closes first
      .tcp(false, f::ack, 5001, 1002)
      .tcp(false, f::fin | f::ack, 5001, 1002)  // the server's FIN; the client's ACK of it is lost
      .tcp(false, f::fin | f::ack, 5001, 1002)  // so the server sends the same FIN again
      .tcp(true, f::ack, 1002, 5002);           // answered from TIME_WAIT
  const auto facts = facts_of(w);
  CHECK(facts.fin_segments == 3);
  CHECK(facts.fin_retransmissions == 1);
  CHECK(facts.analysis.retransmission == 1);
  CHECK(facts.first_fin_from == "client");

  PcapWriter clean;
  clean.handshake()
      .tcp(true, f::fin | f::ack, 1001, 5001)
      .tcp(false, f::fin | f::ack, 5001, 1002)
      .tcp(true, f::ack, 1002, 5002);
  CHECK(facts_of(clean).fin_segments == 2);
  CHECK(facts_of(clean).fin_retransmissions == 0);

  // Data sent again is a retransmission, but not of a FIN; an RST is no FIN.
  PcapWriter data_again;
  data_again.handshake()
      .tcp(true, f::psh | f::ack, 1001, 5001, "data")
      .tcp(true, f::psh | f::ack, 1001, 5001, "data")
      .tcp(true, f::rst | f::ack, 1005, 5001);
  CHECK(facts_of(data_again).analysis.retransmission == 1);
  CHECK(facts_of(data_again).fin_segments == 0);
  CHECK(facts_of(data_again).fin_retransmissions == 0);
}

TEST_CASE("a SYN sent again counts in the handshake and as a retransmission", "[facts]") {
  PcapWriter w;
  w.tcp(true, f::syn, 1000, 0)
      .tcp(true, f::syn, 1000, 0)
      .tcp(false, f::syn | f::ack, 5000, 1001)
      .tcp(true, f::ack, 1001, 5001);
  const auto facts = facts_of(w);
  CHECK(facts.handshake_segments == 4);
  CHECK(facts.syn_segments == 2);
  CHECK(facts.syn_ack_segments == 1);
  CHECK(facts.analysis.retransmission == 1);
}

TEST_CASE("SYNs that are never answered: no SYN-ACK, no handshake", "[facts]") {
  PcapWriter w;
  w.tcp(true, f::syn, 1000, 0).tcp(true, f::syn, 1000, 0).tcp(true, f::syn, 1000, 0);
  const auto facts = facts_of(w);
  CHECK(facts.handshake_segments == 3);
  CHECK_FALSE(facts.handshake_complete);
  CHECK(facts.syn_segments == 3);
  CHECK(facts.syn_ack_segments == 0);
  CHECK(facts.client_isn == 1000);
  CHECK(facts.analysis.retransmission == 2);
}

TEST_CASE("ladder labels: flags, relative seq/ack, length", "[ladder]") {
  PcapWriter w;
  w.handshake().tcp(true, f::psh | f::ack, 1001, 5001, "hello").tcp(false, f::ack, 5001, 1006);
  const auto rows = ladder_rows(flow_of(w), LadderOptions{});
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].label == "SYN seq=0");
  CHECK(rows[0].from_client);
  CHECK(rows[1].label == "SYN-ACK seq=0 ack=1");
  CHECK_FALSE(rows[1].from_client);
  CHECK(rows[2].label == "ACK ack=1");
  CHECK(rows[3].label == "PSH-ACK seq=1:6 ack=1 len=5");
  CHECK(rows[4].label == "ACK ack=6");
  CHECK(rows[1].time == Approx(0.00001));
}

TEST_CASE("long flows are summarised unless full is asked", "[ladder]") {
  PcapWriter w;
  w.handshake();
  std::uint32_t seq = 1001;
  for (int i = 0; i < 100; ++i, seq += 10) w.tcp(true, f::psh | f::ack, seq, 5001, "0123456789");
  w.tcp(true, f::fin | f::ack, seq, 5001).tcp(false, f::fin | f::ack, 5001, seq + 1).tcp(true, f::ack, seq + 1, 5002);
  const auto flow = flow_of(w);
  LadderOptions options;
  const auto rows = ladder_rows(flow, options);
  CHECK(rows.size() == 3 + 4 + 1 + 4 + 3);
  REQUIRE(rows[7].is_note);
  CHECK(rows[7].label == "… 92 segments, 920 bytes client→server, 0 bytes server→client …");
  options.full = true;
  CHECK(ladder_rows(flow, options).size() == 106);
}

TEST_CASE("the text ladder: every line the same width, within the width asked", "[ladder]") {
  PcapWriter w;
  w.handshake();
  std::uint32_t seq = 1001;
  for (int i = 0; i < 40; ++i, seq += 3) w.tcp(true, f::psh | f::ack, seq, 5001, "abc");
  w.tcp(false, f::rst, 5001, 0);
  const auto text = ladder_text(flow_of(w), LadderOptions{});
  std::size_t lines = 0;
  std::size_t first_width = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (lines++ == 0) continue;  // the header
    std::size_t width = 0;
    for (unsigned char c : line) width += (c & 0xC0) != 0x80;
    if (first_width == 0) first_width = width;
    CHECK(width == first_width);
    CHECK(width <= 100);
  }
  CHECK(lines > 5);
  CHECK(text.find("RST") != std::string::npos);
  CHECK(text.find("\x1b[") == std::string::npos);  // no colour unless asked
  LadderOptions coloured;
  coloured.color = true;
  CHECK(ladder_text(flow_of(w), coloured).find("\x1b[31m") != std::string::npos);  // the RST in red
}

TEST_CASE("mermaid and svg renderings", "[ladder]") {
  PcapWriter w;
  w.handshake().tcp(true, f::psh | f::ack, 1001, 5001, "<b>&").tcp(false, f::rst | f::ack, 5001, 1006);
  const auto flow = flow_of(w);
  const auto mermaid = ladder_mermaid(flow, LadderOptions{});
  CHECK(mermaid.rfind("```mermaid\nsequenceDiagram\n", 0) == 0);
  CHECK(mermaid.find("participant C as client 127.0.0.1 port 40000") != std::string::npos);
  CHECK(mermaid.find("C->>S") != std::string::npos);
  CHECK(mermaid.find("S->>C") != std::string::npos);
  CHECK(mermaid.find("seq=1-5") != std::string::npos);
  const auto svg = ladder_svg(flow, LadderOptions{});
  CHECK(svg.rfind("<svg ", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  std::size_t arrows = 0;
  for (auto at = svg.find("marker-end"); at != std::string::npos; at = svg.find("marker-end", at + 1)) ++arrows;
  CHECK(arrows == 5);
}

TEST_CASE("TLS records are named from the payload", "[tls]") {
  // A ClientHello record, then ChangeCipherSpec + ApplicationData in one segment.
  std::string hello("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", 10);
  CHECK(tls_records(hello) == std::vector<std::string>{"ClientHello"});
  std::string two("\x14\x03\x03\x00\x01\x01\x17\x03\x03\x00\x02\xaa\xbb", 13);
  CHECK(tls_records(two) == std::vector<std::string>{"ChangeCipherSpec", "ApplicationData"});
  CHECK(tls_records("GET / HTTP/1.1\r\n").empty());
}

TEST_CASE("payload search finds text split over two segments", "[facts]") {
  PcapWriter w;
  w.handshake().tcp(true, f::psh | f::ack, 1001, 5001, "secret pa").tcp(true, f::psh | f::ack, 1010, 5001, "ge text");
  const auto flows = group_flows(parse_pcap(w.bytes()));
  CHECK(capture_contains(flows, "secret page text"));
  CHECK_FALSE(capture_contains(flows, "not there"));
}

TEST_CASE("Linux cooked captures and a port filter", "[pcap]") {
  PcapWriter w(113);
  w.handshake();
  CHECK(facts_of(w).handshake_segments == 3);
  CHECK(group_flows(parse_pcap(w.bytes()), 9999).empty());
}

TEST_CASE("a capture that starts mid-flow takes the lab's port as the server", "[pcap]") {
  PcapWriter w;
  w.tcp(false, f::ack, 5001, 1001).tcp(true, f::psh | f::ack, 1001, 5001, "x");
  const auto flows = group_flows(parse_pcap(w.bytes()), server_port);
  REQUIRE(flows.size() == 1);
  CHECK(flows[0].server == "127.0.0.1:7006");
}

TEST_CASE("files that are not captures are refused clearly", "[pcap][errors]") {
  CHECK_THROWS_WITH(parse_pcap(""), Catch::Contains("not a pcap or pcapng file"));
  CHECK_THROWS_WITH(parse_pcap("short"), Catch::Contains("not a pcap or pcapng file"));
  CHECK_THROWS_WITH(parse_pcap(std::string(24, 'x')), Catch::Contains("not a pcap or pcapng file"));
  CHECK_THROWS_WITH(parse_pcap(std::string("\x0a\x0d\x0d\x0a", 4) + std::string(40, '\0')),
                    Catch::Contains("not a pcap or pcapng file"));
  PcapWriter w;
  w.handshake();
  const std::string cut = w.bytes().substr(0, w.bytes().size() - 3);
  CHECK_THROWS_WITH(parse_pcap(cut), Catch::Contains("truncated") && Catch::Contains("after frame 2"));
  // The path once: libpcap's own message already names it.
  CHECK_THROWS_WITH(read_pcap("/nonexistent.pcap"), "/nonexistent.pcap: No such file or directory");
}

TEST_CASE("zero windows and RSTs are told apart by who sent them", "[facts]") {
  PcapWriter w;
  w.handshake()
      .tcp(true, f::psh | f::ack, 1001, 5001, "data")
      .tcp(false, f::ack, 5001, 1005, {}, 0)  // the server's buffer is full
      .tcp(false, f::ack, 5001, 1005, {}, 0)  // still full
      .tcp(true, f::ack, 1005, 5001, {}, 0)   // the client's, too
      .tcp(false, f::rst | f::ack, 5001, 1005);
  const auto facts = facts_of(w);
  CHECK(facts.zero_window_segments == 3);
  CHECK(facts.zero_window_from_server == 2);
  CHECK(facts.rst_segments == 1);
  CHECK(facts.rst_from_server == 1);
  PcapWriter client_resets;
  client_resets.handshake().tcp(true, f::rst, 1001, 0);
  CHECK(facts_of(client_resets).rst_segments == 1);
  CHECK(facts_of(client_resets).rst_from_server == 0);
}

TEST_CASE("ICMP port unreachables are read with the ports of the datagram they answer", "[pcap]") {
  const std::string datagram = ipv4(17, udp(client_port, server_port, "ping"));
  PcapWriter w;
  w.ip_packet(datagram)
      .ip_packet(ipv4(1, icmp(3, 3, datagram.substr(0, 28))))  // port unreachable: the IP header and 8 bytes
      .ip_packet(ipv4(1, icmp(3, 1, datagram)))                // host unreachable: not a port's answer
      .ip_packet(ipv4(1, icmp(8, 0, "echo")))                  // a ping
      .ip_packet(ipv6(58, icmp(1, 4, ipv6(17, udp(40001, 9, "six")))))
      .ip_packet(ipv4(1, icmp(3, 3, ipv4(6, std::string(20, '\0')))));  // quotes TCP: not a datagram's
  std::vector<PortUnreachable> unreachables;
  const auto packets = parse_pcap(w.bytes(), &unreachables);
  REQUIRE(packets.size() == 1);  // the datagram; ICMP belongs to no flow
  CHECK_FALSE(packets[0].is_tcp);
  REQUIRE(unreachables.size() == 2);
  CHECK(unreachables[0].src_ip == "127.0.0.1");
  CHECK(unreachables[0].datagram_src_port == client_port);
  CHECK(unreachables[0].datagram_dst_port == server_port);
  CHECK(unreachables[0].ip_bytes == 20 + 8 + 28);
  CHECK(unreachables[0].time == Approx(0.00002));
  CHECK(unreachables[1].src_ip == "::1");
  CHECK(unreachables[1].datagram_src_port == 40001);
  CHECK(unreachables[1].datagram_dst_port == 9);
  // Without the list, the reader is what it was: TCP and UDP only.
  CHECK(parse_pcap(w.bytes()).size() == 1);
  // Cut short inside the quoted header: skipped, not misread.
  PcapWriter cut;
  cut.ip_packet(ipv4(1, icmp(3, 3, datagram.substr(0, 22))));
  unreachables.clear();
  CHECK(parse_pcap(cut.bytes(), &unreachables).empty());
  CHECK(unreachables.empty());
}

TEST_CASE("UDP datagrams count their IP bytes, apart from TCP's", "[facts]") {
  PcapWriter w;
  w.handshake().ip_packet(ipv4(17, udp(client_port, server_port, "twelve bytes")));
  const auto flows = group_flows(parse_pcap(w.bytes()), server_port);
  REQUIRE(flows.size() == 2);
  const auto tcp = analyse_flow(flows[0]), datagrams = analyse_flow(flows[1]);
  CHECK(tcp.is_tcp);
  CHECK(tcp.ip_bytes == 3 * 40);
  CHECK_FALSE(datagrams.is_tcp);
  CHECK(datagrams.packets == 1);
  CHECK(datagrams.ip_bytes == 20 + 8 + 12);
  CHECK(datagrams.payload_bytes == 12);
  CHECK(datagrams.stream_bytes == 12);
}
