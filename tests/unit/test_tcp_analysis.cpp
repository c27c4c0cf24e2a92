// The TCP analysis (retransmission told apart from reordering and from the
// capture's own losses, as Wireshark does) on segments written by the test,
// and the decoding of what libpcap hands over: every link type, pcap and
// pcapng, and bad files (truncated, a record longer than the snap length,
// unknown pcapng blocks, a billion-byte sequence jump).
#include "../capture/synthetic.hpp"
#include "capture/capture.hpp"
#include "capture/pcap.hpp"

#include <catch2/catch.hpp>

using namespace netlab;
namespace s = netlab::synthetic;
namespace a = netlab::tcp_analysis;

namespace {

constexpr std::int64_t us = 1000, ms = 1000 * us;

// The classes of every packet of the file's first flow.
std::vector<std::uint32_t> classes_of(const s::CaptureWriter& w) {
  const auto flows = group_flows(parse_pcap(w.bytes()));
  REQUIRE(!flows.empty());
  return tcp_analysis_of(flows[0]);
}

s::Segment seg(bool from_client, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, std::uint32_t length = 0,
               std::uint16_t window = 502) {
  return {from_client, flags, seq, ack, length, window, -1};
}

// SYN, SYN-ACK, ACK 50 µs apart: ISNs 1000 and 5000, an initial RTT of 100 µs.
void open(s::CaptureWriter& w) {
  w.segment(seg(true, s::flag::syn, 1000, 0))
      .wait(50 * us)
      .segment(seg(false, s::flag::syn | s::flag::ack, 5000, 1001))
      .wait(50 * us)
      .segment(seg(true, s::flag::ack, 1001, 5001));
}

}  // namespace

TEST_CASE("every link type tcpdump writes is decoded, in pcap and pcapng", "[pcap][links]") {
  using L = s::Link;
  using F = s::CaptureWriter::Format;
  for (const auto link : {L::ethernet, L::vlan, L::null, L::loop, L::raw, L::sll, L::sll2}) {
    for (const auto format : {F::pcap_us, F::pcap_ns, F::pcapng}) {
      CAPTURE(static_cast<int>(link), static_cast<int>(format));
      s::CaptureWriter w(link, format);
      open(w);
      w.unknown_block().wait(123'456'789).segment(seg(true, s::flag::psh | s::flag::ack, 1001, 5001, 7));
      const auto packets = parse_pcap(w.bytes());
      REQUIRE(packets.size() == 4);
      CHECK(packets[3].number == 4);
      CHECK(packets[3].src_ip == "10.0.0.1");
      CHECK(packets[3].dst_ip == "10.0.0.2");
      CHECK(packets[3].src_port == 40000);
      CHECK(packets[3].dst_port == 7006);
      CHECK(packets[3].payload == "xxxxxxx");
      CHECK(packets[3].payload_length == 7);
      // Stamps exact to the µs in a microsecond file, to the ns otherwise.
      const std::int64_t gap = packets[3].stamp_ns - packets[2].stamp_ns;
      CHECK(gap == (format == F::pcap_us ? 123'456'000 : 123'456'789));
    }
  }
}

TEST_CASE("decode_frame reads the bytes libpcap hands over", "[pcap][decode]") {
  s::Segment syn = seg(true, s::flag::syn, 7, 0);
  syn.window_scale = 7;
  const std::string ip = s::ipv4_tcp(syn);
  PacketView view;
  REQUIRE(decode_frame(link_type::raw, ip, view));
  CHECK(view.is_tcp);
  CHECK(view.window_scale == 7);
  CHECK(view.seq == 7);
  CHECK(view.header_bytes == 20 + 24);
  CHECK(view.src.text() == "10.0.0.1");
  // Cut anywhere inside the headers: refused, never read past the end.
  for (std::size_t cut = 0; cut < 44; ++cut) {
    CAPTURE(cut);
    CHECK_FALSE(decode_frame(link_type::raw, std::string_view(ip).substr(0, cut), view));
  }
  // NULL and LOOP: a 4-byte family before the IP packet.
  CHECK(decode_frame(link_type::null, s::frame(s::Link::null, ip), view));
  CHECK(decode_frame(link_type::loop, s::frame(s::Link::loop, ip), view));
  // A link type netlab does not decode, and an Ethernet frame that is not IP.
  CHECK_FALSE(decode_frame(147, s::frame(s::Link::ethernet, ip), view));
  std::string arp = s::frame(s::Link::ethernet, ip);
  arp[12] = '\x08';
  arp[13] = '\x06';
  CHECK_FALSE(decode_frame(link_type::ethernet, arp, view));
}

TEST_CASE("bad files: a clear message or a counted anomaly, never a crash", "[pcap][errors]") {
  SECTION("a truncated file reports how far it got") {
    s::CaptureWriter w;
    open(w);
    const std::string cut = w.bytes().substr(0, w.bytes().size() - 10);
    CHECK_THROWS_WITH(parse_pcap(cut), Catch::Contains("after frame 2") && Catch::Contains("truncated"));
    std::FILE* file = ::fmemopen(const_cast<char*>(cut.data()), cut.size(), "rb");
    PcapReader reader(file, "cut.pcap");
    Frame frame;
    int frames = 0;
    while (reader.next(frame)) ++frames;
    CHECK(frames == 2);
    CHECK_THAT(reader.error(), Catch::Contains("cut.pcap: after frame 2"));
  }
  SECTION("a record longer than the snap length is cut to it by libpcap, and read") {
    s::CaptureWriter w(s::Link::ethernet, s::CaptureWriter::Format::pcap_us, 60);
    const std::string ip = s::ipv4_tcp(seg(true, s::flag::ack, 1, 1, 100));
    const std::string frame = s::frame(s::Link::ethernet, ip);
    w.record(frame, static_cast<std::uint32_t>(frame.size()), static_cast<std::uint32_t>(frame.size()));
    const auto packets = parse_pcap(w.bytes());
    REQUIRE(packets.size() == 1);
    CHECK(packets[0].payload_length == 100);  // as the IP header says
    CHECK(packets[0].payload.size() <= 100);
  }
  SECTION("a record longer than any snap length is an error, not a huge allocation") {
    s::CaptureWriter w;
    w.record("abc", 3, 0x7fffffff);
    CHECK_THROWS_WITH(parse_pcap(w.bytes()), Catch::Contains("after frame 0"));
  }
  SECTION("pcapng blocks of unknown types are skipped") {
    s::CaptureWriter w(s::Link::ethernet, s::CaptureWriter::Format::pcapng);
    w.unknown_block();
    open(w);
    w.unknown_block().unknown_block();
    CHECK(parse_pcap(w.bytes()).size() == 3);
  }
  SECTION("a billion-byte sequence jump is a counted anomaly") {
    s::CaptureWriter w;
    open(w);
    w.wait(10 * us).segment(seg(true, s::flag::ack, 1001, 5001, 100));
    w.wait(10 * us).segment(seg(true, s::flag::ack, 1101 + 1'000'000'000u, 5001, 100));
    const auto classes = classes_of(w);
    CHECK(classes[4] == (a::lost_segment | a::sequence_jump));
    const auto facts = analyse_flow(group_flows(parse_pcap(w.bytes()))[0]);
    CHECK(facts.analysis.sequence_jump == 1);
    CHECK(facts.analysis.capture_has_gaps());
  }
}

TEST_CASE("retransmission, fast and spurious retransmission and out of order are told apart", "[analysis]") {
  s::CaptureWriter w;
  open(w);
  auto data = [&](std::uint32_t seq, std::int64_t after) {
    w.wait(after).segment(seg(true, s::flag::psh | s::flag::ack, seq, 5001, 100));
  };
  auto ack = [&](std::uint32_t acked) { w.wait(10 * us).segment(seg(false, s::flag::ack, 5001, acked)); };
  data(1001, 10 * us);   // 3
  data(1201, 10 * us);   // 4 previous segment not captured (1101 is missing)
  data(1101, 20 * us);   // 5 out of order: 20 µs < the 100 µs initial RTT
  ack(1301);             // 6
  data(1101, 10 * us);   // 7 spurious: 1101..1201 was acknowledged
  data(1301, 10 * us);   // 8
  data(1501, 10 * us);   // 9 previous segment not captured (1401 is missing)
  ack(1401);             // 10 ACKs 1401: the capture missed 1401..1501? no: it saw up to 1401
  ack(1401);             // 11 duplicate ACK
  ack(1401);             // 12 duplicate ACK
  data(1401, 100 * us);  // 13 fast retransmission: after 2 duplicate ACKs, within 20 ms
  ack(1601);             // 14
  data(1601, 10 * us);   // 15
  data(1601, 5 * ms);    // 16 retransmission: not acknowledged, long after
  const auto c = classes_of(w);
  REQUIRE(c.size() == 17);
  CHECK(c[4] == a::lost_segment);
  CHECK(c[5] == a::out_of_order);
  CHECK(c[7] == a::spurious_retransmission);
  CHECK(c[9] == a::lost_segment);
  CHECK(c[11] == a::duplicate_ack);
  CHECK(c[12] == a::duplicate_ack);
  CHECK(c[13] == a::fast_retransmission);
  CHECK(c[16] == a::retransmission);
  TcpAnalysisCounts counts;
  for (auto x : c) counts.add(x);
  CHECK(counts.retransmission == 3);  // all kinds, as tcp.analysis.retransmission
  CHECK(counts.out_of_order == 1);
  CHECK(counts.lost_segment == 2);
  CHECK(tcp_analysis_names(c[13]) == "retransmission,fast_retransmission");
}

TEST_CASE("zero windows, window probes and keep-alives", "[analysis]") {
  s::CaptureWriter w;
  open(w);
  w.wait(10 * us).segment(seg(true, s::flag::ack, 1001, 5001, 100));
  w.wait(10 * us).segment(seg(false, s::flag::ack, 5001, 1101, 0, 0));    // 4 zero window
  w.wait(200 * ms).segment(seg(true, s::flag::ack, 1101, 5001, 1));       // 5 window probe
  w.wait(10 * us).segment(seg(false, s::flag::ack, 5001, 1101, 0, 0));    // 6 its ACK (and zero window)
  w.wait(10 * ms).segment(seg(false, s::flag::ack, 5001, 1101, 0, 502));  // 7 window update
  w.wait(7200 * ms).segment(seg(true, s::flag::ack, 1100, 5001));         // 8 keep-alive
  w.wait(10 * us).segment(seg(false, s::flag::ack, 5001, 1101));          // 9 its ACK
  w.wait(10 * us).segment(seg(false, s::flag::ack, 5001, 1101));          // 10 still the keep-alive's
  w.wait(10 * us).segment(seg(true, s::flag::ack, 1101, 5001, 10));       // 11
  w.wait(10 * us).segment(seg(false, s::flag::ack, 5001, 1101));          // 12 the data was not acked
  w.wait(10 * us).segment(seg(false, s::flag::ack, 5001, 1101));          // 13 a duplicate ACK
  const auto c = classes_of(w);
  CHECK(c[4] == a::zero_window);
  CHECK(c[5] == a::zero_window_probe);
  CHECK(c[6] == (a::zero_window | a::zero_window_probe_ack));
  CHECK(c[7] == 0);
  CHECK(c[8] == a::keep_alive);
  CHECK(c[9] == a::keep_alive_ack);
  CHECK(c[10] == a::keep_alive_ack);  // the client's last segment is still the keep-alive
  CHECK(c[12] == a::duplicate_ack);
  CHECK(c[13] == a::duplicate_ack);
}

TEST_CASE("a new connection on the same ports starts the analysis over", "[analysis]") {
  s::CaptureWriter w;
  open(w);
  w.wait(10 * us).segment(seg(true, s::flag::ack, 1001, 5001, 100));
  w.wait(1000 * ms).segment(seg(true, s::flag::syn, 900, 0));  // port reuse: a lower ISN
  w.wait(50 * us).segment(seg(false, s::flag::syn | s::flag::ack, 77, 901));
  const auto c = classes_of(w);
  CHECK(c[4] == 0);  // not a retransmission of the old connection's sequence space
  CHECK(c[5] == 0);
}

TEST_CASE("payload search keeps only a needle's length per direction", "[facts]") {
  StreamSearch search("secret page");
  search.add(0, "the secr");
  search.add(1, "et page");  // the other direction: no match across it
  CHECK_FALSE(search.found());
  search.add(0, "et");
  search.add(0, " pa");
  CHECK_FALSE(search.found());
  search.add(0, "ge");
  CHECK(search.found());
}

TEST_CASE("a capture whose stamps run backwards: the gap counts as huge, as in tshark", "[analysis]") {
  s::CaptureWriter w;
  open(w);
  w.wait(10 * us).segment(seg(true, s::flag::ack, 1001, 5001, 100));
  w.wait(10 * us).segment(seg(true, s::flag::ack, 1201, 5001, 100));  // 4: 1101 not captured
  w.wait(-2 * us).segment(seg(true, s::flag::ack, 1101, 5001, 100));  // 5: stamped 2 us earlier
  const auto c = classes_of(w);
  CHECK(c[4] == a::lost_segment);
  CHECK(c[5] == a::retransmission);  // not "out of order": the time since the highest segment is not small
}
